"""One worker of the two-worker test: trains through genkit.train under the TF_CONFIG it was given,
then saves its own generator weights so the test can compare workers."""

import os
import sys

import numpy as np

from genkit.train import train

run_dir, data_path, weights_path, *set_flags = sys.argv[1:]
result = train(
    "dcgan", overrides=set_flags, out=run_dir, dataset=f"npz:{data_path}",
    epochs=int(os.environ.get("GENKIT_TEST_EPOCHS", "1")), batch_size=32, strategy="multiworker", verbose=0,
    time_limit=float(os.environ["GENKIT_TEST_TIME_LIMIT"]) if os.environ.get("GENKIT_TEST_TIME_LIMIT") else None,
    resume=bool(os.environ.get("GENKIT_TEST_RESUME")),
)
np.savez(weights_path, *result.model.generator.get_weights())
steps = int(result.model.generator_optimizer.iterations.numpy())
print("chief" if result.is_chief else "worker", result.stop_reason, steps)
