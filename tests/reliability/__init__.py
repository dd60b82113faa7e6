"""What nnaccel guarantees when things go wrong (docs/reliability.md): signals, divergence, outputs."""
