"""Slurm: two srun tasks train one model; the resolver reads the step variables and shares GPUs out; outside srun, one line."""

import os

import pytest

from conftest import TINY_DCGAN, read_json, run_cli
from multiworker_support import free_port_pair, run_two_workers, slurm_environments


@pytest.mark.slow
def test_two_slurm_tasks_train_one_model(tmp_path, tiny_npz):
    # Two "srun" tasks on one node (localhost): the cluster comes from SLURM_* through TensorFlow's
    # SlurmClusterResolver (ports P and P + 1), not from TF_CONFIG (removed from their environment).
    run_dir = tmp_path / "run"
    port = free_port_pair()
    outputs = run_two_workers(
        tmp_path, f"npz:{tiny_npz}", run_dir, cluster_envs=slurm_environments(),
        set_flags=[*TINY_DCGAN, "train.cluster=slurm", f"train.cluster_port={port}"],
    )
    assert outputs == [["chief", "completed", "8"], ["worker", "completed", "8"]]  # SLURM_PROCID 0 is the chief
    metadata = read_json(run_dir / "genkit.json")
    assert metadata["training"]["strategy"] == {"name": "MultiWorkerMirroredStrategy", "num_replicas": 2}
    assert metadata["train"]["cluster"] == "slurm"


def test_slurm_resolver_reads_the_step_variables(monkeypatch):
    from genkit.runtime.cluster import slurm_cluster_resolver

    for name, value in slurm_environments("node[07-08]")[1].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "4")
    monkeypatch.setenv("SLURM_STEP_NODELIST", "node[07-08]")
    monkeypatch.setenv("SLURM_STEP_TASKS_PER_NODE", "2(x2)")
    monkeypatch.setenv("SLURM_PROCID", "3")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # a node without GPUs
    resolver = slurm_cluster_resolver(port=9000)
    assert resolver.cluster_spec().as_dict() == {
        "worker": ["node07:9000", "node07:9001", "node08:9000", "node08:9001"]
    }
    assert (resolver.task_type, resolver.task_id) == ("worker", 3)
    assert resolver.num_accelerators() == {}
    assert os.environ["CUDA_VISIBLE_DEVICES"] == ""  # left alone


def test_slurm_resolver_shares_a_nodes_gpus_out(monkeypatch):
    # TF's resolver, as it is, where GPUs are visible (no GPU is touched: only the environment is read and set).
    from genkit.errors import UserError
    from genkit.runtime.cluster import slurm_cluster_resolver

    for name, value in slurm_environments()[1].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    resolver = slurm_cluster_resolver()
    assert resolver.cluster_spec().as_dict() == {"worker": ["localhost:8888", "localhost:8889"]}
    assert resolver.num_accelerators() == {"GPU": 2}
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "2,3"  # task 1's half

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # srun --gpus-per-task=1: each task sees only its own
    with pytest.raises(UserError, match=r"1 GPU\(s\) visible to this task for 2 tasks on its node"):
        slurm_cluster_resolver()


def test_cluster_slurm_outside_srun_is_one_line(monkeypatch, tmp_path, tiny_npz):
    for name in list(os.environ):
        if name.startswith("SLURM_"):
            monkeypatch.delenv(name)
    result = run_cli(
        "train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--cluster", "slurm", "--out", tmp_path / "run", check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "genkit train: error: --cluster slurm: SLURM_PROCID is not set; run under srun (in an sbatch or salloc allocation)"
    )
    assert not (tmp_path / "run").exists()
