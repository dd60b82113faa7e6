"""Divergence: are the parameters still finite, and if not, is the data or η to blame?

The check runs after every epoch whatever is monitored, as one reduction on the device and
one read back. When it fails, :func:`likely_cause` looks at the data only then (it costs a
pass over the inputs) to say which fix applies: clean the data, scale it, or lower η.
"""

from __future__ import annotations

UNSCALED = 10.0  # inputs this far outside [0, 1] look like raw pixels (0–255), not features


def all_finite(xp, arrays) -> bool:
    """True when every element of every array is finite: one device reduction, one read back."""
    flags = [xp.all(xp.isfinite(a)) for a in arrays]
    return bool(xp.all(xp.stack(flags))) if flags else True


def likely_cause(xp, eta, training, evaluation=None) -> str:
    """The fix to suggest after a divergence: the data's NaN/inf, its scale, or a smaller η."""
    for name, data in (("training", training), ("evaluation", evaluation)):
        if data is not None and not all_finite(xp, [data.x]):
            return (f"the {name} inputs hold NaN or infinite values; remove or repair those "
                    "examples (the learning rate is not the cause)")
    if len(training):
        biggest = float(xp.max(xp.abs(training.x)))
        if biggest > UNSCALED:
            return (f"the training inputs reach {biggest:g}, far outside [0, 1]: scale them "
                    "(--scale 255 for raw pixels, or divide the arrays), then retry")
    return smaller_eta(eta)


def smaller_eta(eta) -> str:
    """The fix when neither the data's values nor its scale is the cause."""
    return f"try a smaller eta than {eta:g} (e.g. {eta / 10:g})"
