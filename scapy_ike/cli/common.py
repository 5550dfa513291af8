"""Argument types shared by the subcommands."""

import argparse


def secret(text):
    """A secret given on the command line: hex after ``0x``, else the text."""
    if text[:2].lower() == "0x":
        return hex_bytes(text[2:])
    return text.encode()


def hex_bytes(text):
    """Bytes from hex (a ``0x`` prefix, spaces and colons allowed)."""
    cleaned = text.removeprefix("0x").replace(":", "").replace(" ", "")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError("not hex: %r" % text) from None
