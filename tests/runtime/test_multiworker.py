"""Two workers (TF_CONFIG) train one model: identical weights, one run folder, stopping and resuming together."""

import pytest

from conftest import read_json
from multiworker_support import run_two_workers


@pytest.mark.slow
def test_two_workers_train_one_model(tmp_path, tiny_npz):
    run_dir = tmp_path / "run"
    outputs = run_two_workers(tmp_path, f"npz:{tiny_npz}", run_dir)
    assert outputs == [["chief", "completed", "8"], ["worker", "completed", "8"]]

    metadata = read_json(run_dir / "genkit.json")
    assert metadata["training"]["strategy"] == {"name": "MultiWorkerMirroredStrategy", "num_replicas": 2}
    assert metadata["training"]["global_steps"] == 256 // 32
    for name in ("model.keras", "config.json", "history.json", "samples.png", "serving/1/saved_model.pb"):
        assert (run_dir / name).exists(), name
    # Only the chief wrote: no temporary files or worker checkpoints in the run folder.
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []


@pytest.mark.slow
def test_workers_stop_together_and_resume_together(tmp_path, tiny_npz):
    # Only the second worker has a time budget (spent after its first step); the chief must
    # stop after the same step, or the collective ops of the next step would hang.
    run_dir = tmp_path / "run"
    outputs = run_two_workers(
        tmp_path, f"npz:{tiny_npz}", run_dir,
        extra_env=({"GENKIT_TEST_EPOCHS": "2"}, {"GENKIT_TEST_EPOCHS": "2", "GENKIT_TEST_TIME_LIMIT": "0.00001"}),
    )
    assert outputs[0][:2] == ["chief", "other_worker"] and outputs[1][:2] == ["worker", "time_limit"]
    assert outputs[0][2] == outputs[1][2] == "1"
    assert read_json(run_dir / "genkit.json")["training"]["global_steps"] == 1

    # Both resume from the chief's checkpoint (the other worker's own went to a temporary folder).
    resume = {"GENKIT_TEST_EPOCHS": "2", "GENKIT_TEST_RESUME": "1"}
    outputs = run_two_workers(tmp_path, f"npz:{tiny_npz}", run_dir, extra_env=(resume, resume))
    assert outputs == [["chief", "completed", "16"], ["worker", "completed", "16"]]
    assert read_json(run_dir / "genkit.json")["training"]["global_steps"] == 16


@pytest.mark.slow
def test_workers_share_one_learning_rate_when_only_one_has_a_time_limit(tmp_path, tiny_text):
    # char-lstm's rate decays with the training's progress: by steps for the chief, by the clock
    # for the worker with a budget. Both must use the same (mean) progress, or their weights part.
    run_dir = tmp_path / "run"
    budget = {"GENKIT_TEST_EPOCHS": "1000", "GENKIT_TEST_TIME_LIMIT": "0.25"}
    outputs = run_two_workers(
        tmp_path, f"text:{tiny_text}", run_dir, extra_env=({"GENKIT_TEST_EPOCHS": "1000"}, budget),
        model="char-lstm", set_flags=["units=16", "embedding_dim=8", "sequence_length=16"],
    )
    assert outputs[0][:2] == ["chief", "other_worker"] and outputs[1][:2] == ["worker", "time_limit"]
    assert outputs[0][2] == outputs[1][2] and int(outputs[0][2]) > 1
