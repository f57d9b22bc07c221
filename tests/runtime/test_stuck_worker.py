"""A stuck worker (alive, heartbeats on, no collective answers) is timed out by the other after train.collective_timeout."""

import time

import pytest

from conftest import TINY_DCGAN
from multiworker_support import OutputLines, start_entry_workers, tf_config_environments


@pytest.mark.slow
def test_a_stuck_worker_is_timed_out_by_the_other(tmp_path, tiny_npz):
    # Worker 1 stops answering after its 2nd step but lives on (TensorFlow's heartbeats go on: only the
    # collective timeout can tell); the chief's collective fails after train.collective_timeout.
    timeout, stall = 30, 100
    set_flags = [*TINY_DCGAN, f"train.collective_timeout={timeout}"]
    stalled = {"GENKIT_TEST_STALL_AFTER_STEPS": "2", "GENKIT_TEST_STALL_SECONDS": str(stall)}
    processes = start_entry_workers(
        tmp_path, f"npz:{tiny_npz}", tmp_path / "run", ({}, stalled), "dcgan", set_flags, tf_config_environments(),
    )
    try:
        errors = [OutputLines(process.stderr) for process in processes]
        deadline = time.monotonic() + 400
        while not any("stalling after step 2" in line for _, line in list(errors[1].lines)):
            assert all(process.poll() is None for process in processes), errors[0].text()[-20:] + errors[1].text()[-20:]
            assert time.monotonic() < deadline, "the workers did not reach step 2"
            time.sleep(0.2)
        stalled_at = time.monotonic()
        processes[0].wait(timeout=timeout + 120)
        chief_seconds = time.monotonic() - stalled_at
        # Once it answers again, the stuck worker finds the chief gone and stops too.
        processes[1].wait(timeout=stall + 120)
    finally:
        for process in processes:
            process.kill()
            process.wait()
    for index, process in enumerate(processes):
        lost = [line for line in errors[index].text() if line.startswith("genkit.runtime.cluster.WorkerLost: ")]
        assert process.returncode == 1 and len(lost) == 1, "\n".join(errors[index].text()[-30:])
        if index == 0:
            assert f"(Collective has timed out during execution after train.collective_timeout={timeout} s)" in lost[0]
    assert chief_seconds >= timeout - 1
    print(f"stuck worker: the chief stopped {chief_seconds:.1f} s after the stall began (timeout {timeout} s)")
