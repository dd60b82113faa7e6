"""PyTorch as its tutorials write it: nn.Sequential, a loss module, optim.SGD, eager mode; the
same model through ``torch.compile`` (the model and the optimizer's step compiled, as PyTorch's
compiled-optimizer recipe does it); and the same step captured once in a CUDA graph and replayed
per mini-batch (PyTorch's own answer to the launch overhead of small networks)."""

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


def compiled_epoch(model, loss_fn, optimizer, x, y, mini_batch_size):
    """An epoch function with the model and ``optimizer.step`` compiled by ``torch.compile``
    (Inductor: C++ on the CPU, Triton on a GPU); the first call compiles."""
    import torch

    compiled = torch.compile(model)

    @torch.compile
    def optimizer_step():
        optimizer.step()

    def run():
        for k in range(0, len(x), mini_batch_size):
            xb, yb = x[k:k + mini_batch_size], y[k:k + mini_batch_size]
            optimizer.zero_grad()
            (loss_fn(compiled(xb), yb) / len(xb)).backward()
            optimizer_step()

    return run


def graphed_epoch(model, loss_fn, optimizer, x, y, mini_batch_size):
    """An epoch function replaying one captured step (forward, backward, optimizer.step) per
    full mini-batch, after copying the batch into the graph's static inputs. As PyTorch's CUDA
    graphs documentation does it: warm up on a side stream, then capture. A graph has fixed
    shapes, so a smaller last mini-batch is left out (at most m − 1 examples)."""
    import torch

    m = mini_batch_size
    static_x, static_y = x[:m].clone(), y[:m].clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            (loss_fn(model(static_x), static_y) / m).backward()
            optimizer.step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        (loss_fn(model(static_x), static_y) / m).backward()
        optimizer.step()

    def run():
        for k in range(0, len(x) - m + 1, m):
            static_x.copy_(x[k:k + m])
            static_y.copy_(y[k:k + m])
            graph.replay()

    return run
