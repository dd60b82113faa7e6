"""Figures: cost and accuracy per epoch, the way the book's chapter-3 figures show them."""

from __future__ import annotations

from .._files import atomic_write
from ..errors import NNAccelError


def require_matplotlib():
    """The pyplot module with a file-only backend, or a one-line error naming the extra."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise NNAccelError("plotting needs matplotlib; pip install 'nnaccel[plot]'") from None
    return plt


def save_figure(fig, path):
    plt = require_matplotlib()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_history(records, path, title=""):
    """Two panels — cost and accuracy (%) against epoch — for training and evaluation data."""
    plt = require_matplotlib()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = [r["epoch"] for r in records]
    for key, label in (("training_cost", "training data"), ("evaluation_cost", "evaluation data")):
        if any(key in r for r in records):
            left.plot(epochs, [r.get(key) for r in records], label=label)
    for key, n_key, label in (("training_accuracy", "n_training", "training data"),
                              ("evaluation_accuracy", "n_evaluation", "evaluation data")):
        if any(key in r for r in records):
            right.plot(epochs, [100.0 * r[key] / r[n_key] if key in r else None for r in records], label=label)
    left.set(xlabel="epoch", ylabel="cost", title="Cost")
    right.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    if title:
        fig.suptitle(title)
    save_figure(fig, path)
