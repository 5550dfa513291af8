"""Telling IKE implementations apart: the vendor IDs they send (named
from the one table, :data:`scapy_ike.constants.VENDOR_IDS`), the schedule
on which they repeat a reply that is left unanswered (RFC 2408 5.1 leaves
it to each; ``ike-scan --showbackoff``), and how they answer what they
refuse; then a best guess with its evidence."""

from dataclasses import dataclass

from scapy_ike.constants import vendor_id_name, vendor_id_source
from scapy_ike.core.config import Retransmission
from scapy_ike.core.exchanges.phase1 import NATT_VIDS

BACKOFF_PATTERNS = (
    ("strongSwan 5 (charon) or scapy-ike",
     tuple(round(d, 1) for d in Retransmission().delays()[:-1])),
    ("strongSwan 5 (charon), retransmit_timeout 2 s", (2.0, 3.6, 6.5)),
    ("Linux FreeS/WAN, Openswan, strongSwan 4 (pluto)", (10.0, 20.0)),
    ("Cisco IOS 12.1-15.0 / racoon", (10.0, 10.0, 10.0, 10.0, 10.0)),
    ("Cisco IOS 11.3/12.0 / PIX <= 6.2", (15.0, 15.0)),
    ("Cisco PIX 6.3", (5.0, 5.0, 5.0, 5.0, 5.0)),
    ("Cisco VPN Concentrator / PIX 7.0", (8.0, 8.0, 8.0)),
    ("Windows 2000/2003/XP", (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)),
    ("Juniper NetScreen", (4.0,) * 11),
    ("FortiGate", (6.0, 12.0)),
    ("SonicWall", (5.0, 8.0, 18.0)),
    ("FreeBSD/OpenBSD isakmpd", (7.0, 9.0, 11.0)),
    ("Check Point Firewall-1 4.1/NG/NGX", (2.0,) * 6 + (4.0,) * 5),
)
"""Seconds between a reply and each repeat of it.  charon repeats AM2,
not MM2, on its ``retransmit_timeout`` and ``retransmit_base`` (4 s and
1.8 by default, as our :class:`~scapy_ike.core.config.Retransmission`);
2 s, 3.6 s, 6.5 s was measured here from a charon set to 2 s.  The others
are those ike-scan 1.9's ``ike-backoff-patterns`` lists."""

TOLERANCE = 0.25
"""How far (as a fraction) a measured interval may be from a pattern's."""

VENDOR_HINTS = (
    ("strongSwan", "strongSwan"),
    ("Cisco", "Cisco"),
    ("Microsoft", "Microsoft Windows"),
)
"""Vendor ID names (by prefix) that name an implementation."""


VENDOR_ID_SETS = {
    frozenset(("XAUTH", "RFC 3706 DPD")): "strongSwan 5 (charon)",
    frozenset(("RFC 3706 DPD",)): "scapy-ike",
}
"""Sets of vendor IDs that one implementation sends by default (the NAT-T
one it echoes aside), as seen here: charon 5.9 without
``send_vendor_id``, and our responder."""

NATT_NAMES = frozenset(vendor_id_name(vid) for vid in NATT_VIDS)


@dataclass(frozen=True)
class VendorId:
    hex: str
    name: object     # str, or None when unknown
    source: object   # the public text it is made from, or None


def vendor_ids(replies):
    """The distinct vendor IDs of *replies*, in the order they came, named,
    with the text they are the hash of where it is public."""
    seen = {}
    for reply in replies:
        for vid in reply.vendor_ids:
            seen.setdefault(vid, VendorId(vid.hex(), vendor_id_name(vid), vendor_id_source(vid)))
    return list(seen.values())


def match_backoff(intervals, patterns=BACKOFF_PATTERNS, tolerance=TOLERANCE):
    """The name of the pattern that *intervals* follow (a prefix of it,
    two intervals at least, each within *tolerance*), or None."""
    if len(intervals) < 2:
        return None
    for name, pattern in patterns:
        if len(intervals) <= len(pattern) and all(
                abs(got - want) <= tolerance * want for got, want in zip(intervals, pattern)):
            return name
    return None


def notify_quirks(findings):
    """What the answers to refused offers show, one line each."""
    quirks = []
    for name, mode in (("Main Mode", findings.main), ("Aggressive Mode", findings.aggressive)):
        if mode is None:
            continue
        if mode.answer and mode.answer.startswith("notify") and not mode.accepted:
            quirks.append("%s refused with %s" % (name, mode.answer[len("notify "):]))
        quirks += ["%s: %s" % (name, note) for note in sorted(set(mode.notes))]
    if findings.ikev2 and findings.ikev2.startswith("notify"):
        quirks.append("IKEv2 answered with %s" % findings.ikev2[len("notify "):])
    return quirks


def guess(vids, backoff_match, quirks):
    """``(implementation or None, [evidence])``: a vendor ID that names
    one wins, then a set of vendor IDs known as one's, then the backoff
    pattern."""
    evidence = []
    named = None
    for vid in vids:
        for prefix, implementation in VENDOR_HINTS:
            if vid.name and vid.name.startswith(prefix):
                evidence.append("vendor ID %s (%s)" % (vid.name, vid.hex))
                named = named or implementation
    names = frozenset(v.name for v in vids if v.name not in NATT_NAMES)
    if named is None and names in VENDOR_ID_SETS:
        named = VENDOR_ID_SETS[names]
        evidence.append("vendor IDs %s and no other (NAT-T aside)" % ", ".join(sorted(names)))
    if backoff_match is not None:
        evidence.append("backoff pattern of %s" % backoff_match)
        named = named or backoff_match
    evidence += quirks
    return named, evidence
