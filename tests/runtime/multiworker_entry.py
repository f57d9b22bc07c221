"""One worker of the two-worker tests: trains MODEL through genkit.commands.train under the TF_CONFIG (or Slurm
variables) it was given, then saves its own weights so the test can compare workers.

    python multiworker_entry.py MODEL RUN_DIR DATASET WEIGHTS.npz [--set items ...]

GENKIT_TEST_STALL_AFTER_STEPS=N (with GENKIT_TEST_STALL_SECONDS) makes this worker stop answering after
its N-th step while its process lives on (a stuck worker: TensorFlow's heartbeats go on), then go on.
"""

import os
import sys
import time

import numpy as np

from genkit.commands.train import train

if os.environ.get("GENKIT_TEST_STALL_AFTER_STEPS"):
    from genkit.runtime.trainer import Trainer

    stall_after, agree = int(os.environ["GENKIT_TEST_STALL_AFTER_STEPS"]), Trainer._agree

    def _agree_after_a_stall(self, *args, **kwargs):
        if self.steps_run == stall_after:
            print(f"stalling after step {self.steps_run}", file=sys.stderr, flush=True)
            time.sleep(float(os.environ["GENKIT_TEST_STALL_SECONDS"]))
        return agree(self, *args, **kwargs)

    Trainer._agree = _agree_after_a_stall

model_name, run_dir, dataset, weights_path, *set_flags = sys.argv[1:]
result = train(
    model_name, overrides=set_flags, out=run_dir, dataset=dataset,
    epochs=int(os.environ.get("GENKIT_TEST_EPOCHS", "1")), batch_size=32, strategy="multiworker", verbose=0,
    time_limit=float(os.environ["GENKIT_TEST_TIME_LIMIT"]) if os.environ.get("GENKIT_TEST_TIME_LIMIT") else None,
    resume=bool(os.environ.get("GENKIT_TEST_RESUME")),
)
np.savez(weights_path, *result.model.get_weights())
optimizer = getattr(result.model, "generator_optimizer", None) or result.model.optimizer
print("chief" if result.is_chief else "worker", result.stop_reason, int(optimizer.iterations.numpy()))
