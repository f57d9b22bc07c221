"""What the quality benchmarks share: their command line (budget, seeds, methods, outputs) and the summary table."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def quality_arguments(description: str, methods, grid_help: str, argv=None):
    """The parsed flags, with ``args.methods`` the chosen methods (in ``methods``' order); None when --methods
    names none of them (the caller prints the error and exits 2)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per run (default 10)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per method (seeds S..S+N-1), for the spread")
    parser.add_argument("--first-seed", type=int, default=0, metavar="S", help="the first seed (default 0)")
    parser.add_argument("--methods", default=None, help=f"comma-separated first words of: {'; '.join(methods)}")
    parser.add_argument("--out", type=Path, default=None, help="where the run folders go")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--grid", type=Path, default=None, help=grid_help)
    args = parser.parse_args(argv)
    args.requested_methods = args.methods
    if args.methods:
        wanted = args.methods.split(",")
        args.methods = [m for m in methods if any(m == w or m.startswith(w) for w in wanted)] or None
    else:
        args.methods = list(methods)
    return args


def summary_table(rows: list[dict], scores, digits) -> str:
    """A markdown table: one line per method, the mean of each score over its runs (the range when several;
    "n/a" for scores that are not numbers) and the mean steps trained. ``digits(score)`` gives the decimals."""
    lines = ["| method | runs | " + " | ".join(scores) + " | steps |", "|---|---|" + "---|" * len(scores) + "---|"]
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["method"], []).append(row)
    for method, runs in groups.items():
        cells = []
        for key in scores:
            values = [run[key] for run in runs if isinstance(run[key], (int, float))]
            if not values:
                cells.append("n/a")
                continue
            places = digits(key)
            cell = f"{np.mean(values):.{places}f}"
            if len(values) > 1:
                cell += f" ({min(values):.{places}f}-{max(values):.{places}f})"
            cells.append(cell)
        steps = [run["steps"] for run in runs if "steps" in run]
        lines.append(f"| {method} | {len(runs)} | " + " | ".join(cells) + f" | {int(np.mean(steps)) if steps else '-'} |")
    return "\n".join(lines)
