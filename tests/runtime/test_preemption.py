"""Pre-emption: SIGTERM to every worker saves one checkpoint where both stopped; relaunched, both continue from it."""

import signal
import time

import pytest

from conftest import read_json
from multiworker_support import (
    STEPS_PER_EPOCH, OutputLines, global_step, run_two_workers, start_cli_workers, tf_config_environments, write_images_1024,
)


@pytest.fixture(scope="module")
def npz_1024(tmp_path_factory):
    return write_images_1024(tmp_path_factory.mktemp("data"))


@pytest.mark.slow
def test_sigterm_to_every_worker_saves_one_checkpoint_and_both_exit_0(tmp_path, npz_1024):
    """Pre-emption: a cluster manager sends SIGTERM to every worker at once. They agree on the step to stop
    after, save one checkpoint there, finish the run folder and exit 0; relaunched, both continue from it."""
    from genkit.runtime.training_checkpoint import TrainingCheckpoint

    run_dir, dataset, epochs = tmp_path / "run", f"npz:{npz_1024}", 3
    processes = start_cli_workers(run_dir, dataset, epochs, tf_config_environments(), ["--checkpoint-every", "8"])
    try:
        chief_out, *errors = OutputLines(processes[0].stdout), OutputLines(processes[0].stderr), OutputLines(processes[1].stderr)
        deadline = time.monotonic() + 400
        while not any((global_step(line) or 0) >= 5 for _, line in list(chief_out.lines)):
            assert all(process.poll() is None for process in processes), errors[0].text()[-20:] + errors[1].text()[-20:]
            assert time.monotonic() < deadline, "the workers did not start stepping"
            time.sleep(0.2)
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=180)
    finally:
        for process in processes:
            process.kill()
            process.wait()
    for process, lines in zip(processes, errors):
        text = lines.text()
        assert process.returncode == 0, "\n".join(text[-30:])
        assert any("received SIGTERM" in line for line in text) and not any(l.startswith("Traceback") for l in text)

    training = read_json(run_dir / "genkit.json")["training"]
    epoch, step = TrainingCheckpoint.saved_position(run_dir / "checkpoints")
    assert training["stop_reason"] == "signal" and 0 < training["global_steps"] < epochs * STEPS_PER_EPOCH
    assert epoch * STEPS_PER_EPOCH + step == training["global_steps"], "the checkpoint is where both stopped"

    resume = {"GENKIT_TEST_EPOCHS": str(epochs), "GENKIT_TEST_RESUME": "1"}
    outputs = run_two_workers(tmp_path, dataset, run_dir, extra_env=(resume, resume))  # identical weights checked
    total = str(epochs * STEPS_PER_EPOCH)
    assert outputs == [["chief", "completed", total], ["worker", "completed", total]]
