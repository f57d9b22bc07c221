"""genkit's layers hold: import-linter's contracts in pyproject.toml (layers, independent families, exporters
through declared endpoints, apps without genkit, no cycles)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    linter = Path(sys.executable).with_name("lint-imports")
    process = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stdout[-4000:] + process.stderr[-2000:]
    assert "0 broken" in process.stdout
