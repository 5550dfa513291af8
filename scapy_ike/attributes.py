"""Data attributes (RFC 2408 3.3) without Scapy: their codec
(:class:`AttributeSpace`) and the three registries IKEv1 uses, the Phase 1
attributes (RFC 2409 Appendix A), the IPsec DOI's (RFC 2407 4.5) and Mode
Config's (draft-dukes-ike-mode-cfg-02 3.2), under Scapy's names where
Scapy has them.  The Scapy layers and the engine's :mod:`struct` reading
of messages share them.
"""

import ipaddress
import struct

from scapy_ike.constants import (
    AuthMethod, CONFIG_BASIC_ATTRIBUTES, ConfigAttribute, EncapsulationMode,
    EncryptionAlgorithm, ExtendedSequenceNumber, Group, GroupType, HashAlgorithm,
    IpsecAttribute, IpsecAuthAlgorithm, IPSEC_VARIABLE_ATTRIBUTES, LifeType,
    OakleyAttribute, OAKLEY_VARIABLE_ATTRIBUTES, Prf, XauthStatus, XauthType,
)


def unknown(what, name, valid):
    """The one-line message for a name that is not among *valid*."""
    valid = list(valid)
    return "%s %r; valid: %s" % (what, name, ", ".join(valid) if valid else "a number")


def flag_malformed(pkt, reason):
    """Record the first reason why *pkt* is malformed."""
    if pkt is not None and getattr(pkt, "malformed", None) is None:
        pkt.malformed = reason


class Attribute(tuple):
    """One data attribute as Scapy's ``(type, value)`` pair.

    ``tlv`` keeps the wire form: ``None`` for the basic (TV) format, else
    the length of the TLV value, so that a dissected attribute builds back
    to the same bytes.  It compares equal to a plain ``(type, value)`` tuple.
    """

    def __new__(cls, type_, value, tlv=None):
        self = super().__new__(cls, (type_, value))
        self.tlv = tlv
        return self


class AttributeSpace:
    """Names and encodings of one attribute registry.

    *types* is an IntEnum of attribute types, *values* maps a type to an
    IntEnum of its values, *variable* lists the variable-length (TLV)
    types, *legacy* gives Scapy's spellings ``{name: (type, {value name:
    value}, tlv)}`` which win over the derived ones, so that names that Scapy
    code uses keep working, and *addresses* lists types whose 4-byte values
    read as IPv4 addresses.
    """

    def __init__(self, types, values=None, variable=(), legacy=None,
                 addresses=(), type_style=None):
        legacy = legacy or {}
        style = type_style or (lambda n: n)
        self.type_names = {int(t): style(t.name) for t in types}
        self.value_names = {int(t): {int(v): v.name.replace("_", "-")
                                     for v in enum}
                            for t, enum in (values or {}).items()}
        for name, (num, names, _tlv) in legacy.items():
            self.type_names[num] = name
            table = self.value_names.setdefault(num, {})
            for vname, v in names.items():
                table[v] = vname
        self.type_numbers = {v: k for k, v in self.type_names.items()}
        self.type_numbers.update({t.name: int(t) for t in types})
        self.value_numbers = {}
        for t, table in self.value_names.items():
            rev = {v: k for k, v in table.items()}
            enum = (values or {}).get(t)
            if enum is not None:
                rev.update({v.name: int(v) for v in enum})
                rev.update({v.name.replace("_", "-"): int(v) for v in enum})
            self.value_numbers[t] = rev
        self.variable = frozenset(int(t) for t in variable)
        self.addresses = frozenset(int(t) for t in addresses)

    def type_number(self, t):
        if isinstance(t, str):
            try:
                return self.type_numbers[t]
            except KeyError:
                raise ValueError(unknown("unknown attribute type", t,
                                         self.type_names.values())) from None
        return int(t)

    def knows(self, t):
        """Whether *t* (a number or a name) is a type of this space."""
        return not isinstance(t, str) or t in self.type_numbers

    def value_number(self, t, v):
        if isinstance(v, str) and t not in self.variable:
            try:
                return self.value_numbers.get(t, {})[v]
            except KeyError:
                if t in self.addresses:
                    return ipaddress.IPv4Address(v).packed
                raise ValueError(unknown(
                    "unknown value for attribute %s:" % self.type_names.get(t, t),
                    v, self.value_names.get(t, {}).values())) from None
        if isinstance(v, str):
            return v.encode()
        return v

    def numbers(self, attributes):
        """``{type: value}`` of decoded attributes, as numbers; ValueError
        when one is not of this space or is malformed (RFC 2408 3.3)."""
        values = {}
        for name, value in attributes:
            if name is None:
                raise ValueError("malformed attribute bytes %s" % bytes(value).hex())
            number = self.type_number(name)
            values[number] = self.value_number(number, value)
        return values

    def encode(self, attr):
        """Wire bytes of one ``(type, value)`` pair or :class:`Attribute`."""
        t, v = attr
        if t is None:                       # bytes kept from a malformed tail
            return v
        t = self.type_number(t)
        v = self.value_number(t, v)
        tlv = getattr(attr, "tlv", None)
        if isinstance(v, str):
            v = v.encode()
        if isinstance(v, (bytes, bytearray)):
            size = len(v) if tlv is None else tlv
            return struct.pack("!HH", t & 0x7FFF, size) + bytes(v)
        v = int(v)
        if tlv is None and v <= 0xFFFF:
            return struct.pack("!HH", t | 0x8000, v)
        if tlv is None:
            tlv = max(4, (v.bit_length() + 7) // 8)
        return struct.pack("!HH", t & 0x7FFF, tlv) + v.to_bytes(tlv, "big")

    def decode(self, pkt, data):
        """Attributes of *data*, each an :class:`Attribute` (RFC 2408 3.3)."""
        out = []
        while len(data) >= 4:
            t, v = struct.unpack("!HH", data[:4])
            basic = bool(t & 0x8000)
            t &= 0x7FFF
            name = self.type_names.get(t, t)
            if basic:
                out.append(Attribute(name, self.value_names.get(t, {}).get(v, v)))
                data = data[4:]
                continue
            raw = data[4:4 + v]
            if len(raw) < v:
                flag_malformed(pkt, "attribute %s: length %d exceeds the %d bytes left"
                      % (name, v, len(raw)))
                out.append(Attribute(name, raw, tlv=v))
                data = b""
                break
            out.append(Attribute(name, self._value(t, raw), tlv=v))
            data = data[4 + v:]
        if data:
            flag_malformed(pkt, "%d bytes after the last attribute" % len(data))
            out.append(Attribute(None, data))
        return out

    def _value(self, t, raw):
        if t in self.addresses and len(raw) == 4:
            return str(ipaddress.IPv4Address(raw))
        if t in self.variable and raw:
            return int.from_bytes(raw, "big")
        return raw


SCAPY_OAKLEY_NAMES = {
    "Encryption": (1, {"DES-CBC": 1, "IDEA-CBC": 2, "Blowfish-CBC": 3, "RC5-R16-B64-CBC": 4,
                       "3DES-CBC": 5, "CAST-CBC": 6, "AES-CBC": 7, "CAMELLIA-CBC": 8}, 0),
    "Hash": (2, {"MD5": 1, "SHA": 2, "Tiger": 3, "SHA2-256": 4, "SHA2-384": 5,
                 "SHA2-512": 6}, 0),
    "Authentication": (3, {"PSK": 1, "DSS": 2, "RSA Sig": 3, "RSA Encryption": 4,
                           "RSA Encryption Revised": 5, "ElGamal Encryption": 6,
                           "ElGamal Encryption Revised": 7, "ECDSA Sig": 8,
                           "HybridInitRSA": 64221, "HybridRespRSA": 64222,
                           "HybridInitDSS": 64223, "HybridRespDSS": 64224,
                           "XAUTHInitPreShared": 65001, "XAUTHRespPreShared": 65002,
                           "XAUTHInitDSS": 65003, "XAUTHRespDSS": 65004,
                           "XAUTHInitRSA": 65005, "XAUTHRespRSA": 65006,
                           "XAUTHInitRSAEncryption": 65007, "XAUTHRespRSAEncryption": 65008,
                           "XAUTHInitRSARevisedEncryption": 65009,
                           "XAUTHRespRSARevisedEncryptio": 65010}, 0),
    "GroupDesc": (4, {"768MODPgr": 1, "1024MODPgr": 2, "EC2Ngr155": 3, "EC2Ngr185": 4,
                      "1536MODPgr": 5, "2048MODPgr": 14, "3072MODPgr": 15, "4096MODPgr": 16,
                      "6144MODPgr": 17, "8192MODPgr": 18}, 0),
    "GroupType": (5, {"MODP": 1, "ECP": 2, "EC2N": 3}, 0),
    "GroupPrime": (6, {}, 1),
    "GroupGenerator1": (7, {}, 1),
    "GroupGenerator2": (8, {}, 1),
    "GroupCurveA": (9, {}, 1),
    "GroupCurveB": (10, {}, 1),
    "LifeType": (11, {"Seconds": 1, "Kilobytes": 2}, 0),
    "LifeDuration": (12, {}, 1),
    "PRF": (13, {}, 0),
    "KeyLength": (14, {}, 0),
    "FieldSize": (15, {}, 0),
    "GroupOrder": (16, {}, 1),
}
"""Scapy's names of the Phase 1 attributes and their values,
``{name: (type, {value name: value}, tlv)}``: ``ISAKMPAttributeTypes`` of
``scapy.layers.isakmp``, the same from Scapy 2.6.1 to 2.8."""

SCAPY_IPSEC_NAMES = {
    "LifeType": (1, {"Reserved": 0, "seconds": 1, "kilobytes": 2}, 0),
    "LifeDuration": (2, {}, 1),
    "GroupDesc": (3, SCAPY_OAKLEY_NAMES["GroupDesc"][1], 0),
    "EncapsulationMode": (4, {"Reserved": 0, "Tunnel": 1, "Transport": 2,
                              "UDP-Encapsulated-Tunnel": 3,
                              "UDP-Encapsulated-Transport": 4}, 0),
    "AuthenticationAlgorithm": (5, {"HMAC-MD5": 1, "HMAC-SHA": 2, "DES-MAC": 3, "KPDK": 4,
                                    "HMAC-SHA2-256": 5, "HMAC-SHA2-384": 6,
                                    "HMAC-SHA2-512": 7, "HMAC-RIPEMD": 8, "AES-XCBC-MAC": 9,
                                    "SIG-RSA": 10, "AES-128-GMAC": 11, "AES-192-GMAC": 12,
                                    "AES-256-GMAC": 13}, 0),
    "KeyLength": (6, {}, 0),
    "KeyRounds": (7, {}, 0),
    "CompressDictionarySize": (8, {}, 0),
    "CompressPrivateAlgorithm": (9, {}, 1),
}
"""Scapy's names of the IPsec attributes, as :data:`SCAPY_OAKLEY_NAMES`:
``IPSECAttributeTypes`` of ``scapy.layers.isakmp``."""


def _camel(name):
    return "".join(w.capitalize() for w in name.split("_"))


OAKLEY_ATTRIBUTES = AttributeSpace(
    OakleyAttribute, type_style=_camel,
    values={
        OakleyAttribute.ENCRYPTION_ALGORITHM: EncryptionAlgorithm,
        OakleyAttribute.HASH_ALGORITHM: HashAlgorithm,
        OakleyAttribute.AUTHENTICATION_METHOD: AuthMethod,
        OakleyAttribute.GROUP_DESCRIPTION: Group,
        OakleyAttribute.GROUP_TYPE: GroupType,
        OakleyAttribute.LIFE_TYPE: LifeType,
        OakleyAttribute.PRF: Prf,
    },
    variable=OAKLEY_VARIABLE_ATTRIBUTES,
    legacy=SCAPY_OAKLEY_NAMES,
)
"""Phase 1 SA attributes (RFC 2409 Appendix A), with Scapy's names."""

IPSEC_ATTRIBUTES = AttributeSpace(
    IpsecAttribute, type_style=_camel,
    values={
        IpsecAttribute.SA_LIFE_TYPE: LifeType,
        IpsecAttribute.GROUP_DESCRIPTION: Group,
        IpsecAttribute.ENCAPSULATION_MODE: EncapsulationMode,
        IpsecAttribute.AUTHENTICATION_ALGORITHM: IpsecAuthAlgorithm,
        IpsecAttribute.EXTENDED_SEQUENCE_NUMBER: ExtendedSequenceNumber,
    },
    variable=IPSEC_VARIABLE_ATTRIBUTES,
    legacy=SCAPY_IPSEC_NAMES,
)
"""IPsec SA attributes (RFC 2407 4.5), with Scapy's names."""

CONFIG_ATTRIBUTES = AttributeSpace(
    ConfigAttribute,
    values={ConfigAttribute.XAUTH_TYPE: XauthType,
            ConfigAttribute.XAUTH_STATUS: XauthStatus},
    variable=(),
    addresses=(ConfigAttribute.INTERNAL_IP4_ADDRESS,
               ConfigAttribute.INTERNAL_IP4_NETMASK,
               ConfigAttribute.INTERNAL_IP4_DNS,
               ConfigAttribute.INTERNAL_IP4_NBNS,
               ConfigAttribute.INTERNAL_IP4_DHCP),
)
"""Mode Config and XAuth attributes; values of the variable ones are bytes
(addresses as text).  XAUTH_TYPE and XAUTH_STATUS are basic."""
assert all(a in CONFIG_ATTRIBUTES.type_names for a in CONFIG_BASIC_ATTRIBUTES)
