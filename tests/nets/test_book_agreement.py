"""Given the same initial weights and batch order, float64 nnaccel agrees with network2.py."""

import numpy as np
import pytest

import nnaccel
from reference.book_loop import BookNetwork, CrossEntropyCost, QuadraticCost, as_book_data


@pytest.mark.parametrize("cost,book_cost,lmbda", [("cross-entropy", CrossEntropyCost, 0.0),
                                                  ("cross-entropy", CrossEntropyCost, 5.0),
                                                  ("quadratic", QuadraticCost, 0.0)])
def test_two_epochs_agree_with_network2_to_rounding(mnist10k, cost, book_cost, lmbda):
    (x, y), (tx, ty) = mnist10k.train, mnist10k.test
    x, y, tx, ty = x[:303] / 255.0, y[:303], tx[:100] / 255.0, ty[:100]
    net = nnaccel.Network([784, 20, 10], cost=cost, device="cpu", dtype="float64", seed=3)
    w, b = net.parameters_numpy()
    book = BookNetwork([784, 20, 10], book_cost, weights=w, biases=b)
    ours = net.SGD((x, y), 2, 10, 0.5, lmbda=lmbda, evaluation_data=(tx, ty), shuffle=False,
                   monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                   monitor_training_cost=True, monitor_training_accuracy=True)
    theirs = book.SGD(as_book_data(x, y), 2, 10, 0.5, lmbda=lmbda,
                      evaluation_data=as_book_data(tx, ty, vectorize=False),
                      monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                      monitor_training_cost=True, monitor_training_accuracy=True)
    w2, b2 = net.parameters_numpy()
    for got, want in zip(w2, book.weights):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    for got, want in zip(b2, book.biases):
        np.testing.assert_allclose(got, want[:, 0], rtol=0, atol=1e-12)
    for got, want in zip(ours, theirs):  # the four monitoring lists, in network2's order
        np.testing.assert_allclose(got, want, rtol=1e-10)


def test_network2_list_of_tuples_is_accepted(mnist10k):
    """SGD takes network2's own data format: one-hot columns for training, ints for evaluation."""
    (x, y), (tx, ty) = mnist10k.train, mnist10k.test
    x, tx = x[:50] / 255.0, tx[:40] / 255.0
    a = nnaccel.Network([784, 10, 10], device="cpu", dtype="float64", seed=1)
    b = nnaccel.Network([784, 10, 10], device="cpu", dtype="float64", seed=1)
    ra = a.SGD((x, y[:50]), 1, 10, 0.5, evaluation_data=(tx, ty[:40]), shuffle=False,
               monitor_evaluation_accuracy=True)
    rb = b.SGD(as_book_data(x, y[:50]), 1, 10, 0.5, shuffle=False,
               evaluation_data=as_book_data(tx, ty[:40], vectorize=False), monitor_evaluation_accuracy=True)
    assert ra == rb
    np.testing.assert_array_equal(a.parameters_numpy()[0][0], b.parameters_numpy()[0][0])
