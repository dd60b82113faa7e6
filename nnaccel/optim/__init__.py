"""Optimizers behind one seam, in the manner of optax: ``init(params) → state`` and
``update(grads, state, params, context) → (params, state)``, the state a NamedTuple of slots.

Nothing is hidden in an object: a checkpoint saves any optimizer's slots by walking its state
(each field a list or tuple of arrays, one array, a number or None) and a resume restores them.
:func:`make` is the one place that turns a name and the run's options into an
:class:`Optimizer`; :data:`OPTIONS` is the one table of which options each name accepts.
"""

from __future__ import annotations

from ..core import parameters
from ..errors import NNAccelError
from .hessian_free import hessian_free
from .lbfgs import lbfgs
from .newton import newton
from .base import Batch, Optimizer, map_slots  # noqa: F401  (the seam, re-exported)
from .sgd import SGDState, sgd, sgd_update, sgd_update_in_place  # noqa: F401  (re-exported)


# name → (factory from an EpochOptions, the options it honours besides η and λ).
FACTORIES = {
    "sgd": (lambda o: sgd(o.eta, o.lmbda, o.l1, o.momentum, o.nesterov), {"l1", "momentum", "nesterov", "dropout"}),
    "newton": (lambda o: newton(o.eta, 0.0 if o.damping is None else o.damping), {"damping"}),
    "hessian-free": (lambda o: hessian_free(o.eta, 1.0 if o.damping is None else o.damping), {"damping"}),
    "lbfgs": (lambda o: lbfgs(o.eta), set()),
}
NAMES = tuple(FACTORIES)
DEFAULT = "sgd"
FLAGS = {"l1": "--l1", "momentum": "--momentum", "nesterov": "--nesterov", "dropout": "--dropout",
         "damping": "--damping"}


def check_options(name, *, l1=0.0, momentum=0.0, nesterov=False, dropout=0.0, damping=None):
    """Refuse an unknown optimizer, or an option that it does not honour (one line, with the fix).

    A full-batch optimizer makes one update per epoch on the whole training set, so L1 (not
    differentiable at 0), momentum, Nesterov and dropout (per mini-batch ideas) have no place in
    it. Each option's own bounds are the parameter table's (nnaccel.core.parameters).
    """
    if name not in FACTORIES:
        parameters.check("optimizer", name)  # refuses it, in the table's words
    given = {"l1": l1, "momentum": momentum, "nesterov": nesterov, "dropout": dropout,
             "damping": damping is not None}
    for option, value in given.items():
        if value and option not in FACTORIES[name][1]:
            users = [n for n in NAMES if option in FACTORIES[n][1]]
            raise NNAccelError(f"{FLAGS[option]} does not apply to --optimizer {name}; drop it, or use "
                               f"--optimizer {' or '.join(users)}")
    if name == "hessian-free" and damping == 0:
        raise NNAccelError("damping 0 does not apply to --optimizer hessian-free: its λ is multiplied by 3/2 or "
                           "2/3 each epoch, so from 0 it could never grow; give damping > 0, e.g. --damping 1")


def make(options) -> Optimizer:
    """The optimizer that ``options`` (an epoch.EpochOptions) names, bound to its η and settings."""
    return FACTORIES[options.optimizer][0](options)


def default_state():
    """The state of the default optimizer before training (SGD's: no velocities yet)."""
    return SGDState()
