"""Every ``--help`` shows the defaults: each option of each subcommand that
has a default value (not a flag, not an empty list) says it in its help."""

import argparse
import importlib

import pytest

from scapy_ike.cli import COMMANDS
from scapy_ike.cli.common import ArgumentParser


class _Parsed(Exception):
    """Raised in place of parsing, carrying the parser the subcommand built."""


def parser_of(command, monkeypatch):
    def catch(parser, *args, **kwargs):
        raise _Parsed(parser)
    monkeypatch.setattr(ArgumentParser, "parse_args", catch)
    module = importlib.import_module(COMMANDS[command][0])
    with pytest.raises(_Parsed) as parsed:
        module.main(["--help"])
    return parsed.value.args[0]


def options_with_defaults(parser):
    for action in parser._actions:
        default = action.default
        if not action.option_strings or default in (None, argparse.SUPPRESS):
            continue
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            continue
        if isinstance(default, (list, tuple, str)) and not default:
            continue
        yield action


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_default_is_shown(command, monkeypatch):
    parser = parser_of(command, monkeypatch)
    formatter = parser._get_formatter()
    silent = {action.option_strings[-1]: action.default
              for action in options_with_defaults(parser)
              if not action.help or "default" not in formatter._expand_help(action)}
    assert silent == {}


def test_the_parsers_are_found(monkeypatch):
    """The check above reads real parsers: decode's has its --time default."""
    parser = parser_of("decode", monkeypatch)
    assert {a.option_strings[-1]: a.default for a in options_with_defaults(parser)}["--time"] \
        == "relative"
