"""``nnaccel``: a thin command line over the Python API; ``nnaccel --help`` lists the commands
(its texts are in helptext.py). The parser is assembled in parser.py from one module per command
(train.py, evaluate.py, …); this module runs one command and turns its failure into an exit code.

Exit codes: 0 done; 2 a user error (one line naming the fix, nothing half-written); 3 training
diverged; 130 / 143 stopped by SIGINT / SIGTERM (the last complete epoch saved); 1 a bug.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings

from ..errors import NNAccelError, TrainingDiverged, TrainingInterrupted, one_line
from ..tools.flags import EXIT_USAGE
from ..training.signals import GUARD, exit_code
from ..training.signals import name as signal_name
from .parser import build_parser
from .pipes import ClosedPipeSafe
from .resume import typed_flags

EXIT_BUG = 1
# what the loader says when a compiled library (NumPy's, a backend's) cannot be mapped for want of
# memory (ulimit -v): out of memory, as a MemoryError is, not a bug
OUT_OF_MEMORY_ON_IMPORT = ("failed to map segment", "Cannot allocate memory")
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130  # SIGINT; SIGTERM gives 143 (128 + the signal's number)


def main(argv=None):
    """Run one command; every failure is one line on stderr and an exit code (see the module's doc)."""
    program = argv is None  # the whole process, not a call from Python
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "train":  # which flags were typed, not defaulted: --resume refuses conflicts
        args.typed = typed_flags(argv[argv.index("train") + 1:])
    if program and sys.stdout is not None:  # the process's own stdout: a reader may close it early
        sys.stdout = ClosedPipeSafe(sys.stdout)
    return _main(args, program)


def _main(args, program=False):
    # the whole process: GUARD takes over from the entry point's handler with no moment between,
    # and when the command ends the signals are ignored until the process has exited
    with GUARD.command() if program else GUARD, warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        # NumPy's overflow and invalid-value warnings come before a divergence, which is reported itself
        warnings.filterwarnings("ignore", message=".* encountered in ", category=RuntimeWarning)
        code = _run(args)
        if code in (0, EXIT_USAGE) and GUARD.pending():  # a signal after training: outputs were written first
            signum = GUARD.pending()[0]
            print(f"nnaccel: {signal_name(signum)} received after training ended; "
                  "its outputs were finished first", file=sys.stderr)
            return exit_code(signum)
        return code


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(one_line(f"nnaccel: warning: {message}"), file=sys.stderr)


def _run(args):
    try:
        with GUARD.interruptible():  # until a command defers signals itself, one stops it at once
            return args.run(args)
    except TrainingDiverged as e:
        print(f"nnaccel: error: {e}", file=sys.stderr)
        return EXIT_DIVERGED
    except NNAccelError as e:
        print(f"nnaccel: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingInterrupted as e:
        last = (f"the last complete epoch, Epoch {e.epoch - 1} ({e.epoch} trained)" if e.epoch
                else "no epoch was complete")  # epochs print from Epoch 0: e.epoch counts them
        if e.path:
            where = (f"{last}, is saved in {e.path}; " if e.epoch else f"{last}; the run so far is saved in {e.path}; ")
            where += f"continue with: nnaccel train --resume {e.path}"
        else:
            where = f"nothing was saved ({last})"
        if e.waited and e.path:
            where += " (a further signal came during the save, which was finished first)"
        print(one_line(f"nnaccel: interrupted by {signal_name(e.signum)}; {where}"), file=sys.stderr)
        return exit_code(e.signum)
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"nnaccel: interrupted by {signal_name(signum)}; nothing was saved", file=sys.stderr)
        return exit_code(signum)
    except OSError as e:  # a file or device the user named: unreadable, a folder, gone
        what = f"{e.filename}: " if e.filename else ""
        print(one_line(f"nnaccel: error: {what}{e.strerror or e}; check the path and its permissions"), file=sys.stderr)
        return EXIT_USAGE
    except (MemoryError, ImportError) as e:
        if isinstance(e, ImportError) and not any(s in str(e) for s in OUT_OF_MEMORY_ON_IMPORT):
            if os.environ.get("NNACCEL_DEBUG"):
                raise
            return _bug(e)
        print("nnaccel: error: out of memory; use smaller --sizes, a smaller --mini-batch-size or less data",
              file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # a bug: one line, and the traceback on request
        if os.environ.get("NNACCEL_DEBUG"):
            raise
        return _bug(e)


def _bug(e):
    print(one_line(f"nnaccel: internal error: {type(e).__name__}: {e}; please report it "
                   "(NNACCEL_DEBUG=1 shows the traceback)"), file=sys.stderr)
    return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
