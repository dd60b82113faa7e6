"""PyTorch as its tutorials write it: nn.Sequential, a loss module, optim.SGD, eager mode."""

from __future__ import annotations


def make(sizes, cost="cross-entropy", dtype="float32", device="cpu", seed=0):
    """(model, loss_fn, optimizer) for a sigmoid network of ``sizes``."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.Sigmoid()]
    model = nn.Sequential(*layers).to(device=device, dtype=getattr(torch, dtype))
    loss_fn = nn.MSELoss(reduction="sum") if cost == "quadratic" else nn.BCELoss(reduction="sum")
    return model, loss_fn


def epoch(model, loss_fn, optimizer, x, y, mini_batch_size):
    """One epoch over device tensors x, y (already shuffled), batch by batch."""
    for k in range(0, len(x), mini_batch_size):
        xb, yb = x[k:k + mini_batch_size], y[k:k + mini_batch_size]
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb) / len(xb)
        loss.backward()
        optimizer.step()
