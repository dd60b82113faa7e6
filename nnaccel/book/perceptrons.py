"""Chapter 1's perceptrons: the NAND gate, the two-bit adder built of NAND gates, and the
two exercises that lead from perceptrons to sigmoid neurons.

A perceptron outputs 1 if w·x + b > 0 and 0 otherwise (the ``step`` activation). The NAND
gate is w = (−2, −2), b = 3. The adder is the book's circuit of five NAND gates, laid out
as a layered network: inputs that skip a layer pass through a relay perceptron (w = 1,
b = −½, which copies a bit), and the gate fed twice by the same output gets w = −4.
"""

from __future__ import annotations

from itertools import product

from ..nets.network import Network

NAND_W, NAND_B = [-2.0, -2.0], 3.0
INPUTS = [list(map(float, bits)) for bits in product((0, 1), repeat=2)]  # (x1, x2)

# The adder, one row per neuron: (weights from the layer below, bias).
ADDER_LAYERS = [
    [([-2, -2], 3),  # g1 = NAND(x1, x2)
     ([1, 0], -0.5),  # relay x1
     ([0, 1], -0.5)],  # relay x2
    [([-2, -2, 0], 3),  # g2 = NAND(g1, x1)
     ([-2, 0, -2], 3),  # g3 = NAND(g1, x2)
     ([-4, 0, 0], 3)],  # carry = NAND(g1, g1) = x1 AND x2
    [([-2, -2, 0], 3),  # sum = NAND(g2, g3) = x1 XOR x2
     ([0, 0, 1], -0.5)],  # relay carry
]


def nand_gate(activation="step", c=1.0, **kw):
    """The NAND perceptron as Network([2, 1]), every weight and bias multiplied by ``c``."""
    net = Network([2, 1], cost="quadratic", output_activation=activation, dtype="float64", **kw)
    net.set_parameters([[[c * w for w in NAND_W]]], [[c * NAND_B]])
    return net


def adder(activation="step", c=1.0, **kw):
    """The two-bit adder of NAND gates as Network([2, 3, 3, 2]): outputs (sum, carry)."""
    net = Network([2, 3, 3, 2], cost="quadratic", hidden_activation=activation,
                  output_activation=activation, dtype="float64", **kw)
    weights = [[[c * w for w in row] for row, _ in layer] for layer in ADDER_LAYERS]
    biases = [[c * b for _, b in layer] for layer in ADDER_LAYERS]
    net.set_parameters(weights, biases)
    return net


def truth_table(net):
    """[(x1, x2, outputs…)] for the four inputs."""
    out = net.backend.to_numpy(net.feedforward(INPUTS))
    return [[int(x1), int(x2), *[float(v) for v in row]] for (x1, x2), row in zip(INPUTS, out)]


def largest_gap(c, **kw):
    """max |sigmoid network − perceptron network| over the adder's truth table at scale c."""
    step = truth_table(adder("step", **kw))
    smooth = truth_table(adder("sigmoid", c, **kw))
    return max(abs(s - p) for rs, rp in zip(smooth, step) for s, p in zip(rs[2:], rp[2:]))


def perceptrons(ctx):
    """The NAND gate and the adder's truth tables, and the two exercises checked numerically."""
    kw = {"backend": ctx.backend}
    nand = truth_table(nand_gate(**kw))
    add = truth_table(adder(**kw))
    scales = [0.1, 1.0, 10.0, 100.0]
    invariant = all(truth_table(adder("step", c, **kw)) == add for c in scales)
    limit = [{"c": c, "largest_gap": largest_gap(c, **kw)} for c in (1.0, 10.0, 100.0, 1000.0)]
    curve = [{"c": c, "largest_gap": largest_gap(c, **kw)} for c in (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 100)]
    # A neuron on its boundary: w = (1, 1), b = −1 at x = (1, 0) has w·x + b = 0.
    tie = [{"c": c, "perceptron": float(_tie("step", c, **kw)), "sigmoid": float(_tie("sigmoid", c, **kw))}
           for c in (1.0, 10.0, 100.0, 1000.0)]
    summary = [
        ["NAND(x1, x2) for 00 01 10 11", "1 1 1 0", " ".join(str(int(r[2])) for r in nand)],
        ["adder (sum, carry) for 00 01 10 11", "00 10 10 01",
         " ".join(f"{int(r[2])}{int(r[3])}" for r in add)],
        ["every w, b × c (c = 0.1 … 100) changes nothing", "true", str(invariant).lower()],
        ["sigmoid adder vs perceptrons, largest gap, c = 1 → 1000", "→ 0",
         " → ".join(f"{p['largest_gap']:.2g}" for p in limit)],
        ["w·x + b = 0: perceptron vs sigmoid output, any c", "0 vs ½",
         f"{tie[0]['perceptron']:g} vs {tie[-1]['sigmoid']:g}"],
    ]
    return {"runs": {"nand": nand, "adder": add, "limit": limit, "curve": curve, "tie": tie}, "summary": summary}


def _tie(activation, c, **kw):
    net = Network([2, 1], cost="quadratic", output_activation=activation, dtype="float64", **kw)
    net.set_parameters([[[c, c]]], [[-c]])
    return net.backend.to_numpy(net.feedforward([[1.0, 0.0]]))[0, 0]


FLOOR = 1e-17  # below float64's resolution of an output near 1: drawn for a gap of exactly 0


def plot(result, plt):
    """Left: the adder's largest gap between sigmoid and perceptron outputs against c (log
    axes; an exact 0 drawn at the floor). Right: a neuron with w·x + b = 0 stays at ½."""
    runs = result["runs"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    curve = runs.get("curve", runs["limit"])
    left.plot([p["c"] for p in curve], [max(p["largest_gap"], FLOOR) for p in curve], "o-")
    left.axhline(FLOOR, color="grey", linestyle=":", label="exactly 0 in float64")
    left.set(xscale="log", yscale="log", xlabel="c (every weight and bias × c)",
             ylabel="largest |sigmoid − perceptron| output", title="Sigmoid adder → perceptron adder as c → ∞")
    left.legend(fontsize=8)
    tie = runs["tie"]
    right.plot([t["c"] for t in tie], [t["sigmoid"] for t in tie], "o-", label="sigmoid neuron")
    right.plot([t["c"] for t in tie], [t["perceptron"] for t in tie], "s--", label="perceptron")
    right.set(xscale="log", ylim=(-0.05, 1.05), xlabel="c", ylabel="output",
              title="w·x + b = 0: the sigmoid stays at ½ for every c")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    return fig
