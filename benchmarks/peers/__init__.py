"""Plain implementations a user might pick instead of nnaccel, written by us for comparison."""
