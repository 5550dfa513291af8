"""The ``scapy-ike`` command: one subcommand per task, each a
``main(argv=None) -> int``.  Bad input is one line on standard error,
never a traceback: exit status 2 for bad usage, 1 for a failure at run
time (:class:`~scapy_ike.cli.common.CommandError`), 130 when interrupted."""

import importlib
import sys

from scapy_ike import __version__
from scapy_ike.cli.common import CommandError

COMMANDS = {
    "decode": ("scapy_ike.cli.decode", "dissect a capture, decrypting IKE and ESP"),
    "derive": ("scapy_ike.cli.derive", "the IKEv1 key schedule by hand (SKEYID ... Ka, IV)"),
    "connect": ("scapy_ike.cli.connect", "the initiator: Phase 1, Quick Mode, pings"),
    "serve": ("scapy_ike.cli.serve", "the responder"),
    "demo": ("scapy_ike.cli.demo", "our initiator against our responder on loopback"),
    "probe": ("scapy_ike.cli.probe", "discover, enumerate and fingerprint IKE gateways"),
    "crack": ("scapy_ike.cli.crack", "search for the pre-shared key of Aggressive Mode hashes"),
    "states": ("scapy_ike.cli.states", "the transition table of every exchange, as text or DOT"),
}

USAGE = "usage: scapy-ike [--version] COMMAND [ARGS...]\n\ncommands:\n" + "".join(
    "  %-8s %s\n" % (name, text) for name, (_, text) in COMMANDS.items())


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if argv else 2
    if argv[0] == "--version":
        print("scapy-ike", __version__)
        return 0
    if argv[0] not in COMMANDS:
        print("scapy-ike: unknown command %r\n\n%s" % (argv[0], USAGE),
              end="", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    try:
        return module.main(argv[1:])
    except SystemExit as exc:       # argparse's usage errors and --help
        return exc.code if isinstance(exc.code, int) else 2
    except CommandError as exc:
        print("scapy-ike %s: %s" % (argv[0], exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:       # after the command's own clean-up (its Deletes)
        print("scapy-ike %s: interrupted" % argv[0], file=sys.stderr)
        return 130
    except BrokenPipeError:        # output piped into head(1) and the like
        sys.stdout = None
        return 0
