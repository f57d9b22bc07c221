"""The report's HTML: one self-contained page (images as data: URIs, curves as inline SVG, its own script and style).

Nothing on the page is fetched: no CDN, no fonts, no links to files beside it, so the file can be mailed or
attached to a ticket and still shows everything.
"""

from __future__ import annotations

import html
import json
import math

from genkit.reporting.figures import curve_svg, run_colour, wants_log_scale
from genkit.reporting.images import evenly_spaced, image_data_uri

MAX_FRAMES = 40  # per-epoch sample grids on the slider (evenly spaced, first and last always in)
REFERENCE_PREFIXES = ("ceiling", "floor", "peer")  # metrics.json keys such as floor_retrieval_fid
BOOKKEEPING_METRICS = ("model", "dataset", "split", "seed", "created")


def render_page(records, created: str) -> str:
    """The whole page for ``records`` (:class:`genkit.commands.report.RunRecord`\\ s), ``created`` its time stamp."""
    title = records[0].label if len(records) == 1 else f"{len(records)} runs compared"
    parts = [_header(records, title, created)]
    if len(records) > 1:
        parts.append(_comparison(records))
    for index, record in enumerate(records):
        parts.append(_run_section(record, index, with_curves=len(records) == 1))
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        # Nothing may be fetched: the policy blocks any request a future edit might add by mistake.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
        f"<title>genkit report: {_text(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"{body}\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


# -- page parts --------------------------------------------------------------------------------------


def _header(records, title: str, created: str) -> str:
    links = "".join(
        f'<li><a href="#run-{index}"><span class="swatch" style="background:{run_colour(index)}"></span>'
        f"{_text(record.label)}</a> <span class=\"muted\">{_text(record.model)}{'' if record.complete else ' (incomplete)'}"
        "</span></li>"
        for index, record in enumerate(records)
    )
    return (
        f'<header><h1>genkit report: {_text(title)}</h1><p class="muted">made {_text(created)} by genkit report '
        f"from the run folders' files</p><nav><ul>{links}</ul></nav></header>"
    )


def _comparison(records) -> str:
    return (
        '<section id="comparison"><h2>Comparison</h2>'
        f"<h3>Metrics</h3>{_metrics_side_by_side(records)}"
        f"<h3>Settings that differ</h3>{_differing_settings(records)}"
        f'<h3>Training curves</h3>{_curves(records)}</section>'
    )


def _run_section(record, index: int, with_curves: bool) -> str:
    parts = [
        f'<section class="run" id="run-{index}"><h2><span class="swatch" style="background:{run_colour(index)}"></span>'
        f"{_text(record.label)}</h2>",
        f"<h3>Summary</h3>{_summary(record)}",
    ]
    if with_curves:
        parts.append(f"<h3>Training curves</h3>{_curves([record])}")
    parts.append(f"<h3>Samples</h3>{_samples(record, index)}")
    parts.append(f"<h3>Evaluation</h3>{_metrics(record)}")
    parts.append(f"<h3>Exports</h3>{_exports(record)}")
    parts.append(f"<h3>Explanations</h3>{_explanations(record)}")
    parts.append(
        "<details><summary>Config (config.json)</summary>"
        f"<pre>{_text(json.dumps({key: record.config.get(key) for key in ('model', 'config', 'train')}, indent=2))}</pre>"
        "</details></section>"
    )
    return "".join(parts)


def _summary(record) -> str:
    meta = record.metadata or {}
    data = meta.get("data", {})
    training = meta.get("training", {})
    train = record.config.get("train", {})
    seconds = sum(entry.get("seconds", 0.0) for entry in record.history)
    rows = [
        ("model", f"{record.model} ({meta['family']})" if "family" in meta else record.model),
        ("what", meta.get("description")),
        ("status", "complete" if record.complete else "incomplete: training, stopped or failed (no genkit.json)"),
        ("data", data.get("name") or train.get("dataset")),
        ("examples", _examples(data)),
        ("epochs", f"{len(record.history)} finished of {train.get('epochs', '?')}"
                   + (f" ({training['stop_reason']})" if "stop_reason" in training else "")),
        ("steps", training.get("global_steps")),
        ("training time", f"{seconds:.1f} s over the recorded epochs" if record.history else None),
        ("throughput", f"{training['examples_per_second']:g} {training.get('example_unit', 'examples')}/s (last session)"
         if "examples_per_second" in training else None),
        ("batch size, seed", f"{train.get('batch_size')}, {train.get('seed')}"),
        ("devices", _devices(training.get("strategy"))),
        ("created", meta.get("created")),
        ("versions", ", ".join(f"{name} {version}" for name, version in meta.get("versions", {}).items()
                               if name in ("genkit", "tensorflow", "keras")) or None),
        ("folder", str(record.path)),
    ]
    return _key_value_table([(name, value) for name, value in rows if value not in (None, "")], "summary")


def _examples(data: dict) -> str | None:
    counts = [f"{data[key]:,} {name}" for key, name in (("num_train", "train"), ("num_test", "test")) if key in data]
    shape = data.get("image_shape")
    return ", ".join(counts + ([f"images {'×'.join(str(size) for size in shape)}"] if shape else [])) or None


def _devices(strategy: dict | None) -> str | None:
    if not strategy:
        return None
    return f"{strategy.get('name')} strategy, {strategy.get('num_replicas')} replica(s)"


def _curves(records) -> str:
    """One chart per metric of the runs' histories, every run that has it overlaid."""
    names = []
    for record in records:
        for entry in record.history:
            names += [name for name, value in entry.items()
                      if name != "epoch" and name not in names and isinstance(value, (int, float))]
    if not names:
        return '<p class="muted">No finished epoch yet (history.json is empty or missing).</p>'
    charts = []
    for name in sorted(names, key=_curve_order):
        series = [
            (record.label, [entry["epoch"] for entry in record.history if name in entry],
             [float(entry[name]) for entry in record.history if name in entry])
            for record in records
        ]
        series = [line if line[1] else (line[0], [], []) for line in series]
        values = [value for _, _, line in series for value in line]
        charts.append(f'<figure class="curve" data-metric="{_text(name)}">{curve_svg(name, series, wants_log_scale(values))}</figure>')
    return f'<div class="curves">{"".join(charts)}</div>'


def _curve_order(name: str) -> tuple[int, str]:
    """Losses and metrics first, then learning rates, throughput and epoch time."""
    if name.startswith("learning_rate"):
        return 1, name
    if name.endswith("_per_second"):
        return 2, name
    if name == "seconds":
        return 3, name
    return 0, name


def _samples(record, index: int) -> str:
    frames = record.sample_frames()
    final = record.final_samples()
    if not frames and final is None:
        return '<p class="muted">No samples in this run folder.</p>'
    parts = []
    if frames:
        picked = [frames[position] for position in evenly_spaced(len(frames), MAX_FRAMES)]
        if picked[0][1].suffix == ".png":
            sources = [image_data_uri(path)[0] for _, path in picked]
            view = f'<img class="frame" alt="samples after epoch {picked[-1][0]}" src="{sources[-1]}">'
        else:
            sources = [path.read_text(encoding="utf-8", errors="replace") for _, path in picked]
            view = f'<pre class="frame">{_text(sources[-1])}</pre>'
        epochs = [epoch for epoch, _ in picked]
        shown = "" if len(picked) == len(frames) else f" ({len(picked)} of {len(frames)} epochs, evenly spaced)"
        data = json.dumps({"epochs": epochs, "frames": sources}).replace("</", "<\\/")
        parts.append(
            f'<figure class="frames" id="samples-{index}">{view}'
            f'<div class="controls"><button type="button" class="play">play</button>'
            f'<input type="range" min="0" max="{len(picked) - 1}" value="{len(picked) - 1}" '
            f'aria-label="epoch of the samples shown">'
            f'<span class="frame-label">epoch {epochs[-1]}</span></div>'
            f"<figcaption>The fixed-latent samples written after each epoch{shown}.</figcaption>"
            f'<script type="application/json" class="frame-data">{data}</script></figure>'
        )
    if final is not None and not (frames and final.suffix != ".png"):
        if final.suffix == ".png":
            parts.append(f'<figure><img class="frame" alt="final samples" src="{image_data_uri(final)[0]}">'
                         "<figcaption>The final samples (samples.png).</figcaption></figure>")
        else:
            parts.append(f"<figure><pre>{_text(final.read_text(encoding='utf-8', errors='replace'))}</pre>"
                         f"<figcaption>The final samples ({_text(final.name)}).</figcaption></figure>")
    return "".join(parts)


def split_metrics(metrics: dict) -> tuple[dict, dict, dict]:
    """(the model's own numeric metrics, {reference: {metric: value}}, everything else) of a metrics.json.

    A reference is a floor, ceiling or peer the evaluation scored beside the model, named by its key's prefix:
    ``floor_retrieval_fid`` is the ``fid`` of ``floor: retrieval`` when ``fid`` is one of the model's own
    (a prefixed key that matches none of them stays among the model's own).
    """
    numeric = {name: value for name, value in metrics.items()
               if isinstance(value, (int, float)) and not isinstance(value, bool) and name not in BOOKKEEPING_METRICS}
    own = {name: value for name, value in numeric.items() if name.split("_", 1)[0] not in REFERENCE_PREFIXES}
    references: dict[str, dict] = {}
    for name, value in numeric.items():
        if name in own:
            continue
        prefix, rest = name.split("_", 1)
        metric = max((key for key in own if rest.endswith(f"_{key}")), key=len, default=None)
        if metric is None:
            own[name] = value
        else:
            references.setdefault(f"{prefix}: {rest[: -len(metric) - 1]}", {})[metric] = value
    other = {name: value for name, value in metrics.items() if name not in numeric}
    return own, references, other


def _metrics(record) -> str:
    if record.metrics is None:
        return f'<p class="muted">Not evaluated yet: <code>genkit evaluate {_text(str(record.path))}</code> writes metrics.json.</p>'
    own, references, other = split_metrics(record.metrics)
    columns = ["metric", record.label, *references]
    rows = [[name, _number(value), *(_number(references[ref].get(name)) for ref in references)] for name, value in own.items()]
    context = ", ".join(f"{name}: {value}" for name, value in other.items() if name not in ("model", "created"))
    note = (f'<p class="muted">{_text(context)}. Floors and ceilings are what the evaluation scored beside the model '
            "(docs/evaluation.md says what each is).</p>")
    return _table(columns, rows, "metrics") + note


def _metrics_side_by_side(records) -> str:
    names = []
    evaluated = [record for record in records if record.metrics is not None]
    if not evaluated:
        return '<p class="muted">None of the runs is evaluated yet (genkit evaluate RUN writes metrics.json).</p>'
    owns = {record.label: split_metrics(record.metrics)[0] for record in evaluated}
    for own in owns.values():
        names += [name for name in own if name not in names]
    rows = [[name, *(_number(owns[record.label].get(name)) for record in evaluated)] for name in names]
    rows.append(["data", *(str(record.metrics.get("dataset", "")) for record in evaluated)])
    missing = [record.label for record in records if record.metrics is None]
    note = f'<p class="muted">Not evaluated: {_text(", ".join(missing))}.</p>' if missing else ""
    return _table(["metric", *(record.label for record in evaluated)], rows, "metrics comparison") + note


def _differing_settings(records) -> str:
    flat = [{**{"model": record.model}, **_flatten(record.config.get("config", {})),
             **_flatten(record.config.get("train", {}), "train.")} for record in records]
    names = []
    for settings in flat:
        names += [name for name in settings if name not in names]
    rows = [[name, *(json.dumps(settings.get(name)) for settings in flat)] for name in names
            if len({json.dumps(settings.get(name), sort_keys=True) for settings in flat}) > 1]
    if not rows:
        return '<p class="muted">The runs have the same settings.</p>'
    return _table(["setting", *(record.label for record in records)], rows, "settings")


def _flatten(values: dict, prefix: str = "") -> dict:
    flat = {}
    for name, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _exports(record) -> str:
    if not record.exports:
        return f'<p class="muted">No exports yet: <code>genkit export {_text(str(record.path))} --format all</code>.</p>'
    from exporters.report import quality_summary

    rows = []
    for label, export in record.exports:
        own_format = export.get("format")
        for name, entry in export.get("signatures", {}).items():
            parity = entry.get("parity", {})
            error, tolerance = parity.get("max_abs_error"), parity.get("tolerance")
            verdict = {True: "passed", False: "FAILED", None: "not run"}[parity.get("passed")]
            latency = entry.get("latency_ms", {})
            own, keras_ms = latency.get(own_format), latency.get("keras")
            flex = entry.get("flex_ops") or []
            rows.append([
                label, name, _size(entry.get("size_bytes")),
                f"{verdict}: {_number(error)} (tolerance {_number(tolerance)})" if error is not None else verdict,
                quality_summary(entry.get("quality")) or "-",
                f"{own:.2f} ms, {own / keras_ms:.2f}× Keras" if own is not None and keras_ms else "-",
                f"{len(flex)} Flex ops" if flex else ("builtin only" if "tflite_ops" in entry else "-"),
            ])
    columns = ["export", "signature", "size", "parity (max |error|)", "quality cost", "latency (median, batch)", "ops"]
    return _table(columns, rows, "exports")


def _explanations(record) -> str:
    index = record.explanations
    if index is None:
        return f'<p class="muted">None yet: <code>genkit explain {_text(str(record.path))}</code> writes them.</p>'
    folder = record.path / "explanations"
    parts = []
    for figure in index.get("figures", []):
        path = folder / figure.get("file", "")
        if not path.is_file():
            parts.append(f'<p class="muted">{_text(figure.get("file", "?"))}: listed in explanations.json but missing.</p>')
            continue
        parts.append(
            f'<figure class="explanation"><img alt="{_text(figure.get("title", ""))}" '
            f'src="{image_data_uri(path, max_side=1400)[0]}"><figcaption><b>{_text(figure.get("title", ""))}</b> '
            f'({_text(figure.get("method", ""))}). {_text(figure.get("description", ""))}</figcaption></figure>'
        )
    for skipped in index.get("skipped", []):
        parts.append(f'<p class="muted">{_text(skipped.get("method"))} skipped: {_text(skipped.get("reason"))}</p>')
    return "".join(parts) or '<p class="muted">explanations.json lists no figures.</p>'


# -- HTML helpers ------------------------------------------------------------------------------------


def _text(value) -> str:
    return html.escape(str(value), quote=True)


def _number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def _size(size_bytes) -> str:
    if size_bytes is None:
        return "-"
    return f"{size_bytes / 1024:.1f} KiB" if size_bytes < 1024 * 1024 else f"{size_bytes / 1024 / 1024:.2f} MiB"


def _table(columns, rows, label: str) -> str:
    head = "".join(f"<th>{_text(column)}</th>" for column in columns)
    body = "".join("<tr>" + "".join(f"<td>{_text(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<div class="table"><table aria-label="{_text(label)}" class="{_text(label.split()[0])}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _key_value_table(rows, label: str) -> str:
    body = "".join(f"<tr><th>{_text(name)}</th><td>{_text(value)}</td></tr>" for name, value in rows)
    return f'<div class="table"><table aria-label="{_text(label)}" class="{_text(label)}">{body}</table></div>'


STYLE = """
:root { color-scheme: light; --muted: #5f6368; --line: #dadce0; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 0 16px 48px; color: #202124; }
h1 { font-size: 1.5em; margin: 20px 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 1.25em; border-bottom: 1px solid var(--line); padding-bottom: 4px; margin-top: 36px; overflow-wrap: anywhere; }
h3 { font-size: 1.05em; margin: 22px 0 8px; }
.muted { color: var(--muted); }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 6px 18px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
.table { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px 4px 0; text-align: left; vertical-align: top; }
td { font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
table.summary th { color: var(--muted); font-weight: normal; white-space: nowrap; }
.curves { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 320px), 1fr)); gap: 12px; }
figure { margin: 0 0 16px; max-width: 100%; }
figure.curve svg { width: 100%; height: auto; display: block; }
img { max-width: 100%; height: auto; image-rendering: pixelated; }
figure.explanation img { image-rendering: auto; }
img.frame { width: min(100%, 512px); }
.controls { display: flex; align-items: center; gap: 10px; margin: 6px 0; max-width: 512px; }
.controls input { flex: 1; min-width: 80px; }
pre { background: #f8f9fa; padding: 8px; overflow-x: auto; font-size: 0.85em; white-space: pre-wrap; }
figcaption { font-size: 0.85em; color: var(--muted); }
code { overflow-wrap: anywhere; }
"""

SCRIPT = """
document.querySelectorAll("figure.frames").forEach(function (figure) {
  var data = JSON.parse(figure.querySelector("script.frame-data").textContent);
  var view = figure.querySelector(".frame");
  var slider = figure.querySelector("input[type=range]");
  var label = figure.querySelector(".frame-label");
  var button = figure.querySelector("button.play");
  var timer = null;
  function show(index) {
    slider.value = index;
    if (view.tagName === "IMG") { view.src = data.frames[index]; view.alt = "samples after epoch " + data.epochs[index]; }
    else { view.textContent = data.frames[index]; }
    label.textContent = "epoch " + data.epochs[index];
  }
  function stop() { clearInterval(timer); timer = null; button.textContent = "play"; }
  slider.addEventListener("input", function () { stop(); show(Number(slider.value)); });
  button.addEventListener("click", function () {
    if (timer !== null) { stop(); return; }
    var index = Number(slider.value) >= data.frames.length - 1 ? -1 : Number(slider.value);
    button.textContent = "pause";
    timer = setInterval(function () {
      index += 1;
      show(index);
      if (index >= data.frames.length - 1) { stop(); }
    }, 400);
  });
});
"""
