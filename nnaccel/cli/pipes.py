"""Standard output closed by its reader (``nnaccel info | head``, ``nnaccel train | head -3``).

What the reader wanted it has read; the command itself goes on, so a training run still
trains and saves its model and checkpoints. So the first write that finds the pipe closed
points the descriptor at /dev/null and says nothing: no "Broken pipe" error, no exit code of
its own, and no "Exception ignored" at interpreter exit when Python flushes stdout.
"""

from __future__ import annotations

import os


class ClosedPipeSafe:
    """A text stream that turns its file descriptor into /dev/null when the reader has gone."""

    def __init__(self, stream):
        self._stream = stream
        self.closed_by_reader = False

    def _reader_gone(self):
        self.closed_by_reader = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())  # the buffered text, flushed again, lands there
        os.close(devnull)

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._reader_gone()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._reader_gone()
            self._stream.flush()

    def __getattr__(self, name):  # fileno, isatty, encoding, … of the stream itself
        return getattr(self._stream, name)
