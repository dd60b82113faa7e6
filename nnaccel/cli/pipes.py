"""Standard output closed by its reader (``nnaccel info | head``, ``nnaccel train | head -3``),
or one that can no longer be written (``> log.txt`` on a disk that fills, an I/O error).

What the reader wanted it has read; the command itself goes on, so a training run still
trains and saves its model and checkpoints. So the first write that finds the pipe closed
points the descriptor at /dev/null and says nothing: no "Broken pipe" error, no exit code of
its own, and no "Exception ignored" at interpreter exit when Python flushes stdout. A full disk
or an I/O error is treated the same way, with one line on stderr, since the lines are lost.
"""

from __future__ import annotations

import errno
import os
import sys

# stdout failures that lose only the lines, never the run: a full disk or quota, a file over
# its size limit (ulimit -f), an I/O error
LOST_OUTPUT = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


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

    def _cannot_write(self, e):
        self._reader_gone()  # first: with 2>&1 the warning below meets the same full disk
        try:
            sys.stderr.write(f"nnaccel: warning: standard output cannot be written ({os.strerror(e.errno)}); "
                             "the run goes on without its printed lines\n")
            sys.stderr.flush()
        except OSError:
            pass  # stderr is lost too: the run goes on, silent, and saves what it was asked to

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._reader_gone()
            return len(text)
        except OSError as e:
            if e.errno not in LOST_OUTPUT:
                raise
            self._cannot_write(e)
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._reader_gone()
            self._stream.flush()
        except OSError as e:
            if e.errno not in LOST_OUTPUT:
                raise
            self._cannot_write(e)
            self._stream.flush()

    def __getattr__(self, name):  # fileno, isatty, encoding, … of the stream itself
        return getattr(self._stream, name)
