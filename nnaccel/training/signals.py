"""SIGINT and SIGTERM: stop promptly, but never between a state's counters and its arrays.

While :data:`GUARD` is entered (the CLI's whole command, or one call of trainer.train), the
handlers of both signals only record them — except inside ``GUARD.interruptible()`` (the body
of an epoch, loading data), where the first signal also raises :class:`Interrupted` at once,
so a long epoch stops without finishing. Everywhere else (monitoring, committing the epoch,
writing a checkpoint, the final save) the code runs to the end of the step and the training
loop looks at ``GUARD.received`` at the next epoch boundary. A second signal during a file
write therefore waits for its rename. Handlers can be installed only in the main thread;
elsewhere the guard does nothing and a plain KeyboardInterrupt is all there is.

A signal can land inside a finalizer (a ``__del__`` that the garbage collector runs in the
middle of an epoch), where Python cannot raise and prints "Exception ignored in ..." with a
traceback; or it can cut an object's ``__init__`` short, whose ``__del__`` then fails on the
missing attributes (a progress bar). While the guard is entered and a signal has come, such
finalizer errors are its doing and are not printed: the signal is recorded, and the run stops
at the next epoch boundary as for any other.

The nnaccel command enters the guard with :meth:`Guard.command`, which takes over from the
entry point's handler with no moment between, and leaves both signals ignored (``SIG_IGN``, in
C) once the command has ended: from there to the process's exit its outputs are written and no
Python code runs that a signal could interrupt, however long the interpreter's teardown.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

from ..errors import Interrupted  # noqa: F401  (raised here; importers take it from here too)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def name(signum) -> str:
    return signal.Signals(signum).name


def exit_code(signum) -> int:
    """The shell's convention: 128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + int(signum)


class Guard:
    """Records SIGINT/SIGTERM while entered (re-entrant); raises only where interruptible."""

    def __init__(self):
        self.received = []  # signal numbers, in order
        self._depth = 0
        self._interruptible = False
        self._previous = {}
        self._previous_hook = None
        self._then = None  # the handlers the outermost exit installs (None: those it found)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            if self._depth == 0:
                self.received, self._interruptible = [], False
                self._previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
                for s in SIGNALS:
                    self._previous[s] = signal.signal(s, self._handle)
            self._depth += 1
        return self

    def __exit__(self, *exc):
        if threading.current_thread() is threading.main_thread():
            self._depth -= 1
            if self._depth == 0:
                for s, handler in self._previous.items():
                    if self._then is not None:
                        handler = self._then
                    elif handler is None:  # installed from C: Python can only put back the usual one
                        handler = signal.default_int_handler if s == signal.SIGINT else signal.SIG_DFL
                    signal.signal(s, handler)
                self._previous = {}
                sys.unraisablehook, self._previous_hook = self._previous_hook, None
        return False

    @contextmanager
    def command(self):
        """The guard for a whole command of the ``nnaccel`` program; when it ends, SIGINT and SIGTERM
        are ignored until the process exits (the command is over, its outputs written)."""
        self._then = signal.SIG_IGN
        try:
            with self:
                yield self
        finally:
            self._then = None

    def _unraisable(self, unraisable):
        """sys.unraisablehook while entered: once a signal has come, an error in a finalizer is the
        signal's doing (see the module's doc) and is not printed; before, it is, as usual."""
        if not self.received:
            (self._previous_hook or sys.__unraisablehook__)(unraisable)

    def _handle(self, signum, frame):
        self.received.append(signum)
        if self._interruptible:
            self._interruptible = False  # one raise; later signals are only recorded
            raise Interrupted(signum)

    def pending(self):
        """The signals received so far while entered, in this (the main) thread; [] elsewhere."""
        if self._depth and threading.current_thread() is threading.main_thread():
            return self.received
        return []

    @contextmanager
    def interruptible(self):
        """A region a signal may cut short: raises at once if one is already pending."""
        previous, self._interruptible = self._interruptible, True
        try:
            if self.pending():
                self._interruptible = False
                raise Interrupted(self.received[0])
            yield
        finally:
            self._interruptible = previous

    @contextmanager
    def deferred(self):
        """A region no signal cuts short: they are recorded for the next epoch boundary."""
        previous, self._interruptible = self._interruptible, False
        try:
            yield
        finally:
            self._interruptible = previous


GUARD = Guard()
