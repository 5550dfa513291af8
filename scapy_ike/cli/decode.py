"""``scapy-ike decode CAPTURE [--keys FILE]... [--json]``: stream a capture,
one line per packet like tshark's summary, every IKEv1 payload named, ESP
decrypted where keys match.

Exit status: 0 when everything that had keys decrypted, 1 when some keyed
packet failed (one message per SA on stderr), 2 for bad usage or an
unreadable file.
"""

import argparse
import json
import sys

from scapy.error import Scapy_Exception
from scapy.utils import PcapReader

from scapy_ike.decode.keylog import KeyFileError, read_esp_keys
from scapy_ike.decode.session import Session


def _keys(paths):
    keys = []
    for path in paths:
        with open(path) as f:
            keys += read_esp_keys(f.read())
    return keys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="scapy-ike decode",
        description="Dissect a pcap or pcapng capture (gzip too), one line per packet, "
                    "decrypting ESP with the keys given.")
    parser.add_argument("capture", help="the capture file")
    parser.add_argument("--keys", action="append", default=[], metavar="FILE",
                        help="ESP keys: Wireshark's esp_sa table or tcpdump -E secrets "
                             "(recognised from the content); may repeat")
    parser.add_argument("--json", action="store_true", help="one JSON object per packet")
    args = parser.parse_args(argv)
    try:
        session = Session(esp_keys=_keys(args.keys))
    except (OSError, KeyFileError) as exc:
        print("scapy-ike decode: %s" % exc, file=sys.stderr)
        return 2
    try:
        reader = PcapReader(args.capture)
    except (OSError, Scapy_Exception) as exc:
        print("scapy-ike decode: cannot read %s: %s" % (args.capture, exc), file=sys.stderr)
        return 2
    with reader:
        for number, pkt in enumerate(reader, 1):
            record = session.decode(number, pkt)
            if args.json:
                print(json.dumps(record.to_json()))
            else:
                print("%4d %.6f %s" % (number, record.time, record.summary()))
    for (src, dst, spi), count in sorted(session.failures.items()):
        print("scapy-ike decode: ESP SPI 0x%08x %s > %s: %d packet(s) failed: %s"
              % (spi, src, dst, count, session.last_error[(src, dst, spi)]), file=sys.stderr)
    return 1 if session.failures else 0
