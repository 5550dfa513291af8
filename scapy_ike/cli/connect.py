"""``scapy-ike connect PEER``: the initiator.  Phase 1, Quick Mode, then
optionally pings through the tunnel, paced, for as long as asked, while
the SAs are rekeyed and renewed underneath.  Exit status 0 only when both
phases completed and, with ``--ping``, every echo was answered through the
tunnel; 1 when they did not or the peer was found dead (the reason on
standard error), 2 for bad usage, 130 when interrupted (the SAs deleted
first)."""

import json
import socket
import sys
import time

from scapy.layers.inet import ICMP, IP

from scapy_ike.automaton import IKEv1Automaton
from scapy_ike.cli.common import (
    ArgumentParser, CommandError, ipv4_address, ipv4_host, port, positive, seconds,
)
from scapy_ike.cli.options import (
    add_client_arguments, add_config_arguments, add_log_argument, bind_udp, configuration,
    log_to_stdout,
)
from scapy_ike.core import events as ev
from scapy_ike.core.modecfg import as_dict
from scapy_ike.core.proposals import auth_name


def _local_address(peer, port):
    """The address the kernel would send from to reach *peer*."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((peer, port))
        return probe.getsockname()[0]
    except OSError as exc:
        raise CommandError("cannot reach %s: %s" % (peer, exc.strerror or exc)) from None
    finally:
        probe.close()


class PeerGone(Exception):
    """The peer was found dead while the tunnel was in use."""


def ping(tunnel_socket, src, dst, count, timeout=2.0, interval=1.0, alive=lambda: None):
    """*count* ICMP echoes through the tunnel, one every *interval*
    seconds, each answered within *timeout*: how many were answered.
    *alive* is called while waiting and raises to stop (a dead peer)."""
    answered, start = set(), time.monotonic()
    for seq in range(1, count + 1):
        alive()
        tunnel_socket.send(IP(src=src, dst=dst) / ICMP(id=0x5CE, seq=seq) / b"scapy-ike")
        last = seq == count
        until = time.monotonic() + timeout if last else start + seq * interval
        while True:
            left = until - time.monotonic()
            if left <= 0 or (last and len(answered) == count):
                break
            if tunnel_socket.select([tunnel_socket], min(left, 0.2)):
                reply = tunnel_socket.recv()
                if reply is not None and reply.haslayer(ICMP) and reply[ICMP].type == 0 \
                        and reply[ICMP].id == 0x5CE and 0 < reply[ICMP].seq <= count:
                    answered.add(reply[ICMP].seq)
            alive()
        if not last and time.monotonic() - start < seq * interval:
            time.sleep(max(0.0, start + seq * interval - time.monotonic()))
    return len(answered)


def wait_for(automaton, timeout):
    """The first QuickModeEstablished or Failed event, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in list(automaton.events):
            if isinstance(event, (ev.QuickModeEstablished, ev.Failed)):
                return event
        time.sleep(0.05)
    return None


def _watch(automaton):
    """A check that raises PeerGone once the engine found the peer dead."""
    seen = [0]

    def alive():
        events = automaton.events
        for event in events[seen[0]:]:
            if isinstance(event, ev.PeerDead):
                raise PeerGone()
        seen[0] = len(events)
    return alive


def main(argv=None) -> int:
    parser = ArgumentParser(prog="scapy-ike connect", description=__doc__.split("\n\n")[0])
    parser.add_argument("peer", type=ipv4_host, help="the responder's address or name")
    parser.add_argument("--port", type=port, default=500, help="the responder's IKE port")
    parser.add_argument("--natt-port", type=port, default=4500, help="the responder's NAT-T port")
    parser.add_argument("--local", type=ipv4_address, help="our address (default: the route's)")
    parser.add_argument("--local-port", type=port, default=500, help="our IKE port")
    parser.add_argument("--local-natt-port", type=port, default=4500, help="our NAT-T port")
    add_config_arguments(parser)
    add_client_arguments(parser)
    add_log_argument(parser, "ios")
    parser.add_argument("--ping", metavar="ADDR", help="ping this inner address through the tunnel")
    parser.add_argument("--count", type=positive,
                        help="echoes to send (default 3, or one per interval for --duration)")
    parser.add_argument("--interval", type=seconds, default=1.0, metavar="SECONDS",
                        help="between echoes (default %(default)s)")
    parser.add_argument("--duration", type=seconds, metavar="SECONDS",
                        help="keep the tunnel up this long (pinging all along with --ping)")
    parser.add_argument("--keylog", metavar="FILE")
    parser.add_argument("--pcap", metavar="FILE")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="give up when Phase 1 and Quick Mode are not up after this long")
    parser.add_argument("--json", action="store_true",
                        help="print what was negotiated as one JSON object at the end (the "
                             "log goes to standard error)")
    args = parser.parse_args(argv)
    config = configuration(args, "initiator", parser)
    inner = args.local_ts
    if args.ping and inner.prefixlen == 0 and not args.modecfg:
        parser.error("--ping needs our inner address: --local-ts ADDR/32 (or --modecfg)")
    if args.xauth_password and not args.xauth_user:
        parser.error("--xauth-password needs --xauth-user")
    if args.local_port == args.local_natt_port:
        parser.error("--local-port and --local-natt-port must differ")
    outcome = {"error": None}
    try:
        with log_to_stdout(sys.stderr if args.json else None):
            return _run(args, config, outcome)
    except CommandError as exc:
        outcome["error"] = str(exc)
        raise
    finally:
        if args.json:
            print(json.dumps(outcome, indent=2), flush=True)


def _run(args, config, outcome):
    """Connect, ping, report; *outcome* filled as it goes for ``--json``."""
    local = args.local or _local_address(args.peer, args.port)
    automaton = IKEv1Automaton(config, peer=(args.peer, args.port), local_address=local,
                               ike_port=args.local_port, natt_port=args.local_natt_port,
                               peer_natt_port=args.natt_port, keylog=args.keylog,
                               pcap=args.pcap, log=args.log,
                               sockets=bind_udp(local, args.local_port,
                                                                args.local_natt_port))
    automaton.runbg()
    try:
        established = wait_for(automaton, args.timeout)
        outcome.update(negotiated(automaton, args.peer))
        if not isinstance(established, ev.QuickModeEstablished):
            raise CommandError(established.reason if established else "timeout")
        if outcome.get("address") and not args.json:
            print("Mode Config: our address is %s" % outcome["address"], flush=True)
        alive = _watch(automaton)
        if args.ping:
            count = args.count or (max(1, int(args.duration / max(args.interval, 0.001)))
                                   if args.duration else 3)
            sock = automaton.tunnel_socket()
            source = str(sock.tunnel.local_ts.network_address)   # ours, or Mode Config's
            answered = ping(sock, source, args.ping, count, interval=args.interval,
                            alive=alive)
            outcome["ping"] = {"to": args.ping, "from": source, "sent": count,
                               "answered": answered}
            if not args.json:
                print(automaton.show_isakmp_sa())
                print(automaton.show_ipsec_sa())
                print("%d of %d echoes answered through the tunnel" % (answered, count))
            return 0 if answered == count else 1
        deadline = time.monotonic() + (args.duration or 0)
        while time.monotonic() < deadline:
            alive()
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        if not args.json:
            print(automaton.show_isakmp_sa())
            print(automaton.show_ipsec_sa())
        return 0
    except PeerGone:
        raise CommandError("peer dead (DPD)") from None
    finally:
        automaton.stop()
        automaton.close()


def negotiated(automaton, peer):
    """What the events say was negotiated, for ``--json``: Phase 1 and
    Quick Mode (algorithms in strongSwan's syntax, cookies and SPIs in
    hex), XAuth's result, and Mode Config's attributes by name."""
    out = {"peer": peer, "phase1": None, "quick_mode": None, "xauth": None,
           "modecfg": None, "address": None}
    for event in list(automaton.events):
        if isinstance(event, ev.Phase1Established) and out["phase1"] is None:
            conn = automaton.endpoint.connections.get(event.cookies[:8])
            proposal = conn.sa.proposal if conn is not None else None
            out["phase1"] = {
                "mode": conn.config.initiator_mode if conn is not None else None,
                "proposal": proposal.suite() if proposal else None,
                "auth": auth_name(proposal.auth) if proposal else None,
                "cookies": event.cookies.hex(), "nat_t": event.natted}
        elif isinstance(event, ev.QuickModeEstablished) and out["quick_mode"] is None:
            out["quick_mode"] = {
                "proposal": event.proposal.describe(), "spi_in": event.spi_in.hex(),
                "spi_out": event.spi_out.hex(), "local_ts": event.local_ts,
                "remote_ts": event.remote_ts, "udp_encap": event.udp_encap}
        elif isinstance(event, ev.XAuthStatus) and event.final:
            out["xauth"] = {"user": event.user, "ok": event.ok}
        elif isinstance(event, ev.ModeConfigReceived):
            out["modecfg"] = as_dict(event.attributes)
        elif isinstance(event, ev.AddressAssigned):
            out["address"] = event.address
    return out
