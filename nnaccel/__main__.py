"""``python -m nnaccel`` and the ``nnaccel`` command: signals are answered from the first moment."""

import os
import signal
import sys


def _before_start(signum, frame):
    """SIGINT/SIGTERM while Python is still loading nnaccel: one line, nothing was done."""
    os.write(2, f"nnaccel: {signal.Signals(signum).name} before the command started; nothing was done\n".encode())
    os._exit(128 + signum)


def _writable_anywhere():
    """η, σ and a file name in any script can be written to a terminal or pipe that cannot show
    them (PYTHONIOENCODING=ascii, a Latin-1 console): as escapes, not an UnicodeEncodeError that
    ends a finished run as an internal error."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)  # absent on a replaced stream
        if reconfigure is not None and stream.errors == "strict":  # surrogateescape stays: it gives back a name's bytes
            reconfigure(errors="backslashreplace")


def main():
    # the first thing the command does; the command's GUARD (nnaccel.training.signals) takes over
    # from this handler with no moment between, and ignores both signals once the command has ended
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, _before_start)
    _writable_anywhere()
    from .cli import main as cli_main  # NumPy and the array libraries load here

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
