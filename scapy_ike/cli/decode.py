"""``scapy-ike decode CAPTURE [--keys FILE]... [--psk TEXT] [--gxy HEX]...
[--keylog-out FILE] [--json | -V [--show-secrets] | --ios-log]
[--time relative|absolute|delta] [--jobs N]``: stream a capture, one line per packet like tshark's summary
(or a tree of fields like tshark -V, or JSON), every IKEv1 payload named,
IKE and ESP decrypted where keys are known or can be derived (from the PSK
and g^xy: the whole session, ESP included, through Quick Mode's KEYMAT),
with N processes giving the same output as one.

Exit status: 0 when everything that had keys decrypted (SAs whose keys
are unknown are said so once each on standard error), 1 when some keyed
packet failed or keys given do not fit (one message per SA on standard
error) or the capture is damaged (it is decoded up to the damage, and
where it stopped is said), 2 for bad usage or a file that cannot be read
(or, for ``--keylog-out``, written).
"""

import contextlib
import json
import os
import sys
import time
from functools import partial

from scapy_ike.cli.common import ArgumentParser, hex_bytes, port, positive, secret
from scapy_ike.decode.capture import CaptureError, map_pcap, open_capture
from scapy_ike.decode.keylog import (
    KeyFileError, Keys, esp_sa_row, ikev1_decryption_table_row, key_log_line, read_keys,
    write_key_files,
)
from scapy_ike.decode.session import Session

TIME_FORMATS = ("relative", "absolute", "delta")


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


class Clock:
    """Time stamps as tshark's ``-t r``, ``-t ad`` (in UTC) and ``-t d``:
    called with each frame's time in turn, or :meth:`text` given the
    previous frame's once :attr:`first` is set."""

    def __init__(self, mode):
        self.mode, self.first, self.previous = mode, None, None

    def __call__(self, stamp):
        if self.first is None:
            self.first = self.previous = stamp
        text = self.text(stamp, self.previous)
        self.previous = stamp
        return text

    def text(self, stamp, previous):
        if self.mode == "absolute":
            whole = int(stamp)
            return "%s.%06d" % (time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(whole)),
                                round((stamp - whole) * 1e6) % 1000000)
        return "%.6f" % (stamp - (self.first if self.mode == "relative" else previous))


def main(argv=None) -> int:
    parser = ArgumentParser(
        prog="scapy-ike decode",
        description="Dissect a pcap or pcapng capture (gzip too), one line per packet, "
                    "decrypting IKE and ESP with the keys given.")
    parser.add_argument("capture", help="the capture file")
    parser.add_argument("--keys", action="append", default=[], metavar="FILE",
                        help="keys: Wireshark's esp_sa or ikev1_decryption_table, tcpdump -E "
                             "secrets, a key log or charon's debug log (recognised from the "
                             "content); may repeat")
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
    parser.add_argument("-V", "--verbose", action="store_true",
                        help="every packet as a tree of its fields, like tshark -V")
    parser.add_argument("--show-secrets", action="store_true",
                        help="show XAuth passwords in -V and --json output instead of their "
                             "length")
    parser.add_argument("--time", choices=TIME_FORMATS, default="relative",
                        help="time stamps since the first packet (the default), as UTC date "
                             "and time, or since the previous packet")
    parser.add_argument("--ios-log", action="store_true",
                        help="instead of the packets, each side's Cisco IOS debug crypto isakmp "
                             "log of the capture's exchanges, as the engine would have logged "
                             "them")
    parser.add_argument("--jobs", type=positive, default=os.cpu_count() or 1, metavar="N",
                        help="decode ESP with N processes, the output the same as with one "
                             "(default: the number of CPUs; 1 with --keylog-out)")
    args = parser.parse_args(argv)
    try:
        keys = _keys(args.keys)
    except (OSError, KeyFileError) as exc:
        print("scapy-ike decode: %s" % exc, file=sys.stderr)
        return 2
    ike = None
    if args.json or args.verbose:
        _scapy_without_routes()
    if keys.ike or args.psk is not None or args.gxy or keys.qm_gxy:
        from scapy_ike.decode.ike import IkeTracker
        ike = IkeTracker(keys.ike, psk=args.psk, gxy=args.gxy, qm_gxy=keys.qm_gxy + args.gxy)
    session = Session(esp_keys=keys.esp, ike=ike, ike_port=args.ike_port,
                      natt_port=args.natt_port,
                      summaries=not (args.json or args.verbose or args.ios_log))
    try:
        f, records = open_capture(args.capture)
    except (OSError, CaptureError) as exc:
        reason = exc.reason if isinstance(exc, CaptureError) else exc.strerror or exc
        print("scapy-ike decode: cannot read %s: %s" % (args.capture, reason), file=sys.stderr)
        return 2
    damaged = None
    jobs = 1 if args.keylog_out else args.jobs
    progress = Progress(f) if sys.stderr.isatty() else None
    with f, _bindings(args.ike_port, args.natt_port):
        try:
            if args.ios_log:
                _print_ios_log(records, session)
            elif jobs == 1:
                _print(records, session, _formatter(args), Clock(args.time), progress)
            else:
                _print_parallel(records, session, _formatter(args), Clock(args.time), jobs,
                                progress, args.capture)
        except CaptureError as exc:
            damaged = exc
        finally:
            if progress is not None:
                progress.done()
    if args.keylog_out:
        try:
            write_key_logs(args.keylog_out, session)
        except OSError as exc:
            print("scapy-ike decode: cannot write %s: %s" % (exc.filename, exc.strerror),
                  file=sys.stderr)
            return 2
    failed = _report(session)
    if damaged is not None:
        print("scapy-ike decode: %s: %s" % (args.capture, damaged), file=sys.stderr)
    return 1 if failed or damaged is not None else 0


def _scapy_without_routes():
    """Scapy, about to be loaded (-V and --json need it), told not to read
    the routing tables as it loads: decoding sends nothing."""
    from scapy.config import conf
    conf.route_autoload = conf.route6_autoload = False


def _bindings(ike_port, natt_port):
    """Scapy's bindings for ports other than 500 and 4500, for what Scapy
    dissects."""
    if (ike_port, natt_port) == (500, 4500):
        return contextlib.nullcontext()
    from scapy_ike.layers.isakmp import bind_ports
    return bind_ports(ike_port, natt_port)


class Progress:
    """A line on a terminal's standard error: frames decoded, and how far
    into the file."""

    def __init__(self, f, every=0.25):
        raw = getattr(f, "fileobj", f)          # a gzip file's compressed stream
        self._raw, self._size = raw, max(1, os.fstat(raw.fileno()).st_size)
        self._every, self._next = every, time.monotonic() + every

    def __call__(self, frames):
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self._every
            sys.stderr.write("\r%d frames, %d%%" % (frames, 100 * self._raw.tell() // self._size))
            sys.stderr.flush()

    def done(self):
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


def _formatter(args):
    """The text of one record and its time stamp, as the options ask."""
    if args.json:
        return partial(_json, show_secrets=args.show_secrets)
    if args.verbose:
        return partial(_verbose, show_secrets=args.show_secrets,
                       ports=(args.ike_port, args.natt_port))
    return _line


def _line(record, stamp):
    return "%4d %s %s" % (record.frame, stamp, record.summary())


def _json(record, stamp, show_secrets):
    return json.dumps(record.to_json(show_secrets))


def _verbose(record, stamp, show_secrets, ports):
    from scapy_ike.decode.verbose import tree
    lines = tree(record, show_secrets, ports)
    lines[0] += ", time %s" % stamp
    return "\n".join(lines) + "\n"


class _Output:
    """Standard output, *batch* texts at a time."""

    def __init__(self, batch=256):
        self.lines, self.batch = [], batch

    def __call__(self, text):
        self.lines.append(text)
        if len(self.lines) >= self.batch:
            self.flush()

    def flush(self):
        if self.lines:
            sys.stdout.write("\n".join(self.lines) + "\n")
            self.lines = []


def _print(records, session, formatter, clock, progress):
    """Decode and print as the frames come."""
    out = _Output()
    try:
        for number, (linktype, stamp, data) in enumerate(records, 1):
            out(formatter(session.decode_frame(number, stamp, linktype, data), clock(stamp)))
            if progress is not None and not number % 512:
                progress(number)
    finally:
        out.flush()


def _print_ios_log(records, session):
    """Each router's log of the capture, after a prompt line naming it."""
    from scapy_ike.decode.ios_log import ios_log
    frames = (session.decode_frame(n, stamp, linktype, data)
              for n, (linktype, stamp, data) in enumerate(records, 1))
    out = _Output()
    try:
        for address, lines in ios_log(frames).items():
            out("%s#debug crypto isakmp" % address)
            for line in lines:
                out(line.text)
    finally:
        out.flush()


def _print_parallel(records, session, formatter, clock, jobs, progress, path):
    """Read every frame (in place, from an uncompressed pcap file), decode
    them with *jobs* processes (:mod:`~scapy_ike.decode.parallel`), print
    in capture order; a damaged capture is decoded up to the damage, then
    the error raised."""
    from scapy_ike.decode.frames import FrameStore
    from scapy_ike.decode.parallel import decode_parallel
    mapped = map_pcap(path)
    store = FrameStore(None if mapped is None else mapped[1], session.ports)
    damaged = None
    try:
        if mapped is not None:          # no reading to follow, only offsets
            store.extend(mapped[2])
        for number, record in enumerate(records if mapped is None else (), 1):
            store.append(*record)
            if progress is not None and not number % 512:
                progress(number)
    except CaptureError as exc:
        damaged = exc
    if len(store):
        clock.first = store.stamps[0]
    try:
        texts = decode_parallel(store, session, formatter, clock, jobs)
    finally:
        store.close()
        if mapped is not None:
            mapped[0].close()
    out = _Output()
    for text in texts:
        out(text)
    out.flush()
    if damaged is not None:
        raise damaged


def _report(session):
    """One line per SA that failed or has no keys; whether any failed."""
    ike = session._ike
    failed = bool(session.failures)
    if ike is not None:
        for cky, reason in ike.failed.items():
            print("scapy-ike decode: IKE SA %s: %s" % (cky.hex(), reason), file=sys.stderr)
        for cky, reason in ike.unkeyed.items():
            print("scapy-ike decode: IKE SA %s: %s" % (cky.hex(), reason), file=sys.stderr)
        failed = failed or bool(ike.failed)
    for (src, dst, spi), count in sorted(session.failures.items()):
        failed_how = "" if (src, dst, spi) in session.misfit else "%d packet(s) failed: " % count
        print("scapy-ike decode: ESP SPI 0x%08x %s > %s: %s%s"
              % (spi, src, dst, failed_how, session.last_error[(src, dst, spi)]), file=sys.stderr)
    for (src, dst, spi), reason in sorted(session.unkeyed.items()):
        print("scapy-ike decode: ESP SPI 0x%08x %s > %s: %s" % (spi, src, dst, reason),
              file=sys.stderr)
    return failed
