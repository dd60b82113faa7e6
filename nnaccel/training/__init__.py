"""The training loop and what a run needs around it: signals, schedules, divergence, outputs."""
