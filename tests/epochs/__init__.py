"""Tests of nnaccel.epochs: the fast paths (C, NumPy, JAX) against the generic epoch, the persistent kernel's driver."""
