"""Tests of nnaccel.optim: SGD as network2.py, the full-batch optimizers, the optimizer seam."""
