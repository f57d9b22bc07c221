"""Worst-case cost of the serving signatures: the largest request each accepts, and how fast it refuses hostile ones.

    python benchmarks/serving_worst_case.py RUN_DIR [RUN_DIR ...] [--json PATH] [--markdown PATH]
    python benchmarks/serving_worst_case.py --train --models char-lstm word-lstm captioner text2image-vae dcgan \\
        fusion-classifier --work-dir /tmp/worst --json /tmp/worst/worst.json --markdown /tmp/worst/worst.md

For each run folder (or, with ``--train``, each of ``--models`` trained by ``genkit train MODEL --time-limit
MINUTES`` on its embedded default data into ``--work-dir/MODEL``; a folder there that already holds a finished
run is reused), the script reads the serving signatures the run declares in its ``genkit.json``
(``serving.signatures``: every input's dtype, shape, value range and sampling recipe, and ``max_rows``) -- no
bound is written here -- and plans, per signature:

1. **worst accepted**: every value that multiplies the work at its declared maximum: rows at ``max_rows``
   (prompts, images), ``length`` and ``beam_width`` at the top of their declared ranges (COST_PARAMETERS names
   the inputs whose value multiplies the work; their bounds come from genkit.json), every text ``--text-words``
   words long (a language model reads its prompt token by token, up to its last 4,096 tokens), and, for a
   signature taking both ``temperature`` and ``beam_width`` (the captioner's ``caption``), the last row sampled,
   so that beam search and sampling both run. Timed: the median of up to ``--repeats`` calls, as many as fit
   in ``--worst-budget`` seconds (at least one). A worst request with a loop count (``length``) is first run
   once with its loop counts (length, prompt words) divided by PREVIEW; when PREVIEW times that exceeds
   ``--run-worst-under`` seconds the worst request is not run and that estimate is reported (marked †). A
   signature that declares no ``max_rows`` has no worst request: it is timed at ``--unbounded-rows`` rows and
   reported as unbounded.
2. **hostile**: what the declared bounds must refuse, one value changed at a time from a small valid request
   (one row, ``length`` 16, ``beam_width`` 1): 10**6 rows (at most ``--hostile-megabytes`` of input are built:
   the bound that refuses them is the same, the time to refuse is that of the rows sent), a count of 10**9 for
   ``length`` and ``beam_width``, a value just above every other declared range, one just below every range
   (negative for a range that starts at 0), NaN and inf in one element of every float input. Each must raise
   ``tf.errors.InvalidArgumentError`` naming the input (the rows bound: "at most N ... per request") within
   ``--refuse-seconds`` (default 1 s; the median of ``--repeats`` attempts counts, the slowest is shown).
   Undeclared probes are reported but not judged: -1 for a float parameter without a declared range (a
   language model's ``temperature``, which its own graph checks), and for each signature taking image files one
   ``--png-side``-pixel-square PNG of one colour (a few hundred KB that decode to ``side**2 * channels``
   bytes), beside one of the declared size.
3. **scaling**: the same signature at two accepted sizes of each growing value (rows: a quarter of the bound and
   the bound, or ``--unbounded-rows`` and 4 times that without a bound; ``length``, ``beam_width``: a quarter
   of the maximum and the maximum, one row). The cost of one more unit (a row, a generated token, a beam) gives
   the **extrapolated** cost of each hostile request had no bound refused it,
   ``t(b) + (t(b) - t(a)) / (b - a) * (hostile - b)`` -- the "before" of the bounds. It is a linear
   extrapolation, not a measurement: it ignores memory (10**6 rows or 10**9 beams would not fit) and assumes
   the cost per unit stays that of the largest accepted size.

The requests run in a fresh subprocess per run that loads ``serving/<version>`` with ``tf.saved_model.load``
and never imports genkit (the worker reports ``'genkit' in sys.modules``, and the script stops if it is), as a
TF Serving model server would. The first call of each signature (graph set-up) is reported apart: as how much
longer it took than the median of the same request. A request that runs past its timeout is killed with its
worker (a hostile request that is not refused), and the rest run in a new worker.

Printed and written (``--json``, ``--markdown``): one table -- model, signature, request, expected and actual
outcome, seconds of the worst accepted request, refusal time, extrapolated unbounded time -- and a verdict line
per model: the worst accepted request of every signature within ``--max-seconds`` and every declared hostile
request refused within ``--refuse-seconds``; exit status 1 when either fails, which includes a signature that
declares no ``max_rows`` (its 10**6-row request is accepted: not sent, its cost extrapolated). The default
bound of 120 s: two minutes of a serving worker on this project's 2-core CPU, the order of the default
timeouts of HTTP proxies and load balancers (60-120 s) in front of a model server, beyond which the client has
gone and the work is wasted; the request the bounds replaced held a worker for hours. The machine is shared and
noisy: absolute seconds move by 15% between runs, and by more when other work runs beside.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Inputs whose value is a loop count: the work grows with it (the language models' tokens to generate, the
# captioner's beams per image). Only the names are written here; their bounds are read from genkit.json.
COST_PARAMETERS = {
    "length": {"unit": "token", "base": 16, "loop": True},
    "beam_width": {"unit": "beam", "base": 1, "loop": False},
}
# Valid values of the per-row settings in the requests that do not push a cost parameter (clipped into the
# declared range): greedy / beam search, no filter cut, the usual length penalty.
PARAMETER_DEFAULTS = {"temperature": 0.0, "top_k": 0, "top_p": 1.0, "length_penalty": 1.0, "seed": 0, "present": 1.0}
HOSTILE_ROWS = 10**6
PREVIEW = 64  # the worst request is first run once with its loop counts divided by this
HOSTILE_COUNT = 10**9
WORDS = ("and the lord said unto moses behold a smiling face with heart eyes of gold in the land "
         "of egypt spake saying cat sleeping under blue moon").split()
ITEM_BYTES = {"float32": 4, "float16": 2, "int32": 4, "int64": 8, "uint8": 1}
FINISHED_RUN = "genkit.json"


# -- reading a run's declared serving signatures ----------------------------------------------------------


def serving_metadata(run_dir) -> dict:
    """``{"model", "run_dir", "savedmodel", "version", "signatures"}`` from a run folder's genkit.json."""
    run_dir = Path(run_dir)
    metadata = json.loads((run_dir / FINISHED_RUN).read_text())
    serving = metadata["serving"]
    return {
        "model": metadata["model"],
        "run_dir": str(run_dir),
        "savedmodel": str(run_dir / serving["path"]),
        "version": serving.get("version"),
        "signatures": serving["signatures"],
    }


def _rows_name(signature: dict) -> str:
    """What a row is, for labels: the first input's modality (prompts, images, ...)."""
    name, first = next(iter(signature["inputs"].items()))
    if name == "prompt":
        return "prompts"
    return {"text": "texts", "image": "images", "file": "files", "latent": "rows"}.get(first["modality"], "rows")


def _file_image_shape(name: str, signatures: dict):
    """[H, W, C] of the image input that a ``<image>_bytes`` file input decodes to, from any signature."""
    if not name.endswith("_bytes"):
        return None
    for signature in signatures.values():
        declared = signature["inputs"].get(name[: -len("_bytes")])
        if declared and declared["modality"] == "image":
            return [int(d) for d in declared["shape"][1:]]
    return None


def _clip(value, declared):
    low, high = declared.get("range", (-math.inf, math.inf))
    return min(max(value, low), high)


def input_fill(name: str, declared: dict, signatures: dict, worst: bool, text_words: int) -> dict:
    """How the worker builds one input's values: a valid request, ``worst`` with every growing value at its
    declared maximum."""
    dtype, modality, bounds = declared["dtype"], declared["modality"], declared.get("range")
    if modality == "file":
        shape = _file_image_shape(name, signatures)
        return {"kind": "png", "shape": shape} if shape else {"kind": "unsupported"}
    if dtype == "string":
        return {"kind": "words", "count": text_words if worst else 4}
    if name in COST_PARAMETERS and bounds:
        value = bounds[1] if worst else _clip(COST_PARAMETERS[name]["base"], declared)
        return {"kind": "constant", "value": int(value)}
    sampling = declared.get("sampling", {})
    if sampling.get("distribution") == "standard_normal":
        return {"kind": "normal"}
    if sampling.get("distribution") == "class_cycle":
        return {"kind": "cycle", "low": 0, "count": int(sampling["num_classes"])}
    if modality == "label" and bounds:
        return {"kind": "cycle", "low": int(bounds[0]), "count": int(bounds[1] - bounds[0] + 1)}
    if modality == "parameter":
        value = _clip(PARAMETER_DEFAULTS.get(name, 0), declared)
        return {"kind": "constant", "value": int(value) if dtype.startswith("int") else float(value)}
    if bounds:
        return {"kind": "uniform", "low": float(bounds[0]), "high": float(bounds[1])}
    return {"kind": "normal"} if dtype.startswith("float") else {"kind": "constant", "value": 0}


def _inputs(signature: dict, signatures: dict, worst: bool, text_words: int) -> dict:
    inputs = {}
    for name, declared in signature["inputs"].items():
        inputs[name] = {"dtype": declared["dtype"], "row_shape": [int(d) for d in declared["shape"][1:]],
                        "fill": input_fill(name, declared, signatures, worst, text_words)}
    if worst and "temperature" in inputs and "beam_width" in inputs:
        # The captioner decodes a request's beam-search rows and its sampled rows with two loops, and runs both
        # only when the request mixes them: the last row samples.
        high = signature["inputs"]["temperature"].get("range", (0, 1))[1]
        inputs["temperature"]["fill"] = {**inputs["temperature"]["fill"], "last_row": float(min(1.0, high))}
    return inputs


def _row_bytes(inputs: dict, text_words: int = 4) -> int:
    total = 0
    for spec in inputs.values():
        if spec["dtype"] == "string":
            total += 8 * text_words + 64
        else:
            total += ITEM_BYTES[spec["dtype"]] * math.prod(spec["row_shape"] or [1])
    return total


def _has_unsupported(inputs: dict) -> bool:
    return any(spec["fill"]["kind"] == "unsupported" for spec in inputs.values())


def _with(inputs: dict, name: str, **change) -> dict:
    return {**inputs, name: {**inputs[name], **change}}


def plan_signature(model: str, name: str, signature: dict, signatures: dict, options) -> list[dict]:
    """Every request for one signature: worst accepted, scaling sizes, hostile (see the module docstring)."""
    max_rows = signature.get("max_rows")
    rows_name = _rows_name(signature)
    base = _inputs(signature, signatures, worst=False, text_words=options.text_words)
    if _has_unsupported(base):
        return [{"id": f"{name}:skipped", "signature": name, "kind": "skipped", "label": "not planned: file inputs "
                 "that are not images", "rows": 0, "inputs": {}, "expect": "accept"}]
    files = any(spec["fill"]["kind"] == "png" for spec in base.values())
    requests = []
    timeout = options.request_timeout

    def add(kind, label, rows, inputs, expect, **extra):
        requests.append({"id": f"{name}:{kind}:{len(requests)}", "signature": name, "kind": kind, "label": label,
                         "rows": int(rows), "inputs": inputs, "expect": expect, "repeats": options.repeats,
                         "timeout": timeout, **extra})

    growing = [n for n in signature["inputs"] if n in COST_PARAMETERS and signature["inputs"][n].get("range")]
    worst = _inputs(signature, signatures, worst=True, text_words=options.text_words)
    worst_rows = max_rows or options.unbounded_rows
    counts = " × ".join(f"{n} {int(signature['inputs'][n]['range'][1])}" for n in growing)
    texts = [n for n, d in signature["inputs"].items() if d["dtype"] == "string" and d["modality"] == "text"]
    label = f"{worst_rows} {rows_name}" + (f" × {counts}" if counts else "")
    label += f", {options.text_words}-word {'/'.join(texts)}" if texts else ""
    if "last_row" in worst.get("temperature", {}).get("fill", {}):
        label += ", last row sampled"
    if not max_rows:
        label += " (no max_rows: timed at this size)"
    if not files or options.time_files:
        preview = None
        loops = [n for n in growing if COST_PARAMETERS[n]["loop"]]
        if loops:  # the worst request at 1/PREVIEW of its loop counts first: a worst request far over the bound
            # is then estimated instead of run (its first call alone would hold the machine for many minutes)
            small = dict(worst)
            for parameter in loops:
                top = int(signature["inputs"][parameter]["range"][1])
                small = _with(small, parameter, fill={"kind": "constant", "value": max(1, top // PREVIEW)})
            for text in texts:
                small = _with(small, text, fill={"kind": "words", "count": max(1, options.text_words // PREVIEW)})
            # one call, and a second when the first took under 10 s (the signature's set-up is their difference)
            add("preview", f"{label}, loop counts / {PREVIEW}", worst_rows, small, "accept", repeats=1, budget=10,
                min_repeats=0)
            preview = {"id": requests[-1]["id"], "factor": PREVIEW, "run_if_under": options.run_worst_under}
        add("worst", label, worst_rows, worst, "accept", budget=options.worst_budget, preview=preview)

    # Scaling: the cost of one more row / token / beam, from two accepted sizes.
    if not files or options.time_files:
        high = max_rows or options.unbounded_rows * 4
        for rows in (max(1, high // 4), high):
            add("scale", f"{rows} {rows_name}", rows, base, "accept", variable="rows", size=rows)
        for parameter in growing:
            top = int(signature["inputs"][parameter]["range"][1])
            for size in (max(1, top // 4), top):
                sized = _with(base, parameter, fill={"kind": "constant", "value": size})
                add("scale", f"1 row, {parameter} {size}", 1, sized, "accept", variable=parameter, size=size)

    # Hostile requests: one value changed at a time from the base request (one row).
    rows_label = f"{HOSTILE_ROWS:,} {rows_name}"
    if max_rows:
        fitting = max(max_rows + 1, min(HOSTILE_ROWS, options.hostile_megabytes * 2**20 // max(_row_bytes(base), 1)))
        sent = "" if fitting == HOSTILE_ROWS else f" (sent: {fitting:,}, what fits in {options.hostile_megabytes} MB)"
        add("hostile", rows_label + sent, fitting, base, "refuse", expect_message=f"at most {max_rows} ",
            variable="rows", hostile_value=HOSTILE_ROWS, timeout=options.hostile_timeout)
    else:
        megabytes = HOSTILE_ROWS * _row_bytes(base) / 2**20
        requests.append({"id": f"{name}:unbounded", "signature": name, "kind": "unbounded",
                         "label": f"{rows_label} ({megabytes:,.0f} MB of input)",
                         "rows": HOSTILE_ROWS, "inputs": {}, "expect": "refuse", "variable": "rows",
                         "hostile_value": HOSTILE_ROWS})
    for input_name, declared in signature["inputs"].items():
        dtype, bounds = declared["dtype"], declared.get("range")
        if dtype == "string":
            continue
        integer = dtype.startswith("int") or dtype == "uint8"
        hostile = {"timeout": options.hostile_timeout}
        if bounds is not None:
            message = f"input {input_name} must be in"
            low, high = bounds
            if input_name in COST_PARAMETERS:
                value, text = HOSTILE_COUNT, f"{input_name} 10**9"
                hostile.update(variable=input_name, hostile_value=HOSTILE_COUNT)
            else:
                value = int(high) + 1 if integer else float(high) + 0.5
                text = f"{input_name} {value:g} (> {high:g})"
            add("hostile", text, 1, _with(base, input_name, poison=value), "refuse", expect_message=message, **hostile)
            value = int(low) - 1 if integer else float(low) - 0.5
            add("hostile", f"{input_name} {value:g} (< {low:g})", 1, _with(base, input_name, poison=value), "refuse",
                expect_message=message, timeout=options.hostile_timeout)
        if not integer:
            for value, text in ((float("nan"), "NaN"), (float("inf"), "inf")):
                add("hostile", f"{input_name} {text}", 1, _with(base, input_name, poison=value), "refuse",
                    expect_message=f"input {input_name} must be finite", **hostile)
            if bounds is None and declared["modality"] == "parameter":
                add("undeclared", f"{input_name} -1 (no declared range)", 1, _with(base, input_name, poison=-1.0),
                    "either", **hostile)
    if files:
        for input_name, spec in base.items():
            if spec["fill"]["kind"] != "png":
                continue
            side = options.png_side
            fill = {**spec["fill"], "side": side}
            add("undeclared", f"1 row, {input_name}: one {side}×{side} PNG (undeclared size)", 1,
                _with(base, input_name, fill=fill), "either", timeout=options.request_timeout)
            add("undeclared", f"1 row, {input_name}: one PNG of the declared size", 1, base, "either")
    return requests


def plan_run(metadata: dict, options) -> list[dict]:
    return [request for name, signature in metadata["signatures"].items()
            for request in plan_signature(metadata["model"], name, signature, metadata["signatures"], options)]


# -- the worker: a fresh process without genkit ------------------------------------------------------------


def _materialize(spec: dict, rows: int, seed: int):
    import numpy as np

    fill, dtype = spec["fill"], spec["dtype"]
    shape = (rows, *spec["row_shape"])
    rng = np.random.default_rng(seed)
    kind = fill["kind"]
    if kind == "words":
        text = " ".join(WORDS[i % len(WORDS)] for i in range(fill["count"]))
        values = np.full(shape, text.encode(), dtype=object)
    elif kind == "png":
        import tensorflow as tf

        side = fill.get("side")
        height, width, channels = fill["shape"]
        if side:  # one colour: compresses about 1000:1, decodes to side * side * channels bytes
            image = np.full((side, side, channels), 128, np.uint8)
        else:
            image = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
        data = tf.io.encode_png(image).numpy()
        values = np.full(shape, data, dtype=object)
    elif kind == "constant":
        values = np.full(shape, fill["value"], dtype=dtype if dtype != "string" else object)
    elif kind == "uniform":
        values = rng.uniform(fill["low"], fill["high"], shape).astype(dtype)
    elif kind == "normal":
        values = rng.standard_normal(shape).astype(dtype)
    elif kind == "cycle":
        values = np.broadcast_to(
            (fill["low"] + np.arange(rows) % fill["count"]).reshape((rows,) + (1,) * len(spec["row_shape"])), shape,
        ).astype(dtype)
    else:
        raise ValueError(f"unknown fill {kind!r}")
    if "last_row" in fill and rows > 1:
        values = values.copy()
        values[-1] = fill["last_row"]
    if "poison" in spec:
        values = np.array(values, copy=True)
        values.reshape(-1)[-1] = spec["poison"]  # one element: the checks must look at every value
    return values


def _assertion(message: str) -> str:
    """The failed assertion's text (what TF Serving's error response carries first), else the message."""
    message = " ".join(message.split())
    start = message.find("assertion failed: [")
    if start < 0:
        return message[:400]
    end = message.find("]", start + len("assertion failed: ["))
    return message[start : end + 1 if end > 0 else start + 400]


def _max_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(plan_path: str) -> int:
    """Loads the SavedModel and runs the planned requests, one JSON line per event on stdout."""
    import tensorflow as tf

    plan = json.loads(Path(plan_path).read_text())

    def emit(**event):
        print(json.dumps(event), flush=True)

    started = time.perf_counter()
    loaded = tf.saved_model.load(plan["savedmodel"])
    emit(event="ready", load_seconds=time.perf_counter() - started, genkit_imported="genkit" in sys.modules,
         tensorflow=tf.__version__, max_rss_mb=_max_rss_mb())
    called, medians, setups = set(), {}, {}
    for request in plan["requests"]:
        emit(event="start", id=request["id"])
        preview = request.get("preview")
        if preview and preview["id"] in medians:
            estimate = medians[preview["id"]] * preview["factor"]
            if estimate > preview["run_if_under"]:
                emit(event="result", id=request["id"], status="skipped", estimated_seconds=estimate, first_seconds=None,
                     seconds=[], median_seconds=None, max_rss_mb=_max_rss_mb(),
                     message=f"not run: {preview['factor']} x its 1/{preview['factor']} preview = {estimate:.0f} s "
                             f"> {preview['run_if_under']:g} s")
                continue
        function = loaded.signatures[request["signature"]]
        tensors = {}
        for name, spec in request["inputs"].items():
            values = _materialize(spec, request["rows"], seed=0)
            tensors[name] = tf.constant(values, tf.string if spec["dtype"] == "string" else tf.as_dtype(spec["dtype"]))

        def call():
            begin = time.perf_counter()
            try:
                outputs = function(**tensors)
                for value in outputs.values():
                    value.numpy()
                return "accepted", time.perf_counter() - begin, None
            except tf.errors.InvalidArgumentError as error:
                return "refused", time.perf_counter() - begin, _assertion(error.message)
            except Exception as error:  # noqa: BLE001 - reported: another error than the refusal
                return f"error:{type(error).__name__}", time.perf_counter() - begin, " ".join(str(error).split())[:400]

        first = None
        if request["signature"] not in called:  # the signature's first call: graph set-up, reported apart
            called.add(request["signature"])
            status, first, message = call()
        repeats = request.get("repeats", 3)
        expected = first if first is not None else (
            medians[preview["id"]] * preview["factor"] if preview and preview["id"] in medians else None)
        if request.get("budget") and expected:  # as many calls as fit in the budget
            repeats = min(repeats, int(request["budget"] // max(expected, 1e-9)))
        repeats = max(repeats, request.get("min_repeats", 1) if first is not None else 1)
        times = []
        for _ in range(repeats):
            status, seconds, message = call()
            times.append(seconds)
        medians[request["id"]] = statistics.median(times or [first])
        if first is not None and times:  # what the signature's first call took over the same request's later calls
            setups[request["signature"]] = first - medians[request["id"]]
        estimate = medians[preview["id"]] * preview["factor"] if preview and preview["id"] in medians else None
        emit(event="result", id=request["id"], status=status, message=message, first_seconds=first,
             seconds=times, median_seconds=medians[request["id"]], estimated_seconds=estimate,
             setup_seconds=setups.get(request["signature"]), max_rss_mb=_max_rss_mb())
    return 0


def run_worker(metadata: dict, requests: list[dict], work_dir: Path, log=print) -> tuple[dict, dict]:
    """Runs ``requests`` in fresh worker processes; a request past its timeout is killed with its worker and
    the rest continue in a new one. Returns ``(results by id, worker info)``."""
    results, info = {}, {}
    remaining = [r for r in requests if r["kind"] not in ("skipped", "unbounded")]
    attempt = 0
    while remaining:
        attempt += 1
        plan_path = work_dir / f"plan-{Path(metadata['run_dir']).name}-{attempt}.json"
        plan_path.write_text(json.dumps({"savedmodel": metadata["savedmodel"], "requests": remaining}))
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", str(plan_path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        lines: queue.Queue = queue.Queue()
        def read(stream=process.stdout):
            for line in stream:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        current, current_started, deadline = None, time.monotonic(), time.monotonic() + 600
        done_ids = set()
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = "TIMEOUT"
            if line is None or line == "TIMEOUT":
                break
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            if event["event"] == "ready":
                info = {k: v for k, v in event.items() if k != "event"} if attempt == 1 else info
                log(f"  loaded in {event['load_seconds']:.1f} s in a fresh process; "
                    f"genkit imported: {event['genkit_imported']}")
            elif event["event"] == "start":
                current = next(r for r in remaining if r["id"] == event["id"])
                current_started = time.monotonic()
                deadline = current_started + current["timeout"] * (1 + current.get("repeats", 3)) + 60
            elif event["event"] == "result":
                results[event["id"]] = event
                done_ids.add(event["id"])
                _log_result(current, event, log)
                current, deadline = None, time.monotonic() + 600
        timed_out = line == "TIMEOUT"
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        stderr = process.stderr.read()[-2000:]
        if len(done_ids) == len(remaining):
            pass
        elif current is None and not results:
            raise RuntimeError(f"the worker for {metadata['run_dir']} failed: {stderr}")
        else:  # the request in flight timed out (killed) or crashed the worker; the rest go to a new worker
            current = current or next(r for r in remaining if r["id"] not in done_ids)
            elapsed = time.monotonic() - current_started if timed_out else None
            results[current["id"]] = {
                "id": current["id"], "status": "timeout" if timed_out else "crashed",
                "message": f"not finished after {elapsed:.0f} s (worker killed)" if timed_out else stderr[-400:],
                "first_seconds": None, "seconds": [elapsed] if timed_out else [], "median_seconds": elapsed,
            }
            log(f"  {current['kind']:10} {current['signature']}: {current['label']}: "
                f"{'TIMEOUT, worker killed' if timed_out else 'worker crashed: ' + stderr[-300:]}")
            done_ids.add(current["id"])
        remaining = [r for r in remaining if r["id"] not in done_ids]
    return results, info


def _log_result(request, event, log):
    first = f", first call {event['first_seconds']:.2f} s" if event.get("first_seconds") is not None else ""
    message = f" -- {event['message'][:120]}" if event.get("message") and event["status"] != "accepted" else ""
    median = f" {event['median_seconds']:.3f} s" if event.get("median_seconds") is not None else ""
    log(f"  {request['kind']:10} {request['signature']}: {request['label']}: {event['status']}{median}{first}{message}")


# -- evaluating ------------------------------------------------------------------------------------------


def slopes(requests: list[dict], results: dict) -> dict:
    """``{(signature, variable): (size_a, t_a, size_b, t_b)}`` from the scaling requests' medians."""
    points = {}
    for request in requests:
        result = results.get(request["id"])
        if request["kind"] == "scale" and result and result["status"] == "accepted":
            key = (request["signature"], request["variable"])
            points.setdefault(key, []).append((request["size"], result["median_seconds"]))
    return {key: (*sorted(values)[0], *sorted(values)[-1]) for key, values in points.items() if len(values) >= 2}


def extrapolate(size_a: float, t_a: float, size_b: float, t_b: float, value: float) -> float:
    """Linear extrapolation from two accepted sizes to ``value`` (proportional from ``b`` when noise makes the
    slope negative)."""
    slope = (t_b - t_a) / (size_b - size_a) if size_b != size_a else 0.0
    if slope <= 0:
        slope = t_b / size_b
    return t_b + slope * (value - size_b)


def evaluate(metadata: dict, requests: list[dict], results: dict, options) -> list[dict]:
    """One row per reported request, with its verdict (None: informational)."""
    fits = slopes(requests, results)
    rows = []
    for request in requests:
        if request["kind"] in ("scale", "preview"):
            continue
        result = results.get(request["id"], {})
        row = {"model": metadata["model"], "signature": request["signature"], "kind": request["kind"],
               "request": request["label"], "expected": request["expect"], "outcome": result.get("status", "not sent"),
               "seconds": None, "first_call_seconds": None, "refusal_seconds": None, "extrapolated_seconds": None,
               "message": result.get("message"), "ok": None}
        if request["kind"] == "skipped":
            row["outcome"] = "not sent"
        elif request["kind"] == "unbounded":
            row["outcome"] = "accepted: no max_rows declared (not sent)"
            row["ok"] = False
        elif request["kind"] == "worst":
            row["seconds"], row["first_call_seconds"] = result.get("median_seconds"), result.get("first_seconds")
            row["setup_seconds"] = result.get("setup_seconds")
            row["estimated_seconds"] = result.get("estimated_seconds")  # PREVIEW x the preview's median
            if "no max_rows" in request["label"]:  # no worst request: the unbounded row below fails the model
                row["outcome"] = result.get("status", "not sent") + " (no bound)"
            elif result.get("status") == "skipped":  # estimated far over the bound: not run
                row["outcome"] = "accepted (not run: estimated)"
                row["ok"] = False
            else:
                row["ok"] = bool(result.get("status") == "accepted" and row["seconds"] is not None
                                 and row["seconds"] <= options.max_seconds)
        elif request["kind"] == "hostile":
            named = request.get("expect_message", "") in (result.get("message") or "")
            row["refusal_seconds"] = seconds = result.get("median_seconds")
            row["refusal_max_seconds"] = max(result["seconds"]) if result.get("seconds") else None
            row["ok"] = bool(result.get("status") == "refused" and named and seconds is not None
                             and seconds <= options.refuse_seconds)
        else:  # undeclared probes: reported, not judged
            row["seconds"] = result.get("median_seconds") if result.get("status") == "accepted" else None
            row["refusal_seconds"] = result.get("median_seconds") if result.get("status") == "refused" else None
        fit = fits.get((request["signature"], request.get("variable")))
        if request.get("hostile_value") and fit:
            row["extrapolated_seconds"] = extrapolate(*fit, request["hostile_value"])
        rows.append(row)
    return rows


def verdicts(rows: list[dict], options) -> dict:
    """``{model: (ok, line)}``."""
    out = {}
    for model in dict.fromkeys(row["model"] for row in rows):
        mine = [row for row in rows if row["model"] == model]
        worst = [row for row in mine if row["kind"] == "worst"]
        slowest = max((row["seconds"] or row.get("estimated_seconds") or 0 for row in worst), default=0)
        failures = [f"{row['signature']}: {row['request']} ({row['outcome']})" for row in mine if row["ok"] is False]
        hostile = [row for row in mine if row["kind"] in ("hostile", "unbounded")]
        refused = [row for row in hostile if row["ok"]]
        slowest_refusal = max((row["refusal_seconds"] or 0 for row in refused), default=0)
        ok = not failures
        line = (f"{model}: {'OK' if ok else 'VIOLATED'} -- worst accepted request {slowest:.1f} s "
                f"(bound {options.max_seconds:g} s); {len(refused)}/{len(hostile)} hostile requests refused, slowest in "
                f"{slowest_refusal * 1000:.0f} ms (bound {options.refuse_seconds:g} s)")
        if failures:
            line += "; failing: " + "; ".join(failures)
        out[model] = (ok, line)
    return out


def _seconds(value) -> str:
    if value is None:
        return "-"
    if value >= 86400 * 365:
        return f"{value:.2g} s ({value / 86400 / 365:.2g} years)"
    if value >= 3600:
        return f"{value:.3g} s ({value / 3600:.3g} h)"
    if value < 0.1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.3g} s"


def markdown_table(rows: list[dict]) -> str:
    header = ["model", "signature", "request", "expected", "outcome",
              "worst accepted: median (signature's first call: extra)", "refused in: median (slowest)",
              "unbounded (extrapolated)", "ok"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 5 + ["---:"] * 3 + ["---"]) + "|"]
    for row in rows:
        seconds = _seconds(row["seconds"])
        if row["seconds"] is None and row.get("estimated_seconds") is not None:
            seconds = f"~{_seconds(row['estimated_seconds'])} † (not run)"
        if row.get("setup_seconds") is not None:
            seconds += f" (first call {'+' if row['setup_seconds'] >= 0 else '−'}{_seconds(abs(row['setup_seconds']))})"
        extrapolated = _seconds(row["extrapolated_seconds"]) + (" *" if row["extrapolated_seconds"] is not None else "")
        refusal = _seconds(row["refusal_seconds"])
        if row.get("refusal_max_seconds") is not None:
            refusal += f" ({_seconds(row['refusal_max_seconds'])})"
        lines.append("| " + " | ".join([
            row["model"], row["signature"], row["request"], row["expected"], row["outcome"], seconds,
            refusal, extrapolated, {True: "yes", False: "**no**", None: ""}[row["ok"]],
        ]) + " |")
    lines.append("")
    lines.append("\\* linear extrapolation from two accepted sizes (time per row, generated token or beam), not a "
                 "measurement; memory is ignored. † the worst request's time estimated as "
                 f"{PREVIEW} × that of the same request with its loop counts (length, prompt words) divided by "
                 f"{PREVIEW}.")
    return "\n".join(lines)


# -- training --------------------------------------------------------------------------------------------


def train_runs(models: list[str], work_dir: Path, minutes: float, log=print) -> dict:
    """``{model: {"run_dir", "train_seconds"}}``: ``genkit train MODEL --time-limit MINUTES`` on the embedded
    default data into ``work_dir/MODEL``, or the finished run already there."""
    genkit = Path(sys.executable).parent / "genkit"
    command = [str(genkit)] if genkit.exists() else [shutil.which("genkit") or "genkit"]
    runs = {}
    for model in models:
        run_dir = work_dir / model
        if (run_dir / FINISHED_RUN).is_file():
            log(f"[{time.strftime('%H:%M:%S')}] {model}: reusing the finished run in {run_dir}")
            runs[model] = {"run_dir": str(run_dir), "train_seconds": None}
            continue
        log(f"[{time.strftime('%H:%M:%S')}] {model}: genkit train {model} --time-limit {minutes:g} --out {run_dir}")
        started = time.monotonic()
        with open(work_dir / f"{model}.train.log", "w") as output:
            done = subprocess.run([*command, "train", model, "--time-limit", f"{minutes:g}", "--out", str(run_dir),
                                   "--quiet"], stdout=output, stderr=subprocess.STDOUT)
        if done.returncode:
            raise RuntimeError(f"genkit train {model} failed ({done.returncode}): see {output.name}")
        runs[model] = {"run_dir": str(run_dir), "train_seconds": round(time.monotonic() - started, 1)}
    return runs


def arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="trained run folders (genkit.json and serving/<version>)")
    parser.add_argument("--train", action="store_true", help="train --models first (or reuse their finished runs)")
    parser.add_argument("--models", nargs="+", default=["char-lstm", "word-lstm", "captioner", "text2image-vae", "dcgan",
                                                        "fusion-classifier"])
    parser.add_argument("--work-dir", type=Path, default=Path("saved_models") / "serving-worst-case")
    parser.add_argument("--time-limit", type=float, default=1.0, help="minutes of training per model with --train")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per request after the first")
    parser.add_argument("--worst-budget", type=float, default=120.0,
                        help="seconds of timed calls of a worst request after its first (at least one call)")
    parser.add_argument("--run-worst-under", type=float, default=240.0,
                        help=f"run the worst request only when {PREVIEW} x its preview's time is under this")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="bound on the worst accepted request")
    parser.add_argument("--refuse-seconds", type=float, default=1.0, help="bound on refusing a hostile request")
    parser.add_argument("--unbounded-rows", type=int, default=256, help="rows of a signature without max_rows")
    parser.add_argument("--text-words", type=int, default=4096, help="words of every text in the worst request")
    parser.add_argument("--hostile-megabytes", type=int, default=512, help="the most input built for a rows request")
    parser.add_argument("--png-side", type=int, default=4096, help="side of the undeclared large-PNG probe")
    parser.add_argument("--time-files", action="store_true", help="also time the worst request of file signatures")
    parser.add_argument("--request-timeout", type=float, default=600.0, help="seconds of a call before it is killed")
    parser.add_argument("--hostile-timeout", type=float, default=30.0, help="seconds before a hostile call is killed")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = arguments(argv)
    if args.worker:
        return worker(args.worker)
    sys.stdout.reconfigure(line_buffering=True)  # progress lines as they happen, also into a pipe
    started = time.monotonic()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    runs = {}
    if args.train:
        runs.update(train_runs(args.models, args.work_dir, args.time_limit))
    for run_dir in args.runs:
        runs[str(run_dir)] = {"run_dir": str(run_dir), "train_seconds": None}
    if not runs:
        print("serving_worst_case.py: error: give run folders or --train", file=sys.stderr)
        return 2
    rows, details = [], []
    for entry in runs.values():
        metadata = serving_metadata(entry["run_dir"])
        print(f"[{time.strftime('%H:%M:%S')}] {metadata['model']}: {metadata['savedmodel']} "
              f"({', '.join(metadata['signatures'])})", flush=True)
        requests = plan_run(metadata, args)
        measuring = time.monotonic()
        results, info = run_worker(metadata, requests, args.work_dir)
        if info.get("genkit_imported"):
            raise RuntimeError("the worker imported genkit: the measurement is not of a plain TensorFlow process")
        model_rows = evaluate(metadata, requests, results, args)
        rows += model_rows
        details.append({**{k: v for k, v in metadata.items() if k != "signatures"}, **entry, "worker": info,
                        "measure_seconds": round(time.monotonic() - measuring, 1), "declared": metadata["signatures"],
                        "requests": [{k: v for k, v in r.items() if k != "inputs"} | {"result": results.get(r["id"])}
                                     for r in requests]})
    table = markdown_table(rows)
    judged = verdicts(rows, args)
    report = table + "\n\n" + "\n".join(f"- {line}" for _, line in judged.values())
    print("\n" + report)
    total = time.monotonic() - started
    print(f"\n{len(runs)} runs in {total / 60:.1f} min")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(report + "\n")
    if args.json:
        import platform

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "worker"},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_average": os.getloadavg()},
            "seconds": round(total, 1), "rows": rows,
            "verdicts": {model: {"ok": ok, "line": line} for model, (ok, line) in judged.items()},
            "runs": details,
        }, indent=1, default=str) + "\n")
    return 0 if all(ok for ok, _ in judged.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
