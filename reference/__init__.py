"""Implementations written from the book, outside nnaccel, that two sides use as one copy.

The tests compare nnaccel with them (an oracle: float64 results agree to rounding) and the
benchmarks time them as a peer (the baseline nnaccel's speed-ups are quoted against), so the
loop shown to give nnaccel's numbers is the very loop it is timed against. Tests and benchmarks
import nothing of each other, so the one copy lives here, beside both. Only NumPy is imported:
nothing of nnaccel, the tests or the benchmarks (`.importlinter`, contract "reference").
"""
