"""``scapy-ike demo``: our initiator against our responder on loopback,
on unprivileged ports with UDP encapsulation forced: Main Mode and Quick
Mode in the IOS-style log, the SA summaries, pings through the tunnel, and
a capture with its key log that tshark decrypts.  Exit status 0 when
every echo was answered, 1 when not (or the ports cannot be bound), 2 for
bad usage."""

import argparse
import itertools
import os

from scapy_ike.automaton import IKEv1Automaton
from scapy_ike.cli.common import ArgumentParser, CommandError, port
from scapy_ike.cli.connect import ping, wait_for
from scapy_ike.cli.options import add_log_argument, bind_udp, log_to_stdout
from scapy_ike.core import events as ev
from scapy_ike.core.config import Configuration

RESPONDER, INITIATOR = "127.0.0.1", "127.0.0.2"
INNER_R, INNER_I = "198.51.100.1", "198.51.100.2"


def ike_port(text):
    """A port that leaves one for NAT-T 1000 below it."""
    number = port(text)
    if number <= 1000:
        raise argparse.ArgumentTypeError(
            "%d leaves no NAT-T port (port - 1000): 1001 or more" % number)
    return number


def main(argv=None) -> int:
    parser = ArgumentParser(prog="scapy-ike demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="demo", help="folder for the capture and key log")
    parser.add_argument("--port", type=ike_port, default=15500,
                        help="IKE port (NAT-T: port - 1000)")
    parser.add_argument("--mode", choices=("main", "aggressive"), default="main",
                        help="the initiator's Phase 1 mode")
    parser.add_argument("--ike", default="aes256-sha256-modp2048", metavar="PROPOSALS",
                        help="Phase 1 proposals, strongSwan syntax")
    parser.add_argument("--esp", default="aes256-sha256", metavar="PROPOSALS",
                        help="Quick Mode proposals, strongSwan syntax or a Cisco transform set")
    parser.add_argument("--count", type=int, default=3, help="echoes sent through the tunnel")
    add_log_argument(parser, "ios")
    args = parser.parse_args(argv)
    natt = args.port - 1000
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as exc:
        raise CommandError("cannot make %s: %s" % (args.out, exc.strerror or exc)) from None
    pcap, keylog = os.path.join(args.out, "demo.pcap"), os.path.join(args.out, "demo.keys")
    common = dict(mode=args.mode, psk=b"scapy-ike-demo", ike=args.ike, esp=args.esp)
    responder_sockets = bind_udp(RESPONDER, args.port, natt)
    try:
        initiator_sockets = bind_udp(INITIATOR, args.port, natt)
    except CommandError:
        for sock in responder_sockets.values():
            sock.close()
        raise
    responder = IKEv1Automaton(
        Configuration(role="responder", local_ts=INNER_R + "/32", remote_ts=INNER_I + "/32",
                      **common),
        local_address=RESPONDER, ike_port=args.port, natt_port=natt, sockets=responder_sockets,
        log=args.log)
    initiator = IKEv1Automaton(
        Configuration(role="initiator", local_ts=INNER_I + "/32", remote_ts=INNER_R + "/32",
                      force_encap=True, **common),
        peer=(RESPONDER, args.port), local_address=INITIATOR, ike_port=args.port,
        natt_port=natt, peer_natt_port=natt, keylog=keylog, pcap=pcap, sockets=initiator_sockets,
        log=args.log)
    # two routers in one terminal: the responder's conn-ids from 2001, so that
    # each line says whose it is (the initiator's from 1001, as IOS numbers them)
    responder.endpoint.conn_ids = itertools.count(2001)
    with log_to_stdout():
        responder.runbg()
        initiator.runbg()
        try:
            outcome = wait_for(initiator, 20)
            if not isinstance(outcome, ev.QuickModeEstablished):
                raise CommandError(outcome.reason if outcome else "timeout")
            answered = ping(initiator.tunnel_socket(), INNER_I, INNER_R, args.count)
            print(initiator.show_isakmp_sa())
            print(initiator.show_ipsec_sa())
            print("%d of %d echoes answered through the tunnel" % (answered, args.count))
            print("\ncapture: %s, keys: %s (+ .ikev1_decryption_table, .esp_sa); decrypt with:"
                  % (pcap, keylog))
            print("  mkdir -p %(o)s/wireshark && cp %(k)s.ikev1_decryption_table "
                  "%(o)s/wireshark/ikev1_decryption_table && "
                  "cp %(k)s.esp_sa %(o)s/wireshark/esp_sa\n"
                  "  WIRESHARK_CONFIG_DIR=%(o)s/wireshark tshark -r %(p)s "
                  "-d udp.port==%(i)d,isakmp "
                  "-d udp.port==%(n)d,udpencap -o esp.enable_encryption_decode:TRUE"
                  % {"o": args.out, "k": keylog, "p": pcap, "i": args.port, "n": natt})
            return 0 if answered == args.count else 1
        finally:
            initiator.stop()
            responder.stop()
            initiator.close()
            responder.close()
