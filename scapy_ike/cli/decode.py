"""``scapy-ike decode CAPTURE [--keys FILE]... [--psk TEXT] [--gxy HEX]...
[--keylog-out FILE] [--json]``: stream a capture, one line per packet like
tshark's summary, every IKEv1 payload named, IKE and ESP decrypted where
keys are known or can be derived (from the PSK and g^xy: the whole session,
ESP included, through Quick Mode's KEYMAT).

Exit status: 0 when everything that had keys decrypted, 1 when some keyed
packet failed (one message per SA on stderr), 2 for bad usage or a file
that cannot be read (or, for ``--keylog-out``, written).
"""

import json
import sys

from scapy.error import Scapy_Exception
from scapy.utils import PcapReader

from scapy_ike.cli.common import ArgumentParser, hex_bytes, port, secret
from scapy_ike.decode.ike import IkeTracker
from scapy_ike.decode.keylog import (
    KeyFileError, Keys, esp_sa_row, ikev1_decryption_table_row, key_log_line, read_keys,
    write_key_files,
)
from scapy_ike.decode.session import Session
from scapy_ike.layers.isakmp import bind_ports


def _keys(paths):
    keys = Keys([], [])
    for path in paths:
        with open(path) as f:
            keys += read_keys(f.read())
    return keys


def write_key_logs(path, session):
    """The key log at *path*, with Wireshark's ``ikev1_decryption_table``
    and ``esp_sa`` beside it (*path*.ikev1_decryption_table, *path*.esp_sa),
    readable by their owner only."""
    sas = [t.sa for t in session.ike.sas.values() if t.sa.ka is not None]
    write_key_files(path, map(key_log_line, sas), map(ikev1_decryption_table_row, sas),
                    [esp_sa_row(sa, src, dst) for (src, dst, _), sa in session.esp_sas()
                     if sa.cipher.wireshark and sa.integrity.wireshark])


def main(argv=None) -> int:
    parser = ArgumentParser(
        prog="scapy-ike decode",
        description="Dissect a pcap or pcapng capture (gzip too), one line per packet, "
                    "decrypting ESP with the keys given.")
    parser.add_argument("capture", help="the capture file")
    parser.add_argument("--keys", action="append", default=[], metavar="FILE",
                        help="ESP keys: Wireshark's esp_sa table or tcpdump -E secrets "
                             "(recognised from the content); may repeat")
    parser.add_argument("--psk", type=secret, help="the pre-shared key (0x... for hex)")
    parser.add_argument("--gxy", type=hex_bytes, action="append", default=[], metavar="HEX",
                        help="a Diffie-Hellman shared secret g^xy (Phase 1, or Quick Mode's "
                             "with PFS); may repeat")
    parser.add_argument("--keylog-out", metavar="FILE",
                        help="write the keys used: a key log, and FILE.ikev1_decryption_table "
                             "and FILE.esp_sa for Wireshark (mode 0600)")
    parser.add_argument("--ike-port", type=port, default=500,
                        help="dissect this UDP port as IKE too (like tshark's -d)")
    parser.add_argument("--natt-port", type=port, default=4500,
                        help="dissect this UDP port as NAT-T too")
    parser.add_argument("--json", action="store_true", help="one JSON object per packet")
    args = parser.parse_args(argv)
    try:
        keys = _keys(args.keys)
        tracker = IkeTracker(keys.ike, psk=args.psk, gxy=args.gxy,
                             qm_gxy=keys.qm_gxy + args.gxy)
        session = Session(esp_keys=keys.esp, ike=tracker)
    except (OSError, KeyFileError) as exc:
        print("scapy-ike decode: %s" % exc, file=sys.stderr)
        return 2
    try:
        reader = PcapReader(args.capture)
    except (OSError, Scapy_Exception) as exc:
        print("scapy-ike decode: cannot read %s: %s" % (args.capture, exc), file=sys.stderr)
        return 2
    with reader, bind_ports(args.ike_port, args.natt_port):
        for number, pkt in enumerate(reader, 1):
            record = session.decode(number, pkt)
            if args.json:
                print(json.dumps(record.to_json()))
            else:
                print("%4d %.6f %s" % (number, record.time, record.summary()))
    if args.keylog_out:
        try:
            write_key_logs(args.keylog_out, session)
        except OSError as exc:
            print("scapy-ike decode: cannot write %s: %s" % (exc.filename, exc.strerror),
                  file=sys.stderr)
            return 2
    for (src, dst, spi), count in sorted(session.failures.items()):
        print("scapy-ike decode: ESP SPI 0x%08x %s > %s: %d packet(s) failed: %s"
              % (spi, src, dst, count, session.last_error[(src, dst, spi)]), file=sys.stderr)
    return 1 if session.failures else 0
