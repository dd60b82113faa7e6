"""Tests of nnaccel.core: activations, costs, backpropagation, dropout, the table of parameters, second order."""
