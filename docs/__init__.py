"""The documentation's figure script (python -m docs.figures); not part of the nnaccel package."""
