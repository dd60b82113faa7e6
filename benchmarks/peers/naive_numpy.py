"""The whole-batch NumPy loop a reader writes after chapter 2: no tricks, new arrays each step."""

from __future__ import annotations

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class NaiveNetwork:
    """Sigmoid layers, rows as examples, quadratic or cross-entropy cost, plain SGD."""

    def __init__(self, sizes, cost="cross-entropy", dtype=np.float32, seed=0):
        self.rng = rng = np.random.default_rng(seed)
        self.cost = cost
        self.biases = [rng.standard_normal(y).astype(dtype) for y in sizes[1:]]
        self.weights = [(rng.standard_normal((y, x)) / np.sqrt(x)).astype(dtype)
                        for x, y in zip(sizes[:-1], sizes[1:])]

    def epoch(self, x, y, mini_batch_size, eta):
        perm = self.rng.permutation(len(x))  # shuffled every epoch, as network.py does
        for k in range(0, len(x), mini_batch_size):
            batch = perm[k:k + mini_batch_size]
            xb, yb = x[batch], y[batch]
            activations = [xb]
            for w, b in zip(self.weights, self.biases):
                activations.append(sigmoid(activations[-1] @ w.T + b))
            a = activations[-1]
            delta = (a - yb) * a * (1 - a) if self.cost == "quadratic" else a - yb
            nabla_w, nabla_b = [], []
            for layer in range(len(self.weights) - 1, -1, -1):
                nabla_w.insert(0, delta.T @ activations[layer])
                nabla_b.insert(0, delta.sum(axis=0))
                if layer:
                    a_prev = activations[layer]
                    delta = (delta @ self.weights[layer]) * a_prev * (1 - a_prev)
            m = len(xb)
            self.weights = [w - (eta / m) * nw for w, nw in zip(self.weights, nabla_w)]
            self.biases = [b - (eta / m) * nb for b, nb in zip(self.biases, nabla_b)]
