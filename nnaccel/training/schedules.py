"""Learning-rate schedules and stopping rules of chapter 3, as small functions of the history.

``accuracies`` is the list of monitored (validation) accuracies, one per finished epoch. The
schedules' and rules' names and their settings' bounds are rows of nnaccel.core.parameters.
"""

from __future__ import annotations


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

