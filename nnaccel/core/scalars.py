"""Numbers as NumPy users pass them: any integer or real scalar type (``np.int64(30)``,
``np.float32(0.5)``) is taken as the Python number it equals; a fraction where a whole number
belongs is refused, never truncated. No array library is imported: ``numbers`` knows NumPy's types."""

from __future__ import annotations

import math
import numbers


def as_int(value):
    """``value`` as a Python int if it is an integer scalar of any type (bool excluded);
    anything else unchanged, for the caller's check to refuse with the value as given."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def as_float(value):
    """``value`` as a Python float if it is a real scalar of any type (bool excluded); else unchanged.
    An integer beyond every float (10**400) is ±inf, which the caller's finite check refuses, not
    an OverflowError."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return value


def whole(value):
    """The int a whole number of any type equals (784, np.int64(784), 784.0), or None for a
    fraction, a non-finite number, a bool or a non-number (784.5, "784", True)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    try:  # a Fraction beyond every float overflows in the conversion
        if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
            return int(value)
    except OverflowError:
        pass
    return None
