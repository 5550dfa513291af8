"""What the subcommands share: their argument parser, whose usage errors
are one line on standard error and exit status 2; :class:`CommandError`
for failures at run time (exit status 1); and the argument types, which
check every value before anything runs."""

import argparse
import ipaddress
import socket


def has_default(action):
    """Whether an option has a default worth showing: a value, not a
    flag's False nor an empty list or text."""
    default = action.default
    if not action.option_strings or default is None or default is argparse.SUPPRESS:
        return False
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction,
                           argparse._HelpAction, argparse._VersionAction)):
        return False
    return not (isinstance(default, (list, tuple, str)) and not default)


class DefaultsShown(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it says it."""

    def _get_help_string(self, action):
        text = action.help
        if has_default(action) and "default" not in text:
            text += " (default: %(default)s)"
        return text


class ArgumentParser(argparse.ArgumentParser):
    """``argparse``'s parser, a usage error being one line: ``prog:
    message`` (``--help`` still prints the whole usage), each option's
    default shown in ``--help``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", DefaultsShown)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, "%s: %s\n" % (self.prog, message))


class CommandError(Exception):
    """A failure at run time (a port in use, no route, a negotiation that
    failed): the ``scapy-ike`` command prints it as one line and exits
    with status 1."""


def secret(text):
    """A secret given on the command line: hex after ``0x``, else the text;
    never empty."""
    value = hex_bytes(text[2:]) if text[:2].lower() == "0x" else text.encode()
    if not value:
        raise argparse.ArgumentTypeError("empty; give the secret as text, or hex after 0x")
    return value


def hex_bytes(text):
    """Bytes from hex (a ``0x`` prefix, spaces and colons allowed)."""
    cleaned = text.removeprefix("0x").replace(":", "").replace(" ", "")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError("not hex: %r" % text) from None


def port(text):
    """A UDP port, 1 to 65535."""
    try:
        number = int(text)
    except ValueError:
        number = None
    if number is None or not 0 < number < 1 << 16:
        raise argparse.ArgumentTypeError("%s is not a port (1-65535)"
                                         % (text if number is not None else repr(text)))
    return number


def seconds(text):
    """A duration in seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("%r is not a number of seconds" % text)
    return value


def positive(text):
    """A whole number, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("%r is not a whole number of 1 or more" % text)
    return value


def network(text):
    """A traffic selector as an address prefix (``10.1.0.0/16``,
    ``2001:db8::/32``; a bare address is a host), without host bits set:
    the networks of Quick Mode's ID payloads (RFC 2409 5.5)."""
    try:
        return ipaddress.ip_network(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def ipv4_address(text):
    """An IPv4 address of this machine's, as text (the sockets are IPv4)."""
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not an IPv4 address" % text) from None


def ipv4_host(text):
    """A peer's IPv4 address, a name resolved to its first address: the
    engine knows its peer by the address its datagrams come from."""
    try:
        return socket.getaddrinfo(text, None, socket.AF_INET, socket.SOCK_DGRAM)[0][4][0]
    except (socket.gaierror, UnicodeError) as exc:
        raise argparse.ArgumentTypeError(
            "cannot resolve %r: %s" % (text, getattr(exc, "strerror", None) or exc)) from None
