"""Command-line options that a model family declares for ``genkit sample`` and ``genkit evaluate``.

A family lists its options on its task class (``sampling_options``,
``evaluation_options``); the command line builds its flags from the
registry, and a flag the run's model does not take is one line naming the
ones it does take.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Callable


def whole_number(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum}, got {value}")
        return value

    parse.__name__ = f"whole number >= {minimum}" if maximum is None else f"whole number in [{minimum}, {maximum}]"
    return parse


def number(low: float, high: float | None = None, low_inclusive: bool = True) -> Callable[[str], float]:
    """A float in [low, high] (or (low, high] when not ``low_inclusive``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        below = value < low if low_inclusive else not value > low
        if below or (high is not None and value > high) or value != value:
            bracket = "[" if low_inclusive else "("
            upper = f"{high}]" if high is not None else "inf)"
            raise argparse.ArgumentTypeError(f"must be in {bracket}{low}, {upper}, got {value}")
        return value

    parse.__name__ = "number"
    return parse


positive_int = whole_number(1)
positive_float = number(0.0, low_inclusive=False)
non_negative_float = number(0.0)
probability = number(0.0, 1.0, low_inclusive=False)


@dataclasses.dataclass(frozen=True)
class Option:
    """One flag: ``--NAME`` (underscores become dashes), parsed by ``parse``; the value reaches the
    task as the keyword ``name``."""

    name: str
    help: str
    parse: Callable[[str], object] = str
    metavar: str = "VALUE"
    nargs: str | None = None  # "+": one or more values, given as a list

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            self.flag, dest=self.name, type=self.parse, metavar=self.metavar, help=self.help, nargs=self.nargs,
        )


# One --prompt for every family that takes a text: language models continue it, text-to-image models draw it.
PROMPT_OPTION = Option("prompt", "text models: the text to continue (language models) or to draw (text-to-image)", str, "TEXT")


def merged_options(groups: list[tuple[str, tuple[Option, ...]]]) -> dict[str, tuple[Option, list[str]]]:
    """``{name: (option, [owners])}`` over ``(owner, options)`` groups; one name must mean one option."""
    merged: dict[str, tuple[Option, list[str]]] = {}
    for owner, options in groups:
        for option in options:
            if option.name in merged:
                known, owners = merged[option.name]
                if (known.parse, known.metavar, known.nargs) != (option.parse, option.metavar, option.nargs):
                    raise ValueError(
                        f"option '{option.flag}' of {owner} differs from the one of {owners[0]} "
                        "(same name, another type): give it another name"
                    )
                owners.append(owner)
            else:
                merged[option.name] = (option, [owner])
    return merged
