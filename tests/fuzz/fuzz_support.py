"""Shared by the fuzz tests: the two tiers of example counts, the one-line error check, hostile values.

Every property is a hypothesis test run twice: a fast tier (a few examples, in the default test run)
and a slow tier (``@pytest.mark.slow``, many more). Runs are derandomized and keep no example
database, so a CI run is the same every time and writes nothing to ``.hypothesis/``.
"""

from __future__ import annotations

import contextlib
import getpass
import signal
import string
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis' caches (Unicode tables, constants from the source) go to a temporary folder, not .hypothesis/ in the
# checkout; there is no example database either (database=None below).
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / f"genkit-fuzz-hypothesis-{getpass.getuser()}")

COMMON_SETTINGS = dict(
    deadline=None, derandomize=True, database=None, print_blob=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)


def tiers(fast: int, slow: int, **strategies):
    """``(fast_test, slow_test)`` of one property: ``@given(**strategies)`` with ``fast`` examples, and again
    with ``slow`` examples marked slow. ``@example``s on the body run in both."""

    def decorate(body):
        fast_test = settings(max_examples=fast, **COMMON_SETTINGS)(given(**strategies)(body))
        slow_test = settings(max_examples=slow, **COMMON_SETTINGS)(given(**strategies)(body))
        return fast_test, pytest.mark.slow(slow_test)

    return decorate


def slow_only(slow: int, **strategies):
    """A property that runs only in the slow tier (``slow`` examples): one whose examples start processes or
    need a trained run."""

    def decorate(body):
        return pytest.mark.slow(settings(max_examples=slow, **COMMON_SETTINGS)(given(**strategies)(body)))

    return decorate


class Hang(Exception):
    """An example ran past its time budget: a hang, for a fuzz test."""


@contextlib.contextmanager
def time_budget(seconds: float):
    """Fails (``Hang``) when the block runs longer than ``seconds`` (SIGALRM; the main thread)."""

    def expired(signum, frame):
        raise Hang(f"no answer within {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def assert_one_line(message: str, what: str = "error") -> None:
    lines = message.strip().splitlines()
    assert len(lines) == 1, f"the {what} is not one line: {message!r}"
    assert "Traceback" not in message, message


def assert_user_error_output(result, allowed=(0, 2)) -> None:
    """A CLI run (conftest.CommandResult) exited 0 or 2; on 2, stderr is one line and no traceback."""
    assert result.returncode in allowed, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    if result.returncode == 2:
        assert_one_line(result.stderr, "error output")
        assert ": error: " in result.stderr, result.stderr


# -- hostile values ------------------------------------------------------------------------------------------

HOSTILE_TEXTS = [
    "", " ", "0", "-1", "1e999", "-1e999", "nan", "NaN", ".nan", ".inf", "-.inf", "inf", str(10**400), str(-(10**400)),
    "1e-400", "0x1F", "0o17", "1_000", "~", "null", "None", "yes", "no", "on", "off", "true", "False", "2020-01-01",
    "[", "[1, 2", "]", "{", "{a: b}", "{'a': 1}", "[[[[[]]]]]", "[1, [2, [3]]]", "[1.5, 2]", '["a", 1]', "[]", "{}",
    "!!python/object/apply:os.system ['true']", "!!binary aGVsbG8=", "&a [*a]", "*a", "? a\n: b", "a: b: c",
    "- 1\n- 2", "'", '"', '"unterminated', "\\", "%", "@", "`", "|\n  text", ">", "#comment", "a\nb", "\r\n", "\x00",
    "\t", "\u2028", "\x85", "é", "日本語", "🙂", "\ud7ff", "x" * 300, "=", "==", "a=b", "train.epochs=1",
    "1,2,3", "1 2 3", "(1, 2)", "--epochs", "-", "../../etc/passwd", "/dev/null", "/dev/zero", "~nosuchuser/x",
    "~/nope", "con", ".", "..",
]

hostile_text = st.one_of(
    st.sampled_from(HOSTILE_TEXTS),
    st.text(max_size=30),
    st.text(alphabet=string.printable, max_size=30),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)

json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(10**400), max_value=10**400),
        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), st.sampled_from(HOSTILE_TEXTS),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(max_size=10), children, max_size=5),
    ),
    max_leaves=12,
)
