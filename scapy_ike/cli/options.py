"""Options shared by the live subcommands (connect, serve, demo): the
proposals, identities and selectors of one Configuration."""

import logging
import sys
from contextlib import contextmanager

from scapy_ike.automaton import tunnel
from scapy_ike.cli.common import CommandError, network, positive, seconds, secret
from scapy_ike.core.config import Configuration
from scapy_ike.core.proposals import ProposalError


def add_config_arguments(parser):
    parser.add_argument("--psk", type=secret, required=True,
                        help="the pre-shared key (0x... for hex)")
    parser.add_argument("--mode", choices=("main", "aggressive"),
                        help="the initiator's mode (default main); a responder's only mode "
                             "(default: both)")
    parser.add_argument("--ike", metavar="PROPOSALS",
                        help="Phase 1 proposals, strongSwan syntax (default: an initiator "
                             "offers aes256-sha256-modp2048, a responder accepts current "
                             "suites, no DES, 3DES, MD5 or modp1024)")
    parser.add_argument("--esp", metavar="PROPOSALS",
                        help="Quick Mode proposals: strongSwan syntax (aes128gcm16-ecp256 for "
                             "PFS) or a Cisco transform set ('esp-aes 192 esp-md5-hmac'); "
                             "defaults as for --ike")
    parser.add_argument("--local-id", help="our identity: an address, a.b (FQDN) or u@a.b")
    parser.add_argument("--remote-id", help="the identity the peer must show")
    parser.add_argument("--local-ts", type=network, default="0.0.0.0/0", metavar="CIDR")
    parser.add_argument("--remote-ts", type=network, default="0.0.0.0/0", metavar="CIDR")
    parser.add_argument("--force-encap", action="store_true",
                        help="pretend a NAT, so that ESP goes in UDP (RFC 3947)")
    parser.add_argument("--nat-t", choices=("any", "rfc3947", "drafts", "off"), default="any",
                        help="NAT-T versions to speak: RFC 3947 and the drafts 02/03 (any, "
                             "the default), one of them, or none")
    parser.add_argument("--dpd", type=seconds, default=0.0, metavar="SECONDS",
                        help="Dead Peer Detection: R-U-THERE after this long without word "
                             "from the peer, the peer dead after 5 such delays unanswered "
                             "(default 0: off; R-U-THERE is always answered)")
    parser.add_argument("--ike-lifetime", type=positive, default=28800, metavar="SECONDS",
                        help="the IKE SA's lifetime; an initiator renews it before it ends "
                             "(default %(default)s)")
    parser.add_argument("--esp-lifetime", type=positive, default=3600, metavar="SECONDS",
                        help="the ESP SAs' lifetime; they are rekeyed before it ends "
                             "(default %(default)s)")
    parser.add_argument("--esp-lifesize", type=positive, metavar="KILOBYTES",
                        help="the ESP SAs' lifetime in kilobytes (default: none)")


_NAT_T = {"any": True, "rfc3947": "rfc3947", "drafts": "drafts", "off": False}


def configuration(args, role, parser):
    """The Configuration the arguments describe, or a usage error."""
    try:
        return Configuration(role=role, mode=args.mode, psk=args.psk, ike=args.ike, esp=args.esp,
                             local_id=args.local_id, remote_id=args.remote_id,
                             local_ts=str(args.local_ts), remote_ts=str(args.remote_ts),
                             force_encap=args.force_encap, nat_t=_NAT_T[args.nat_t],
                             dpd_delay=args.dpd, ike_lifetime=args.ike_lifetime,
                             esp_lifetime=args.esp_lifetime, esp_lifesize=args.esp_lifesize)
    except (ProposalError, ValueError) as exc:
        parser.error(str(exc))


def bind_udp(address, *ports):
    """UDP sockets bound to *address* on each port, ``{port: socket}``, for
    an automaton to use, or a :class:`CommandError` that says why not."""
    try:
        return tunnel.bind_udp(address, *ports)
    except OSError as exc:
        raise CommandError(exc.strerror) from None


@contextmanager
def log_to_stdout():
    """The engine's log on standard output, IOS style, inside the block;
    the logger is left as it was after it."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("scapy_ike")
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
