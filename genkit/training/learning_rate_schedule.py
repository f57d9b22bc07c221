"""Learning-rate schedules over the planned training: the planned epochs, or the time limit when it ends first."""

from __future__ import annotations

import math

SCHEDULES = ("constant", "linear", "cosine")


def scheduled_learning_rate(base: float, schedule: str, progress: float) -> float:
    """The learning rate at ``progress`` (the fraction of the planned training done, 0 to 1).

    ``constant`` keeps ``base``; ``linear`` and ``cosine`` decay it to 0 at the
    end. Decaying over the budget actually given (epochs or ``--time-limit``)
    is the "budgeted training" schedule of Li, Yumer and Ramanan (ICLR 2020).
    """
    progress = min(max(progress, 0.0), 1.0)
    if schedule == "constant":
        return base
    if schedule == "linear":
        return base * (1.0 - progress)
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"Unknown learning-rate schedule. Received: schedule={schedule!r}; allowed: {', '.join(SCHEDULES)}")
