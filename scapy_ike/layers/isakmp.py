"""Every IKEv1 payload as a Scapy layer, extending ``scapy.layers.isakmp``.

Each class here subclasses Scapy's class of the same name where Scapy has
one, keeps its field names, and sets ``match_subclass`` so that
``pkt[scapy.layers.isakmp.ISAKMP_payload_SA]`` finds ours too.  What Scapy
lacks is added (CERT, CR, Attributes, NAT-D, NAT-OA, fragments, the opaque
encrypted body) and what it gets wrong is fixed (the proposal's transform
length ignores the SPI, ``trans_nb`` is not computed, attributes lose their
TLV length, ID types beyond IPv4).

Dissection is lossless: a payload whose length or content is bad is
dissected as far as it is valid, the rest is kept as raw bytes, and the
layer carries a short reason in ``malformed``.  See :func:`malformed`.

This module owns the UDP 500 and NAT-T (non-ESP marker) bindings; IKEv2
messages are handed to ``scapy.contrib.ikev2`` by their version byte,
whichever of the two modules was imported first.
"""

import struct
import sys
from contextlib import contextmanager

from scapy.config import conf
from scapy.fields import (
    ByteField, FieldLenField, FieldListField, FlagsField,
    IntField, PacketLenField, ShortField,
    XByteField, XIntField, XStrField,
    XStrFixedLenField, XStrLenField,
)
from scapy.layers import isakmp as _scapy
from scapy.layers.inet import UDP
from scapy.layers.ipsec import ESP, NON_ESP
from scapy.packet import Packet, bind_bottom_up, bind_top_down, split_bottom_up

from scapy_ike.attributes import CONFIG_ATTRIBUTES, IPSEC_ATTRIBUTES, OAKLEY_ATTRIBUTES
from scapy_ike.constants import (
    ISAKMP_VERSION, IKE_PORT, MAX_PAYLOADS, PAYLOAD_MIN_LENGTHS, CertEncoding, ConfigType,
    DOI, ExchangeType, IdType, NotifyType, PayloadType, ProtocolId, vendor_id_name,
)
from scapy_ike.layers.fields import (
    AttributesField, ByteEnumField, ContextEnumField,
    IdentDataField, IntEnumField, ShortEnumField,
)
from scapy_ike.names import (
    CERT_NAMES, CONFIG_TYPE_NAMES, DOI_NAMES, EXCHANGE_NAMES, ID_NAMES, NOTIFY_NAMES,
    PAYLOAD_NAMES, PROTOCOL_NAMES, TRANSFORM_ID_NAMES,
)


def _spellings(enum, prefix=""):
    """``{name: number}``: the other spellings a name may be given in, the
    enum's own (``IPV4_ADDR``) and, with *prefix*, the RFC's
    (``ID_IPV4_ADDR``, RFC 2407 4.6.2.1)."""
    table = {m.name: int(m) for m in enum}
    table.update({prefix + m.name: int(m) for m in enum if prefix})
    return table


_IP_PROTOCOLS = {0: "Unused", 1: "ICMP", 6: "TCP", 17: "UDP", 47: "GRE",
                 50: "ESP", 51: "AH", 58: "ICMPv6"}


def _context(layer, attr, default=None):
    """The first *attr* found walking from *layer* to its parent or
    underlayer (a transform asks its proposal for the protocol)."""
    cur = layer
    while cur is not None:
        if attr in cur.fields or attr in cur.default_fields:
            return cur.getfieldval(attr)
        cur = cur.parent or cur.underlayer
    return default


def _header(layer):
    cur = layer
    while cur is not None and not isinstance(cur, _scapy.ISAKMP):
        cur = cur.parent or cur.underlayer
    return cur


def _depth(layer):
    n = 0
    cur = layer
    while cur is not None:
        n += 1
        cur = cur.parent or cur.underlayer
    return n


class _IKEv1Layer:
    """Behaviour shared by the header and every payload: the lossless
    dissection of the chain and the ``malformed`` reason."""

    malformed = None
    match_subclass = True

    def copy(self):
        clone = super().copy()
        clone.malformed = self.malformed
        return clone

    def next_payload_class(self, payload, stop_when_malformed=True):
        """The class of the payload that follows, by ``next_payload``; a
        malformed payload ends the chain (its rest stays raw)."""
        if stop_when_malformed and self.malformed is not None:
            return conf.raw_layer
        if not self.next_payload:
            return conf.padding_layer
        if _depth(self) > MAX_PAYLOADS:
            self.malformed = self.malformed or "more than %d payloads" % MAX_PAYLOADS
            return conf.raw_layer
        np = self.next_payload
        if np in (PayloadType.NAT_D_OLD_DRAFT, PayloadType.NAT_OA_OLD_DRAFT) \
                and not _nat_t_draft_context(self):
            return ISAKMP_payload
        if len(payload) < 4:
            self.malformed = self.malformed or (
                "%d bytes left, a payload header needs 4" % len(payload))
            return conf.raw_layer
        cls = Packet.guess_payload_class(self, payload)
        if not issubclass(cls, ISAKMP_payload):
            cls = ISAKMP_payload
        return cls

    guess_payload_class = next_payload_class

    def do_dissect_payload(self, s):
        """Dissect the next payload; one too short for its own fixed fields
        is dissected as a generic payload and flagged."""
        if not s:
            if self.next_payload:
                self.malformed = self.malformed or (
                    "next payload %s announced, no bytes left"
                    % PAYLOAD_NAMES.get(self.next_payload, self.next_payload))
            return
        cls = self.guess_payload_class(s)
        reason = None
        if issubclass(cls, ISAKMP_payload) and cls is not ISAKMP_payload:
            length = struct.unpack("!H", s[2:4])[0]
            if length < cls.min_length or len(s) < cls.min_length:
                reason = "%s length %d below its minimum %d" % (
                    cls._name, min(length, len(s)), cls.min_length)
                cls = ISAKMP_payload
        try:
            p = cls(s, _internal=1, _underlayer=self)
        except Exception as exc:   # a bug of ours must not lose the bytes
            if conf.debug_dissector:
                raise
            self.malformed = self.malformed or "%s: %s" % (cls.__name__, exc)
            p = conf.raw_layer(s, _internal=1, _underlayer=self)
        if reason is not None:
            p.malformed = reason
        self.add_payload(p)


def _nat_t_draft_context(layer):
    """Whether payload types 15/16 are the first NAT-T drafts' NAT-D/NAT-OA.

    IANA later gave 15/16 to GDOI (RFC 6407), whose SAK/SAT payloads only
    travel in GROUPKEY-PULL/PUSH under the GDOI DOI.  NAT-D belongs to
    phase 1 (Main and Aggressive Mode), NAT-OA to Quick Mode; a Quick Mode
    number is GDOI's GROUPKEY-PULL only when the message's SA has DOI 2.
    """
    head = _header(layer)
    if head is None:
        return True
    if head.exch_type in (ExchangeType.IDENTITY_PROTECTION, ExchangeType.AGGRESSIVE):
        return True
    if head.exch_type == ExchangeType.QUICK_MODE:
        cur = layer
        while cur is not None and cur is not head:
            if isinstance(cur, _scapy.ISAKMP_payload_SA) and cur.doi == DOI.GDOI:
                return False
            cur = cur.underlayer
        return True
    return False


# -- header -------------------------------------------------------------

class ISAKMP(_IKEv1Layer, _scapy.ISAKMP):
    """ISAKMP header (RFC 2408 3.1).  ``length`` is computed when unset;
    with the E flag the body is an :class:`ISAKMP_Encrypted` payload."""

    fields_desc = [
        XStrFixedLenField("init_cookie", b"", 8),
        XStrFixedLenField("resp_cookie", b"", 8),
        ByteEnumField("next_payload", 0, PAYLOAD_NAMES, _spellings(PayloadType)),
        XByteField("version", ISAKMP_VERSION),
        ByteEnumField("exch_type", 0, EXCHANGE_NAMES, _spellings(ExchangeType)),
        FlagsField("flags", 0, 8, ["encryption", "commit", "auth_only"]),
        XIntField("id", 0),
        IntField("length", None),
    ]

    @classmethod
    def dispatch_hook(cls, _pkt=None, *args, **kargs):
        if _pkt is not None and len(_pkt) < 28:
            return ISAKMP_Truncated
        if _pkt and _pkt[17] >= 0x20 and "scapy.contrib.ikev2" in sys.modules:
            return sys.modules["scapy.contrib.ikev2"].IKEv2
        return cls

    def extract_padding(self, s):
        body = self.length - 28
        if body < 0:
            self.malformed = "length %d is shorter than the header" % self.length
            return s, b""
        if body > len(s):
            self.malformed = "length %d exceeds the %d bytes present" % (
                self.length, len(s) + 28)
            return s, b""
        return s[:body], s[body:]

    def guess_payload_class(self, payload):
        if self.flags & 1:
            return ISAKMP_Encrypted
        return self.next_payload_class(payload, stop_when_malformed=False)

    def mysummary(self):
        """One line, with the UDP layer's addresses and ports before it."""
        return self.sprintf("ISAKMP %ISAKMP.exch_type% %ISAKMP.init_cookie%"
                            " > %ISAKMP.resp_cookie% id=%ISAKMP.id%"), [UDP]


class ISAKMP_Truncated(Packet):
    """Bytes too short for an ISAKMP header (RFC 2408 3.1 needs 28)."""

    name = "ISAKMP (truncated)"
    fields_desc = [XStrField("load", b"")]

    @property
    def malformed(self):
        return "truncated header: %d of 28 bytes" % len(self.load)


class ISAKMP_Encrypted(Packet):
    """The encrypted body of a message with the E flag (RFC 2408 3.1):
    opaque until decrypted with the IKE SA's keys."""

    name = "ISAKMP encrypted body"
    match_subclass = True
    malformed = None
    fields_desc = [XStrField("load", b"")]


# -- payloads ---------------------------------------------------------------

def _body(offset):
    return lambda pkt: max(0, (pkt.length or 0) - offset)


class ISAKMP_payload(_IKEv1Layer, _scapy.ISAKMP_payload):
    """Generic payload header (RFC 2408 3.2); also any unknown payload.

    ``length`` bounds the payload's own fields; it is computed when unset.
    """

    name = "ISAKMP payload"
    min_length = 4
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_NAMES, _spellings(PayloadType)),
        ByteField("res", 0),
        ShortField("length", None),
        XStrLenField("load", b"", length_from=_body(4)),
    ]

    def do_dissect(self, s):
        if len(s) < 4:              # nothing to read: the bytes are kept as they came
            self.malformed = "%d bytes: shorter than a generic payload header" % len(s)
            self.raw_packet_cache, self.raw_packet_cache_fields = b"", {}
            return s
        length = struct.unpack("!H", s[2:4])[0]
        if length < self.min_length:
            self.malformed = "length %d below the minimum %d of %s" % (
                length, self.min_length, self.name)
            body, rest = s[:4], s[4:]
        elif length > len(s):
            self.malformed = "length %d exceeds the %d bytes left" % (length, len(s))
            body, rest = s, b""
        else:
            body, rest = s[:length], s[length:]
        left = Packet.do_dissect(self, body)
        if left and self.malformed is None:
            self.malformed = "%d bytes after the last field" % len(left)
        return left + rest

    def post_build(self, pkt, pay):
        if self.length is None:
            pkt = pkt[:2] + struct.pack("!H", len(pkt)) + pkt[4:]
        return pkt + pay


_HEADER = ISAKMP_payload.fields_desc[:3]


class ISAKMP_payload_Transform(ISAKMP_payload, _scapy.ISAKMP_payload_Transform):
    """Transform payload (RFC 2408 3.6) with typed attributes: Oakley
    attributes under an ISAKMP proposal, IPsec ones under AH/ESP/IPComp."""

    name = "IKE Transform"
    min_length = PAYLOAD_MIN_LENGTHS[PayloadType.TRANSFORM]
    fields_desc = _HEADER + [
        ByteField("transform_count", 1),
        ContextEnumField("transform_id", 1, lambda pkt: TRANSFORM_ID_NAMES.get(
            _context(pkt, "proto", ProtocolId.ISAKMP), {}),
            TRANSFORM_ID_NAMES.values()),
        ShortField("res2", 0),
        AttributesField("transforms", None, lambda pkt: attribute_space(pkt),
                        length_from=_body(8), spaces=(OAKLEY_ATTRIBUTES, IPSEC_ATTRIBUTES)),
    ]


def attribute_space(pkt):
    """Oakley attributes for an ISAKMP proposal, IPsec DOI ones otherwise."""
    proto = _context(pkt, "proto", ProtocolId.ISAKMP)
    return OAKLEY_ATTRIBUTES if proto == ProtocolId.ISAKMP else IPSEC_ATTRIBUTES


class ISAKMP_payload_Proposal(ISAKMP_payload, _scapy.ISAKMP_payload_Proposal):
    """Proposal payload (RFC 2408 3.5).  The transforms follow the SPI;
    ``SPIsize`` and ``trans_nb`` are computed when unset."""

    name = "IKE proposal"
    min_length = PAYLOAD_MIN_LENGTHS[PayloadType.PROPOSAL]
    fields_desc = _HEADER + [
        ByteField("proposal", 1),
        ByteEnumField("proto", ProtocolId.ISAKMP, PROTOCOL_NAMES, _spellings(ProtocolId)),
        FieldLenField("SPIsize", None, "SPI", "B"),
        ByteField("trans_nb", None),
        XStrLenField("SPI", b"", length_from=lambda pkt: pkt.SPIsize),
        PacketLenField("trans", None, ISAKMP_payload_Transform,
                       length_from=lambda pkt: max(
                           0, (pkt.length or 0) - 8 - (pkt.SPIsize or 0))),
    ]

    def post_build(self, pkt, pay):
        if self.trans_nb is None:
            count, cur = 0, self.trans
            while isinstance(cur, ISAKMP_payload_Transform):
                count, cur = count + 1, cur.payload
            pkt = pkt[:7] + bytes([count]) + pkt[8:]
        return super().post_build(pkt, pay)


class ISAKMP_payload_SA(ISAKMP_payload, _scapy.ISAKMP_payload_SA):
    """Security Association payload (RFC 2408 3.4) with the IPsec DOI's
    situation (RFC 2407 4.2)."""

    name = "ISAKMP SA"
    min_length = PAYLOAD_MIN_LENGTHS[PayloadType.SA]
    fields_desc = _HEADER + [
        IntEnumField("doi", DOI.IPSEC, DOI_NAMES, _spellings(DOI)),
        FlagsField("situation", 1, 32, ["identity", "secrecy", "integrity"]),
        PacketLenField("prop", None, ISAKMP_payload_Proposal,
                       length_from=_body(12)),
    ]


class ISAKMP_payload_KE(ISAKMP_payload, _scapy.ISAKMP_payload_KE):
    """Key Exchange payload (RFC 2408 3.7)."""

    name = "ISAKMP Key Exchange"
    fields_desc = _HEADER + [XStrLenField("ke", b"", length_from=_body(4))]


class ISAKMP_payload_ID(ISAKMP_payload, _scapy.ISAKMP_payload_ID):
    """Identification payload (RFC 2408 3.8, RFC 2407 4.6.2): every ID
    type, addresses as text; :meth:`to_netaddr` and :meth:`from_netaddr`
    convert."""

    name = "ISAKMP Identification"
    min_length = PAYLOAD_MIN_LENGTHS[PayloadType.ID]
    fields_desc = _HEADER + [
        ByteEnumField("IDtype", IdType.IPV4_ADDR, ID_NAMES, _spellings(IdType, "ID_")),
        ByteEnumField("ProtoID", 0, _IP_PROTOCOLS),
        ShortEnumField("Port", 0, {0: "Unused"}),
        IdentDataField("IdentData", "127.0.0.1", "IDtype", length_from=_body(8)),
    ]

    def to_netaddr(self):
        """The identity as ``netaddr.IPAddress``, ``IPNetwork`` or
        ``IPRange``; names and DER data as bytes."""
        import netaddr
        data = self.IdentData
        if isinstance(data, bytes):
            return data
        if "-" in data:
            return netaddr.IPRange(*data.split("-"))
        if "/" in data:
            return netaddr.IPNetwork(data)
        return netaddr.IPAddress(data)

    @classmethod
    def from_netaddr(cls, value, **fields):
        """An ID payload for a netaddr address, network or range."""
        import netaddr
        v6 = value.version == 6
        if isinstance(value, netaddr.IPRange):
            idtype = IdType.IPV6_ADDR_RANGE if v6 else IdType.IPV4_ADDR_RANGE
            data = "%s-%s" % (value[0], value[-1])
        elif isinstance(value, netaddr.IPNetwork):
            idtype = IdType.IPV6_ADDR_SUBNET if v6 else IdType.IPV4_ADDR_SUBNET
            data = "%s/%d" % (value.network, value.prefixlen)
        else:
            idtype = IdType.IPV6_ADDR if v6 else IdType.IPV4_ADDR
            data = str(value)
        return cls(IDtype=idtype, IdentData=data, **fields)


ISAKMP_payload_ID.fields_desc[3].s2i.update({"IPv4_addr": 1, "Key": 11})


class ISAKMP_payload_CERT(ISAKMP_payload):
    """Certificate payload (RFC 2408 3.9)."""

    name = "ISAKMP Certificate"
    min_length = PAYLOAD_MIN_LENGTHS[PayloadType.CERT]
    fields_desc = _HEADER + [
        ByteEnumField("cert_encoding", CertEncoding.X509_SIG, CERT_NAMES, _spellings(CertEncoding)),
        XStrLenField("cert_data", b"", length_from=_body(5)),
    ]


class ISAKMP_payload_CR(ISAKMP_payload):
    """Certificate Request payload (RFC 2408 3.10)."""

    name = "ISAKMP Certificate Request"
    min_length = PAYLOAD_MIN_LENGTHS[PayloadType.CR]
    fields_desc = _HEADER + [
        ByteEnumField("cert_type", CertEncoding.X509_SIG, CERT_NAMES, _spellings(CertEncoding)),
        XStrLenField("cert_authority", b"", length_from=_body(5)),
    ]


class ISAKMP_payload_Hash(ISAKMP_payload, _scapy.ISAKMP_payload_Hash):
    """Hash payload (RFC 2408 3.11)."""

    name = "ISAKMP Hash"
    fields_desc = _HEADER + [XStrLenField("hash", b"", length_from=_body(4))]


class ISAKMP_payload_SIG(ISAKMP_payload, getattr(_scapy, "ISAKMP_payload_SIG", _scapy.ISAKMP_payload)):
    """Signature payload (RFC 2408 3.12); Scapy has its own from 2.6.2."""

    name = "ISAKMP Signature"
    fields_desc = _HEADER + [XStrLenField("sig", b"", length_from=_body(4))]


class ISAKMP_payload_Nonce(ISAKMP_payload, _scapy.ISAKMP_payload_Nonce):
    """Nonce payload (RFC 2408 3.13)."""

    name = "ISAKMP Nonce"
    fields_desc = _HEADER + [XStrLenField("nonce", b"", length_from=_body(4))]


class ISAKMP_payload_Notify(ISAKMP_payload, _scapy.ISAKMP_payload_Notify):
    """Notification payload (RFC 2408 3.14, RFC 2407 4.6.3, RFC 3706)."""

    name = "ISAKMP Notify (Notification)"
    min_length = PAYLOAD_MIN_LENGTHS[PayloadType.NOTIFICATION]
    fields_desc = _HEADER + [
        IntEnumField("doi", DOI.IPSEC, DOI_NAMES, _spellings(DOI)),
        ByteEnumField("proto", ProtocolId.ISAKMP, PROTOCOL_NAMES, _spellings(ProtocolId)),
        FieldLenField("SPIsize", None, "SPI", "B"),
        ShortEnumField("notify_msg_type", 0, NOTIFY_NAMES, _spellings(NotifyType)),
        XStrLenField("SPI", b"", length_from=lambda pkt: pkt.SPIsize),
        XStrLenField("notify_data", b"", length_from=lambda pkt: max(
            0, (pkt.length or 0) - 12 - (pkt.SPIsize or 0))),
    ]


class ISAKMP_payload_Delete(ISAKMP_payload, _scapy.ISAKMP_payload_Delete):
    """Delete payload (RFC 2408 3.15), with one or more SPIs."""

    name = "ISAKMP Delete"
    min_length = PAYLOAD_MIN_LENGTHS[PayloadType.DELETE]
    fields_desc = _HEADER + [
        IntEnumField("doi", DOI.IPSEC, DOI_NAMES, _spellings(DOI)),
        ByteEnumField("proto", ProtocolId.IPSEC_ESP, PROTOCOL_NAMES, _spellings(ProtocolId)),
        FieldLenField("SPIsize", None, length_of="SPIs", fmt="B",
                      adjust=lambda pkt, x: x and x // len(pkt.SPIs)),
        FieldLenField("SPIcount", None, count_of="SPIs", fmt="H"),
        FieldListField("SPIs", [],
                       XStrLenField("", b"", length_from=lambda pkt: pkt.SPIsize),
                       count_from=lambda pkt: pkt.SPIcount),
    ]


class VendorIDField(XStrLenField):
    """Vendor ID bytes, shown with their well-known name."""

    def i2repr(self, pkt, x):
        name = vendor_id_name(x or b"")
        raw = super().i2repr(pkt, x)
        return raw if name is None else "%s (%s)" % (raw, name)


class ISAKMP_payload_VendorID(ISAKMP_payload, _scapy.ISAKMP_payload_VendorID):
    """Vendor ID payload (RFC 2408 3.16); :attr:`vendor` names it."""

    name = "ISAKMP Vendor ID"
    fields_desc = _HEADER + [VendorIDField("VendorID", b"", length_from=_body(4))]

    @property
    def vendor(self):
        """The well-known name of this vendor ID, or None."""
        return vendor_id_name(self.VendorID)


class ISAKMP_payload_Attributes(ISAKMP_payload):
    """Attributes payload of Mode Config and XAuth
    (draft-dukes-ike-mode-cfg-02 3.2)."""

    name = "ISAKMP Attributes"
    min_length = PAYLOAD_MIN_LENGTHS[PayloadType.ATTRIBUTES]
    fields_desc = _HEADER + [
        ByteEnumField("type", ConfigType.CFG_REQUEST, CONFIG_TYPE_NAMES, _spellings(ConfigType)),
        ByteField("res2", 0),
        ShortField("identifier", 0),
        AttributesField("attributes", None, lambda pkt: CONFIG_ATTRIBUTES,
                        length_from=_body(8)),
    ]


class ISAKMP_payload_NAT_D(ISAKMP_payload):
    """NAT-D payload (RFC 3947 3.2): a hash of an address and port."""

    name = "ISAKMP NAT-D"
    fields_desc = _HEADER + [XStrLenField("hash", b"", length_from=_body(4))]


class ISAKMP_payload_NAT_D_Draft(ISAKMP_payload_NAT_D):
    """NAT-D as numbered 130 by draft-ietf-ipsec-nat-t-ike-02 and later."""

    name = "ISAKMP NAT-D (draft)"


class ISAKMP_payload_NAT_D_OldDraft(ISAKMP_payload_NAT_D):
    """NAT-D as numbered 15 by draft-ietf-ipsec-nat-t-ike-00/01."""

    name = "ISAKMP NAT-D (old draft)"


class ISAKMP_payload_NAT_OA(ISAKMP_payload):
    """NAT-OA payload (RFC 3947 5.2): the original address."""

    name = "ISAKMP NAT-OA"
    min_length = PAYLOAD_MIN_LENGTHS[PayloadType.NAT_OA]
    fields_desc = _HEADER + [
        ByteEnumField("id_type", IdType.IPV4_ADDR, ID_NAMES, _spellings(IdType, "ID_")),
        XStrFixedLenField("res2", b"\x00\x00\x00", 3),
        IdentDataField("address", "0.0.0.0", "id_type", length_from=_body(8)),
    ]


class ISAKMP_payload_NAT_OA_Draft(ISAKMP_payload_NAT_OA):
    """NAT-OA as numbered 131 by draft-ietf-ipsec-nat-t-ike-02 and later."""

    name = "ISAKMP NAT-OA (draft)"


class ISAKMP_payload_NAT_OA_OldDraft(ISAKMP_payload_NAT_OA):
    """NAT-OA as numbered 16 by draft-ietf-ipsec-nat-t-ike-00/01."""

    name = "ISAKMP NAT-OA (old draft)"


class ISAKMP_payload_Fragment(ISAKMP_payload):
    """IKE fragment payload (132) of the Cisco/strongSwan IKEv1
    fragmentation extension: fragment ID, number, last-fragment flag."""

    name = "ISAKMP Fragment"
    min_length = PAYLOAD_MIN_LENGTHS[PayloadType.FRAGMENT]
    fields_desc = _HEADER + [
        ShortField("fragment_id", 1),
        ByteField("fragment_number", 1),
        FlagsField("flags", 0, 8, ["last"]),
        XStrLenField("data", b"", length_from=_body(8)),
    ]


PAYLOAD_CLASSES = {
    PayloadType.SA: ISAKMP_payload_SA,
    PayloadType.PROPOSAL: ISAKMP_payload_Proposal,
    PayloadType.TRANSFORM: ISAKMP_payload_Transform,
    PayloadType.KE: ISAKMP_payload_KE,
    PayloadType.ID: ISAKMP_payload_ID,
    PayloadType.CERT: ISAKMP_payload_CERT,
    PayloadType.CR: ISAKMP_payload_CR,
    PayloadType.HASH: ISAKMP_payload_Hash,
    PayloadType.SIG: ISAKMP_payload_SIG,
    PayloadType.NONCE: ISAKMP_payload_Nonce,
    PayloadType.NOTIFICATION: ISAKMP_payload_Notify,
    PayloadType.DELETE: ISAKMP_payload_Delete,
    PayloadType.VENDOR_ID: ISAKMP_payload_VendorID,
    PayloadType.ATTRIBUTES: ISAKMP_payload_Attributes,
    PayloadType.NAT_D_OLD_DRAFT: ISAKMP_payload_NAT_D_OldDraft,
    PayloadType.NAT_OA_OLD_DRAFT: ISAKMP_payload_NAT_OA_OldDraft,
    PayloadType.NAT_D: ISAKMP_payload_NAT_D,
    PayloadType.NAT_OA: ISAKMP_payload_NAT_OA,
    PayloadType.NAT_D_DRAFT: ISAKMP_payload_NAT_D_Draft,
    PayloadType.NAT_OA_DRAFT: ISAKMP_payload_NAT_OA_Draft,
    PayloadType.FRAGMENT: ISAKMP_payload_Fragment,
}
"""The class of each payload type; GDOI's numbers
(:class:`~scapy_ike.constants.GdoiPayloadType`) dissect as the generic
:class:`ISAKMP_payload`."""
assert set(PAYLOAD_CLASSES) | {PayloadType.NONE} == set(PayloadType)
assert all(cls.min_length == PAYLOAD_MIN_LENGTHS.get(number, ISAKMP_payload.min_length)
           for number, cls in PAYLOAD_CLASSES.items())


def iter_payloads(head):
    """``(payload type, layer)`` for every payload after the header *head*
    in wire order, the proposals and transforms inside an SA included."""

    def chain(layer, ptype):
        while isinstance(layer, ISAKMP_payload):
            yield ptype, layer
            if isinstance(layer, ISAKMP_payload_SA):
                yield from chain(layer.prop, PayloadType.PROPOSAL)
            elif isinstance(layer, ISAKMP_payload_Proposal):
                yield from chain(layer.trans, PayloadType.TRANSFORM)
            ptype, layer = layer.next_payload, layer.payload

    if not isinstance(head, _scapy.ISAKMP):      # ISAKMP_Truncated
        return iter(())
    return chain(head.payload, head.next_payload)


def payloads_of(head, cls):
    """The payloads of class *cls* (subclasses too) after the header
    *head*, in wire order."""
    return [layer for _, layer in iter_payloads(head) if isinstance(layer, cls)]


def payload_body(layer):
    """A payload's bytes without its generic header: what HASH_I, HASH_R
    and the Quick Mode hashes take as SAi_b, IDii_b ... (RFC 2409 5)."""
    return bytes(layer)[4:layer.length]


def malformed(pkt):
    """Every ``(layer name, reason)`` of a malformed layer in *pkt*, the
    header first, then the payloads in wire order."""
    layers = [pkt] + [layer for _, layer in iter_payloads(pkt)]
    return [(layer.name, layer.malformed) for layer in layers
            if getattr(layer, "malformed", None) is not None]


def _generic_when_short(cls, _pkt=None, *args, **kargs):
    """Bytes too short for a payload's fixed fields dissect as the generic
    payload, so that nothing is lost."""
    if _pkt is not None and len(_pkt) >= 4:
        length = struct.unpack("!H", _pkt[2:4])[0]
        if length < cls.min_length or len(_pkt) < cls.min_length:
            return ISAKMP_payload
    return cls


def _redirect(ours):
    def dispatch_hook(cls, _pkt=None, *args, **kargs):
        if "dispatch_hook" in ours.__dict__:
            return ours.dispatch_hook(_pkt, *args, **kargs)
        return ours
    return classmethod(dispatch_hook)


def _bind():
    """Bind the payload chain, UDP 500 and the NAT-T non-ESP marker to the
    classes above, replacing Scapy's own bindings (and IKEv2's, which the
    header's version dispatch reaches instead).  Scapy's classes of the same
    names build ours, so that a Scapy session whose ``ISAKMP`` name is
    Scapy's gets these layers too."""
    for cls in PAYLOAD_CLASSES.values():
        cls.dispatch_hook = classmethod(_generic_when_short)
    for ours in [ISAKMP, ISAKMP_payload] + list(PAYLOAD_CLASSES.values()):
        theirs = getattr(_scapy, ours.__name__, None)
        if theirs is not None and theirs is not ours:
            theirs.dispatch_hook = _redirect(ours)
    base = _scapy._ISAKMP_class
    base.payload_guess = [(f, c) for f, c in base.payload_guess
                          if "next_payload" not in f]
    for number, cls in PAYLOAD_CLASSES.items():
        bind_bottom_up(base, cls, next_payload=int(number))
        bind_top_down(base, cls, next_payload=int(number))
    for upper in (_scapy.ISAKMP, getattr(sys.modules.get("scapy.contrib.ikev2"), "IKEv2", None)):
        if upper is not None:
            split_bottom_up(UDP, upper, dport=IKE_PORT)
            split_bottom_up(UDP, upper, sport=IKE_PORT)
            split_bottom_up(NON_ESP, upper)
    bind_bottom_up(UDP, ISAKMP, dport=IKE_PORT)
    bind_bottom_up(UDP, ISAKMP, sport=IKE_PORT)
    bind_top_down(UDP, ISAKMP, dport=IKE_PORT, sport=IKE_PORT)
    bind_bottom_up(NON_ESP, ISAKMP)


_bind()


@contextmanager
def bind_ports(ike_port, natt_port):
    """Dissect UDP *ike_port* as IKE and *natt_port* as NAT-T (non-ESP
    marker, ESP-in-UDP, keep-alives) inside the ``with`` block, like
    tshark's ``-d udp.port==N,isakmp``; bindings that exist already (500,
    4500) are left alone."""
    wanted = [(ISAKMP, {"dport": ike_port}), (ISAKMP, {"sport": ike_port}),
              (ESP, {"dport": natt_port}), (ESP, {"sport": natt_port})]
    bindings = [(upper, fval) for upper, fval in wanted if (fval, upper) not in UDP.payload_guess]
    for upper, fval in bindings:
        bind_bottom_up(UDP, upper, **fval)
    try:
        yield
    finally:
        for upper, fval in bindings:
            split_bottom_up(UDP, upper, **fval)


__all__ = [
    "ISAKMP", "ISAKMP_Truncated", "ISAKMP_Encrypted", "ISAKMP_payload",
    "malformed", "iter_payloads", "payloads_of", "payload_body", "attribute_space",
    "bind_ports", "PAYLOAD_CLASSES",
    "OAKLEY_ATTRIBUTES", "IPSEC_ATTRIBUTES", "CONFIG_ATTRIBUTES",
] + [cls.__name__ for cls in PAYLOAD_CLASSES.values()]
