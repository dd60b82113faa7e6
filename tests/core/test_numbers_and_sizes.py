"""Issue 16, items 3, 5 and 6: the API takes NumPy's scalars, refuses fractions instead of
truncating them, and refuses sizes too large for memory in one line before allocating."""

import tracemalloc

import numpy as np
import pytest

import nnaccel
from nnaccel import cli
from nnaccel.core import memory, second_order
from nnaccel.errors import NNAccelError

X = np.random.default_rng(0).random((40, 4)).astype(np.float32)
Y = np.arange(40) % 2


@pytest.mark.parametrize("kind", [np.int64, np.int32, np.uint8])
def test_numpy_integer_epochs_and_m_train_like_python_ints(kind):
    """np.int64(2) epochs and np.float32 η train exactly as 2 and float(η)."""
    a = nnaccel.Network([4, 3, 2], device="cpu", seed=1)
    b = nnaccel.Network([4, 3, 2], device="cpu", seed=1)
    a.SGD((X, Y), 2, 5, 0.5, lmbda=0.25, momentum=0.5)
    b.SGD((X, Y), kind(2), kind(5), np.float64(0.5), lmbda=np.float32(0.25), momentum=np.float16(0.5))
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(wa, wb)


def test_a_population_takes_numpy_scalars():
    pop = nnaccel.Population([4, 3, 2], seeds=[np.int64(1), 2], device="cpu")
    histories = pop.train((X, Y), np.int64(1), np.int32(10), np.float32(0.5))
    assert len(histories) == 2 and pop.seeds == [1, 2]


@pytest.mark.parametrize("sizes", [[784.5, 30, 10], [4, 2.5, 2], [4, True, 2], [4, float("nan"), 2], [4, "3", 2]])
def test_fractional_sizes_are_refused_not_truncated(sizes):
    with pytest.raises(NNAccelError, match="whole numbers of neurons"):
        nnaccel.Network(sizes, device="cpu")


def test_whole_sizes_of_any_type_are_taken():
    assert nnaccel.Network([np.int64(4), 3.0, np.uint16(2)], device="cpu").sizes == [4, 3, 2]


@pytest.mark.parametrize("seeds", [[1.5], [1, 2.25], [True]])
def test_fractional_seeds_are_refused_not_truncated(seeds):
    with pytest.raises(NNAccelError, match="seeds must be a list of integers"):
        nnaccel.Population([4, 3, 2], seeds=seeds, device="cpu")
    with pytest.raises(NNAccelError, match="seed must be a whole number"):
        nnaccel.Network([4, 3, 2], seed=seeds[-1], device="cpu")


def test_a_network_too_large_for_memory_is_one_line_before_allocating(capsys):
    code = cli.main(["train", "--sizes", "784", "1" * 40, "10", "--epochs", "1", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "needs about" in err and "use smaller sizes" in err


def test_the_memory_check_counts_the_networks_bytes(monkeypatch):
    """[100, 100, 10] holds 11,110 parameters: 11,110 × (8 + 5 × 4) bytes in float32."""
    assert memory.network_bytes([100, 100, 10], 4) == 11110 * 28
    monkeypatch.setattr(memory, "available", lambda: 11110 * 28 - 1)
    with pytest.raises(NNAccelError, match="needs about"):
        nnaccel.Network([100, 100, 10], device="cpu")
    monkeypatch.setattr(memory, "available", lambda: 11110 * 28)
    nnaccel.Network([100, 100, 10], device="cpu")


def test_a_mini_batch_larger_than_the_data_is_clamped_before_allocating():
    """-m 10⁶ on 300 images trains as one batch of 300 (it allocated 4.6 GB before)."""
    x = np.random.default_rng(0).random((300, 784)).astype(np.float32)
    y = np.arange(300) % 10
    big, same = (nnaccel.Network([784, 30, 10], device="cpu", seed=1) for _ in range(2))
    tracemalloc.start()
    big.SGD((x, y), 1, 10**6, 0.5)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64e6, peak
    same.SGD((x, y), 1, 300, 0.5)
    for a, b in zip(big.weights, same.weights):
        np.testing.assert_array_equal(a, b)


def test_second_order_hessian_refuses_sizes_as_newton_does():
    net = nnaccel.Network([100, 60, 10], device="cpu")
    data = (np.zeros((2, 100)), np.zeros(2, dtype=int))
    with pytest.raises(NNAccelError, match="forms the full Hessian: 6670²"):
        second_order.hessian(net, data)


def test_partial_fit_takes_classes_as_a_list():
    pytest.importorskip("sklearn")
    from nnaccel.tools.sklearn import NNAccelClassifier

    clf = NNAccelClassifier(sizes=(3,), epochs=1, random_state=0, device="cpu")
    clf.partial_fit(X, Y, classes=[0, 1])
    clf.partial_fit(X, Y, classes=(0, 1))
    assert clf.classes_.tolist() == [0, 1]


def test_data_too_large_for_memory_is_refused_before_it_reaches_the_device(tmp_path, monkeypatch, capsys):
    """The network fits, the data's copies (×5 with --expand shifts) do not: one line, exit 2."""
    small = memory.network_bytes([784, 30, 10], 4)
    monkeypatch.setattr(memory, "available", lambda: small + 8000 * 794 * 4 * 2 * 3)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--epochs", "0", "--device", "cpu"]) == 0
    capsys.readouterr()
    code = cli.main(["train", "--epochs", "0", "--device", "cpu", "--expand", "shifts", "--save", "m.npz"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "training on 42000 examples" in err, err
    assert not list(tmp_path.iterdir())
