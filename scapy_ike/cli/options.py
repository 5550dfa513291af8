"""Options shared by the live subcommands (connect, serve, demo): the
proposals, identities and selectors of one Configuration."""

import argparse
import ipaddress
import logging
import sys
from contextlib import contextmanager

from scapy_ike.automaton import tunnel
from scapy_ike.cli.common import CommandError, network, positive, seconds, secret
from scapy_ike.constants import ConfigAttribute as A
from scapy_ike.core.config import Configuration
from scapy_ike.core.proposals import ProposalError
from scapy_ike.log import STYLES


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
    parser.add_argument("--local-ts", type=network, default="0.0.0.0/0", metavar="CIDR",
                        help="our Quick Mode selector")
    parser.add_argument("--remote-ts", type=network, default="0.0.0.0/0", metavar="CIDR",
                        help="the peer's Quick Mode selector")
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


def add_log_argument(parser, default):
    """``--log ios|quiet``: IOS's ``debug crypto isakmp`` (every step of
    every exchange) or one line per event."""
    parser.add_argument("--log", choices=STYLES, default=default,
                        help="the log: IOS-style debug of every step, or one line per event "
                             "(default %(default)s)")


def add_client_arguments(parser):
    """XAuth and Mode Config as the client (the initiator)."""
    parser.add_argument("--xauth-user", metavar="USER",
                        help="answer XAuth (draft-beaulieu-ike-xauth-02) as USER; proposes "
                             "XAUTHInitPreShared")
    parser.add_argument("--xauth-password", metavar="TEXT", default="")
    parser.add_argument("--modecfg", choices=("pull", "push"),
                        help="get our inner address by Mode Config: ask for it (pull, "
                             "strongSwan's way) or wait for it (push, Cisco's)")


def add_server_arguments(parser):
    """XAuth and Mode Config as the server (the responder)."""
    parser.add_argument("--xauth", action="append", metavar="USER:PASSWORD", default=[],
                        type=_user_password,
                        help="ask each client for XAuth credentials, these accepted (repeat "
                             "for more users); takes XAUTHInitPreShared")
    parser.add_argument("--xauth-users", metavar="FILE", type=_user_file,
                        help="the XAuth users, a USER:PASSWORD line each (# comments)")
    parser.add_argument("--xauth-tries", type=positive, default=3, metavar="N",
                        help="XAuth requests before a client is refused (default %(default)s)")
    parser.add_argument("--xauth-message", metavar="TEXT", default="",
                        help="XAUTH-MESSAGE: the text a client shows when it asks its user")
    parser.add_argument("--pool", action="append", default=[], type=network, metavar="CIDR",
                        help="lease Mode Config addresses from this prefix (one IPv4 and "
                             "one IPv6 at most)")
    parser.add_argument("--modecfg", choices=("pull", "push"),
                        help="Mode Config style (default pull with --pool): answer the "
                             "client's REQUEST, or SET the address first")
    parser.add_argument("--dns", action="append", default=[], type=_address, metavar="ADDR",
                        help="a DNS server for Mode Config clients (repeat for more)")
    parser.add_argument("--nbns", action="append", default=[], type=_address, metavar="ADDR",
                        help="a WINS server for Mode Config clients")
    parser.add_argument("--split", action="append", default=[], type=network, metavar="CIDR",
                        help="a network the client routes through the tunnel (split "
                             "tunnelling: INTERNAL_IP4_SUBNET and Cisco's SPLIT_INCLUDE)")
    parser.add_argument("--banner", metavar="TEXT", help="Cisco Unity banner for clients")
    parser.add_argument("--default-domain", metavar="NAME", help="Cisco Unity default domain")
    parser.add_argument("--backup-server", action="append", default=[], metavar="HOST",
                        help="Cisco Unity backup gateway for clients (repeat for more)")
    parser.add_argument("--save-password", action="store_true",
                        help="let Cisco clients save the XAuth password (Unity)")
    parser.add_argument("--require-pfs", action="store_true",
                        help="tell Cisco clients to use PFS in Quick Mode (Unity)")


def _user_password(text):
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise argparse.ArgumentTypeError("%r is not USER:PASSWORD" % text)
    return user, password


def _user_file(path):
    """The (user, password) pairs of a file of USER:PASSWORD lines."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError("cannot read %s: %s" % (
            path, getattr(exc, "strerror", None) or exc)) from None
    users = []
    for number, line in enumerate(lines, 1):
        if line.strip() and not line.lstrip().startswith("#"):
            try:
                users.append(_user_password(line.strip()))
            except argparse.ArgumentTypeError:
                raise argparse.ArgumentTypeError(
                    "%s line %d is not USER:PASSWORD" % (path, number)) from None
    if not users:
        raise argparse.ArgumentTypeError("%s names no user" % path)
    return tuple(users)


def _address(text):
    try:
        return ipaddress.ip_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _remote_access(args, role):
    """The Configuration fields of the XAuth and Mode Config options."""
    if role == "initiator":
        fields = dict(modecfg=getattr(args, "modecfg", None))
        if getattr(args, "xauth_user", None):
            fields.update(xauth="client", xauth_user=args.xauth_user,
                          xauth_password=args.xauth_password)
        return fields
    users = tuple(getattr(args, "xauth", ()) or ()) + (getattr(args, "xauth_users", None) or ())
    pool = tuple(str(p) for p in getattr(args, "pool", ()) or ())
    fields = dict(modecfg=getattr(args, "modecfg", None) or ("pull" if pool else None),
                  pool=pool or None)
    if users:
        fields.update(xauth="server", xauth_users=users, xauth_tries=args.xauth_tries,
                      xauth_message=args.xauth_message)
    kinds = {4: (A.INTERNAL_IP4_DNS, A.INTERNAL_IP4_NBNS),
             6: (A.INTERNAL_IP6_DNS, A.INTERNAL_IP6_NBNS)}
    attributes = [(kinds[a.version][0], str(a)) for a in getattr(args, "dns", ())]
    attributes += [(kinds[a.version][1], str(a)) for a in getattr(args, "nbns", ())]
    splits = getattr(args, "split", ())
    attributes += [(A.INTERNAL_IP4_SUBNET if n.version == 4 else A.INTERNAL_IP6_SUBNET, str(n))
                   for n in splits]
    if any(n.version == 4 for n in splits):
        attributes.append((A.UNITY_SPLIT_INCLUDE, tuple(str(n) for n in splits if n.version == 4)))
    for option, attribute in (("banner", A.UNITY_BANNER), ("default_domain", A.UNITY_DEF_DOMAIN)):
        if getattr(args, option, None):
            attributes.append((attribute, getattr(args, option)))
    if getattr(args, "backup_server", None):
        attributes.append((A.UNITY_BACKUP_SERVERS, ",".join(args.backup_server)))
    if getattr(args, "save_password", False):
        attributes.append((A.UNITY_SAVE_PASSWD, 1))
    if getattr(args, "require_pfs", False):
        attributes.append((A.UNITY_PFS, 1))
    fields["modecfg_attributes"] = tuple(attributes)
    return fields


_NAT_T = {"any": True, "rfc3947": "rfc3947", "drafts": "drafts", "off": False}


def configuration(args, role, parser):
    """The Configuration the arguments describe, or a usage error."""
    try:
        return Configuration(role=role, mode=args.mode, psk=args.psk, ike=args.ike, esp=args.esp,
                             local_id=args.local_id, remote_id=args.remote_id,
                             local_ts=str(args.local_ts), remote_ts=str(args.remote_ts),
                             force_encap=args.force_encap, nat_t=_NAT_T[args.nat_t],
                             dpd_delay=args.dpd, ike_lifetime=args.ike_lifetime,
                             esp_lifetime=args.esp_lifetime, esp_lifesize=args.esp_lifesize,
                             **_remote_access(args, role))
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
def log_to_stdout(stream=None):
    """The engine's log on standard output (or *stream*), IOS style, inside
    the block; the logger is left as it was after it."""
    handler = logging.StreamHandler(stream or sys.stdout)
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
