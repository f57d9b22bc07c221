"""``genkit report``: one self-contained HTML page that shows one run, or compares several.

It reads only what the run folders already hold — ``genkit.json`` (or, for a
run still training, ``config.json``), ``history.json``, ``samples/``,
``metrics.json``, ``exports/*/export_report.json``, ``explanations/`` — and
loads no model, so it also reports on a run that is still training.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

from genkit.atomic import write_bytes
from genkit.errors import UserError
from genkit.runtime.run_folder import RunFolder, read_json_document

REPORT_FILE = "report.html"
EPOCH_FILE = re.compile(r"epoch_(\d+)\.(png|txt)$")
# Who runs genkit report can pass as many runs as fit on a command line; the page stays readable up to this many.
MAX_RUNS = 10


class RunRecord:
    """What a report shows of one run folder, read from its files (nothing loaded, nothing computed)."""

    def __init__(self, path: Path):
        self.run = RunFolder(path)
        self.path = self.run.path
        self.label = self.path.resolve().name
        if not self.path.is_dir():
            raise UserError(f"{path}: no such run folder")
        self.metadata = self.run.read_metadata() if self.run.is_complete else None
        if self.metadata is None and not self.run.config_path.is_file():
            raise UserError(f"{path}: not a genkit run folder (no genkit.json or config.json)")
        self.config = self.metadata if self.metadata is not None else self.run.read_config()
        self.history = _read_history(self.run.history_path)
        self.metrics = _read_optional_json(self.path / "metrics.json")
        self.explanations = _read_optional_json(self.path / "explanations" / "explanations.json")
        self.exports = [
            (folder.name, report) for folder in sorted((self.path / "exports").glob("*/"))
            if (report := _read_optional_json(folder / "export_report.json")) is not None
        ]

    @property
    def model(self) -> str:
        return self.config.get("model", "?")

    @property
    def complete(self) -> bool:
        return self.metadata is not None

    def sample_frames(self) -> list[tuple[int, Path]]:
        """``[(epoch, file)]`` of the per-epoch samples (``epoch_NNN.png``, or ``.txt`` for text models), in order."""
        if not self.run.samples_dir.is_dir():
            return []
        frames = [
            (int(match.group(1)), path) for path in self.run.samples_dir.iterdir()
            if (match := EPOCH_FILE.match(path.name))
        ]
        images = [frame for frame in frames if frame[1].suffix == ".png"]
        return sorted(images or frames)

    def final_samples(self) -> Path | None:
        """The run's final samples (``samples.png`` or ``samples.txt``), when it has them."""
        name = (self.metadata or {}).get("files", {}).get("samples")
        path = self.path / name if name else None
        return path if path is not None and path.is_file() else None


def report(run_dirs, out: str | Path | None = None) -> Path:
    """Writes the report of ``run_dirs`` (one or more run folders) and returns its path.

    ``out`` defaults to ``RUN_DIR/report.html`` for one run and ``report.html``
    in the working folder for several. The page is written whole under a
    temporary name and then moved into place.
    """
    from genkit.reporting.page import render_page

    run_dirs = list(run_dirs)
    if not run_dirs:
        raise UserError("genkit report: give at least one run folder")
    if len(run_dirs) > MAX_RUNS:
        raise UserError(f"genkit report: {len(run_dirs)} run folders; at most {MAX_RUNS} fit on one page")
    records = [RunRecord(Path(run_dir)) for run_dir in run_dirs]
    labels = [record.label for record in records]
    for record in records:  # two runs of one name (a/dcgan, b/dcgan) get their parent's too
        if labels.count(record.label) > 1:
            record.label = f"{record.path.resolve().parent.name}/{record.label}"
    destination = Path(out) if out is not None else (
        records[0].path / REPORT_FILE if len(records) == 1 else Path(REPORT_FILE)
    )
    if destination.is_dir():
        raise UserError(f"--out {destination}: is a folder; give the HTML file's name (e.g. {destination / REPORT_FILE})")
    if not destination.parent.is_dir():
        raise UserError(f"--out {destination}: its folder {destination.parent} does not exist")
    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    write_bytes(destination, render_page(records, created).encode("utf-8"))
    return destination


def _read_optional_json(path: Path) -> dict | None:
    """A JSON object, or None when the file is missing; a damaged file is one clear error."""
    return read_json_document(path, "JSON file") if path.is_file() else None


def _read_history(path: Path) -> list[dict]:
    """``history.json``'s records ([] when the run has finished no epoch yet)."""
    if not path.is_file():
        return []
    records = read_json_document(path, "metrics history", list)
    if not all(isinstance(record, dict) and isinstance(record.get("epoch"), int) for record in records):
        raise UserError(f"{path}: corrupt metrics history (expected a list of per-epoch records)")
    return records
