"""Names at the Scapy prompt: every spelling of an enum value that the RFCs,
Cisco IOS and Scapy use, a bad one refused in one line naming the valid
ones, and a summary line that keeps the UDP ports."""

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import NON_ESP

import scapy_ike.layers.isakmp as L


@pytest.mark.parametrize("name", ["ID_FQDN", "FQDN"])
def test_id_types_in_the_rfc_and_ios_spellings(name):
    """RFC 2407 4.6.2.1 writes ID_FQDN; IOS and our display write FQDN."""
    pkt = L.ISAKMP_payload_ID(IDtype=name, IdentData=b"vpn.example")
    assert pkt.IDtype == 2
    assert L.ISAKMP_payload_ID(bytes(pkt)).sprintf("%IDtype%") == "FQDN"


@pytest.mark.parametrize("name, number", [
    ("ID_IPV4_ADDR_SUBNET", 4), ("IPV4_ADDR_SUBNET", 4), ("IPV4-ADDR-SUBNET", 4),
    ("ID_KEY_ID", 11), ("Key", 11), ("IPv4_addr", 1), ("USER_FQDN", 3)])
def test_every_id_type_spelling(name, number):
    assert L.ISAKMP_payload_ID(IDtype=name).IDtype == number


def test_enum_member_names_work_for_every_enum_field():
    head = L.ISAKMP(exch_type="IDENTITY_PROTECTION", next_payload="SA")
    assert (head.exch_type, head.next_payload) == (2, 1)
    assert L.ISAKMP_payload_Notify(notify_msg_type="INVALID_ID_INFORMATION").notify_msg_type == 18
    assert L.ISAKMP_payload_Delete(proto="IPSEC_ESP").proto == 3


def test_a_bad_id_type_names_the_valid_ones_in_one_line():
    with pytest.raises(ValueError) as err:
        L.ISAKMP_payload_ID(IDtype="ID_HOSTNAME")
    assert str(err.value) == (
        "IDtype: unknown name 'ID_HOSTNAME'; valid: IPV4-ADDR, FQDN, USER-FQDN, "
        "IPV4-ADDR-SUBNET, IPV6-ADDR, IPV6-ADDR-SUBNET, IPV4-ADDR-RANGE, "
        "IPV6-ADDR-RANGE, DER-ASN1-DN, DER-ASN1-GN, KEY-ID, LIST")


def test_a_bad_attribute_value_is_refused_when_set():
    """At construction, not when the packet is built much later."""
    with pytest.raises(ValueError) as err:
        L.ISAKMP_payload_Transform(transforms=[("Encryption", "AES-CBX")])
    assert str(err.value) == (
        "unknown value for attribute Encryption: 'AES-CBX'; valid: DES-CBC, IDEA-CBC, "
        "Blowfish-CBC, RC5-R16-B64-CBC, 3DES-CBC, CAST-CBC, AES-CBC, CAMELLIA-CBC")
    assert "\n" not in str(err.value)


def test_an_ipsec_attribute_is_checked_against_the_ipsec_names():
    """A lone transform does not know its proposal yet: an IPsec name is
    checked as an IPsec one."""
    with pytest.raises(ValueError) as err:
        L.ISAKMP_payload_Transform(transforms=[("EncapsulationMode", "Tunel")])
    assert str(err.value) == (
        "unknown value for attribute EncapsulationMode: 'Tunel'; valid: Tunnel, Transport, "
        "UDP-Encapsulated-Tunnel, UDP-Encapsulated-Transport, UDP-TUNNEL-DRAFT, "
        "UDP-TRANSPORT-DRAFT, Reserved")
    ok = L.ISAKMP_payload_Transform(transforms=[("EncapsulationMode", "Tunnel")])
    assert ok.transforms == [("EncapsulationMode", "Tunnel")]


def test_an_unknown_attribute_type_lists_both_registries():
    with pytest.raises(ValueError) as err:
        L.ISAKMP_payload_Transform(transforms=[("Encapsulation", 1)])
    message = str(err.value)
    assert message.startswith("unknown attribute type 'Encapsulation'; valid: Encryption, Hash,")
    assert message.endswith(", EncapsulationMode, AuthenticationAlgorithm, KeyRounds, "
                            "CompressDictionarySize, CompressPrivateAlgorithm, EcnTunnel, "
                            "ExtendedSequenceNumber, AuthKeyLength, SigEncodingAlgorithm, "
                            "AddressPreservation, SaDirection")


def test_a_bad_transform_id_names_the_valid_ones():
    with pytest.raises(ValueError) as err:
        L.ISAKMP_payload_Transform(transform_id="ESP-AES")
    assert str(err.value).startswith("transform_id: unknown name 'ESP-AES'; valid: KEY-IKE, AH-MD5,")
    assert ", ESP-AES-CBC, " in str(err.value)


def test_summary_keeps_the_udp_addresses_and_ports():
    pkt = IP(src="192.0.2.2", dst="192.0.2.1") / UDP(sport=500, dport=500) / L.ISAKMP(
        init_cookie=b"\x01" * 8, exch_type="aggressive") / L.ISAKMP_payload_SA()
    assert pkt.summary() == ("IP / UDP 192.0.2.2:isakmp > 192.0.2.1:isakmp / ISAKMP aggressive "
                             "0101010101010101 >  id=0x0 / ISAKMP_payload_SA")
    natt = IP(bytes(IP(src="192.0.2.2", dst="192.0.2.1") / UDP(sport=4500, dport=4500)
                    / NON_ESP() / L.ISAKMP(init_cookie=b"\x01" * 8)))
    assert natt.summary().startswith(
        "IP / UDP 192.0.2.2:ipsec_nat_t > 192.0.2.1:ipsec_nat_t / NON_ESP / ISAKMP ")


def test_scapys_spellings_are_those_of_scapy():
    """The names Scapy code gives, kept without Scapy for the struct readers,
    are those of ``scapy.layers.isakmp``."""
    from scapy.layers import isakmp as scapy_isakmp

    from scapy_ike import attributes, names
    assert attributes.SCAPY_OAKLEY_NAMES == scapy_isakmp.ISAKMPAttributeTypes
    assert attributes.SCAPY_IPSEC_NAMES == scapy_isakmp.IPSECAttributeTypes
    assert names.SCAPY_PAYLOAD_NAMES == scapy_isakmp.ISAKMP_payload_type
    assert names.SCAPY_EXCHANGE_NAMES == scapy_isakmp.ISAKMP_exchange_type
