"""The ``genkit`` command line: each subcommand parses its flags and calls a plain Python function."""

from __future__ import annotations

import argparse
import os
import sys

from genkit.config import MIXED_PRECISION_POLICIES, STRATEGIES
from genkit.errors import TrainingDiverged, UserError

EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message):
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _command_list(args) -> None:
    from genkit.registry import registered_models

    for entry in registered_models():
        print(f"{entry.name:<12} {entry.family:<6} {entry.description}")


def _command_train(args) -> None:
    from genkit.train import train

    train(
        args.model, args.config, args.set or [], out=args.out, resume=args.resume,
        verbose=0 if args.quiet else 1,
        epochs=args.epochs, batch_size=args.batch_size, dataset=args.dataset, data_dir=args.data_dir,
        seed=args.seed, strategy=args.strategy, devices=args.devices,
        mixed_precision=args.mixed_precision, jit=args.jit, time_limit=args.time_limit,
    )


def _command_sample(args) -> None:
    from genkit.sample import sample

    images = sample(args.run_dir, args.num_samples, args.out, seed=args.seed)
    print(f"genkit: wrote {len(images)} samples to {args.out}")


def _command_info(args) -> None:
    import json

    from genkit.info import format_info, info

    metadata = info(args.run_dir)
    print(json.dumps(metadata, indent=2) if args.json else format_info(metadata))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="genkit", description="Train, sample and inspect generative models.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    listing = commands.add_parser("list", help="list the registered models")
    listing.set_defaults(handler=_command_list)

    train = commands.add_parser("train", help="train a model and write a run folder")
    train.add_argument("model", help="a registered model name (see 'genkit list')")
    train.add_argument("--config", metavar="FILE", help="a .yaml or .json config file")
    train.add_argument(
        "--set", action="append", metavar="KEY=VALUE",
        help="override one config field (repeatable); 'train.FIELD=VALUE' sets a training field",
    )
    train.add_argument(
        "--dataset", metavar="SPEC",
        help="embedded (default), fashion_mnist, tfds:NAME, folder:PATH or npz:PATH",
    )
    train.add_argument("--data-dir", metavar="DIR", help="where dataset files are (fashion_mnist, tfds)")
    train.add_argument("--epochs", type=_positive_int, metavar="N")
    train.add_argument("--batch-size", type=_positive_int, metavar="N", help="the global batch size")
    train.add_argument("--out", metavar="DIR", help="the run folder (default saved_models/MODEL-TIMESTAMP)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out (or the newest one)")
    train.add_argument("--seed", type=int, metavar="N")
    train.add_argument("--strategy", choices=STRATEGIES)
    train.add_argument("--devices", type=_positive_int, metavar="N", help="GPUs to use, or logical CPU devices")
    train.add_argument("--mixed-precision", choices=MIXED_PRECISION_POLICIES)
    train.add_argument("--jit", action=argparse.BooleanOptionalAction, default=None, help="XLA-compile the train step")
    train.add_argument(
        "--time-limit", type=_positive_float, metavar="MINUTES",
        help="stop cleanly (checkpoint saved, run folder complete) after this many minutes",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_command_train)

    sample = commands.add_parser("sample", help="generate images from a trained run")
    sample.add_argument("run_dir", metavar="RUN_DIR")
    sample.add_argument("-n", "--num-samples", type=_positive_int, default=64, metavar="N")
    sample.add_argument("--out", required=True, metavar="FILE", help=".npy (float32 [N,H,W,C] in [0,1]) or .png grid")
    sample.add_argument("--seed", type=int, default=0, metavar="N")
    sample.set_defaults(handler=_command_sample)

    info = commands.add_parser("info", help="show what a run is: model, config, data, metrics, versions")
    info.add_argument("run_dir", metavar="RUN_DIR")
    info.add_argument("--json", action="store_true", help="print genkit.json as it is")
    info.set_defaults(handler=_command_info)
    return parser


def _quiet_tensorflow() -> None:
    """Hides TensorFlow's C++ start-up and graph-optimizer notices unless the user asked for logs.

    Set TF_CPP_MIN_LOG_LEVEL yourself (e.g. 0) to see them. One oneDNN notice
    is printed before TensorFlow reads that variable, so the import itself runs
    with stderr pointed at /dev/null (Python errors still show: they are
    printed after the import returns or raises).
    """
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_tensorflow()
    try:
        args.handler(args)
    except UserError as error:
        print(f"genkit {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except TrainingDiverged as error:
        print(f"genkit {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"genkit {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
