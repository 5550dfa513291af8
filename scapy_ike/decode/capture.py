"""Records of a pcap or pcapng capture (gzip-compressed or not), read
with :mod:`struct`: ``(link type, time, frame bytes)``.

pcap: the libpcap format, microsecond or nanosecond time stamps, either
byte order (draft-ietf-opsawg-pcap).  pcapng: Section Header, Interface
Description (its ``if_tsresol``), Enhanced, Simple and obsolete Packet
Blocks; other blocks are skipped (draft-ietf-opsawg-pcapng 4).

A capture that ends in the middle of a record, or whose block lengths do
not add up, gives the records before the damage, then raises
:class:`CaptureError` saying where it stopped.
"""

import gzip
import mmap
import os
import struct
import zlib

PCAP_MAGIC = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
              b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC = b"\x1f\x8b"
EPB, SPB, OBSOLETE_PB, IDB = 6, 3, 2, 1
OPT_TSRESOL = 9


class CaptureError(ValueError):
    """The capture is not one, or is damaged: *frame* is the number of the
    record that could not be read, *offset* its byte offset (in the
    uncompressed stream)."""

    def __init__(self, frame, offset, reason):
        super().__init__("stopped at frame %d (byte %d): %s" % (frame, offset, reason))
        self.frame, self.offset, self.reason = frame, offset, reason


def open_capture(path):
    """``(binary file, records)``: the file opened (gunzipped when it is
    gzip) and an iterator of ``(link type, time, bytes)``.  A file that is
    neither pcap nor pcapng raises :class:`CaptureError` at once."""
    f = open(path, "rb")
    if f.read(2) == GZIP_MAGIC:
        f.close()
        f = gzip.open(path, "rb")
    else:
        f.seek(0)
    try:
        magic = _read(f, 4, 1, 0, "the file header")
        if magic in PCAP_MAGIC:
            return f, _pcap(f, *PCAP_MAGIC[magic])
        if magic == PCAPNG_SHB:
            return f, _pcapng(f)
    except CaptureError:
        f.close()
        raise
    f.close()
    raise CaptureError(1, 0, "not a pcap or pcapng file (magic %s)" % magic.hex())


def _read(f, size, frame, offset, what, end_ok=False):
    """Exactly *size* bytes, or a CaptureError naming *what* was cut; with
    *end_ok*, b"" at the end of the file (between records)."""
    try:
        data = f.read(size)
    except (EOFError, OSError, zlib.error) as exc:     # gzip: truncated or corrupt stream
        raise CaptureError(frame, offset, "%s: %s" % (what, exc)) from None
    if len(data) != size and not (end_ok and not data):
        raise CaptureError(frame, offset, "%s: %d of %d bytes" % (what, len(data), size))
    return data


def _pcap(f, order, unit):
    linktype, record = _pcap_header(_read(f, 20, 1, 4, "the pcap file header"), order)
    frame, offset = 1, 24
    while True:
        head = _read(f, 16, frame, offset, "record header", end_ok=True)
        if not head:
            return
        stamp, caplen = _pcap_record(record, head, unit, frame, offset)
        data = _read(f, caplen, frame, offset, "record of %d bytes" % caplen)
        yield linktype, stamp, data
        frame, offset = frame + 1, offset + 16 + caplen


def _pcap_header(rest, order):
    """The link type of a pcap file header's last 20 bytes, and the
    record header's layout."""
    return struct.unpack(order + "I", rest[16:20])[0] & 0x0FFFFFFF, struct.Struct(order + "IIII")


def _pcap_record(record, head, unit, frame, offset):
    """``(time, captured length)`` of a pcap record header."""
    sec, frac, caplen, _ = record.unpack(head)
    if caplen > 0x4000000:
        raise CaptureError(frame, offset, "record length %d is not plausible" % caplen)
    return sec + frac * unit, caplen


def map_pcap(path):
    """``(file, mapped file, frames)`` for an uncompressed pcap file, the
    frames an iterator of ``(link type, time, start, end)`` in the mapped
    file, which a damaged capture ends as :func:`open_capture`'s records
    do; None for any other file."""
    f = open(path, "rb")
    try:
        size = os.fstat(f.fileno()).st_size
        magic = f.read(4)
        if size < 24 or magic not in PCAP_MAGIC:
            f.close()
            return None
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError:
        f.close()
        raise
    return f, mapped, _mapped_pcap(mapped, *PCAP_MAGIC[magic])


def _mapped_pcap(mapped, order, unit):
    linktype, record = _pcap_header(mapped[4:24], order)
    unpack = record.unpack_from
    frame, offset, size = 1, 24, len(mapped)
    while offset < size:
        if size - offset < 16:
            raise CaptureError(frame, offset, "record header: %d of 16 bytes" % (size - offset))
        sec, frac, caplen, _ = unpack(mapped, offset)
        start = offset + 16
        end = start + caplen
        if caplen > 0x4000000 or end > size:
            _pcap_record(record, mapped[offset:start], unit, frame, offset)   # its error
            raise CaptureError(frame, offset, "record of %d bytes: %d of %d bytes"
                               % (caplen, size - start, caplen))
        yield linktype, sec + frac * unit, start, end
        frame, offset = frame + 1, end


def _pcapng(f):
    frame, offset = 1, 0
    order, interfaces = None, []
    first = True
    while True:
        if first:
            btype_raw = PCAPNG_SHB
            first = False
        else:
            btype_raw = _read(f, 4, frame, offset, "block type", end_ok=True)
            if not btype_raw:
                return
        if btype_raw == PCAPNG_SHB:
            head = _read(f, 8, frame, offset + 4, "section header")
            order = "<" if head[4:8] == b"\x4d\x3c\x2b\x1a" else ">"
            if head[4:8] not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                raise CaptureError(frame, offset, "section header: bad byte-order magic")
            length = struct.unpack(order + "I", head[:4])[0]
            _block_body(f, length, 12, frame, offset)
            interfaces = []
            offset += length
            continue
        length = struct.unpack(order + "I", _read(f, 4, frame, offset + 4, "block header"))[0]
        btype = struct.unpack(order + "I", btype_raw)[0]
        body = _block_body(f, length, 8, frame, offset)
        if btype == IDB:
            interfaces.append(_interface(body, order, frame, offset))
        elif btype in (EPB, OBSOLETE_PB, SPB):
            yield _packet(btype, body, order, interfaces, frame, offset)
            frame += 1
        offset += length


def _block_body(f, length, read_so_far, frame, offset):
    """The block's body after the bytes already read, without its
    trailing length."""
    if length % 4 or length < read_so_far + 4 or length > 0x4000000:
        raise CaptureError(frame, offset, "block length %d does not add up" % length)
    data = _read(f, length - read_so_far, frame, offset, "block of %d bytes" % length)
    return data[:-4]


def _interface(body, order, frame, offset):
    """``(link type, seconds per time stamp unit)`` of an Interface
    Description Block."""
    if len(body) < 8:
        raise CaptureError(frame, offset, "interface description of %d bytes" % len(body))
    linktype = struct.unpack(order + "H", body[:2])[0]
    unit, pos = 1e-6, 8
    while pos + 4 <= len(body):
        code, size = struct.unpack(order + "HH", body[pos:pos + 4])
        if code == 0:
            break
        if code == OPT_TSRESOL and size >= 1:
            value = body[pos + 4]
            unit = 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0 ** -value
        pos += 4 + size + (-size % 4)
    return linktype, unit


def _packet(btype, body, order, interfaces, frame, offset):
    if btype == SPB:
        if not interfaces or len(body) < 4:
            raise CaptureError(frame, offset, "simple packet block without interface")
        original = struct.unpack(order + "I", body[:4])[0]
        return interfaces[0][0], 0.0, body[4:4 + original]
    if btype == EPB:
        if len(body) < 20:
            raise CaptureError(frame, offset, "packet block of %d bytes" % len(body))
        iface, high, low, caplen, _ = struct.unpack(order + "IIIII", body[:20])
    else:
        if len(body) < 20:
            raise CaptureError(frame, offset, "packet block of %d bytes" % len(body))
        iface, _, high, low, caplen, _ = struct.unpack(order + "HHIIII", body[:20])
    if iface >= len(interfaces):
        raise CaptureError(frame, offset, "packet of interface %d, %d described"
                           % (iface, len(interfaces)))
    if 20 + caplen > len(body):
        raise CaptureError(frame, offset, "captured length %d past its block" % caplen)
    linktype, unit = interfaces[iface]
    return linktype, ((high << 32) | low) * unit, body[20:20 + caplen]
