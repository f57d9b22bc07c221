"""A killed worker (or chief) stops the other in one line naming the reason, and both resume from the chief's checkpoint."""

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


_DEFINED_AT = (
    "Graph execution error:\n\nDetected at node CollectiveReduceV2 defined at (most recent call last):\n"
    '  File "<frozen runpy>", line 198, in _run_module_as_main\n\n  File "/work/genkit/runtime/trainer.py", line 149, '
    "in distributed_step\n\n"
)
_RESTART = "The error could be from a previous operation. Restart your program to reset.\n\t [[{{node CollectiveReduceV2}}]]"


@pytest.mark.parametrize("message, reason", [
    # TF 2.21's errors on the survivor, as seen in the tests below (a killed worker, a killed chief, a stuck worker)
    (_DEFINED_AT + "Collective ops is aborted by: recvmsg:Connection reset by peer\nAdditional GRPC error information "
     "from remote target /job:worker/replica:0/task:1 while calling /tensorflow.WorkerService/RecvBuf:\n:UNKNOWN:Error "
     'received from peer  {grpc_status:14, grpc_message:"recvmsg:Connection reset by peer"}\n' + _RESTART,
     "recvmsg:Connection reset by peer, from /job:worker/replica:0/task:1"),
    ("Collective ops is aborted by: Error reported from /job:worker/task:1: The following tasks are unhealthy (stopped "
     "sending heartbeats):\n/job:worker/replica:0/task:1\nThe tasks have crashed. Check the task logs for an earlier "
     "error.\n" + _RESTART,
     "Error reported from /job:worker/task:1: The following tasks are unhealthy (stopped sending heartbeats): "
     "/job:worker/replica:0/task:1"),
    (_DEFINED_AT + "Collective ops is aborted by: Deadline Exceeded\nRPC: /tensorflow.CoordinationService/Heartbeat\n"
     + _RESTART, "Deadline Exceeded (/tensorflow.CoordinationService/Heartbeat)"),
    (_DEFINED_AT + "Collective has timed out during execution.\n\t [[{{node CollectiveReduceV2}}]] [Op:__inference_f_1]",
     "Collective has timed out during execution."),
])
def test_the_reason_a_worker_was_lost_is_one_short_line(message, reason):
    from genkit.runtime.cluster import failure_reason

    assert failure_reason(message) == reason


@pytest.mark.slow
@pytest.mark.parametrize("victim", [1, 0], ids=["worker-killed", "chief-killed"])
def test_a_killed_worker_stops_the_other_and_both_resume(tmp_path, npz_1024, victim):
    from genkit.runtime.training_checkpoint import TrainingCheckpoint

    run_dir, dataset, epochs = tmp_path / "run", f"npz:{npz_1024}", 3
    processes = start_cli_workers(run_dir, dataset, epochs, tf_config_environments())
    try:
        chief_out, *errors = OutputLines(processes[0].stdout), OutputLines(processes[0].stderr), OutputLines(processes[1].stderr)
        # Kill only once the chief is a few steps into epoch 2: the epoch-1 checkpoint is saved, training is moving.
        deadline = time.monotonic() + 400
        while not any((global_step(line) or 0) >= STEPS_PER_EPOCH + 3 for _, line in list(chief_out.lines)):
            assert all(process.poll() is None for process in processes), errors[0].text()[-20:] + errors[1].text()[-20:]
            assert time.monotonic() < deadline, "the workers did not reach epoch 2"
            time.sleep(0.2)
        processes[victim].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        survivor = processes[1 - victim]
        survivor.wait(timeout=180)  # TF's heartbeats notice a dead worker in ~10 s; generous for a loaded machine
        detection_seconds = time.monotonic() - killed_at
    finally:
        for process in processes:
            process.kill()
            process.wait()

    stderr = errors[1 - victim].text()
    assert survivor.returncode == 1, "\n".join(stderr[-30:])
    genkit_lines = [line for line in stderr if line.startswith("genkit train:")]
    assert len(genkit_lines) == 1 and not any(line.startswith("Traceback") for line in stderr), "\n".join(stderr[-30:])
    assert genkit_lines[0].startswith("genkit train: error: lost another worker of the multi-worker run (")
    assert genkit_lines[0].endswith("; relaunch every worker with --resume")

    # The chief's last checkpoint is intact (read back below by both workers): epoch 1's end or later.
    position = TrainingCheckpoint.saved_position(run_dir / "checkpoints")
    assert position is not None and position[0] >= 1
    assert not (run_dir / "genkit.json").exists()
    stepped = [global_step(line) for moment, line in chief_out.lines if moment <= killed_at and global_step(line)]
    print(
        f"victim {victim}: survivor exited {detection_seconds:.1f} s after SIGKILL; last step shown before the kill "
        f"{max(stepped)}, checkpoint at step {position[0] * STEPS_PER_EPOCH + position[1]}: "
        f"~{max(stepped) - position[0] * STEPS_PER_EPOCH - position[1]} steps lost; {genkit_lines[0]}"
    )

    # Both relaunched with --resume continue from the chief's checkpoint to one complete run folder.
    resume = {"GENKIT_TEST_EPOCHS": str(epochs), "GENKIT_TEST_RESUME": "1"}
    outputs = run_two_workers(tmp_path, dataset, run_dir, extra_env=(resume, resume))
    total = str(epochs * STEPS_PER_EPOCH)
    assert outputs == [["chief", "completed", total], ["worker", "completed", total]]
    metadata = read_json(run_dir / "genkit.json")
    assert metadata["training"]["stop_reason"] == "completed"
    assert metadata["training"]["epochs_completed"] == epochs
    assert [record["epoch"] for record in read_json(run_dir / "history.json")] == list(range(1, epochs + 1))
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []
