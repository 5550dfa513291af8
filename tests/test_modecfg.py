"""Mode Config attribute values (draft-dukes-ike-mode-cfg-02 3.3, Cisco
Unity) to and from the wire, and the address pool's leases."""

import ipaddress

import pytest

from scapy_ike.constants import ConfigAttribute as A
from scapy_ike.core import modecfg
from scapy_ike.core.pool import AddressPool, PoolExhausted


@pytest.mark.parametrize("attribute, given, wire, read", [
    (A.INTERNAL_IP4_ADDRESS, "198.51.100.65", bytes([198, 51, 100, 65]), "198.51.100.65"),
    (A.INTERNAL_IP4_NETMASK, "255.255.255.192", bytes([255, 255, 255, 192]), None),
    (A.INTERNAL_IP6_DNS, "2001:db8::53", bytes.fromhex("20010db8" + "00" * 10 + "0053"), None),
    (A.INTERNAL_IP4_SUBNET, "198.51.100.0/25",
     bytes([198, 51, 100, 0, 255, 255, 255, 128]), None),
    (A.INTERNAL_IP6_ADDRESS, "2001:db8:5::1/120",
     bytes.fromhex("20010db80005" + "00" * 9 + "01" + "78"), None),
    (A.UNITY_SPLIT_INCLUDE, ("198.51.100.0/25", "203.0.113.0/24"),
     bytes([198, 51, 100, 0, 255, 255, 255, 128]) + bytes(6)
     + bytes([203, 0, 113, 0, 255, 255, 255, 0]) + bytes(6),
     ["198.51.100.0/25", "203.0.113.0/24"]),
    (A.UNITY_BANNER, "Authorised users only", b"Authorised users only", None),
    (A.UNITY_PFS, 1, 1, None),
])
def test_values_to_the_wire_and_back(attribute, given, wire, read):
    assert modecfg.wire(attribute, given) == wire
    assert modecfg.value(attribute, wire) == (given if read is None else read)


def test_what_does_not_fit_its_kind_is_hex_and_empty_is_none():
    assert modecfg.value(A.INTERNAL_IP4_ADDRESS, b"\x01\x02\x03") == "010203"
    assert modecfg.value(A.INTERNAL_IP4_SUBNET, bytes([10, 0, 0, 0, 255, 0, 255, 0])) == \
        "0a000000ff00ff00"                                  # not a netmask
    assert modecfg.value(A.UNITY_SPLIT_INCLUDE, bytes(13)) == "00" * 13
    assert modecfg.value(A.UNITY_BANNER, b"\xff\xfe") == "fffe"
    assert modecfg.value(A.INTERNAL_IP4_DNS, b"") is None
    assert modecfg.value(A.UNITY_PFS, b"\x00\x01") == 1    # sent as a variable attribute
    assert modecfg.value(40000, b"\x07") == "07"            # an attribute we do not know


def test_named_hides_secrets_and_as_dict_keeps_repeats():
    named = modecfg.named([(A.XAUTH_USER_NAME, b"alice"), (A.XAUTH_USER_PASSWORD, b"secret"),
                           (A.INTERNAL_IP4_DNS, bytes([192, 0, 2, 53])),
                           (A.INTERNAL_IP4_DNS, bytes([192, 0, 2, 54])),
                           (A.XAUTH_STATUS, 1), (40000, b"\x07")])
    assert named == (("XAUTH_USER_NAME", "alice"), ("XAUTH_USER_PASSWORD", "<hidden 6 bytes>"),
                     ("INTERNAL_IP4_DNS", "192.0.2.53"), ("INTERNAL_IP4_DNS", "192.0.2.54"),
                     ("XAUTH_STATUS", 1), ("ATTRIBUTE_40000", "07"))
    assert modecfg.as_dict(named)["INTERNAL_IP4_DNS"] == ["192.0.2.53", "192.0.2.54"]
    assert modecfg.as_dict(named)["XAUTH_USER_NAME"] == "alice"


def ip(text):
    return ipaddress.ip_address(text)


def test_pool_leases_per_user_until_the_last_holder_goes():
    pool = AddressPool(["198.51.100.64/30", "2001:db8:5::/126"])
    assert pool.lease("alice", "sa1") == (ip("198.51.100.65"), ip("2001:db8:5::1"))
    assert pool.lease("alice", "sa2") == (ip("198.51.100.65"), ip("2001:db8:5::1"))
    assert pool.lease("bob", "sa3") == (ip("198.51.100.66"), ip("2001:db8:5::2"))
    with pytest.raises(PoolExhausted, match="no address left in 198.51.100.64/30"):
        pool.lease("carol", "sa4")
    pool.release("sa1")
    assert set(pool.leased()) == {"alice", "bob"}         # sa2 still holds alice's
    pool.release("sa2")
    assert set(pool.leased()) == {"bob"}
    # a new user: a fresh address where one is left, else the longest free
    assert pool.lease("carol", "sa4") == (ip("198.51.100.65"), ip("2001:db8:5::3"))
    pool.release("sa3")
    # alice again: her IPv6 address is still free, her IPv4 one is carol's now
    assert pool.lease("alice", "sa5") == (ip("198.51.100.66"), ip("2001:db8:5::1"))
    pool.release("unknown")                                 # nothing held: nothing changes
    assert pool.leased() == {"carol": (ip("198.51.100.65"), ip("2001:db8:5::3")),
                             "alice": (ip("198.51.100.66"), ip("2001:db8:5::1"))}


def test_a_failed_lease_gives_back_what_it_took():
    """The IPv6 prefix is the smaller: a lease that finds no IPv6 address
    left must not keep the IPv4 one it took."""
    pool = AddressPool(["198.51.100.64/29", "2001:db8:5::/127"])
    pool.lease("alice", "sa1")
    pool.lease("bob", "sa2")
    with pytest.raises(PoolExhausted, match="no address left in 2001:db8:5::/127"):
        pool.lease("carol", "sa3")
    assert set(pool.leased()) == {"alice", "bob"}
    pool.release("sa1")
    assert pool.lease("carol", "sa3") == (ip("198.51.100.67"), ip("2001:db8:5::"))
    with pytest.raises(PoolExhausted):
        pool.lease("dave", "sa4")
    pool.release("sa2")
    assert pool.lease("dave", "sa4") == (ip("198.51.100.68"), ip("2001:db8:5::1"))
