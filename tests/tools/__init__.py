"""Tests of nnaccel.tools: bench, predict, selftest, serve, scikit-learn, sweep, tune."""
