"""The exceptions nnaccel raises, all in one place.

A user's mistake is an :class:`NNAccelError`: its message is a single line that names the
problem and the fix; the CLI prints it after ``nnaccel: error:`` and exits with code 2. A run
that diverged exits with 3; one stopped by a signal with 128 + the signal's number.
"""

import signal

# what would end a line on a terminal or in a log (C0 and C1 controls, DEL, Unicode's line and
# paragraph separators), written as an escape; a tab stays, and so do the surrogates that carry
# a non-UTF-8 file name's bytes
_LINE_BREAKERS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7f, *range(0x80, 0xa0)) if c != 0x09}
_LINE_BREAKERS.update({0x0a: "\\n", 0x0d: "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"})


def one_line(text: str) -> str:
    """``text`` with every character that would break its line written as an escape (a file
    name that holds a newline, say), so that a message stays the one line it was written as."""
    return text.translate(_LINE_BREAKERS)


class NNAccelError(ValueError):
    """Bad input: a wrong argument, a missing backend, a corrupt or missing file.

    The message is kept on one line whatever it quotes: a path with a newline or an escape
    sequence in it is written with escapes (one_line)."""

    def __init__(self, *args):
        super().__init__(*(one_line(a) if isinstance(a, str) else a for a in args))


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
