"""The one exception type that nnaccel raises for a user's mistake.

Its message is a single line that names the problem and the fix; the CLI prints it after
``nnaccel: error:`` and exits with code 2.
"""


class NNAccelError(ValueError):
    """Bad input: a wrong argument, a missing backend, a corrupt or missing file."""


class DataError(NNAccelError):
    """A data or model file that is missing, truncated, corrupt or of the wrong shape."""
