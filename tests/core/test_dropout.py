"""Chapter 3's dropout: the thinned network's forward and backward pass, the masks, and the
halving of the outgoing weights at evaluation."""

import numpy as np
import pytest

import nnaccel
from nnaccel.core import dropout
from nnaccel.errors import NNAccelError
from nnaccel.nets.network import load
from nnaccel.training.trainer import check_hyperparameters
from tests.conftest import BACKEND_PARAMS, make_backend

CPU_BACKENDS = [p for p in BACKEND_PARAMS if p.id in ("numpy", "array_api_strict")]
SIZES = [5, 6, 4, 3]  # two hidden layers, so a mask acts on both sides of a layer


def _net(backend, sizes=SIZES, seed=3, **kw):
    kw.setdefault("cost", "cross-entropy")
    return nnaccel.Network(sizes, backend=make_backend(backend), dtype="float64", seed=seed, **kw)


def _batch(sizes, m, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, sizes[0])), np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=m)]


def _dev(net, *arrays):
    return [net.backend.asarray(a, "float64") for a in arrays]


def _np(net, arrays):
    return [net.backend.to_numpy(a) for a in arrays]


def _smaller(net, keep):
    """The network with the deleted hidden neurons removed: rows of their incoming weights and
    biases, and columns of their outgoing weights. ``keep`` lists each hidden layer's kept indices."""
    w, b = net.parameters_numpy()
    index = [np.arange(net.sizes[0])] + [np.asarray(k) for k in keep] + [np.arange(net.sizes[-1])]
    ws = [w[l][np.ix_(index[l + 1], index[l])] for l in range(len(w))]
    bs = [b[l][index[l + 1]] for l in range(len(b))]
    small = nnaccel.Network([len(i) for i in index], cost=net.cost, hidden_activation=net.activations[0].name,
                            output_activation=net.activations[-1].name, backend=net.backend, dtype="float64")
    small.set_parameters(ws, bs)
    return small


def _masks(net, keep, rows=1):
    return [net.backend.asarray(np.tile(np.isin(np.arange(n), k).astype(float), (rows, 1)), "float64")
            for n, k in zip(net.sizes[1:-1], keep)]


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu", "linear"])
def test_the_thinned_network_is_the_smaller_network_without_the_deleted_neurons(backend, hidden):
    """Same outputs, the same gradients on the kept weights and biases, and 0 on the deleted ones."""
    net = _net(backend, hidden_activation=hidden)
    keep = [[0, 2, 5], [1, 2]]  # delete half of each hidden layer
    x, y = _dev(net, *_batch(SIZES, 7))
    small = _smaller(net, keep)
    nabla_b, nabla_w = (_np(net, g) for g in net.backprop(x, y, masks=_masks(net, keep)))
    small_b, small_w = (_np(small, g) for g in small.backprop(x, y))
    index = [np.arange(SIZES[0])] + [np.asarray(k) for k in keep] + [np.arange(SIZES[-1])]
    for l in range(3):
        rows, cols = index[l + 1], index[l]
        assert np.allclose(nabla_w[l][np.ix_(rows, cols)], small_w[l], rtol=1e-13, atol=1e-15)
        assert np.allclose(nabla_b[l][rows], small_b[l], rtol=1e-13, atol=1e-15)
        expected_zero_w = np.ones(nabla_w[l].shape, bool)
        expected_zero_w[np.ix_(rows, cols)] = False
        assert np.all(nabla_w[l][expected_zero_w] == 0)  # incoming and outgoing weights of deleted neurons
        assert np.all(np.delete(nabla_b[l], rows) == 0)
    # Cross-entropy with sigmoid outputs makes δᴸ = a − y, so one example's ∂C/∂bᴸ gives its output.
    for i in range(x.shape[0]):
        nb, _ = net.backprop(x[i:i + 1, ...], y[i:i + 1, ...], masks=_masks(net, keep))
        thinned_output = net.backend.to_numpy(nb[-1] + y[i, ...])
        assert np.allclose(thinned_output, net.backend.to_numpy(small.feedforward(x[i:i + 1, ...]))[0], atol=1e-14)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_per_example_masks_sum_the_gradients_of_each_examples_smaller_network(backend):
    """A mask per row: the batch gradient is the sum of each example's thinned-network gradient."""
    net = _net(backend, hidden_activation="relu", output_activation="softmax", cost="log-likelihood")
    x, y = _dev(net, *_batch(SIZES, 3))
    keeps = [[[0, 1, 2], [0, 3]], [[3, 4, 5], [1, 2]], [[1, 3, 4], [0, 2]]]
    rows = [_masks(net, k) for k in keeps]
    masks = [net.backend.asarray(np.concatenate([net.backend.to_numpy(r[l]) for r in rows]), "float64")
             for l in range(2)]
    nabla_b, nabla_w = (_np(net, g) for g in net.backprop(x, y, masks=masks))
    total_b = [np.zeros_like(b) for b in nabla_b]
    total_w = [np.zeros_like(w) for w in nabla_w]
    for i, r in enumerate(rows):
        nb, nw = (_np(net, g) for g in net.backprop(x[i:i + 1, ...], y[i:i + 1, ...], masks=r))
        total_b = [t + g for t, g in zip(total_b, nb)]
        total_w = [t + g for t, g in zip(total_w, nw)]
    for got, want in zip(nabla_w + nabla_b, total_w + total_b):
        assert np.allclose(got, want, rtol=1e-13, atol=1e-15)


def test_masks_of_ones_change_nothing():
    """Keeping every neuron gives exactly the ordinary backpropagation."""
    net = _net("numpy")
    x, y = _batch(SIZES, 4)
    plain = net.backprop(x, y)
    masked = net.backprop(x, y, masks=[np.ones((1, n)) for n in SIZES[1:-1]])
    for a, b in zip(plain[0] + plain[1], masked[0] + masked[1]):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("mode,rows", [("per-batch", 1), ("per-example", 9)])
def test_a_mask_deletes_exactly_round_p_n_neurons_per_row(backend, mode, rows):
    """The book's half: 15 of 30 neurons for p = ½; 3 of 10 for p = 0.3; 0/1 in the net's dtype."""
    net = _net(backend, sizes=[4, 30, 10, 2])
    for p, deleted in ((0.5, [15, 5]), (0.3, [9, 3])):
        masks = [net.backend.to_numpy(m) for m in dropout.draw_masks(net, 9, p, mode)]
        assert [m.shape for m in masks] == [(rows, 30), (rows, 10)]
        assert all(m.dtype == np.float64 and set(np.unique(m)) <= {0.0, 1.0} for m in masks)
        for m, k in zip(masks, deleted):
            assert np.all((m == 0).sum(axis=1) == k)


def test_the_masks_come_from_the_seeded_generator():
    """The same seed draws the same masks (so a resume draws them again); the draws differ."""
    first = [dropout.draw_masks(_net("numpy", seed=4), 5, 0.5, "per-example") for _ in range(2)]
    assert all(np.array_equal(a, b) for a, b in zip(*first))
    net = _net("numpy", seed=4)
    draws = [dropout.draw_masks(net, 1, 0.5)[0] for _ in range(5)]
    assert any(not np.array_equal(draws[0], d) for d in draws[1:])


def test_every_neuron_is_deleted_with_probability_p():
    """Uniform choice: over 4,000 per-batch masks each of 10 neurons is deleted ≈ 30 % of the time."""
    net = _net("numpy", sizes=[2, 10, 2], seed=0)
    masks = np.concatenate([dropout.draw_masks(net, 1, 0.3)[0] for _ in range(4000)])
    assert np.allclose(1.0 - masks.mean(axis=0), 0.3, atol=0.03)  # σ ≈ 0.007 per neuron


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_evaluation_multiplies_exactly_the_outgoing_weights_of_hidden_neurons_by_one_minus_p(backend):
    """After dropout p, feedforward is the network with w², w³ (out of hidden layers) × (1 − p),
    w¹ and every bias unchanged; the training weights themselves stay as they are."""
    p = 0.25  # 6·p is not whole, 4·p is: the fraction kept is 1 − round(p·n)/n per layer
    net = _net(backend)
    x, _ = _batch(SIZES, 5)
    w, b = net.parameters_numpy()
    net.dropout = p
    scaled = _net(backend)
    fractions = [1 - round(p * n) / n for n in SIZES[1:-1]]
    assert fractions == [1 - 2 / 6, 1 - p]
    scaled.set_parameters([w[0], w[1] * fractions[0], w[2] * fractions[1]], b)
    assert np.allclose(net.backend.to_numpy(net.feedforward(x)), scaled.backend.to_numpy(scaled.feedforward(x)),
                       rtol=1e-14, atol=0)
    assert all(np.array_equal(a, c) for a, c in zip(net.parameters_numpy()[0], w))
    inference = _np(net, net.inference_weights())
    assert np.array_equal(inference[0], w[0])
    assert np.allclose(inference[1], w[1] * fractions[0], rtol=1e-15) and np.allclose(inference[2], w[2] * 0.75)


def test_the_books_halving_for_p_one_half():
    """p = ½ on 30 hidden neurons: the weights out of them are halved, exactly."""
    net = nnaccel.Network([784, 30, 10], device="cpu", dtype="float64", seed=1)
    net.dropout = 0.5
    assert np.array_equal(net.inference_weights()[1], net.weights[1] / 2)
    assert net.inference_weights()[0] is net.weights[0]


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_a_model_file_holds_the_scaled_weights_for_inference(tmp_path, suffix):
    net = _net("numpy")
    net.dropout = 0.5
    x, _ = _batch(SIZES, 5)
    net.save(tmp_path / f"m{suffix}")
    loaded = load(tmp_path / f"m{suffix}", device="cpu", dtype="float64")
    assert loaded.dropout == 0.0
    assert np.allclose(loaded.feedforward(x), net.feedforward(x), rtol=1e-14, atol=0)
    assert np.allclose(loaded.weights[2], net.weights[2] / 2, rtol=1e-15)


@pytest.mark.parametrize("p,mode,sizes,message", [
    (1.0, "per-batch", None, "must be in [0, 1)"),
    (-0.1, "per-batch", None, "must be in [0, 1)"),
    (float("nan"), "per-batch", None, "must be in [0, 1)"),
    (0.5, "per-neuron", None, "dropout_mode must be one of per-batch, per-example, got 'per-neuron'"),
    (0.5, "per-batch", [784, 10], "has no hidden layer"),
    (0.9, "per-batch", [784, 2, 10], "would delete all 2 neurons"),
])
def test_bad_dropout_settings_are_refused_in_one_line(p, mode, sizes, message):
    """p and the mode against the parameter table (as the trainer checks them), then p against the layers."""
    with pytest.raises(NNAccelError, match=None) as e:
        check_hyperparameters(1, 10, 0.5, dropout=p, dropout_mode=mode)
        dropout.check_dropout(p, sizes)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_training_with_dropout_leaves_a_network_that_evaluates_with_scaled_weights():
    """net.SGD(..., dropout=p) sets net.dropout = p: accuracy and cost are the scaled network's."""
    net = _net("numpy", sizes=[5, 8, 3])
    x = np.random.default_rng(0).random((40, 5))
    labels = np.arange(40) % 3
    net.SGD((x, labels), 2, 10, 0.5, dropout=0.5)
    assert net.dropout == 0.5
    w, b = net.parameters_numpy()
    scaled = _net("numpy", sizes=[5, 8, 3])
    scaled.set_parameters([w[0], w[1] / 2], b)
    assert net.total_cost((x, labels)) == pytest.approx(scaled.total_cost((x, labels)), rel=1e-14)
    assert net.accuracy((x, labels)) == scaled.accuracy((x, labels))
