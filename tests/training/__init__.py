"""Tests of nnaccel.training: chapter 3's techniques, full-batch training, stops and signals."""
