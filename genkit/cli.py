"""The ``genkit`` command line: each subcommand parses its flags and calls a plain Python function."""

from __future__ import annotations

import argparse
import os
import sys

from genkit.config import CLUSTERS, MAX_DEVICES, MAX_SEED, MIXED_PRECISION_POLICIES, STRATEGIES
from genkit.data.dataset_registry import dataset_usage
from genkit.errors import ExportCheckFailed, TrainingDiverged, UserError
from genkit.options import merged_options, positive_float, positive_int, whole_number
from genkit.runtime.cluster import WorkerLost

EXIT_USER_ERROR = 2
SEED = whole_number(0, MAX_SEED)  # --seed: NumPy's seeds are non-negative (-1 was a traceback)


# What str.splitlines() breaks a line at; an error quoting a value that holds one is escaped to stay one line.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def one_line(message: object) -> str:
    """``message`` with its line breaks escaped (``\\n``, ``\\u2028``): an error is one line on stderr even when it
    quotes a flag value, a file name or a spec that holds one."""
    text = str(message).strip()
    return "".join(c.encode("unicode_escape").decode("ascii") if c in _LINE_BREAKS else c for c in text)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message):
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


class _VersionAction(argparse.Action):
    """``genkit --version``: the versions of genkit and of the libraries it runs on (TensorFlow is imported only
    now, quietly: parsing any other command line stays free of it)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from genkit.versions import version_text

        _quiet_tensorflow()
        print(version_text())
        parser.exit(0)


# exporters.FORMAT_CHOICES and exporters.QUANTIZATIONS (not imported here: the parser stays free of TensorFlow).
EXPORT_FORMATS = ("savedmodel", "tflite", "onnx", "all")
EXPORT_QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


def _command_list(args) -> None:
    from genkit.registry import registered_models

    entries = registered_models()
    name_width = max(len(entry.name) for entry in entries)
    family_width = max(len(entry.family) for entry in entries)
    for entry in entries:
        print(f"{entry.name:<{name_width}}  {entry.family:<{family_width}}  {entry.description}")


def _command_train(args) -> None:
    from genkit.commands.train import train

    train(
        args.model, args.config, args.set or [], out=args.out, resume=args.resume, init_from=args.init_from,
        verbose=0 if args.quiet else 1,
        epochs=args.epochs, batch_size=args.batch_size, dataset=args.dataset, data_dir=args.data_dir,
        seed=args.seed, strategy=args.strategy, devices=args.devices, cluster=args.cluster,
        mixed_precision=args.mixed_precision, jit=args.jit, time_limit=args.time_limit,
        histograms=args.histograms, checkpoint_every=args.checkpoint_every, checkpoint_minutes=args.checkpoint_minutes,
    )


def _family_options(args) -> dict:
    """The family options the user set (each family's options are flags of the command)."""
    return {name: getattr(args, name) for name in args.family_options if getattr(args, name, None) is not None}


def _command_sample(args) -> None:
    from genkit.commands.sample import sample

    options = _family_options(args)
    samples = sample(args.run_dir, args.num_samples, args.out, seed=args.seed, **options)
    if args.out is not None:
        print(f"genkit: wrote {len(samples)} samples to {args.out}")


def _command_evaluate(args) -> None:
    from genkit.commands.evaluate import evaluate, format_metrics

    options = _family_options(args)
    metrics = evaluate(
        args.run_dir, dataset=args.dataset, data_dir=args.data_dir, num_samples=args.num_samples,
        seed=args.seed, **options,
    )
    print(format_metrics(metrics))


def _command_export(args) -> None:
    from exporters import export

    export(
        args.run_dir, format=args.format, quantize=args.quantize, int8_io=args.int8_io,
        signature=args.signature, out=args.out, allow_flex=args.allow_flex, opset=args.opset,
    )


def _command_explain(args) -> None:
    from genkit.commands.explain import explain, explanation_methods

    if args.list_methods:
        for name, description in explanation_methods(args.run_dir).items():
            print(f"{name}: {description}")
        return
    index = explain(args.run_dir, out=args.out, num_samples=args.num_samples, methods=args.method, seed=args.seed)
    for skipped in index["skipped"]:
        print(f"genkit: skipped {skipped['method']}: {skipped['reason']}")
    folder = args.out or f"{args.run_dir}/explanations"
    print(f"genkit: wrote {len(index['figures'])} figures and explanations.json to {folder}")


def _command_report(args) -> None:
    from genkit.commands.report import report

    print(f"genkit: wrote {report(args.run_dirs, out=args.out)}")


def _command_info(args) -> None:
    import json

    from genkit.commands.info import format_info, info

    metadata = info(args.run_dir)
    print(json.dumps(metadata, indent=2) if args.json else format_info(metadata))


def _add_family_options(parser: argparse.ArgumentParser, command: str, with_family_options: bool) -> None:
    """The options every registered family declares for ``command`` ("sampling" or "evaluation")."""
    names = []
    if with_family_options:
        from genkit.registry import registered_models

        attribute = f"{command}_options"
        groups = [(entry.name, getattr(entry.model_class, attribute)) for entry in registered_models()]
        group = parser.add_argument_group(f"{command} options of the model families (a model takes only its own)")
        for name, (option, owners) in merged_options(groups).items():
            group.add_argument(
                option.flag, dest=name, type=option.parse, metavar=option.metavar, nargs=option.nargs,
                help=f"{option.help} [{', '.join(owners)}]",
            )
            names.append(name)
    parser.set_defaults(family_options=tuple(names))


def _add_train_command(commands) -> None:
    train = commands.add_parser("train", help="train a model and write a run folder")
    train.add_argument("model", help="a registered model name (see 'genkit list')")
    train.add_argument("--config", metavar="FILE", help="a .yaml or .json config file")
    train.add_argument(
        "--set", action="append", metavar="KEY=VALUE",
        help="override one config field (repeatable); 'train.FIELD=VALUE' sets a training field",
    )
    train.add_argument(
        "--dataset", metavar="SPEC",
        help=f"one of {dataset_usage()} (default: embedded, the data genkit ships for the model's modality)",
    )
    train.add_argument("--data-dir", metavar="DIR", help="where dataset files are (fashion_mnist, tfds)")
    train.add_argument("--epochs", type=positive_int, metavar="N")
    train.add_argument("--batch-size", type=positive_int, metavar="N", help="the global batch size")
    train.add_argument("--out", metavar="DIR", help="the run folder (default saved_models/MODEL-TIMESTAMP)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out (or the newest one)")
    train.add_argument(
        "--init-from", metavar="RUN_DIR",
        help="start a new run from this run's config, vocabulary and weights (its own optimizers, step 0)",
    )
    train.add_argument("--seed", type=SEED, metavar="N", help=f"0 to {MAX_SEED}")
    train.add_argument("--strategy", choices=STRATEGIES)
    train.add_argument(
        "--devices", type=whole_number(1, MAX_DEVICES), metavar="N",
        help=f"GPUs to use, or logical CPU devices (1 to {MAX_DEVICES})",
    )
    train.add_argument(
        "--cluster", choices=CLUSTERS,
        help="where a multi-worker run's cluster comes from: tf_config (default: the TF_CONFIG variable) "
        "or slurm (the SLURM_* variables of an srun step)",
    )
    train.add_argument("--mixed-precision", choices=MIXED_PRECISION_POLICIES)
    train.add_argument("--jit", action=argparse.BooleanOptionalAction, default=None, help="XLA-compile the train step")
    train.add_argument(
        "--time-limit", type=positive_float, metavar="MINUTES",
        help="stop cleanly (checkpoint saved, run folder complete) after this many minutes",
    )
    train.add_argument(
        "--checkpoint-every", type=positive_int, metavar="STEPS",
        help="also save a checkpoint every this many steps (a killed run loses at most that many)",
    )
    train.add_argument(
        "--checkpoint-minutes", type=positive_float, metavar="MINUTES",
        help="also save a checkpoint every this many minutes",
    )
    train.add_argument(
        "--histograms", action=argparse.BooleanOptionalAction, default=None,
        help="weight histograms in the TensorBoard logs after each epoch (default on)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_command_train)


def _add_sample_command(commands, with_family_options: bool) -> None:
    sample = commands.add_parser("sample", help="generate samples from a trained run")
    sample.add_argument("run_dir", metavar="RUN_DIR")
    sample.add_argument("-n", "--num-samples", type=positive_int, default=64, metavar="N")
    sample.add_argument(
        "--out", metavar="FILE",
        help="images: .npy (float32 [N,H,W,C] in [0,1]) or .png grid; text: .txt (without --out: printed); "
        "predictions: .json (without --out: printed)",
    )
    sample.add_argument("--seed", type=SEED, default=0, metavar="N", help=f"0 to {MAX_SEED} (default 0)")
    _add_family_options(sample, "sampling", with_family_options)
    sample.set_defaults(handler=_command_sample)


def _add_evaluate_command(commands, with_family_options: bool) -> None:
    evaluate = commands.add_parser("evaluate", help="measure a trained run; writes RUN_DIR/metrics.json")
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument("--dataset", metavar="SPEC", help="evaluate against this dataset (default: the run's)")
    evaluate.add_argument("--data-dir", metavar="DIR", help="where dataset files are (fashion_mnist, tfds)")
    evaluate.add_argument("-n", "--num-samples", type=positive_int, metavar="N", help="samples to generate")
    evaluate.add_argument("--seed", type=SEED, default=0, metavar="N", help=f"0 to {MAX_SEED} (default 0)")
    _add_family_options(evaluate, "evaluation", with_family_options)
    evaluate.set_defaults(handler=_command_evaluate)


def _add_export_command(commands) -> None:
    export = commands.add_parser(
        "export", help="export a trained run to TF Serving, TFLite or ONNX (checked, with a report)"
    )
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("--format", choices=EXPORT_FORMATS, default="all", help="default: all")
    export.add_argument(
        "--quantize", choices=EXPORT_QUANTIZATIONS, default="none",
        help="TFLite: float16, dynamic-range or full-integer int8 (calibrated on the run's data)",
    )
    export.add_argument("--int8-io", action="store_true", help="with --quantize int8: int8 inputs and outputs")
    export.add_argument("--signature", metavar="NAME", help="export only this signature")
    export.add_argument(
        "--out", metavar="DIR", help="where the <format>[-<quantize>]/ folders go (default RUN_DIR/exports)",
    )
    export.add_argument(
        "--allow-flex", action="store_true", help="TFLite: allow TensorFlow (Flex) ops instead of failing",
    )
    export.add_argument("--opset", type=int, default=17, metavar="N", help="ONNX opset, 13-18 (default 17)")
    export.set_defaults(handler=_command_export)


def _add_explain_command(commands) -> None:
    explain = commands.add_parser(
        "explain", help="figures of what a run's model learned (saliency, Grad-CAM, latent traversals, ...)",
    )
    explain.add_argument("run_dir", metavar="RUN_DIR")
    explain.add_argument("--out", metavar="DIR", help="where the PNGs and explanations.json go (default RUN_DIR/explanations)")
    explain.add_argument("-n", "--num-samples", type=positive_int, default=8, metavar="N", help="images or prompts per figure (default 8)")
    explain.add_argument(
        "--method", action="append", metavar="NAME", help="run only this method (repeatable; --list-methods shows them)",
    )
    explain.add_argument("--list-methods", action="store_true", help="list the methods this run's model has, and stop")
    explain.add_argument("--seed", type=SEED, default=0, metavar="N", help=f"0 to {MAX_SEED} (default 0)")
    explain.set_defaults(handler=_command_explain)


def _add_report_command(commands) -> None:
    report = commands.add_parser(
        "report", help="one self-contained HTML page of one run, or several side by side (curves, samples, metrics, exports)",
    )
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    report.add_argument(
        "--out", metavar="FILE", help="the HTML file (default RUN_DIR/report.html for one run, ./report.html for several)",
    )
    report.set_defaults(handler=_command_report)


def _add_info_command(commands) -> None:
    info = commands.add_parser("info", help="show what a run is: model, config, data, metrics, versions")
    info.add_argument("run_dir", metavar="RUN_DIR")
    info.add_argument("--json", action="store_true", help="print genkit.json as it is")
    info.set_defaults(handler=_command_info)


def build_parser(with_family_options: bool = True) -> argparse.ArgumentParser:
    """The ``genkit`` parser; ``with_family_options`` loads the model registry for sample/evaluate flags."""
    parser = _Parser(prog="genkit", description="Train, sample and inspect generative models.")
    parser.add_argument(
        "--version", action=_VersionAction, help="print the versions of genkit, TensorFlow, Keras and the export libraries",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    listing = commands.add_parser("list", help="list the registered models")
    listing.set_defaults(handler=_command_list)

    _add_train_command(commands)
    _add_sample_command(commands, with_family_options)
    _add_evaluate_command(commands, with_family_options)
    _add_export_command(commands)
    _add_explain_command(commands)
    _add_report_command(commands)
    _add_info_command(commands)
    return parser


def _quiet_tensorflow() -> None:
    """Hides TensorFlow's C++ start-up and graph-optimizer notices unless the user asked for logs.

    Set TF_CPP_MIN_LOG_LEVEL to 0 or 1 to see them. Some notices (absl's
    "All log messages before absl::InitializeLog()", oneDNN's) are printed
    during the import whatever that variable says -- also when a parent
    process or a library set it to 2 or 3 -- so the import itself runs with
    stderr pointed at /dev/null (Python errors still show: they are printed
    after the import returns or raises).
    """
    if os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3") in ("0", "1"):
        return
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved_stderr, 2)
        os.close(devnull)
        os.close(saved_stderr)
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)  # TFDS and tf.distribute notices


FAMILY_OPTION_COMMANDS = ("sample", "evaluate")


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns its exit status (2 for a usage or input error, with one line on stderr)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((word for word in argv if not word.startswith("-")), None)
    with_family_options = command in FAMILY_OPTION_COMMANDS
    if with_family_options:
        _quiet_tensorflow()  # the registry imports the families, and TensorFlow with them
    try:
        args = build_parser(with_family_options).parse_args(argv)
    except SystemExit as exit:  # usage errors (status 2) and --help (status 0)
        return int(exit.code or 0)
    _quiet_tensorflow()
    try:
        args.handler(args)
    except UserError as error:
        print(f"genkit {args.command}: error: {one_line(error)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except ExportCheckFailed as error:
        print(f"genkit {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 1
    except TrainingDiverged as error:
        print(f"genkit {args.command}: {one_line(error)}", file=sys.stderr)
        return 1
    except WorkerLost as error:  # another worker of a multi-worker run died or stopped answering
        print(f"genkit {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"genkit {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
