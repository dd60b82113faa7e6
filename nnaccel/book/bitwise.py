"""Chapter 1's exercise: a fourth layer that turns the ten digit outputs into the digit's
4-bit binary representation, with weights found by hand.

Output neuron k (bit k, least significant first) gets weight +s from digit neuron j when
bit k of j is 1 and −s when it is 0, and no bias. When the old output layer is confident
(the true digit's neuron near 1, the others near 0), z_k ≈ ±s and σ(z_k) is the bit.
"""

from __future__ import annotations

from ..nets.network import Network

BITS = 4
STRENGTH = 10.0  # s: σ(±10) = 0.99995 or 0.00005


def bitwise_weights(strength=STRENGTH, classes=10):
    """(w of shape (4, classes), b of 4 zeros): w[k][j] = ±s as bit k of j is 1 or 0."""
    w = [[strength if (j >> k) & 1 else -strength for j in range(classes)] for k in range(BITS)]
    return w, [0.0] * BITS


def with_bitwise_layer(net, strength=STRENGTH):
    """A copy of ``net`` (sigmoid outputs over ten classes) with the bitwise layer on top."""
    w, b = bitwise_weights(strength, net.sizes[-1])
    weights, biases = net.parameters_numpy()
    bigger = Network(net.sizes + [BITS], cost="quadratic",
                     hidden_activation=[a.name for a in net.activations],
                     output_activation="sigmoid", backend=net.backend, dtype=net.dtype)
    bigger.set_parameters(list(weights) + [w], list(biases) + [b])
    return bigger


def decode(bits_out):
    """The digits that rows of four outputs in (0, 1) spell, each bit rounded at ½."""
    return [sum(1 << k for k, v in enumerate(row) if v > 0.5) for row in bits_out]


def bitwise(ctx):
    """Train the book's first network, put the hand-set bitwise layer on top, and count how
    often the four bits spell the digit that the ten outputs predict, and the true label."""
    net = ctx.net([784, 30, 10], cost="quadratic")
    epochs = ctx.epochs(30)
    net.SGD(ctx.data.train, epochs, 10, 3.0)
    x, labels = ctx.data.test
    test = net.data((x, labels))
    predicted = net.backend.to_numpy(net.xp.argmax(net.feedforward(test.x), axis=1)).tolist()
    bits = net.backend.to_numpy(with_bitwise_layer(net).feedforward(test.x)).tolist()
    decoded = decode(bits)
    n = len(decoded)
    agree = sum(d == p for d, p in zip(decoded, predicted))
    correct = sum(d == int(t) for d, t in zip(decoded, labels))
    summary = [["bits spell the ten outputs' prediction", "–", f"{100.0 * agree / n:.2f} % ({agree} / {n})"],
               ["bits spell the true digit", "–", f"{100.0 * correct / n:.2f} %"],
               ["ten outputs' accuracy", "~95 % (the book's first network)",
                f"{100.0 * sum(p == int(t) for p, t in zip(predicted, labels)) / n:.2f} %"]]
    w, _ = bitwise_weights()
    per_digit = [{"digit": j, "n": sum(p == j for p in predicted),
                  "agree": sum(d == p == j for d, p in zip(decoded, predicted))} for j in range(10)]
    return {"runs": {"weights": w, "epochs": epochs, "agree": agree, "correct": correct, "n": n,
                     "per_digit": per_digit},
            "summary": summary}


def plot(result, plt):
    """Left: the hand-set weights (bit k × digit j, ±s). Right: per predicted digit, how often
    the four bits spell it."""
    runs = result["runs"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    image = left.imshow(runs["weights"], cmap="coolwarm", aspect="auto")
    left.set(xticks=range(10), yticks=range(BITS), xlabel="digit neuron j", ylabel="bit k (1, 2, 4, 8)",
             title="The bitwise layer's weights")
    fig.colorbar(image, ax=left)
    digits = runs["per_digit"]
    right.bar([d["digit"] for d in digits], [100.0 * d["agree"] / max(d["n"], 1) for d in digits])
    right.set(xticks=range(10), xlabel="digit predicted by the ten outputs", ylim=(0, 100.5),
              ylabel="bits spell it (%)", title=f"Agreement: {runs['agree']} / {runs['n']} test images")
    right.grid(alpha=0.3, axis="y")
    return fig
