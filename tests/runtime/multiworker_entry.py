"""One worker of the two-worker tests: trains MODEL through genkit.train under the TF_CONFIG it was
given, then saves its own weights so the test can compare workers.

    python multiworker_entry.py MODEL RUN_DIR DATASET WEIGHTS.npz [--set items ...]
"""

import os
import sys

import numpy as np

from genkit.train import train

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
