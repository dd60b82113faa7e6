"""Tests of nnaccel.cli: the command line, its help, pipes, resume and summary."""
