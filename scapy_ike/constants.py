"""IANA and RFC numbers of IKEv1, ISAKMP and IPsec, as IntEnums.

Every other module refers to these names instead of repeating numbers.
Sources: the IANA "Internet Key Exchange (IKE) Attributes" and "ISAKMP
Identifiers" registries, RFC 2407 (IPsec DOI), RFC 2408 (ISAKMP), RFC 2409
(IKE), RFC 3947/3948 (NAT-T), RFC 3706 (DPD), RFC 4304 (ESN) and the XAuth /
Mode Config drafts (draft-beaulieu-ike-xauth-02, draft-dukes-ike-mode-cfg-02).
Stdlib only.
"""

import hashlib
import os
from enum import IntEnum, IntFlag

ISAKMP_VERSION = 0x10
"""Major version 1, minor version 0 (RFC 2408 3.1)."""

IKE_PORT = 500
NATT_PORT = 4500
NON_ESP_MARKER = b"\x00\x00\x00\x00"
"""Four zero bytes before an IKE message on the NAT-T port (RFC 3948 2.2)."""
NAT_KEEPALIVE = b"\xff"
"""The one-byte NAT keep-alive (RFC 3948 2.3)."""


class ExchangeType(IntEnum):
    """ISAKMP exchange types (RFC 2408 3.1, RFC 2409 5-6)."""

    NONE = 0
    BASE = 1
    IDENTITY_PROTECTION = 2
    AUTHENTICATION_ONLY = 3
    AGGRESSIVE = 4
    INFORMATIONAL = 5
    TRANSACTION = 6
    QUICK_MODE = 32
    NEW_GROUP_MODE = 33

    MAIN_MODE = 2


class Flags(IntFlag):
    """ISAKMP header flags (RFC 2408 3.1)."""

    ENCRYPTION = 0x01
    COMMIT = 0x02
    AUTH_ONLY = 0x04


class PayloadType(IntEnum):
    """Next-payload values of IKEv1 (RFC 2408 3.1, RFC 3947, NAT-T drafts,
    Mode Config, and the Cisco/strongSwan IKE fragmentation extension)."""

    NONE = 0
    SA = 1
    PROPOSAL = 2
    TRANSFORM = 3
    KE = 4
    ID = 5
    CERT = 6
    CR = 7
    HASH = 8
    SIG = 9
    NONCE = 10
    NOTIFICATION = 11
    DELETE = 12
    VENDOR_ID = 13
    ATTRIBUTES = 14
    NAT_D_OLD_DRAFT = 15
    """NAT-D in draft-ietf-ipsec-nat-t-ike-00/01; IANA gave 15 to GDOI's SAK."""
    NAT_OA_OLD_DRAFT = 16
    """NAT-OA in draft-ietf-ipsec-nat-t-ike-00/01; IANA gave 16 to GDOI's SAT."""
    NAT_D = 20
    NAT_OA = 21
    NAT_D_DRAFT = 130
    NAT_OA_DRAFT = 131
    FRAGMENT = 132


class GdoiPayloadType(IntEnum):
    """Payload numbers that IANA assigned to GDOI (RFC 6407); dissected
    generically, and only outside the IKEv1 exchanges."""

    SAK = 15
    SAT = 16
    KD = 17
    SEQ = 18
    POP = 19
    GAP = 22


PAYLOAD_MIN_LENGTHS = {
    PayloadType.SA: 12,                 # DOI, situation (RFC 2408 3.4, RFC 2407 4.2)
    PayloadType.PROPOSAL: 8,            # number, protocol, SPI size, transforms (3.5)
    PayloadType.TRANSFORM: 8,           # number, transform ID, reserved (3.6)
    PayloadType.ID: 8,                  # ID type, protocol, port (3.8, RFC 2407 4.6.2)
    PayloadType.CERT: 5,                # encoding (3.9)
    PayloadType.CR: 5,                  # certificate type (3.10)
    PayloadType.NOTIFICATION: 12,       # DOI, protocol, SPI size, type (3.14)
    PayloadType.DELETE: 12,             # DOI, protocol, SPI size, number of SPIs (3.15)
    PayloadType.ATTRIBUTES: 8,          # type, identifier (draft-dukes-ike-mode-cfg-02 3.2)
    PayloadType.NAT_OA_OLD_DRAFT: 8,    # ID type, reserved (RFC 3947 5.2)
    PayloadType.NAT_OA: 8,
    PayloadType.NAT_OA_DRAFT: 8,
    PayloadType.FRAGMENT: 8,            # fragment ID, number, flags
}
"""The length of each payload's fixed fields, its generic header's 4
bytes (RFC 2408 3.2) included; a payload type not here has no others."""

MAX_PAYLOADS = 100
"""Payloads nested in one message (transforms in their proposal count)
before the rest is left raw: real messages carry fewer than 50, and Scapy
dissects each payload one stack level deeper, so hostile input must not
reach Python's recursion limit."""


class DOI(IntEnum):
    """Domains of interpretation (RFC 2408 3.4, RFC 2407 4.2)."""

    ISAKMP = 0
    IPSEC = 1
    GDOI = 2


class Situation(IntFlag):
    """IPsec DOI situation bits (RFC 2407 4.2)."""

    IDENTITY_ONLY = 0x01
    SECRECY = 0x02
    INTEGRITY = 0x04


class ProtocolId(IntEnum):
    """Security protocol identifiers (RFC 2407 4.4.1)."""

    ISAKMP = 1
    IPSEC_AH = 2
    IPSEC_ESP = 3
    IPCOMP = 4
    GIGABEAM_RADIO = 5


class IsakmpTransformId(IntEnum):
    """ISAKMP transform identifiers (RFC 2407 4.4.2)."""

    KEY_IKE = 1


class AhTransformId(IntEnum):
    """IPsec AH transform identifiers (RFC 2407 4.4.3, IANA)."""

    AH_MD5 = 2
    AH_SHA = 3
    AH_DES = 4
    AH_SHA2_256 = 5
    AH_SHA2_384 = 6
    AH_SHA2_512 = 7
    AH_RIPEMD = 8
    AH_AES_XCBC_MAC = 9
    AH_RSA = 10
    AH_AES_128_GMAC = 11
    AH_AES_192_GMAC = 12
    AH_AES_256_GMAC = 13


class EspTransformId(IntEnum):
    """IPsec ESP transform identifiers (RFC 2407 4.4.4, RFC 3602, 3686,
    4106, 4309, 4543, IANA)."""

    ESP_DES_IV64 = 1
    ESP_DES = 2
    ESP_3DES = 3
    ESP_RC5 = 4
    ESP_IDEA = 5
    ESP_CAST = 6
    ESP_BLOWFISH = 7
    ESP_3IDEA = 8
    ESP_DES_IV32 = 9
    ESP_RC4 = 10
    ESP_NULL = 11
    ESP_AES_CBC = 12
    ESP_AES_CTR = 13
    ESP_AES_CCM_8 = 14
    ESP_AES_CCM_12 = 15
    ESP_AES_CCM_16 = 16
    ESP_AES_GCM_8 = 18
    ESP_AES_GCM_12 = 19
    ESP_AES_GCM_16 = 20
    ESP_SEED_CBC = 21
    ESP_CAMELLIA = 22
    ESP_NULL_AUTH_AES_GMAC = 23


class IpcompTransformId(IntEnum):
    """IPComp transform identifiers (RFC 2407 4.4.5)."""

    IPCOMP_OUI = 1
    IPCOMP_DEFLATE = 2
    IPCOMP_LZS = 3
    IPCOMP_LZJH = 4


# -- Phase 1 (Oakley) SA attributes, RFC 2409 Appendix A ----------------------

class OakleyAttribute(IntEnum):
    """IKE SA attribute classes (RFC 2409 Appendix A)."""

    ENCRYPTION_ALGORITHM = 1
    HASH_ALGORITHM = 2
    AUTHENTICATION_METHOD = 3
    GROUP_DESCRIPTION = 4
    GROUP_TYPE = 5
    GROUP_PRIME = 6
    GROUP_GENERATOR_ONE = 7
    GROUP_GENERATOR_TWO = 8
    GROUP_CURVE_A = 9
    GROUP_CURVE_B = 10
    LIFE_TYPE = 11
    LIFE_DURATION = 12
    PRF = 13
    KEY_LENGTH = 14
    FIELD_SIZE = 15
    GROUP_ORDER = 16


OAKLEY_VARIABLE_ATTRIBUTES = frozenset({
    OakleyAttribute.GROUP_PRIME, OakleyAttribute.GROUP_GENERATOR_ONE,
    OakleyAttribute.GROUP_GENERATOR_TWO, OakleyAttribute.GROUP_CURVE_A,
    OakleyAttribute.GROUP_CURVE_B, OakleyAttribute.LIFE_DURATION,
    OakleyAttribute.GROUP_ORDER,
})
"""The "V" classes of RFC 2409 Appendix A; the others are basic (TV)."""


class EncryptionAlgorithm(IntEnum):
    """Phase 1 encryption algorithms (RFC 2409 Appendix A, IANA)."""

    DES_CBC = 1
    IDEA_CBC = 2
    BLOWFISH_CBC = 3
    RC5_R16_B64_CBC = 4
    TRIPLE_DES_CBC = 5
    CAST_CBC = 6
    AES_CBC = 7
    CAMELLIA_CBC = 8


class HashAlgorithm(IntEnum):
    """Phase 1 hash algorithms (RFC 2409 Appendix A, RFC 4868)."""

    MD5 = 1
    SHA = 2
    TIGER = 3
    SHA2_256 = 4
    SHA2_384 = 5
    SHA2_512 = 6


class AuthMethod(IntEnum):
    """Phase 1 authentication methods (RFC 2409 Appendix A, RFC 4754,
    draft-ietf-ipsec-isakmp-hybrid-auth-05, draft-beaulieu-ike-xauth-02)."""

    PSK = 1
    DSS_SIG = 2
    RSA_SIG = 3
    RSA_ENC = 4
    RSA_ENC_REV = 5
    ELGAMAL_ENC = 6
    ELGAMAL_ENC_REV = 7
    ECDSA_SIG = 8
    ECDSA_SHA256_P256 = 9
    ECDSA_SHA384_P384 = 10
    ECDSA_SHA512_P521 = 11
    HYBRID_INIT_RSA = 64221
    HYBRID_RESP_RSA = 64222
    HYBRID_INIT_DSS = 64223
    HYBRID_RESP_DSS = 64224
    XAUTH_INIT_PSK = 65001
    XAUTH_RESP_PSK = 65002
    XAUTH_INIT_DSS = 65003
    XAUTH_RESP_DSS = 65004
    XAUTH_INIT_RSA = 65005
    XAUTH_RESP_RSA = 65006
    XAUTH_INIT_RSA_ENC = 65007
    XAUTH_RESP_RSA_ENC = 65008
    XAUTH_INIT_RSA_REV_ENC = 65009
    XAUTH_RESP_RSA_REV_ENC = 65010


class Group(IntEnum):
    """Diffie-Hellman group descriptions (RFC 2409 6, RFC 3526, RFC 5903,
    RFC 5114, RFC 6954, RFC 8031, IANA)."""

    MODP768 = 1
    MODP1024 = 2
    EC2N155 = 3
    EC2N185 = 4
    MODP1536 = 5
    EC2N163_A = 6
    EC2N163_B = 7
    EC2N283_A = 8
    EC2N283_B = 9
    EC2N409_A = 10
    EC2N409_B = 11
    EC2N571_A = 12
    EC2N571_B = 13
    MODP2048 = 14
    MODP3072 = 15
    MODP4096 = 16
    MODP6144 = 17
    MODP8192 = 18
    ECP256 = 19
    ECP384 = 20
    ECP521 = 21
    MODP1024_S160 = 22
    MODP2048_S224 = 23
    MODP2048_S256 = 24
    ECP192 = 25
    ECP224 = 26
    ECP224_BP = 27
    ECP256_BP = 28
    ECP384_BP = 29
    ECP512_BP = 30
    CURVE25519 = 31
    CURVE448 = 32


class GroupType(IntEnum):
    """Group types (RFC 2409 Appendix A)."""

    MODP = 1
    ECP = 2
    EC2N = 3


class LifeType(IntEnum):
    """Life types, for phase 1 (RFC 2409 Appendix A) and IPsec SAs
    (RFC 2407 4.5)."""

    SECONDS = 1
    KILOBYTES = 2


class Prf(IntEnum):
    """Phase 1 PRF values (RFC 2409 Appendix A: none standardised; the
    3DES-CBC-MAC value is the one implementations use)."""

    PRF_3DES_CBC_MAC = 1


# -- IPsec DOI SA attributes, RFC 2407 4.5 -----------------------------------

class IpsecAttribute(IntEnum):
    """IPsec SA attribute classes (RFC 2407 4.5, RFC 4304, RFC 4359, IANA)."""

    SA_LIFE_TYPE = 1
    SA_LIFE_DURATION = 2
    GROUP_DESCRIPTION = 3
    ENCAPSULATION_MODE = 4
    AUTHENTICATION_ALGORITHM = 5
    KEY_LENGTH = 6
    KEY_ROUNDS = 7
    COMPRESS_DICTIONARY_SIZE = 8
    COMPRESS_PRIVATE_ALGORITHM = 9
    ECN_TUNNEL = 10
    EXTENDED_SEQUENCE_NUMBER = 11
    AUTH_KEY_LENGTH = 12
    SIG_ENCODING_ALGORITHM = 13
    ADDRESS_PRESERVATION = 14
    SA_DIRECTION = 15


IPSEC_VARIABLE_ATTRIBUTES = frozenset({
    IpsecAttribute.SA_LIFE_DURATION, IpsecAttribute.COMPRESS_PRIVATE_ALGORITHM,
})
"""The variable-length IPsec attributes (RFC 2407 4.5); the rest are basic."""


class EncapsulationMode(IntEnum):
    """Encapsulation modes (RFC 2407 4.5, RFC 3947 5.2; the draft values
    are those of draft-ietf-ipsec-nat-t-ike-00..02)."""

    TUNNEL = 1
    TRANSPORT = 2
    UDP_TUNNEL = 3
    UDP_TRANSPORT = 4
    UDP_TUNNEL_DRAFT = 61443
    UDP_TRANSPORT_DRAFT = 61444


class IpsecAuthAlgorithm(IntEnum):
    """IPsec authentication algorithms (RFC 2407 4.5, RFC 4868, IANA)."""

    HMAC_MD5 = 1
    HMAC_SHA = 2
    DES_MAC = 3
    KPDK = 4
    HMAC_SHA2_256 = 5
    HMAC_SHA2_384 = 6
    HMAC_SHA2_512 = 7
    HMAC_RIPEMD = 8
    AES_XCBC_MAC = 9
    SIG_RSA = 10
    AES_128_GMAC = 11
    AES_192_GMAC = 12
    AES_256_GMAC = 13


class ExtendedSequenceNumber(IntEnum):
    """Value of the ESN attribute (RFC 4304 2)."""

    ESN_64 = 1


# -- Identification, certificates -------------------------------------------

class IdType(IntEnum):
    """IPsec DOI identification types (RFC 2407 4.6.2.1, RFC 3554)."""

    IPV4_ADDR = 1
    FQDN = 2
    USER_FQDN = 3
    IPV4_ADDR_SUBNET = 4
    IPV6_ADDR = 5
    IPV6_ADDR_SUBNET = 6
    IPV4_ADDR_RANGE = 7
    IPV6_ADDR_RANGE = 8
    DER_ASN1_DN = 9
    DER_ASN1_GN = 10
    KEY_ID = 11
    LIST = 12


class CertEncoding(IntEnum):
    """Certificate encodings of the CERT and CR payloads (RFC 2408 3.9)."""

    NONE = 0
    PKCS7 = 1
    PGP = 2
    DNS_SIGNED_KEY = 3
    X509_SIG = 4
    X509_KE = 5
    KERBEROS = 6
    CRL = 7
    ARL = 8
    SPKI = 9
    X509_ATTR = 10


# -- Notifications ------------------------------------------------------------

class NotifyType(IntEnum):
    """Notify message types: RFC 2408 3.14.1 errors, RFC 2407 4.6.3 status,
    RFC 3706 DPD, and the Cisco Unity ones."""

    INVALID_PAYLOAD_TYPE = 1
    DOI_NOT_SUPPORTED = 2
    SITUATION_NOT_SUPPORTED = 3
    INVALID_COOKIE = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_MINOR_VERSION = 6
    INVALID_EXCHANGE_TYPE = 7
    INVALID_FLAGS = 8
    INVALID_MESSAGE_ID = 9
    INVALID_PROTOCOL_ID = 10
    INVALID_SPI = 11
    INVALID_TRANSFORM_ID = 12
    ATTRIBUTES_NOT_SUPPORTED = 13
    NO_PROPOSAL_CHOSEN = 14
    BAD_PROPOSAL_SYNTAX = 15
    PAYLOAD_MALFORMED = 16
    INVALID_KEY_INFORMATION = 17
    INVALID_ID_INFORMATION = 18
    INVALID_CERT_ENCODING = 19
    INVALID_CERTIFICATE = 20
    CERT_TYPE_UNSUPPORTED = 21
    INVALID_CERT_AUTHORITY = 22
    INVALID_HASH_INFORMATION = 23
    AUTHENTICATION_FAILED = 24
    INVALID_SIGNATURE = 25
    ADDRESS_NOTIFICATION = 26
    NOTIFY_SA_LIFETIME = 27
    CERTIFICATE_UNAVAILABLE = 28
    UNSUPPORTED_EXCHANGE_TYPE = 29
    UNEQUAL_PAYLOAD_LENGTHS = 30
    CONNECTED = 16384
    RESPONDER_LIFETIME = 24576
    REPLAY_STATUS = 24577
    INITIAL_CONTACT = 24578
    R_U_THERE = 36136
    R_U_THERE_ACK = 36137
    UNITY_LOAD_BALANCE = 40501
    UNITY_UNKNOWN = 40502
    UNITY_GROUP_HASH = 40503


# -- Mode Config and XAuth (Attributes payload) -----------------------------

class ConfigType(IntEnum):
    """Attributes payload message types (draft-dukes-ike-mode-cfg-02 3.2)."""

    CFG_REQUEST = 1
    CFG_REPLY = 2
    CFG_SET = 3
    CFG_ACK = 4


class ConfigAttribute(IntEnum):
    """Mode Config (draft-dukes-ike-mode-cfg-02 3.3), XAuth
    (draft-beaulieu-ike-xauth-02 6) and Cisco Unity attribute types."""

    INTERNAL_IP4_ADDRESS = 1
    INTERNAL_IP4_NETMASK = 2
    INTERNAL_IP4_DNS = 3
    INTERNAL_IP4_NBNS = 4
    INTERNAL_ADDRESS_EXPIRY = 5
    INTERNAL_IP4_DHCP = 6
    APPLICATION_VERSION = 7
    INTERNAL_IP6_ADDRESS = 8
    INTERNAL_IP6_NETMASK = 9
    INTERNAL_IP6_DNS = 10
    INTERNAL_IP6_NBNS = 11
    INTERNAL_IP6_DHCP = 12
    INTERNAL_IP4_SUBNET = 13
    SUPPORTED_ATTRIBUTES = 14
    INTERNAL_IP6_SUBNET = 15
    XAUTH_TYPE = 16520
    XAUTH_USER_NAME = 16521
    XAUTH_USER_PASSWORD = 16522
    XAUTH_PASSCODE = 16523
    XAUTH_MESSAGE = 16524
    XAUTH_CHALLENGE = 16525
    XAUTH_DOMAIN = 16526
    XAUTH_STATUS = 16527
    XAUTH_NEXT_PIN = 16528
    XAUTH_ANSWER = 16529
    UNITY_BANNER = 28672
    UNITY_SAVE_PASSWD = 28673
    UNITY_DEF_DOMAIN = 28674
    UNITY_SPLIT_DNS_NAME = 28675
    UNITY_SPLIT_INCLUDE = 28676
    UNITY_NATT_PORT = 28677
    UNITY_LOCAL_LAN = 28678
    UNITY_PFS = 28679
    UNITY_FW_TYPE = 28680
    UNITY_BACKUP_SERVERS = 28681
    UNITY_DDNS_HOSTNAME = 28682


CONFIG_BASIC_ATTRIBUTES = frozenset({
    ConfigAttribute.XAUTH_TYPE, ConfigAttribute.XAUTH_STATUS,
})
"""Attributes that XAuth sends in basic (TV) form; the rest are variable."""


class XauthType(IntEnum):
    """XAUTH_TYPE values (draft-beaulieu-ike-xauth-02 6.2)."""

    GENERIC = 0
    RADIUS_CHAP = 1
    OTP = 2
    S_KEY = 3


class XauthStatus(IntEnum):
    """XAUTH_STATUS values (draft-beaulieu-ike-xauth-02 6.2)."""

    FAIL = 0
    OK = 1


class FragmentFlags(IntFlag):
    """Flags of the IKE fragment payload (Cisco/strongSwan IKEv1
    fragmentation)."""

    LAST_FRAGMENT = 0x01


# -- Vendor IDs -----------------------------------------------------------

VENDOR_ID_SOURCES = {}
"""The public text each MD5-hashed vendor ID below is made from, by its
digest (filled as :data:`VENDOR_IDS` is built)."""


def _md5(text: str) -> bytes:
    digest = hashlib.md5(text.encode()).digest()
    VENDOR_ID_SOURCES[digest] = text
    return digest


VENDOR_IDS = {
    _md5("RFC 3947"): "RFC 3947 NAT-T",
    _md5("draft-ietf-ipsec-nat-t-ike-00"): "draft-ietf-ipsec-nat-t-ike-00",
    _md5("draft-ietf-ipsec-nat-t-ike-01"): "draft-ietf-ipsec-nat-t-ike-01",
    _md5("draft-ietf-ipsec-nat-t-ike-02"): "draft-ietf-ipsec-nat-t-ike-02",
    _md5("draft-ietf-ipsec-nat-t-ike-02\n"): "draft-ietf-ipsec-nat-t-ike-02\\n",
    _md5("draft-ietf-ipsec-nat-t-ike-03"): "draft-ietf-ipsec-nat-t-ike-03",
    _md5("draft-ietf-ipsec-nat-t-ike-04"): "draft-ietf-ipsec-nat-t-ike-04",
    _md5("draft-ietf-ipsec-nat-t-ike-05"): "draft-ietf-ipsec-nat-t-ike-05",
    _md5("draft-ietf-ipsec-nat-t-ike-06"): "draft-ietf-ipsec-nat-t-ike-06",
    _md5("draft-ietf-ipsec-nat-t-ike-07"): "draft-ietf-ipsec-nat-t-ike-07",
    _md5("draft-ietf-ipsec-nat-t-ike-08"): "draft-ietf-ipsec-nat-t-ike-08",
    _md5("draft-ietf-ipsec-nat-t-ike"): "draft-ietf-ipsec-nat-t-ike",
    _md5("draft-stenberg-ipsec-nat-traversal-01"):
        "draft-stenberg-ipsec-nat-traversal-01",
    _md5("draft-stenberg-ipsec-nat-traversal-02"):
        "draft-stenberg-ipsec-nat-traversal-02",
    bytes.fromhex("afcad71368a1f1c96b8696fc77570100"): "RFC 3706 DPD",
    _md5("draft-ietf-ipsra-isakmp-xauth-06.txt")[:8]: "XAUTH",
    _md5("CISCO-UNITY")[:14] + b"\x01\x00": "Cisco Unity",
    _md5("FRAGMENTATION"): "FRAGMENTATION",
    _md5("FRAGMENTATION") + b"\x80\x00\x00\x00": "FRAGMENTATION",
    _md5("FRAGMENTATION") + b"\xc0\x00\x00\x00": "FRAGMENTATION",
    _md5("strongSwan"): "strongSwan",
    bytes.fromhex("1f07f70eaa6514d3b0fa96542a500100"): "Cisco VPN Concentrator",
    b"CISCO-DELETE-REASON": "Cisco Delete Reason",
    b"CISCO-DYNAMIC-ROUTE": "Cisco Dynamic Route",
    b"CISCO-GRE-MODE": "Cisco GRE Mode",
    b"CISCOVPN-REV-02": "Cisco VPN Revision 2",
    b"FLEXVPN-SUPPORTED": "Cisco FlexVPN",
    b"CISCO(COPYRIGHT)&Copyright (c) 2009 Cisco Systems, Inc.": "Cisco Copyright",
    _md5("MS NT5 ISAKMPOAKLEY"): "Microsoft NT5 ISAKMPOAKLEY",
    _md5("Vid-Initial-Contact"): "Microsoft Vid-Initial-Contact",
    _md5("MS-Negotiation Discovery Capable"):
        "Microsoft MS-Negotiation Discovery Capable",
    _md5("IKE CGA version 1"): "Microsoft IKE CGA version 1",
}
"""Well-known vendor IDs, most of them MD5 hashes of their source strings
(RFC 3947 3.1, RFC 3706 5, the NAT-T and XAuth drafts), Cisco's as plain
text; checked against Wireshark's table.  Some vendors append version bytes:
:func:`vendor_id_name` also matches by prefix."""


def vendor_id_source(vid: bytes):
    """The text *vid* is the MD5 hash of (XAuth's is cut to 8 bytes, Cisco
    Unity's ends in version bytes: 8 bytes in common suffice), the text
    it is for the plain-text IDs of the table, or None."""
    for digest, text in VENDOR_ID_SOURCES.items():
        if len(os.path.commonprefix([vid, digest])) >= 8:
            return text
    if vid in VENDOR_IDS and vid.isascii() and vid.decode().isprintable():
        return vid.decode()
    return None


def vendor_id_name(vid: bytes):
    """Name the vendor ID *vid*, matching exactly, then the longest known
    prefix (Cisco Unity, Microsoft and strongSwan append versions); None
    when unknown."""
    name = VENDOR_IDS.get(vid)
    if name is not None:
        return name
    best = max((k for k in VENDOR_IDS if len(k) >= 8 and vid.startswith(k)),
               key=len, default=None)
    return None if best is None else VENDOR_IDS[best]
