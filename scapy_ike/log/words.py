"""The words of a Cisco IOS ``debug crypto isakmp`` log for our facts:
exchange inputs, phase tags, payload names, attribute lines, vendor IDs,
ID payloads and message IDs as IOS prints them."""

import ipaddress

from scapy_ike.constants import (
    AuthMethod, EncapsulationMode, EncryptionAlgorithm as E, EspTransformId, ExchangeType as X,
    IdType, IpsecAuthAlgorithm, PayloadType as T, vendor_id_name,
)

INPUTS = {X.MAIN_MODE: "IKE_MM_EXCH", X.AGGRESSIVE: "IKE_AM_EXCH", X.QUICK_MODE: "IKE_QM_EXCH",
          X.INFORMATIONAL: "IKE_INFO_NOTIFY", X.TRANSACTION: "IKE_CFG_EXCH"}
"""IOS's name of a peer's message as an input (``Input = IKE_MESG_FROM_PEER, ...``)."""

PAYLOADS = {T.SA: "SA", T.KE: "KE", T.ID: "ID", T.CERT: "CERT", T.CR: "CERT_REQ",
            T.HASH: "HASH", T.SIG: "SIG", T.NONCE: "NONCE", T.NOTIFICATION: "NOTIFY",
            T.DELETE: "DELETE", T.VENDOR_ID: "vendor id", T.ATTRIBUTES: "transaction",
            T.NAT_D: "NAT-D", T.NAT_D_DRAFT: "NAT-D", T.NAT_OA: "NAT-OA",
            T.NAT_OA_DRAFT: "NAT-OA"}

_CIPHERS = {E.DES_CBC: "DES-CBC", E.TRIPLE_DES_CBC: "3DES-CBC", E.AES_CBC: "AES-CBC",
            E.BLOWFISH_CBC: "BLOWFISH", E.CAST_CBC: "CAST", E.CAMELLIA_CBC: "CAMELLIA"}
_HASHES = {1: "MD5", 2: "SHA", 3: "TIGER", 4: "SHA256", 5: "SHA384", 6: "SHA512"}
_AUTH = {AuthMethod.PSK: "pre-share", AuthMethod.RSA_SIG: "RSA sig",
         AuthMethod.DSS_SIG: "DSS sig", AuthMethod.XAUTH_INIT_PSK: "XAUTHInitPreShared",
         AuthMethod.XAUTH_RESP_PSK: "XAUTHRespPreShared"}
_ENCAPS = {EncapsulationMode.TUNNEL: "Tunnel", EncapsulationMode.TRANSPORT: "Transport",
           EncapsulationMode.UDP_TUNNEL: "Tunnel-UDP", EncapsulationMode.UDP_TRANSPORT:
           "Transport-UDP", EncapsulationMode.UDP_TUNNEL_DRAFT: "Tunnel-UDP",
           EncapsulationMode.UDP_TRANSPORT_DRAFT: "Transport-UDP"}


def message_id(mid):
    """A message ID as IOS prints it: a signed 32-bit number."""
    return mid - (1 << 32) if mid >= 1 << 31 else mid


def phase_tag(exch_type, payloads, role, sent):
    """IOS's phase tag of a packet (``MM_NO_STATE``, ``MM_SA_SETUP``,
    ``MM_KEY_EXCH``, ``AG_INIT_EXCH``, ``QM_IDLE``), from what it carries;
    a responder's first message in is ``NEW SA``."""
    types = {f.type for f in payloads}
    first_in = role == "responder" and not sent and T.SA in types and T.HASH not in types
    if exch_type in (X.MAIN_MODE, X.AGGRESSIVE) and first_in:
        return "NEW SA"
    if exch_type == X.AGGRESSIVE:
        return "AG_INIT_EXCH"
    if exch_type != X.MAIN_MODE:
        return "QM_IDLE"
    if T.SA in types:                        # MM1, MM2
        return "MM_SA_SETUP" if role == "responder" else "MM_NO_STATE"
    if T.KE in types:                        # MM3, MM4
        return "MM_KEY_EXCH" if role == "responder" and sent else "MM_SA_SETUP"
    return "MM_KEY_EXCH"                     # MM5, MM6


def phase1_attributes(attributes):
    """The lines IOS prints under ``Checking ISAKMP transform``."""
    values = dict(attributes)
    lines = []
    if "Encryption" in values:
        number = values["Encryption"]
        lines.append("encryption %s" % _CIPHERS.get(number, "cipher %s" % number))
    if "KeyLength" in values:
        lines.append("keylength of %d" % values["KeyLength"])
    if "Hash" in values:
        lines.append("hash %s" % _HASHES.get(values["Hash"], values["Hash"]))
    if "GroupDesc" in values:
        lines.append("default group %s" % values["GroupDesc"])
    if "Authentication" in values:
        lines.append("auth %s" % _AUTH.get(values["Authentication"], values["Authentication"]))
    for name, value in attributes:
        if name == "LifeType":
            lines.append("life type in %s" % ("seconds" if value == 1 else "kilobytes"))
        elif name == "LifeDuration":
            lines.append("life duration %s" % _duration(value))
    return lines


def phase2_attributes(transform_id, attributes):
    """The lines IOS prints under ``Checking IPSec proposal``."""
    lines = ["transform %%d, %s" % _esp_name(transform_id), "attributes in transform:"]
    for name, value in attributes:
        if name == "EncapsulationMode":
            lines.append("encaps is %d (%s)" % (value, _ENCAPS.get(value, "unknown")))
        elif name == "LifeType":
            lines.append("SA life type in %s" % ("seconds" if value == 1 else "kilobytes"))
        elif name == "LifeDuration":
            lines.append("SA life duration %s" % _duration(value))
        elif name == "AuthenticationAlgorithm":
            lines.append("authenticator is %s" % _authenticator(value))
        elif name == "KeyLength":
            lines.append("key length is %d" % value)
        elif name == "GroupDesc":
            lines.append("group is %d" % value)
    return lines


def _duration(value):
    if isinstance(value, bytes):
        value = int.from_bytes(value, "big")
    if value <= 0xFFFF:
        return "(basic) of %d" % value
    return "(VPI) of " + " ".join("0x%x" % b for b in value.to_bytes(4, "big"))


def _esp_name(transform_id):
    try:
        name = EspTransformId(transform_id).name
    except ValueError:
        return "transform id %d" % transform_id
    return {"ESP_AES_CBC": "ESP_AES"}.get(name, name)


def _authenticator(value):
    try:
        return IpsecAuthAlgorithm(value).name.replace("_", "-").replace("SHA2-", "SHA")
    except ValueError:
        return "algorithm %d" % value


def vendor_id(body):
    """``NAT-T v7``, ``Unity``, ``DPD`` and the like: IOS's words for a
    vendor ID where it has them, else the name of our table; None when
    unknown."""
    name = vendor_id_name(body)
    if name is None:
        return None
    tail = name.rsplit("-", 1)[-1].replace("\\n", "").strip()
    if name.startswith("draft-ietf-ipsec-nat-t-ike-") and tail.isdigit():
        return "NAT-T v%d" % int(tail)
    return {"RFC 3947 NAT-T": "NAT-T RFC 3947", "Cisco Unity": "Unity",
            "RFC 3706 DPD": "DPD"}.get(name, name)


def id_payload(body):
    """The lines of IOS's ``ID payload`` block for an ID body (RFC 2407
    4.6.2): type, address or name, protocol, port, length."""
    if len(body) < 4:
        return ["ID payload of %d bytes" % len(body)]
    id_type, protocol, port = body[0], body[1], int.from_bytes(body[2:4], "big")
    data = bytes(body[4:])
    try:
        kind = IdType(id_type)
    except ValueError:
        kind = None
    if kind in (IdType.IPV4_ADDR, IdType.IPV6_ADDR) and len(data) in (4, 16):
        shown = "address : %s" % ipaddress.ip_address(data)
    elif kind in (IdType.IPV4_ADDR_SUBNET, IdType.IPV6_ADDR_SUBNET) and len(data) in (8, 32):
        half = len(data) // 2
        shown = "address : %s/%s" % (ipaddress.ip_address(data[:half]),
                                     ipaddress.ip_address(data[half:]))
    else:
        text = data.decode(errors="replace")
        shown = "FQDN name : %s" % text if text.isprintable() else "data : %s" % data.hex()
    return ["type : %d" % id_type, shown, "protocol : %d" % protocol, "port : %d" % port,
            "length : %d" % len(data)]


def id_type_name(body):
    try:
        return "ID_" + IdType(body[0]).name
    except (ValueError, IndexError):
        return "ID type %d" % (body[0] if body else 0)

