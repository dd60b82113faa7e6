"""The exceptions nnaccel raises, all in one place.

A user's mistake is an :class:`NNAccelError`: its message is a single line that names the
problem and the fix; the CLI prints it after ``nnaccel: error:`` and exits with code 2. A run
that diverged exits with 3; one stopped by a signal with 128 + the signal's number.
"""

import signal


class NNAccelError(ValueError):
    """Bad input: a wrong argument, a missing backend, a corrupt or missing file."""


class DataError(NNAccelError):
    """A data or model file that is missing, truncated, corrupt or of the wrong shape."""


class NotAnArchive(DataError):
    """The file is not a zip archive at all (perhaps a JSON model)."""


class TrainingDiverged(NNAccelError):
    """The cost or the parameters became NaN or infinite; the network is back at its last good epoch."""


class Interrupted(KeyboardInterrupt):
    """Raised by the signal handler inside an interruptible region; ``signum`` says which signal."""

    def __init__(self, signum=signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT/SIGTERM (or Ctrl-C): the last complete epoch, ``epoch``, was saved to ``path`` (None: nowhere).

    ``signum`` is the signal (SIGINT for a plain KeyboardInterrupt); ``waited`` is True when a
    further signal came during that save, which was finished rather than cut short.
    """

    def __init__(self, path, epoch, signum=signal.SIGINT, waited=False):
        super().__init__(path)
        self.path, self.epoch, self.signum, self.waited = path, epoch, signum, waited
