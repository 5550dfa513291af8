"""Mode Config attribute values (draft-dukes-ike-mode-cfg-02 3.3, and the
Cisco Unity attributes 28672-28682 that Cisco clients such as vpnc ask
for), between what a user writes or reads and what the wire carries.

One table says what each attribute holds: an IPv4 or IPv6 address, an
IPv4 subnet (address and mask, 8 bytes), an IPv6 prefix (16 bytes and a
prefix length), Cisco's split networks (14-byte entries: address, mask,
then protocol and ports, zero for "any"), text, or a number (sent in the
basic form, as vpnc requires of UNITY_SAVE_PASSWD and UNITY_PFS)."""

import ipaddress

from scapy_ike.constants import ConfigAttribute as A

ADDRESS = "address"
SUBNET = "subnet"
PREFIX6 = "prefix6"
SPLITS = "splits"
TEXT = "text"
NUMBER = "number"

KINDS = {
    A.INTERNAL_IP4_ADDRESS: ADDRESS, A.INTERNAL_IP4_NETMASK: ADDRESS,
    A.INTERNAL_IP4_DNS: ADDRESS, A.INTERNAL_IP4_NBNS: ADDRESS, A.INTERNAL_IP4_DHCP: ADDRESS,
    A.INTERNAL_IP6_NETMASK: ADDRESS, A.INTERNAL_IP6_DNS: ADDRESS,
    A.INTERNAL_IP6_NBNS: ADDRESS, A.INTERNAL_IP6_DHCP: ADDRESS,
    A.INTERNAL_IP4_SUBNET: SUBNET,
    A.INTERNAL_IP6_ADDRESS: PREFIX6, A.INTERNAL_IP6_SUBNET: PREFIX6,
    A.UNITY_SPLIT_INCLUDE: SPLITS, A.UNITY_LOCAL_LAN: SPLITS,
    A.APPLICATION_VERSION: TEXT, A.UNITY_BANNER: TEXT, A.UNITY_DEF_DOMAIN: TEXT,
    A.UNITY_SPLIT_DNS_NAME: TEXT, A.UNITY_BACKUP_SERVERS: TEXT, A.UNITY_DDNS_HOSTNAME: TEXT,
    A.UNITY_FW_TYPE: TEXT, A.XAUTH_USER_NAME: TEXT, A.XAUTH_MESSAGE: TEXT,
    A.XAUTH_DOMAIN: TEXT,
    A.INTERNAL_ADDRESS_EXPIRY: NUMBER, A.UNITY_SAVE_PASSWD: NUMBER, A.UNITY_PFS: NUMBER,
    A.UNITY_NATT_PORT: NUMBER, A.XAUTH_TYPE: NUMBER, A.XAUTH_STATUS: NUMBER,
}
"""What each attribute's value is; an attribute not named here is bytes."""

SECRETS = frozenset((A.XAUTH_USER_PASSWORD, A.XAUTH_PASSCODE, A.XAUTH_NEXT_PIN))
"""Attributes whose values are secrets (draft-beaulieu-ike-xauth-02 6.2):
never in a log line or an event shown to a user."""


def wire(number, value):
    """The wire value of attribute *number* given as *value*: an address
    or a network as text (or an ``ipaddress`` object), text, a number, a
    list of networks for Cisco's split attributes; bytes pass unchanged."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    kind = KINDS.get(number)
    if kind == NUMBER:
        return int(value)
    if kind == ADDRESS:
        return ipaddress.ip_address(str(value)).packed
    if kind == SUBNET:
        net = ipaddress.IPv4Network(str(value), strict=False)
        return net.network_address.packed + net.netmask.packed
    if kind == PREFIX6:
        net = ipaddress.IPv6Interface(str(value) if "/" in str(value) else "%s/128" % value)
        return net.ip.packed + bytes([net.network.prefixlen])
    if kind == SPLITS:
        networks = [value] if isinstance(value, (str, ipaddress.IPv4Network)) else value
        return b"".join(_split_entry(ipaddress.IPv4Network(str(n), strict=False))
                        for n in networks)
    if isinstance(value, int):
        return value
    return str(value).encode()


def _split_entry(net):
    return net.network_address.packed + net.netmask.packed + bytes(6)


def value(number, raw):
    """What the wire value *raw* (int or bytes) of attribute *number*
    means: an address as text, a network as ``a.b.c.d/n``, a list of
    them for the split attributes, text, a number; None when empty (a
    request's "give me one"), hex for what does not fit its kind."""
    if isinstance(raw, int):
        return raw
    raw = bytes(raw)
    if not raw:
        return None
    kind = KINDS.get(number)
    try:
        if kind == ADDRESS and len(raw) in (4, 16):
            return str(ipaddress.ip_address(raw))
        if kind == SUBNET and len(raw) == 8:
            return str(ipaddress.IPv4Network((raw[:4], _prefix(raw[4:])), strict=False))
        if kind == PREFIX6 and len(raw) in (16, 17):
            length = raw[16] if len(raw) == 17 else 128
            return "%s/%d" % (ipaddress.IPv6Address(raw[:16]), length)
        if kind == SPLITS and len(raw) % 14 == 0:
            return [str(ipaddress.IPv4Network((raw[i:i + 4], _prefix(raw[i + 4:i + 8])),
                                              strict=False))
                    for i in range(0, len(raw), 14)]
        if kind == NUMBER and len(raw) <= 4:
            return int.from_bytes(raw, "big")
        if kind == TEXT:
            text = raw.rstrip(b"\0").decode()
            if text.isprintable() or "\n" in text:
                return text
    except (ValueError, UnicodeDecodeError):
        pass
    return raw.hex()


def _prefix(mask):
    """The prefix length of a netmask's 4 bytes (ValueError if it is none)."""
    return ipaddress.IPv4Network("0.0.0.0/" + str(ipaddress.IPv4Address(mask))).prefixlen


def name(number):
    try:
        return A(number).name
    except ValueError:
        return "ATTRIBUTE_%d" % number


def named(attributes):
    """``(type, wire value)`` pairs as ``(name, value)`` pairs, secrets as
    ``<hidden N bytes>``."""
    out = []
    for number, raw in attributes:
        if number in SECRETS and raw:
            out.append((name(number), "<hidden %d bytes>" % len(raw)))
        else:
            out.append((name(number), value(number, raw)))
    return tuple(out)


def as_dict(pairs):
    """``(name, value)`` pairs as a dict, an attribute given more than
    once (DNS servers) as the list of its values."""
    out, repeated = {}, set()
    for key, item in pairs:
        if key not in out:
            out[key] = item
        elif key in repeated:
            out[key].append(item)
        else:
            out[key] = [out[key], item]
            repeated.add(key)
    return out
