"""The trainer's progress output: one line per epoch where standard output is a log, not a terminal."""

from conftest import run_cli, tiny_set_flags


def test_a_log_gets_one_line_per_epoch_not_a_live_progress_bar(tmp_path, tiny_npz):
    result = run_cli("train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--epochs", 2, "--batch-size", 64,
                     "--out", tmp_path / "run", *tiny_set_flags())
    assert "\r" not in result.stdout and "\b" not in result.stdout
    lines = result.stdout.splitlines()
    for epoch in (1, 2):
        header = lines.index(f"Epoch {epoch}/2")
        assert lines[header + 1].startswith("4/4 - ") and "d_loss: " in lines[header + 1], lines[header : header + 2]
