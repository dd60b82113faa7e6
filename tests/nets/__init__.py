"""Tests of nnaccel.nets: the network against network2.py, populations."""
