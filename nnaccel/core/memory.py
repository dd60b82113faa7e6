"""Refuse before allocating: the bytes a network, a mini-batch and the data's copies need,
estimated from their sizes and compared with the machine's memory, so that an absurd request
(``--sizes 784 <40 digits> 10``) is one line, not a MemoryError, a swap storm or NumPy's
"Maximum allowed dimension exceeded". The estimates count the copies training really makes;
they err large, never small enough to let through what cannot fit."""

from __future__ import annotations

import os

from ..errors import NNAccelError

GB = 1e9
PARAMETER_COPIES = 5  # weights, gradients, the optimizer's velocity, the epoch snapshot, the best network
HOST_DRAW = 8  # bytes per parameter: the initialisers draw float64 on the host before the copy
BATCH_COPIES = 3  # per mini-batch row and neuron: z, the activation and δ
DATA_COPIES = 2  # the data on the device and the epoch's shuffled gather
EXPANSION = {"shifts": 5, "rotations": 2}  # --expand's factor: the book's 1-pixel shifts keep the original + 4


def available():
    """The machine's physical memory in bytes (None where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def parameters(sizes):
    """Weights and biases of a network of ``sizes``: Σ n_l (n_{l−1} + 1)."""
    return sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def network_bytes(sizes, itemsize):
    return parameters(sizes) * (HOST_DRAW + PARAMETER_COPIES * itemsize)


def batch_bytes(sizes, rows, itemsize):
    return rows * sum(sizes) * itemsize * BATCH_COPIES


def data_bytes(examples, width, itemsize, copies=DATA_COPIES):
    return examples * width * itemsize * copies


def check(needed, what, fix):
    """Raise NNAccelError if ``needed`` bytes exceed the machine's memory: ``what`` needs it, ``fix`` says how to need less."""
    total = available()
    if total is not None and needed > total:
        raise NNAccelError(f"{what} needs about {_size(needed)} but this machine has {_size(total)} of memory; {fix}")


def _size(n):
    return f"{_count(n / GB if n < 1e30 else n // int(GB))} GB"


def _count(n):
    """A number in three figures; a huge integer (no float holds it) as 10^k."""
    return f"{n:.3g}" if n < 1e30 else f"~10^{len(str(int(n))) - 1}"


def check_network(sizes, dtype_size):
    check(network_bytes(sizes, dtype_size), f"a network of sizes {_shown(sizes)} "
          f"({_count(parameters(sizes))} weights and biases)", "use smaller sizes")


def check_training(sizes, examples, width, mini_batch_size, itemsize, data_copies=DATA_COPIES):
    """The data on the device (``data_copies`` copies of ``examples`` rows of ``width`` numbers)
    and one mini-batch's activations, on top of the network; ``mini_batch_size`` already clamped."""
    check_network(sizes, itemsize)  # the network alone first: its message names the sizes
    needed = (network_bytes(sizes, itemsize) + data_bytes(examples, width, itemsize, data_copies)
              + batch_bytes(sizes, mini_batch_size, itemsize))
    check(needed, f"training on {examples} examples of {width} numbers with mini-batches of {mini_batch_size}",
          "use less data, smaller sizes or a smaller mini-batch size")


def _shown(sizes):
    text = " ".join(map(str, sizes))
    return text if len(text) <= 60 else text[:57] + "..."


def check_dataset_run(sizes, n_train, n_test, width, mini_batch_size, dtype, expand=None):
    """:func:`check_training` for a command line's run: ``n_train`` training rows (times --expand's
    factor) and ``n_test`` monitored ones of ``width`` numbers, before any of them reaches the device."""
    rows = n_train * EXPANSION.get(expand, 1) + n_test
    check_training(sizes, rows, width, min(mini_batch_size, max(rows, 1)), 8 if dtype == "float64" else 4)
