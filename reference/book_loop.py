"""The book's own algorithm, per example, in the style of network.py / network2.py.

Column vectors, one backprop per training example, the gradients summed in a Python loop:
the baseline the book starts from. The tests compare nnaccel with it (given the same initial
weights and batch order, float64 results agree to rounding) and the benchmarks time it as the
peer ``peer-book-loop``. Written afresh from the book's formulas (Python 3, no global random state).
"""

from __future__ import annotations

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class QuadraticCost:
    @staticmethod
    def fn(a, y):
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    @staticmethod
    def fn(a, y):
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        return a - y


def vectorized_result(j, n=10):
    e = np.zeros((n, 1))
    e[j] = 1.0
    return e


class BookNetwork:
    """network2.py's Network: weights (n_l, n_{l-1}), biases (n_l, 1), per-example backprop."""

    def __init__(self, sizes, cost=CrossEntropyCost, weights=None, biases=None, rng=None):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.cost = cost
        if weights is None:
            rng = rng or np.random.default_rng(0)
            biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
            weights = [rng.standard_normal((y, x)) / np.sqrt(x) for x, y in zip(sizes[:-1], sizes[1:])]
        self.weights = [np.array(w, dtype=np.float64) for w in weights]
        self.biases = [np.array(b, dtype=np.float64).reshape(-1, 1) for b in biases]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
            monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False, rng=None):
        """As network2.SGD; ``rng`` None trains in the given order (no shuffle)."""
        n = len(training_data)
        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        for _ in range(epochs):
            if rng is not None:
                training_data = [training_data[i] for i in rng.permutation(n)]
            for k in range(0, n, mini_batch_size):
                self.update_mini_batch(training_data[k:k + mini_batch_size], eta, lmbda, n)
            if monitor_training_cost:
                training_cost.append(self.total_cost(training_data, lmbda))
            if monitor_training_accuracy:
                training_accuracy.append(self.accuracy(training_data, convert=True))
            if monitor_evaluation_cost:
                evaluation_cost.append(self.total_cost(evaluation_data, lmbda, convert=True))
            if monitor_evaluation_accuracy:
                evaluation_accuracy.append(self.accuracy(evaluation_data))
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [(1 - eta * (lmbda / n)) * w - (eta / len(mini_batch)) * nw
                        for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.cost.delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            z = zs[-l]
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sigmoid_prime(z)
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w

    def accuracy(self, data, convert=False):
        if convert:
            results = [(np.argmax(self.feedforward(x)), np.argmax(y)) for (x, y) in data]
        else:
            results = [(np.argmax(self.feedforward(x)), y) for (x, y) in data]
        return sum(int(x == y) for (x, y) in results)

    def total_cost(self, data, lmbda, convert=False):
        cost = 0.0
        for x, y in data:
            a = self.feedforward(x)
            if convert:
                y = vectorized_result(y, len(a))
            cost += self.cost.fn(a, y) / len(data)
        cost += 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in self.weights)
        return cost


def as_book_data(images, labels, n_classes=10, vectorize=True):
    """network2's list-of-tuples format: (784, 1) columns with one-hot or integer labels."""
    xs = [np.reshape(x, (-1, 1)).astype(np.float64) for x in images]
    if vectorize:
        return [(x, vectorized_result(int(y), n_classes)) for x, y in zip(xs, labels)]
    return [(x, int(y)) for x, y in zip(xs, labels)]
