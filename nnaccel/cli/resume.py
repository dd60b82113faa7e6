"""What ``nnaccel train --resume`` takes from a checkpoint: the run's settings, each checked
(a training parameter or data option against its row of nnaccel.core.parameters, any other
against its flag's own type and choices), and refused where the user typed another value."""

from __future__ import annotations

import argparse

from ..core.parameters import ROWS, check
from ..errors import NNAccelError
from ..io.checkpoints import load_checkpoint
from ..tools.flags import _Parser, add_train_flags


TRAIN_SETTINGS = (
    "sizes", "cost", "hidden_activation", "output_activation", "init", "epochs", "mini_batch_size",
    "eta", "lmbda", "l1", "momentum", "nesterov", "early_stopping", "stopping_rule", "schedule",
    "patience", "step_size", "gamma", "expand", "max_angle", "validation_size", "seed", "dataset",
    "data", "dtype", "scale", "optimizer", "damping", "dropout", "dropout_mode", "softmax_temperature",
    "classes", "fused", "backend", "device",
)
# Settings a resumed run may change when typed: the total of epochs, and where it computes (a run
# moved to another machine). Not typed, they too are the checkpoint's, so a resume computes the
# same numbers as the run it continues: the same backend and device, and the same path (--no-fused).
MOVABLE = ("epochs", "backend", "device")


def typed_flags(argv):
    """The dests of the ``nnaccel train`` flags present in ``argv`` (the words after "train").

    Parsed again with every default replaced by SUPPRESS, so only what the user typed appears.
    """
    probe = _Parser(prog="nnaccel train", add_help=False)
    add_train_flags(probe)
    for action in probe._actions:  # argparse lists its actions nowhere public; set_defaults would convert
        action.default = argparse.SUPPRESS
    typed, _ = probe.parse_known_args(argv)
    return set(vars(typed))


def _saved_value_ok(action, value):
    """Whether a setting read back from a checkpoint is a value its flag could have given."""
    if value is None:
        return action.default is None
    if action.nargs == 0:  # store_true / store_false
        return isinstance(value, bool)
    many = action.nargs in ("+", "*")
    if many and not (isinstance(value, list) and value):
        return False
    for item in value if many else [value]:
        if isinstance(item, (bool, list, dict)):
            return False
        try:
            if action.type is not None and action.type(str(item)) != item:
                return False
        except (argparse.ArgumentTypeError, TypeError, ValueError):
            return False
        if action.choices is not None and item not in action.choices:
            return False
    return True


def check_saved_settings(saved, path):
    """Refuse a checkpoint whose saved settings are not values of ``nnaccel train``'s own flags
    (a hand-edited or damaged file), in one line, before any of them is used."""
    probe = _Parser(prog="nnaccel train", add_help=False)
    add_train_flags(probe)
    actions = {a.dest: a for a in probe._actions}
    for key in TRAIN_SETTINGS:
        if key not in saved:
            continue
        if key in ROWS:
            try:
                check(key, saved[key])
            except NNAccelError as e:
                raise NNAccelError(f"{path}: the checkpoint's saved setting {_flag(key)} = {str(saved[key])[:40]!r} "
                                   f"is refused ({e}); the file is corrupt: start a new run without --resume") from None
        elif not _saved_value_ok(actions[key], saved[key]):
            raise NNAccelError(f"{path}: the checkpoint's saved setting {_flag(key)} = {str(saved[key])[:40]!r} is "
                               "not a value that flag takes; the file is corrupt: start a new run without --resume")


def _flag(key):
    return "--" + key.replace("_", "-")


def _shown(value):
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def resume_settings(args, typed):
    """Take the run's settings from the --resume checkpoint; refuse typed flags that differ from them.

    ``--epochs N`` is the exception: the total the resumed run trains to, so a finished run
    can be extended; so are ``--backend`` and ``--device``, to move a run to another machine.
    """
    meta, arrays = load_checkpoint(args.resume)
    saved, done = meta["config"], meta["state"]["epoch"]
    check_saved_settings(saved, args.resume)
    for key in TRAIN_SETTINGS:
        if key == "epochs" or key not in saved or (key in MOVABLE and key in typed):
            continue
        if key in typed and getattr(args, key) != saved[key]:
            raise NNAccelError(
                f"{_flag(key)} {_shown(getattr(args, key))} differs from the checkpoint's {_shown(saved[key])}; "
                f"a resumed run keeps its checkpoint's settings (only --epochs may change): "
                f"drop {_flag(key)}, or start a new run without --resume")
        setattr(args, key, saved[key])
    if "epochs" not in typed:
        args.epochs = saved.get("epochs", args.epochs)
    elif args.epochs < done:
        raise NNAccelError(f"--epochs {args.epochs} is fewer than the {done} epochs the checkpoint has already "
                           f"trained; give --epochs {done + 1} or more to train further")
    elif meta["state"]["stopped"] and args.epochs > done:
        raise NNAccelError(f"the checkpoint's run stopped by itself ({meta['state']['stopped']}), so --epochs "
                           "cannot extend it; start a new run")
    return meta, arrays
