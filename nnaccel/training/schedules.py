"""Learning-rate schedules and stopping rules of chapter 3, as small functions of the history.

``accuracies`` is the list of monitored (validation) accuracies, one per finished epoch.
"""

from __future__ import annotations

from ..errors import NNAccelError

SCHEDULES = ("constant", "halve", "step", "exponential")
STOPPING_RULES = ("no-improvement", "average")


def no_improvement(accuracies, n) -> bool:
    """The book's rule: the best of the last n epochs is no better than the best before them."""
    return len(accuracies) > n and max(accuracies[-n:]) <= max(accuracies[:-n])


def average_no_improvement(accuracies, n) -> bool:
    """The book's alternative: the mean of the last n epochs is no better than the n before."""
    if len(accuracies) < 2 * n:
        return False
    return sum(accuracies[-n:]) / n <= sum(accuracies[-2 * n:-n]) / n


def should_stop_early(accuracies, n, rule="no-improvement") -> bool:
    return (no_improvement if rule == "no-improvement" else average_no_improvement)(accuracies, n)


def scheduled_eta(eta0, epoch, schedule="constant", step_size=10, gamma=0.5) -> float:
    """η for ``epoch`` (counted from 0) under a schedule that depends on the epoch alone."""
    if schedule == "step":
        return eta0 * gamma ** (epoch // step_size)
    if schedule == "exponential":
        return eta0 * gamma ** epoch
    return eta0


def halve_on_plateau(eta, eta0, accuracies, since_change, patience):
    """The book's exercise: halve η once no improvement in ``patience`` epochs; stop at η₀/128.

    ``since_change`` counts the accuracies since the last halving (the rule looks only at
    those). Returns (new eta, new since_change, stop).
    """
    if since_change > patience and no_improvement(accuracies[-since_change:], patience):
        eta = eta / 2
        return eta, 1, eta <= eta0 / 128
    return eta, since_change, False


def check_schedule(schedule, patience, step_size, gamma, early_stopping, rule):
    if schedule not in SCHEDULES:
        raise NNAccelError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")
    if rule not in STOPPING_RULES:
        raise NNAccelError(f"unknown early-stopping rule {rule!r}; use one of {', '.join(STOPPING_RULES)}")
    for name, value in (("patience", patience), ("step size", step_size)):
        if not isinstance(value, int) or value < 1:
            raise NNAccelError(f"the {name} must be a whole number ≥ 1, got {value!r}")
    if early_stopping is not None and (not isinstance(early_stopping, int) or early_stopping < 1):
        raise NNAccelError(f"early stopping needs n ≥ 1 epochs, got {early_stopping!r}; try 10")
    if not (isinstance(gamma, (int, float)) and 0 < gamma <= 1):
        raise NNAccelError(f"the schedule's gamma must be in (0, 1], got {gamma!r}; try 0.5")
