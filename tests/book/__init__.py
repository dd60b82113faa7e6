"""Tests of nnaccel.book: the chapters' exercises and experiments."""
