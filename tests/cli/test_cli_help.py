"""`nnaccel --help` and every command's --help explain themselves: a description, help for
every flag, and every flag's default."""

from __future__ import annotations

import argparse

import pytest

from nnaccel import cli
from nnaccel.cli.helptext import DESCRIPTIONS

PARSER = cli.build_parser()
COMMANDS = next(a for a in PARSER._actions if isinstance(a, argparse._SubParsersAction)).choices


def _flags(command):
    return [a for a in COMMANDS[command]._actions
            if a.option_strings and not isinstance(a, argparse._HelpAction) and a.help != argparse.SUPPRESS]


def test_the_top_help_lists_every_command_without_markup(capsys):
    with pytest.raises(SystemExit):
        PARSER.parse_args(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and ":func:" not in text and "train, evaluate, info" not in text
    for name in COMMANDS:
        assert f"    {name}" in text
    assert "exit codes: 0 done; 2 a user error" in text


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_a_description_of_its_own(command):
    description = COMMANDS[command].description
    assert description and len(description) > 60
    assert command in DESCRIPTIONS  # kept in one table, beside the others


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_flag_has_help_and_shows_its_default(command):
    for action in COMMANDS[command]._actions:
        if action.help != argparse.SUPPRESS:
            assert action.help, f"nnaccel {command} {action.option_strings or action.dest} has no help"
    formatter = COMMANDS[command]._get_formatter()
    for action in _flags(command):
        if action.default is False:  # a switch: off unless given
            continue
        shown = formatter._expand_help(action)  # the text --help prints for this flag
        assert "default" in shown, f"nnaccel {command} {action.option_strings[0]}: no default in {shown!r}"


def test_a_list_default_is_shown_as_the_user_would_type_it(capsys):
    with pytest.raises(SystemExit):
        PARSER.parse_args(["bench", "--help"])
    assert "(default: 784 30 10)" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_named_choices_help_gives_the_default_the_command_really_takes(command):
    """tune and sweep train with the cross-entropy cost: their --cost help says so, not the
    shared row's quadratic (a set_defaults after the flag would change the value, not the help)."""
    formatter = COMMANDS[command]._get_formatter()
    for action in _flags(command):
        really = COMMANDS[command].get_default(action.dest)
        if not (isinstance(really, str) and action.metavar and str(action.metavar).startswith("{")):
            continue
        shown = " ".join(formatter._expand_help(action).split())
        assert f"(default: {really})" in shown, f"nnaccel {command} {action.option_strings[0]}: {shown!r}"
    if command in ("tune", "sweep"):
        assert COMMANDS[command].get_default("cost") == "cross-entropy"
