"""The network of chapters 1–3: layers aˡ = σ(wˡaˡ⁻¹ + bˡ), backpropagation over a whole
mini-batch as one matrix, written once against the array API standard.

Rows are examples: a batch of m inputs is an (m, n_in) matrix A, so a layer computes
Z = A·wᵀ + b with w of shape (n_l, n_{l−1}) exactly as in the book, and the sums over the
mini-batch in BP3/BP4 become one column sum and one matrix product.
"""

from __future__ import annotations

import numbers

import copy

from ..backend import Backend, dtype_name, make_rng, resolve
from ..core import activations as _activations
from ..core import backprop as _maths
from ..core import costs as _costs
from ..core import initializers, parameters
from ..core.dropout import kept_fraction
from ..core.memory import check_network
from ..core.scalars import whole
from ..data.arrays import DeviceData, to_device
from ..errors import DataError, NNAccelError
from ..io.models import read_model
from ..io.models import save as _save
from ..io.onnx import to_onnx as _to_onnx
from ..training.trainer import train as _train

EVAL_CHUNK = 4096  # rows per feedforward when evaluating, to bound device memory


class Network:
    """A feedforward network ``Network([784, 30, 10])`` as in network2.py, on any backend.

    ``hidden_activation`` is one name for every hidden layer or a list with one per hidden
    layer; ``init`` is "default" (N(0,1)/√n_in) or "large" (N(0,1)); ``seed`` fixes the
    initial weights and the shuffling, identically on every backend. ``softmax_temperature``
    is c in a_j = e^{c z_j}/Σ_k e^{c z_k} for a softmax output layer (1: the book's softmax).

    ``dropout`` (p, 0 by default) is set by training with dropout: evaluation then multiplies
    the weights going out of hidden neurons by the fraction kept, 1 − p (nnaccel.core.dropout).
    """

    def __init__(
        self,
        sizes,
        cost="cross-entropy",
        hidden_activation="sigmoid",
        output_activation="sigmoid",
        init="default",
        device="auto",
        backend=None,
        dtype="float32",
        seed=None,
        softmax_temperature=1.0,
    ):
        self.sizes = _check_sizes(sizes)
        self.num_layers = len(self.sizes)
        self.cost = _named("cost", cost, _costs.get)
        self.activations = _layer_activations(hidden_activation, output_activation, self.num_layers,
                                              softmax_temperature)
        self.cost.check(self.activations[-1])
        self.dropout = 0.0
        self.backend = backend if isinstance(backend, Backend) else resolve(device, backend)
        self.xp = self.backend.xp
        self.dtype = dtype = dtype_name(dtype)
        self.float = self.backend.dtype(dtype)
        check_network(self.sizes, 8 if dtype == "float64" else 4)  # before a byte of it is drawn
        self.rng = make_rng(_check_seed(seed))
        biases, weights = _named("init", init, initializers.get)(self.rng, self.sizes)
        self.set_parameters(weights, biases)

    # ---- parameters -------------------------------------------------------------------
    def set_parameters(self, weights, biases):
        """Copy host arrays (weights (n_l, n_{l−1}), biases (n_l,) or (n_l, 1)) to the device."""
        shapes = list(zip(self.sizes[1:], self.sizes[:-1]))
        if len(weights) != len(shapes) or len(biases) != len(shapes):
            raise NNAccelError(f"expected {len(shapes)} weight matrices and bias vectors for sizes {self.sizes}")
        self.weights, self.biases = [], []
        for (rows, cols), w, b in zip(shapes, weights, biases):
            w = self.backend.asarray(w, self.dtype)
            b = self.xp.reshape(self.backend.asarray(b, self.dtype), (-1,))
            if tuple(w.shape) != (rows, cols) or tuple(b.shape) != (rows,):
                raise NNAccelError(
                    f"a layer of {cols} → {rows} neurons needs weights of shape ({rows}, {cols}) "
                    f"and {rows} biases, got {tuple(w.shape)} and {tuple(b.shape)}"
                )
            self.weights.append(w)
            self.biases.append(b)

    def parameters_numpy(self):
        """(weights, biases) as host NumPy arrays, biases 1-D."""
        return (
            [self.backend.to_numpy(w) for w in self.weights],
            [self.backend.to_numpy(b) for b in self.biases],
        )

    def inference_weights(self):
        """The weights evaluation uses: after training with dropout p, those going out of each
        hidden layer × the fraction of it that training kept (1 − p); otherwise the weights."""
        if not self.dropout:
            return self.weights
        return [self.weights[0]] + [w * kept_fraction(n, self.dropout)
                                    for w, n in zip(self.weights[1:], self.sizes[1:-1])]

    def for_inference(self):
        """This network as evaluation sees it: the inference weights as its own, dropout 0 (a
        shallow copy sharing the rest); what a model file holds."""
        if not self.dropout:
            return self
        net = copy.copy(self)
        net.weights, net.dropout = list(self.inference_weights()), 0.0
        return net

    # ---- the mathematics --------------------------------------------------------------
    def feedforward(self, a):
        """The output aᴸ for inputs ``a`` (one example per row, or a single 1-D example)."""
        xp, n = self.xp, self.sizes[0]
        if not hasattr(a, "shape") or not _same_namespace(xp, a) or a.dtype != self.float:  # the network's dtype
            try:
                a = self.backend.asarray(a, self.dtype)
            except (TypeError, ValueError) as e:
                raise NNAccelError(f"feedforward takes numbers, {n} per example (one example a row); "
                                   f"got {type(a).__name__} that is not ({e})") from None
        if a.ndim not in (1, 2) or a.shape[-1] != n:
            raise NNAccelError(f"feedforward takes {n} inputs per example, one example a row; "
                               f"got an array of shape {tuple(a.shape)}")
        single = a.ndim == 1
        if single:
            a = xp.reshape(a, (1, -1))
        a = _maths.feedforward(xp, self.inference_weights(), self.biases, self.activations, a)
        return a[0, ...] if single else a

    def backprop(self, x, y, masks=None):
        """(nabla_b, nabla_w): ∇C summed over the mini-batch rows of ``x`` with targets ``y``.

        nnaccel.core.backprop.backprop (BP1–BP4), the population's, for one network: K = 1,
        without the member axis. ``masks`` (nnaccel.core.dropout.draw_masks: one 0/1 array per
        hidden layer) thins the network: a deleted neuron outputs 0 and gets δ = 0, so neither
        its incoming nor its outgoing weights get a gradient — the gradients of the network
        without it.
        """
        nabla_b, nabla_w = _maths.backprop(self.xp, self.weights, self.biases, self.activations, self.cost,
                                           x, y, masks=masks)
        return [nb[0, ...] for nb in nabla_b], nabla_w  # BP3 keeps the summed axis: (1, n_l)

    # ---- training and evaluation ------------------------------------------------------
    def data(self, data, scale=None) -> DeviceData:
        """Copy ``data`` ((X, labels) or network2's list of tuples) to this network's device.

        ``scale`` divides the inputs (255 for raw pixels stored as floats); data already on the
        device (a DeviceData) is returned as it is.
        """
        if scale is None:
            return to_device(self.backend, data, self.sizes[0], self.sizes[-1], self.dtype)
        return to_device(self.backend, data, self.sizes[0], self.sizes[-1], self.dtype, scale=scale)

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
            monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False, **options):
        """Mini-batch SGD as in network2.py; returns its four per-epoch lists.

        (evaluation_cost, evaluation_accuracy, training_cost, training_accuracy); accuracies
        are counts of correct examples. ``shuffle=False`` trains in the given order;
        ``callback(record)`` is called after every epoch. Further options (momentum, l1,
        dropout, the optimizer, early stopping, schedules, checkpoints) are those of
        :func:`nnaccel.training.trainer.train`.
        """
        history = _train(
            self, training_data, epochs, mini_batch_size, eta, lmbda=lmbda,
            evaluation_data=evaluation_data,
            monitor_evaluation_cost=monitor_evaluation_cost,
            monitor_evaluation_accuracy=monitor_evaluation_accuracy,
            monitor_training_cost=monitor_training_cost,
            monitor_training_accuracy=monitor_training_accuracy,
            **options,
        )
        return history.as_network2()

    def _chunks(self, data: DeviceData):
        """(start, stop, output) over ``data`` in slices of EVAL_CHUNK rows."""
        n = len(data)
        for k in range(0, n, EVAL_CHUNK):
            stop = min(k + EVAL_CHUNK, n)  # the array API leaves out-of-range stops unspecified
            yield k, stop, self.feedforward(data.x[k:stop, ...])

    def accuracy(self, data) -> int:
        """How many examples the network classifies correctly (argmax of the output layer)."""
        xp = self.xp
        data = self.data(data)
        correct = 0
        for k, stop, a in self._chunks(data):
            truth = data.labels[k:stop] if data.labels is not None \
                else xp.argmax(data.targets[k:stop, ...], axis=1)
            correct = correct + xp.sum(xp.astype(xp.argmax(a, axis=1) == truth, xp.int64))
        return int(correct)

    def total_cost(self, data, lmbda=0.0, l1=0.0) -> float:
        """Mean cost over ``data`` plus the regularisation term, as network2's total_cost.

        L2 adds ½(λ/n)Σw², L1 adds (λ₁/n)Σ|w|, with n the size of ``data``.
        """
        xp = self.xp
        data = self.data(data)
        n = len(data)
        cost = 0.0
        for k, stop, a in self._chunks(data):
            cost = cost + self.cost.fn(xp, a, data.targets[k:stop, ...])
        cost = float(cost) / n
        if lmbda:
            cost += 0.5 * (lmbda / n) * sum(float(xp.sum(w * w)) for w in self.weights)
        if l1:
            cost += (l1 / n) * sum(float(xp.sum(xp.abs(w))) for w in self.weights)
        return cost

    # ---- files ------------------------------------------------------------------------
    def save(self, path):
        """Save to ``path``: network2's JSON format for .json, a compact archive for .npz, with
        the inference weights (nnaccel.io.models.save)."""
        _save(self, path)

    def to_onnx(self, path, settings=None):
        """Write the network as an ONNX model, dropout's scaling and a softmax temperature folded
        into the weights (nnaccel.io.onnx.exported_network)."""
        return _to_onnx(self, path, settings)

    def describe(self) -> str:
        hidden = ",".join(a.name for a in self.activations[:-1]) or "-"
        output = self.activations[-1]
        temperature = getattr(output, "temperature", 1.0)
        output = output.name + (f" (temperature {temperature:g})" if temperature != 1.0 else "")
        return (f"sizes {self.sizes}, {hidden} hidden / {output} output, "
                f"{self.cost.name} cost, {self.dtype}")

    def __repr__(self):
        return f"Network({self.sizes}, cost={self.cost.name!r}, backend={self.backend.describe()!r})"


def _same_namespace(xp, a) -> bool:
    import array_api_compat

    try:
        return array_api_compat.array_namespace(a).__name__ == xp.__name__
    except TypeError:
        return False


def _check_sizes(sizes):
    """The widths as Python ints: whole numbers of any type (np.int64, 784.0), ≥ 1, two or more;
    a fraction is refused, never truncated."""
    try:
        widths = [whole(s) for s in sizes]
    except TypeError:
        raise NNAccelError(f"sizes must be a list of layer widths such as [784, 30, 10], got {sizes!r}") from None
    if None in widths:
        bad = sizes[widths.index(None)]
        raise NNAccelError(f"sizes must be whole numbers of neurons such as [784, 30, 10], got {bad!r} in "
                           f"{str(list(sizes))[:80]}")
    if len(widths) < 2 or min(widths) < 1:
        raise NNAccelError(
            f"sizes {str(widths)[:80]} needs at least two layers of at least one neuron, e.g. 784 30 10"
        )
    return widths


def _check_seed(seed):
    """A number as the int it equals (np.int64, 3.0), checked by its row of the parameter table:
    a negative number, a fraction or a bool is refused, never truncated. Anything else NumPy's
    default_rng takes (None, a SeedSequence) passes unchanged."""
    if not isinstance(seed, numbers.Real):
        return seed
    value = whole(seed)
    return parameters.check("seed", seed if value is None else value)


def _named(name, value, get):
    """The cost, activation or initialiser ``get`` finds for ``value`` (a name, an alias such as
    network2's "CrossEntropyCost", or the object itself); an unknown name is refused in the
    parameter table's words."""
    try:
        return get(value)
    except NNAccelError:
        parameters.check(name, value)
        raise


def _layer_activations(hidden, output, num_layers, softmax_temperature=1.0):
    n_hidden = num_layers - 2
    if isinstance(hidden, (list, tuple)):
        if len(hidden) != n_hidden:
            raise NNAccelError(f"{len(hidden)} hidden activations given for {n_hidden} hidden layers")
        hidden_acts = [_named("hidden_activation", h, _activations.get) for h in hidden]
    else:
        hidden_acts = [_named("hidden_activation", hidden, _activations.get)] * n_hidden
    for act in hidden_acts:
        if not act.hidden_ok:  # softmax: an output layer only
            parameters.check("hidden_activation", act.name)
    output = _named("output_activation", output, _activations.get)
    c = parameters.check("softmax_temperature", softmax_temperature)
    if c != 1.0:
        if output.name != "softmax":
            raise NNAccelError(f"a softmax temperature needs a softmax output layer, not {output.name}; "
                               "use output_activation='softmax' (--output-activation softmax)")
        output = _activations.Softmax(temperature=c)
    return hidden_acts + [output]


def load(path, device="auto", backend=None, dtype=None):
    """Load a model saved by nnaccel (.json or .npz) or by network2.py onto ``device``."""
    settings, weights, biases = read_model(path)
    settings["dtype"] = dtype or settings["dtype"]
    try:
        return Network(init=lambda rng, s: (biases, weights), device=device, backend=backend, **settings)
    except DataError:
        raise
    except ValueError as e:
        raise DataError(f"{path}: {e}") from None


def save(net, path):
    """``nnaccel.save(net, path)``: the same as ``net.save(path)``."""
    net.save(path)


def to_onnx(net, path, settings=None):
    """``nnaccel.to_onnx(net, path)``: the same as ``net.to_onnx(path)``."""
    return net.to_onnx(path, settings)
