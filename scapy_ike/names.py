"""The names IKEv1 numbers are shown by, ``{number: name}`` per registry:
Scapy's spelling where Scapy has one, else the enum member's name of
:mod:`scapy_ike.constants` with dashes.  The Scapy layers' enum fields and
the :mod:`struct` readers of messages (the engine, ``decode``) share them.
"""

from scapy_ike.constants import (
    AhTransformId, CertEncoding, ConfigType, DOI, EspTransformId, ExchangeType, IdType,
    IpcompTransformId, IsakmpTransformId, NotifyType, PayloadType, ProtocolId,
)


def _names(enum, legacy=None):
    """``{number: name}`` for *enum*, the names of *legacy* winning."""
    table = {int(m): m.name.replace("_", "-") for m in enum}
    table.update(legacy or {})
    return table


SCAPY_PAYLOAD_NAMES = {
    0: "None", 1: "SA", 2: "Proposal", 3: "Transform", 4: "KE", 5: "ID", 6: "CERT", 7: "CR",
    8: "Hash", 9: "SIG", 10: "Nonce", 11: "Notification", 12: "Delete", 13: "VendorID",
}
"""Scapy's names of the payload types of RFC 2408 3.1: ``ISAKMP_payload_type``
of ``scapy.layers.isakmp``, the same from Scapy 2.6.1 to 2.8."""

SCAPY_EXCHANGE_NAMES = {
    0: "None", 1: "base", 2: "identity protection", 3: "authentication only", 4: "aggressive",
    5: "informational", 32: "quick mode",
}
"""Scapy's names of the exchange types of RFC 2408 3.1 and RFC 2409 5.5:
``ISAKMP_exchange_type`` of ``scapy.layers.isakmp``."""

PAYLOAD_NAMES = _names(PayloadType, SCAPY_PAYLOAD_NAMES)
EXCHANGE_NAMES = _names(ExchangeType, SCAPY_EXCHANGE_NAMES)
PROTOCOL_NAMES = _names(ProtocolId)
DOI_NAMES = _names(DOI)
NOTIFY_NAMES = _names(NotifyType)
ID_NAMES = _names(IdType)
CERT_NAMES = _names(CertEncoding)
CONFIG_TYPE_NAMES = _names(ConfigType)
TRANSFORM_ID_NAMES = {
    ProtocolId.ISAKMP: _names(IsakmpTransformId),
    ProtocolId.IPSEC_AH: _names(AhTransformId),
    ProtocolId.IPSEC_ESP: _names(EspTransformId),
    ProtocolId.IPCOMP: _names(IpcompTransformId),
}
"""Transform IDs by the proposal's protocol (RFC 2407 4.4.2-4.4.5)."""
