"""``scapy-ike decode CAPTURE``: stream a capture and print one line per
packet, like tshark's summary, with every IKEv1 payload named and
malformed layers flagged."""

import argparse
import sys

from scapy.error import Scapy_Exception
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import ESP, NAT_KEEPALIVE
from scapy.utils import PcapReader

from scapy_ike.layers.isakmp import (
    EXCHANGE_NAMES, ISAKMP, ISAKMP_Encrypted, ISAKMP_Truncated,
    PAYLOAD_NAMES, iter_payloads, malformed,
)


def describe(pkt):
    """``(protocol, info)`` for one packet."""
    head = pkt.getlayer(ISAKMP) or pkt.getlayer(ISAKMP_Truncated)
    if isinstance(head, ISAKMP_Truncated):
        return "ISAKMP", "[malformed: %s]" % head.malformed
    if head is not None:
        kinds = [PAYLOAD_NAMES.get(t, str(t)) for t, _ in iter_payloads(head)]
        if head.haslayer(ISAKMP_Encrypted):
            kinds.append("<encrypted %d bytes>" % len(head[ISAKMP_Encrypted].load))
        info = "%s %s>%s id=%08x [%s]" % (
            EXCHANGE_NAMES.get(head.exch_type, head.exch_type),
            head.init_cookie.hex(), head.resp_cookie.hex(), head.id,
            " ".join(kinds))
        problems = malformed(head)
        if problems:
            info += " [malformed: %s]" % "; ".join(
                "%s: %s" % p for p in problems)
        return "ISAKMP", info
    if pkt.haslayer(NAT_KEEPALIVE):
        return "UDPENCAP", "NAT-keepalive"
    if pkt.haslayer(ESP):
        esp = pkt[ESP]
        return "ESP", "ESP (SPI=0x%08x, seq=%d)" % (esp.spi, esp.seq)
    return pkt.lastlayer().name, pkt.summary()


def _addresses(pkt):
    ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
    if ip is None:
        return "?", "?"
    src, dst = ip.src, ip.dst
    if pkt.haslayer(UDP):
        src, dst = "%s:%d" % (src, pkt[UDP].sport), "%s:%d" % (dst, pkt[UDP].dport)
    return src, dst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="scapy-ike decode",
        description="Dissect a pcap or pcapng capture (gzip too), one line per packet.")
    parser.add_argument("capture", help="the capture file")
    args = parser.parse_args(argv)
    try:
        reader = PcapReader(args.capture)
    except (OSError, Scapy_Exception) as exc:
        print("scapy-ike decode: cannot read %s: %s" % (args.capture, exc), file=sys.stderr)
        return 2
    with reader:
        for number, pkt in enumerate(reader, 1):
            proto, info = describe(pkt)
            src, dst = _addresses(pkt)
            print("%4d %.6f %s → %s %s %s" % (number, float(pkt.time), src, dst, proto, info))
    return 0
