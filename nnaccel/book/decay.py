"""Chapter 3's exercise on L2 and initialisation: with the old N(0,1) weights and L2, the
first epochs are dominated by weight decay. Each step multiplies w by (1 − ηλ/n), and an
epoch makes n/m steps, so an epoch shrinks the weights by (1 − ηλ/n)^{n/m} ≈ exp(−ηλ/m),
until they are small enough (the book: around 1/√n_in) that the gradient balances it.
"""

from __future__ import annotations

import math


def epoch_factor(eta, lmbda, n, m):
    """(1 − ηλ/n)^{⌈n/m⌉}: pure weight decay over one epoch of mini-batches."""
    return (1.0 - eta * lmbda / n) ** math.ceil(n / m)


def predicted_factor(eta, lmbda, m):
    """exp(−ηλ/m): the exercise's per-epoch shrinking, for ηλ ≪ n."""
    return math.exp(-eta * lmbda / m)


def rms(net, layer):
    """√(mean w²) of one layer's weights."""
    xp = net.xp
    w = net.weights[layer]
    return math.sqrt(float(xp.mean(w * w)))


def decay(ctx):
    """[784,30,10] from N(0,1) weights, η = 0.5, m = 10, λ = 2 (ηλ/m = 0.1, ηλ ≪ n): the
    measured RMS of w¹ per epoch against the exp(−ηλ/m) prediction and the 1/√n_in floor."""
    x, y = ctx.data.train
    n, m, eta, lmbda = len(y), 10, 0.5, 2.0
    net = ctx.net([784, 30, 10], cost="cross-entropy", init="large")
    measured = [rms(net, 0)]
    net.SGD((x, y), ctx.epochs(40), m, eta, lmbda=lmbda,
            callback=lambda record: measured.append(rms(net, 0)))
    factor = predicted_factor(eta, lmbda, m)
    predicted = [measured[0] * factor ** t for t in range(len(measured))]
    floor = 1.0 / math.sqrt(784)
    tails_off = next((t for t in range(1, len(measured)) if measured[t] > 0.99 * measured[t - 1]), None)
    first = min(10, len(measured) - 1)
    summary = [["w¹ RMS shrink per epoch, first 10 epochs", f"exp(−ηλ/m) = {factor:.4f}",
                f"{(measured[first] / measured[0]) ** (1 / first):.4f}"],
               [f"w¹ RMS after {first} epochs", f"{predicted[first]:.4f}", f"{measured[first]:.4f}"],
               ["w¹ RMS where the decay tails off", f"~1/√n_in = {floor:.3f}", f"{measured[-1]:.4f}"],
               ["epoch where w¹ shrinks < 1 % per epoch", "–", "never" if tails_off is None else str(tails_off)]]
    return {"runs": {"measured": measured, "predicted": predicted, "floor": floor},
            "summary": summary, "settings": {"eta": eta, "lmbda": lmbda, "m": m, "n": n}}


def plot(result, plt):
    """Measured RMS of w¹ against epochs, beside exp(−ηλ/m)ᵗ and the 1/√n_in floor (log scale)."""
    runs = result["runs"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(runs["measured"], "o-", label="measured RMS of w¹")
    ax.plot(runs["predicted"], "--", label="exp(−ηλ/m)ᵗ prediction")
    ax.axhline(runs["floor"], color="grey", linestyle=":", label="1/√n_in")
    ax.set(yscale="log", xlabel="epoch", ylabel="RMS weight", title="L2 weight decay from N(0,1) weights")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
