"""scikit-learn estimators over nnaccel's network: ``NNAccelClassifier``, ``NNAccelRegressor``.

They drop into ``Pipeline``, ``GridSearchCV`` and ``cross_val_score`` like ``MLPClassifier``,
with the book's parameter names. ``fit`` builds ``Network([n_features, *sizes, n_outputs])``
seeded with ``random_state`` and trains it with :func:`nnaccel.training.trainer.train`, so it gives
the same weights as ``Network.SGD`` on the same data, seed and hyper-parameters.

Features are taken as they come (any real values, as tabular data has; no image-range check
and no hidden standardisation: put a ``StandardScaler`` in front, as for any MLP). With
``sklearn.set_config(array_api_dispatch=True)``, PyTorch or CuPy inputs train on their own
device and predictions come back in their namespace.
"""

from __future__ import annotations

import importlib.util
import math
import numbers

import array_api_compat
import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..backend import cuda_available, from_array
from ..core.parameters import PARAMETERS
from ..data.arrays import DeviceData, one_hot
from ..errors import NNAccelError
from ..nets.network import Network
from ..training.trainer import train

# The output layer the classifier gives each cost: softmax for the log-likelihood (chapter 3),
# sigmoid neurons for the cross-entropy and quadratic costs (chapters 1-3).
CLASSIFIER_OUTPUTS = {"log-likelihood": "softmax", "cross-entropy": "sigmoid", "quadratic": "sigmoid"}


def constraint(name):
    """scikit-learn's constraints for the parameter table's row ``name`` (nnaccel.core.parameters):
    its choices as StrOptions, its bounds as an Interval (a real one closed below infinity, so
    that inf is refused as the table refuses it), None where the row allows it."""
    row = PARAMETERS[name]
    if row.choices is not None:
        constraints = [StrOptions(set(row.choices))] + ([list, tuple] if row.many else [])
    elif row.kind is bool:
        constraints = ["boolean"]
    else:
        kind = numbers.Integral if row.kind is int else numbers.Real
        high = row.high if row.high is not None or row.kind is int else math.inf
        closed = row.closed if row.high is not None else ("left" if row.closed in ("both", "left") else "neither")
        constraints = [Interval(kind, row.low, high, closed=closed)]
    return constraints + ([None] if row.optional else [])


# What every estimator's other parameters may be (scikit-learn's own vocabulary).
OTHER_CONSTRAINTS = {
    "sizes": ["array-like"], "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
    "device": [str], "backend": [str, None], "dtype": [StrOptions({"float32", "float64"}), None],
    "random_state": ["random_state"],
}


def parameter_constraints(names):
    """``_parameter_constraints`` for an estimator whose ``__init__`` takes ``names``: the table's
    rows made into scikit-learn's constraints, and OTHER_CONSTRAINTS for the rest."""
    return {name: constraint(name) if name in PARAMETERS else OTHER_CONSTRAINTS[name] for name in names}


def expected_failed_checks(estimator):
    """The scikit-learn estimator checks that do not apply here, each with its reason.

    For ``parametrize_with_checks(..., expected_failed_checks=expected_failed_checks)`` or
    ``check_estimator(..., expected_failed_checks=expected_failed_checks(est))``. Both are
    array-API checks, which run only with SCIPY_ARRAY_API=1; everything else passes.
    """
    failures = {
        "check_array_api_input": (
            "array_api_strict's simulated second device ('device1') is not supported: nnaccel's "
            "Backend creates array_api_strict arrays on the default CPU_DEVICE only; NumPy, "
            "array_api_strict on CPU_DEVICE and PyTorch inputs pass this check"
        ),
    }
    if importlib.util.find_spec("cupy") is not None and not cuda_available():
        failures["check_array_api_input"] += (
            "; CuPy is installed without a usable CUDA device, and the check creates CuPy arrays "
            "whenever CuPy imports"
        )
    return failures


def _seed(random_state):
    """An int for Network(seed=...): the int itself, a draw from a RandomState, or None."""
    if random_state is None or isinstance(random_state, numbers.Integral):
        return None if random_state is None else int(random_state)
    return int(check_random_state(random_state).randint(2**31 - 1))


def _inputs(net, X):
    """X as the network's float rows on its device (no copy when it already is)."""
    backend = net.backend
    return backend.xp.astype(backend.asarray(X) if _on_host(X) else X, backend.dtype(net.dtype), copy=False)


def _device_data(net, X, targets):
    """(X, targets) on the network's device, X taken as it is: tabular features are any real values.

    scikit-learn's validate_data has already refused NaN, infinities and wrong shapes, and
    the labels are the estimator's own encoding, so what is left out is only nnaccel's
    image-range check. (Once to_device can skip that check, this becomes one call to it.)
    """
    backend, xp = net.backend, net.xp
    float_dtype = backend.dtype(net.dtype)
    if _on_host(targets) and targets.ndim == 1:
        labels = backend.asarray(targets)
        return DeviceData(_inputs(net, X), labels, one_hot(xp, labels, net.sizes[-1], float_dtype))
    return DeviceData(_inputs(net, X), None, _inputs(net, targets))


def _input_namespace(X):
    """X's own namespace under array_api_dispatch (sklearn keeps it then), else NumPy."""
    if get_config()["array_api_dispatch"] and not _on_host(X):
        try:
            return array_api_compat.array_namespace(X)
        except TypeError:
            pass
    return np


def _namespace_of(X):
    """(namespace name, device) of X as sklearn sees it under array_api_dispatch."""
    if _on_host(X) or not hasattr(X, "__array_namespace__") and not array_api_compat.is_array_api_obj(X):
        return ("numpy", "cpu")
    return (array_api_compat.array_namespace(X).__name__, str(array_api_compat.device(X)))


def _to_host(a):
    """``a`` as a NumPy array (labels and targets are small; they are encoded on the host); a
    list or tuple, as scikit-learn's ``classes=[0, 1]``, becomes one."""
    if isinstance(a, (list, tuple)):
        return np.asarray(a)
    return a if _on_host(a) else from_array(a).to_numpy(a)


def _on_host(x) -> bool:
    return isinstance(x, np.ndarray) or array_api_compat.is_numpy_array(x)


class _NNAccelEstimator(BaseEstimator):
    """What the classifier and the regressor share: validation, the network, training, pickling."""

    _output_activation = "linear"
    _multi_output = False

    def _network_dtype(self, X):
        if self.dtype is not None:
            return self.dtype
        return "float32" if str(X.dtype).endswith("float32") else "float64"

    def _build(self, X, n_outputs):
        """A fresh Network for X's width, on X's device when X is a CuPy/PyTorch array."""
        backend = None if _on_host(X) else from_array(X)
        self._fit_namespace = _namespace_of(X)
        return Network(
            [X.shape[1], *self.sizes, n_outputs], cost=self.cost,
            hidden_activation=self.hidden_activation, output_activation=self._output_activation,
            device=self.device, backend=backend or self.backend, dtype=self._network_dtype(X),
            seed=_seed(self.random_state),
        )

    def _validate(self, X, y="no_validation", reset=True):
        xp = _input_namespace(X)
        kwargs = dict(dtype=(xp.float64, xp.float32), reset=reset)
        if isinstance(y, str) and y == "no_validation":
            return validate_data(self, X, **kwargs)
        return validate_data(self, X, y, multi_output=self._multi_output,
                             y_numeric=self._multi_output, **kwargs)

    def _train(self, X, targets, epochs, evaluation=None):
        """Run nnaccel's trainer on (X, targets) for ``epochs``; record the cost per epoch."""
        net = self.network_
        data = _device_data(net, X, targets)
        options = {}
        if evaluation is not None:
            options = dict(evaluation_data=_device_data(net, *evaluation), early_stopping=self.early_stopping)
        history = train(net, data, epochs, self.mini_batch_size, self.eta, lmbda=self.lmbda,
                        momentum=self.momentum, dropout=self.dropout, monitor_training_cost=True, **options)
        self.loss_curve_ = getattr(self, "loss_curve_", []) + list(history.training_cost)
        self.n_iter_ = getattr(self, "n_iter_", 0) + len(history.records)
        if evaluation is not None:
            self.validation_scores_ = [a / len(evaluation[1]) for a in history.evaluation_accuracy]
        return self

    def _outputs(self, X, method):
        """The output activations aᴸ for X, validated against the fitted width and namespace."""
        check_is_fitted(self, "network_")
        self._check_same_namespace(X, method)
        X = self._validate(X, reset=False)
        net = self.network_
        a = net.feedforward(_inputs(net, X))
        return (net.backend.to_numpy(a) if _on_host(X) else a), X

    def _check_same_namespace(self, X, method):
        """Under array_api_dispatch, refuse X from another namespace or device than fit's (sklearn's rule)."""
        if not get_config()["array_api_dispatch"]:
            return
        fitted, given = self._fit_namespace, _namespace_of(X)
        if fitted != given:
            raise NNAccelError(
                f"Inputs passed to {type(self).__name__}.{method}() must use the same namespace and the "
                f"same device as those passed to fit(): fit had {fitted[0]} on {fitted[1]}, {method} "
                f"{given[0]} on {given[1]}; convert X, or fit again on this namespace"
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        return tags

    # Network and Backend hold modules; pickles carry host arrays and rebuild the network.
    def __getstate__(self):
        state = dict(self.__dict__)
        net = state.pop("network_", None)
        if net is not None:
            weights, biases = net.parameters_numpy()
            state["_network_state"] = dict(
                sizes=net.sizes, cost=net.cost.name, activations=[a.name for a in net.activations],
                dtype=net.dtype, backend=net.backend.name, device=net.backend.device_name,
                weights=weights, biases=biases, rng=net.rng.bit_generator.state)
        return state

    def __setstate__(self, state):
        saved = state.pop("_network_state", None)
        self.__dict__.update(state)
        if saved is not None:
            acts = saved["activations"]
            net = Network(saved["sizes"], cost=saved["cost"], hidden_activation=list(acts[:-1]),
                          output_activation=acts[-1], device=saved["device"],
                          backend=saved["backend"], dtype=saved["dtype"],
                          init=lambda rng, sizes: (saved["biases"], saved["weights"]))
            net.rng.bit_generator.state = saved["rng"]
            self.network_ = net


class NNAccelClassifier(ClassifierMixin, _NNAccelEstimator):
    """Nielsen's network as a scikit-learn classifier; any label values, mapped to ``classes_``.

    The defaults suit standardised tabular data: one hidden layer of 30 sigmoid neurons (the
    book's first network), a softmax output with the log-likelihood cost (chapter 3's
    probabilistic output, so ``predict_proba`` rows sum to 1), η = 0.5 with mini-batches of 10
    (the book's values for the cross-entropy cost), 30 epochs. With sigmoid outputs
    (``cost="cross-entropy"`` or ``"quadratic"``) ``predict_proba`` normalises the ten
    one-vs-rest activations to sum to 1. ``early_stopping=n`` holds out
    ``validation_fraction`` of the data and stops when its accuracy has not improved for n
    epochs, keeping the best network (chapter 3's rule).
    """

    _parameter_constraints = parameter_constraints(
        ("sizes", "epochs", "mini_batch_size", "eta", "lmbda", "cost", "hidden_activation", "momentum", "dropout",
         "early_stopping", "validation_fraction", "device", "backend", "dtype", "random_state"))

    def __init__(self, sizes=(30,), epochs=30, mini_batch_size=10, eta=0.5, lmbda=0.0,
                 cost="log-likelihood", hidden_activation="sigmoid", momentum=0.0, dropout=0.0,
                 early_stopping=None, validation_fraction=0.1, device="auto", backend=None,
                 dtype=None, random_state=None):
        self.sizes = sizes
        self.epochs = epochs
        self.mini_batch_size = mini_batch_size
        self.eta = eta
        self.lmbda = lmbda
        self.cost = cost
        self.hidden_activation = hidden_activation
        self.momentum = momentum
        self.dropout = dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.device = device
        self.backend = backend
        self.dtype = dtype
        self.random_state = random_state

    @property
    def _output_activation(self):
        return CLASSIFIER_OUTPUTS[self.cost]

    def _labels(self, y):
        """Host integer labels 0..k−1 of ``y`` in ``classes_``; ValueError for unseen labels."""
        y = _to_host(y)
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[index] == y):
            unseen = np.setdiff1d(np.unique(y), self.classes_)
            raise NNAccelError(f"y has labels {unseen.tolist()} that are not in classes {self.classes_.tolist()}; "
                               "pass every label in classes= on the first partial_fit")
        return index.astype(np.int64)

    def fit(self, X, y):
        """Train a fresh network for ``epochs`` epochs on (X, y); returns self."""
        self._validate_params()
        for attr in ("network_", "classes_", "loss_curve_", "n_iter_"):
            self.__dict__.pop(attr, None)
        X, y = self._validate(X, y, reset=True)
        y_host = _to_host(y)
        check_classification_targets(y_host)
        self.classes_ = np.unique(y_host)
        self._check_classes()
        self.network_ = self._build(X, len(self.classes_))
        labels = self._labels(y_host)
        if self.early_stopping is None:
            return self._train(X, labels, self.epochs)
        X_train, X_val, y_train, y_val = train_test_split(
            X, labels, test_size=self.validation_fraction, random_state=_seed(self.random_state))
        return self._train(X_train, y_train, self.epochs, evaluation=(X_val, y_val))

    def partial_fit(self, X, y, classes=None):
        """One epoch on (X, y), continuing the network; ``classes`` is required on the first call."""
        self._validate_params()
        first = not hasattr(self, "network_")
        if first:
            if classes is None:
                raise NNAccelError("classes must be passed on the first call to partial_fit: every label "
                                   "y may ever hold, e.g. classes=np.unique(y_all)")
            self.classes_ = np.unique(_to_host(classes))
        elif classes is not None and not np.array_equal(self.classes_, np.unique(_to_host(classes))):
            raise NNAccelError(f"classes={classes!r} differs from the first call's {self.classes_.tolist()}; "
                               "pass the same classes, or call fit to start again")
        X, y = self._validate(X, y, reset=first)
        y_host = _to_host(y)
        check_classification_targets(y_host)
        if first:
            self._check_classes()
            self.network_ = self._build(X, len(self.classes_))
        return self._train(X, self._labels(y_host), 1)

    def _check_classes(self):
        if len(self.classes_) < 2:
            raise NNAccelError(f"only one class ({self.classes_[0]!r}) is present in y; "
                               "a classifier needs at least two classes")

    def predict_proba(self, X):
        """Class probabilities, one row per example, columns in the order of ``classes_``."""
        a, _ = self._outputs(X, "predict_proba")
        xp = array_api_compat.array_namespace(a)
        if self._output_activation == "softmax":
            return a
        total = xp.sum(a, axis=1, keepdims=True)
        uniform = xp.full_like(a, 1.0 / a.shape[1])
        return xp.where(total > 0, a / xp.where(total > 0, total, xp.ones_like(total)), uniform)

    def predict(self, X):
        """The class of the most active output neuron, as a value from ``classes_``."""
        a, _ = self._outputs(X, "predict")
        xp = array_api_compat.array_namespace(a)
        index = xp.argmax(a, axis=1)
        if _on_host(a):
            return self.classes_[index]
        return xp.take(xp.asarray(self.classes_, device=array_api_compat.device(a)), index, axis=0)

class NNAccelRegressor(RegressorMixin, _NNAccelEstimator):
    """Nielsen's network with linear output neurons and the quadratic cost (the book's exercise).

    ``y`` may have one column or several (multi-output). The defaults suit standardised
    features and targets: 30 sigmoid hidden neurons, η = 0.1 with mini-batches of 10 (a
    linear output has no σ′ to damp large steps, so η is smaller than the classifier's), 30
    epochs.
    """

    _multi_output = True
    # the table's rows, with the cost narrowed to the one a linear output layer has
    _parameter_constraints = {**parameter_constraints(
        ("sizes", "epochs", "mini_batch_size", "eta", "lmbda", "hidden_activation", "momentum", "dropout",
         "device", "backend", "dtype", "random_state")), "cost": [StrOptions({"quadratic"})]}

    def __init__(self, sizes=(30,), epochs=30, mini_batch_size=10, eta=0.1, lmbda=0.0,
                 cost="quadratic", hidden_activation="sigmoid", momentum=0.0, dropout=0.0, device="auto",
                 backend=None, dtype=None, random_state=None):
        self.sizes = sizes
        self.epochs = epochs
        self.mini_batch_size = mini_batch_size
        self.eta = eta
        self.lmbda = lmbda
        self.cost = cost
        self.hidden_activation = hidden_activation
        self.momentum = momentum
        self.dropout = dropout
        self.device = device
        self.backend = backend
        self.dtype = dtype
        self.random_state = random_state

    def _targets(self, y):
        y = _to_host(y)
        return y if y.ndim == 2 else y.reshape(-1, 1)

    def fit(self, X, y):
        """Train a fresh network for ``epochs`` epochs on (X, y); returns self."""
        self._validate_params()
        for attr in ("network_", "loss_curve_", "n_iter_"):
            self.__dict__.pop(attr, None)
        X, y = self._validate(X, y, reset=True)
        targets = self._targets(y)
        self._y_1d = y.ndim == 1
        self.n_outputs_ = targets.shape[1]
        self.network_ = self._build(X, self.n_outputs_)
        return self._train(X, targets, self.epochs)

    def partial_fit(self, X, y):
        """One epoch on (X, y), continuing the network (a fresh one on the first call)."""
        self._validate_params()
        first = not hasattr(self, "network_")
        X, y = self._validate(X, y, reset=first)
        targets = self._targets(y)
        if first:
            self._y_1d = y.ndim == 1
            self.n_outputs_ = targets.shape[1]
            self.network_ = self._build(X, self.n_outputs_)
        elif targets.shape[1] != self.n_outputs_:
            raise NNAccelError(f"y has {targets.shape[1]} outputs but the network was fitted with {self.n_outputs_}")
        return self._train(X, targets, 1)

    def predict(self, X):
        """The output activations; 1-D when the regressor was fitted with a 1-D y."""
        a, _ = self._outputs(X, "predict")
        if self._y_1d:
            return array_api_compat.array_namespace(a).reshape(a, (-1,))
        return a

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
