"""``scapy-ike serve``: the responder.  It negotiates with whoever asks,
and answers ICMP echo sent through its tunnels to its own inner address,
so that a peer can test the tunnel.  Exit status 0 when stopped (by
Ctrl-C or ``--timeout``), 1 when its ports cannot be bound, 2 for bad
usage."""

import gc
import time
from dataclasses import replace

from scapy_ike.automaton import IKEv1Automaton
from scapy_ike.cli.common import ArgumentParser, ipv4_address, port
from scapy_ike.cli.options import (
    add_config_arguments, add_log_argument, add_server_arguments, bind_udp, configuration,
    log_to_stdout,
)


def main(argv=None) -> int:
    parser = ArgumentParser(prog="scapy-ike serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=ipv4_address, default="0.0.0.0", metavar="ADDR",
                        help="the address to listen on (0.0.0.0: every address, each peer's "
                             "identity being the address it reached)")
    parser.add_argument("--port", type=port, default=500, help="the IKE port")
    parser.add_argument("--natt-port", type=port, default=4500, help="the NAT-T port")
    parser.add_argument("--half-open-per-source", type=int, default=5, metavar="N",
                        help="half-open SAs allowed from one address (default %(default)s, as "
                             "charon's block_threshold)")
    add_config_arguments(parser)
    add_server_arguments(parser)
    add_log_argument(parser, "quiet")
    parser.add_argument("--keylog", metavar="FILE")
    parser.add_argument("--pcap", metavar="FILE")
    parser.add_argument("--timeout", type=float, default=None,
                        help="stop after this many seconds (default: run until interrupted)")
    args = parser.parse_args(argv)
    config = configuration(args, "responder", parser)
    if args.port == args.natt_port:
        parser.error("--port and --natt-port must differ")
    if args.half_open_per_source < 1:
        parser.error("--half-open-per-source must be at least 1")
    config = replace(config, half_open_per_source=args.half_open_per_source)
    with log_to_stdout():
        automaton = IKEv1Automaton(config, local_address=args.listen, ike_port=args.port,
                                   natt_port=args.natt_port, keylog=args.keylog, pcap=args.pcap,
                                   log=args.log,
                                   sockets=bind_udp(args.listen, args.port, args.natt_port))
        gc.freeze()         # what start-up made lives as long as we do: no collection scans it
        automaton.runbg()
        print("listening on %s:%d (NAT-T %d)" % (args.listen, args.port, args.natt_port),
              flush=True)
        seen = set()
        try:
            deadline = None if args.timeout is None else time.monotonic() + args.timeout
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
                _new_peers(automaton, seen)
        except KeyboardInterrupt:
            pass
        finally:
            automaton.stop()
            # what was up, with its traffic, before close() deletes it
            print(automaton.show_isakmp_sa())
            print(automaton.show_ipsec_sa(), flush=True)
            automaton.close()
        return 0


def _new_peers(automaton, seen):
    """One line for each IKE SA that came up since the last look (*seen*:
    the conn-ids already told, those gone forgotten)."""
    connections = list(automaton.endpoint.connections.values())
    for conn in connections:
        if conn.conn_id not in seen and conn.established_at is not None:
            seen.add(conn.conn_id)
            print("peer %s port %d: IKE SA %d up (cookies %s)"
                  % (conn.peer[0], conn.peer[1], conn.conn_id, conn.cookies.hex()), flush=True)
    seen.intersection_update(conn.conn_id for conn in connections)
