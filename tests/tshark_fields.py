"""The ISAKMP columns of ../shared/testdata/expected/*.tsv, computed from our
layers the way tshark prints them, and read from tshark itself."""

import subprocess

from scapy.layers.inet import UDP

from scapy_ike.layers.isakmp import (
    CONFIG_ATTRIBUTES, ISAKMP, ISAKMP_payload_Attributes,
    ISAKMP_payload_Hash, ISAKMP_payload_ID, ISAKMP_payload_Notify,
    ISAKMP_payload_Proposal, iter_payloads,
)

HEADER_COLUMNS = ["isakmp.ispi", "isakmp.rspi", "isakmp.exchangetype",
                  "isakmp.messageid", "isakmp.flag_e"]
PAYLOAD_COLUMNS = ["isakmp.typepayload", "isakmp.id.type", "isakmp.hash",
                   "isakmp.spi", "isakmp.notify.msgtype", "isakmp.cfg.type",
                   "isakmp.cfg.attr.type"]
COLUMNS = ["frame.number", "udp.srcport", "udp.dstport"] + HEADER_COLUMNS + PAYLOAD_COLUMNS


def _join(values):
    return ",".join(str(v) for v in values)


def our_fields(pkt, head=None):
    """tshark's ISAKMP columns of one packet, from our dissection (of
    *head*, its decrypted message, when given)."""
    head = head or pkt.getlayer(ISAKMP)
    if head is None:
        return None
    payloads = list(iter_payloads(head))
    layers = [layer for _, layer in payloads]

    def of(cls):
        return [layer for layer in layers if isinstance(layer, cls)]

    spis = [layer.SPI.hex() for layer in layers
            if isinstance(layer, (ISAKMP_payload_Proposal, ISAKMP_payload_Notify)) and layer.SPI]
    attr_types = []
    for layer in of(ISAKMP_payload_Attributes):
        attr_types.extend(CONFIG_ATTRIBUTES.type_number(a[0]) for a in layer.attributes)
    return {
        "udp.srcport": str(pkt[UDP].sport),
        "udp.dstport": str(pkt[UDP].dport),
        "isakmp.ispi": head.init_cookie.hex(),
        "isakmp.rspi": head.resp_cookie.hex(),
        "isakmp.exchangetype": str(head.exch_type),
        "isakmp.messageid": "0x%08x" % head.id,
        "isakmp.flag_e": str(int(pkt[ISAKMP].flags & 1)),
        "isakmp.typepayload": _join(t for t, _ in payloads),
        "isakmp.id.type": _join(p.IDtype for p in of(ISAKMP_payload_ID)),
        "isakmp.hash": _join(p.hash.hex() for p in of(ISAKMP_payload_Hash)),
        "isakmp.spi": _join(spis),
        "isakmp.notify.msgtype": _join(p.notify_msg_type for p in of(ISAKMP_payload_Notify)),
        "isakmp.cfg.type": _join(p.type for p in of(ISAKMP_payload_Attributes)),
        "isakmp.cfg.attr.type": _join(attr_types),
    }


def read_tsv(path):
    """``{frame number: {column: value}}`` from an expected/*.tsv file."""
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    names = lines[0].split("\t")
    rows = {}
    for line in lines[1:]:
        row = dict(zip(names, line.split("\t")))
        rows[int(row["frame.number"])] = row
    return rows


def tshark_fields(tshark, capture, extra=(), env=None):
    """``{frame number: {column: value}}`` of the ISAKMP frames, from tshark
    run without keys, or with the key tables of *env*'s
    WIRESHARK_CONFIG_DIR."""
    cmd = [tshark, "-n", "-r", str(capture), "-Y", "isakmp", "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,",
           *extra] + [arg for column in COLUMNS for arg in ("-e", column)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True,
                         env=env or {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}).stdout
    rows = {}
    for line in out.splitlines():
        row = dict(zip(COLUMNS, line.split("\t")))
        rows[int(row["frame.number"])] = row
    return rows
