"""Training curves as inline SVG (matplotlib): one small chart per metric, every run's curve on it."""

from __future__ import annotations

import io
import math
import re

# Colours that stay apart for up to ten overlaid runs (matplotlib's tab10).
RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def run_colour(index: int) -> str:
    return RUN_COLOURS[index % len(RUN_COLOURS)]


def curve_svg(metric: str, series: list[tuple[str, list[float], list[float]]], log_scale: bool = False) -> str:
    """An SVG chart (a string, to inline in HTML) of ``metric`` against the epoch: ``series`` is
    ``[(run label, epochs, values)]``, one line each in :func:`run_colour` order; non-finite values are gaps.

    The SVG has no fixed size (a ``viewBox`` only), so the page sizes it to its column.
    """
    pyplot = _pyplot()
    from matplotlib.ticker import MaxNLocator

    figure, axis = pyplot.subplots(figsize=(4.2, 2.6))
    for index, (label, epochs, values) in enumerate(series):
        values = [value if value is not None and math.isfinite(value) else math.nan for value in values]
        single = len(values) == 1
        axis.plot(epochs, values, color=run_colour(index), linewidth=1.4, label=label,
                  marker="o" if single or len(values) <= 12 else None, markersize=3)
    if log_scale:
        axis.set_yscale("log")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_title(metric, fontsize=10)
    axis.set_xlabel("epoch", fontsize=8)
    axis.tick_params(labelsize=7)
    axis.grid(True, linewidth=0.4, alpha=0.5)
    if len(series) > 1:
        axis.legend(fontsize=6, loc="best")
    figure.tight_layout()
    buffer = io.StringIO()
    # No metadata (a date would make two reports of one run differ); text as text, so the browser renders it.
    pyplot.rcParams["svg.fonttype"] = "none"
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    pyplot.close(figure)
    return _inline(buffer.getvalue())


def wants_log_scale(values: list[float]) -> bool:
    """A positive metric that spans more than two decades (a loss falling from 1e2 to 1e-1) reads better on a log axis."""
    finite = [value for value in values if value is not None and math.isfinite(value)]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 100


def _inline(svg: str) -> str:
    """The SVG element alone (no XML declaration, DOCTYPE or RDF metadata), its fixed width and height dropped for
    the viewBox."""
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg[svg.index("<svg"):], count=1, flags=re.DOTALL)
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 role="img"', svg, count=1)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as pyplot

    return pyplot
