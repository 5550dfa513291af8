"""Proposals: strongSwan's syntax and Cisco transform sets, the SA payloads
they build, and the responder's choice, checked against what charon
offered in real captures."""

import pytest

from conftest import read_capture, shared_file
from scapy_ike.constants import AuthMethod, Group
from scapy_ike.core import proposals as P
from scapy_ike.crypto import registry
from scapy_ike.decode.ike import IkeTracker
from scapy_ike.decode.keylog import read_keys
from scapy_ike.decode.session import Session
from scapy_ike.layers.isakmp import ISAKMP, ISAKMP_payload_SA


def test_ike_syntax():
    (p,) = P.parse_ike("aes256-sha256-modp2048")
    assert (p.cipher.name, p.key_size, p.hash.name, p.group, p.auth) == (
        "aes", 32, "sha256", Group.MODP2048, AuthMethod.PSK)
    many = P.parse_ike("aes128-aes256-sha1-sha256-prfsha256-modp2048, 3des-md5-modp1024")
    assert [(q.cipher.name, q.key_size, q.hash.name, q.group) for q in many] == [
        ("aes", 16, "sha1", 14), ("aes", 16, "sha256", 14), ("aes", 32, "sha1", 14),
        ("aes", 32, "sha256", 14), ("3des", 24, "md5", 2)]
    (ec,) = P.parse_ike("aes128-sha256-ecp256")
    assert ec.group == Group.ECP256


def test_esp_syntax():
    (cbc,) = P.parse_esp("aes256-sha256")
    assert (cbc.transform.cipher.name, cbc.transform.key_size, cbc.transform.integrity.name,
            cbc.group) == ("aes", 32, "sha256", None)
    (gcm,) = P.parse_esp("aes128gcm16-ecp256")
    assert (gcm.transform.cipher.name, gcm.transform.key_size, gcm.transform.integrity.name,
            gcm.group) == ("aesgcm16", 16, "null", Group.ECP256)
    assert [p.transform.cipher.name for p in P.parse_esp("aes128ctr-sha1, aes128gmac")] \
        == ["aesctr", "null_aes_gmac"]


def test_cisco_transform_sets():
    """The seed's transform set: esp-aes 192 esp-md5-hmac."""
    (p,) = P.parse_esp_any("esp-aes 192 esp-md5-hmac")
    assert (p.transform.cipher.name, p.transform.key_size, p.transform.integrity.name) == (
        "aes", 24, "md5")
    (q,) = P.parse_cisco("esp-3des esp-sha-hmac")
    assert (q.transform.cipher.name, q.transform.key_size, q.transform.integrity.name) == (
        "3des", 24, "sha1")
    (g,) = P.parse_cisco("esp-gcm 256")
    assert (g.transform.cipher.name, g.transform.key_size) == ("aesgcm16", 32)


@pytest.mark.parametrize("text", ["aes256-sha256", "rot13-sha1-modp2048", "aes256-sha1-modp9999"])
def test_bad_ike_proposals(text):
    with pytest.raises(P.ProposalError):
        P.parse_ike(text)


def test_bad_esp_proposals():
    with pytest.raises(P.ProposalError, match="integrity"):
        P.parse_esp("aes128")
    with pytest.raises(P.ProposalError):
        P.parse_cisco("esp-aes 256 esp-rot13-hmac")


def test_sa_payload_round_trip():
    ours = P.parse_ike("aes128-aes256-sha1-modp2048,3des-md5-modp1024")
    sa = ISAKMP_payload_SA(bytes(P.ike_sa_payload(ours)))
    offered = [P.ike_from_transform(t) for _, t in P.offered_transforms(sa)]
    assert offered == ours
    esp = P.parse_esp("aes256gcm16-modp2048,aes128-sha1")
    sa = ISAKMP_payload_SA(bytes(P.esp_sa_payload(esp, b"\x01\x02\x03\x04", udp_encap=True)))
    props = list(P.offered_transforms(sa))
    assert props[0][0].SPI == b"\x01\x02\x03\x04" and props[0][0].trans_nb == 2
    back = [P.esp_from_transform(t) for _, t in props]
    assert [b.key() for b in back] == [e.key() for e in esp]
    assert all(b.transform.udp_encap for b in back)


def test_charon_offers_and_our_choice():
    """charon's MM1 (aes256-sha256-modp2048) matches our parse of the same
    string, and a responder configured with other suites first still
    picks it."""
    packets = read_capture(shared_file("strongswan", "mm-psk-aes256-sha256-modp2048.pcap"))
    offered = list(P.offered_transforms(packets[0][ISAKMP_payload_SA]))
    configured = P.parse_ike("3des-md5-modp1024,aes256-sha256-modp2048")
    chosen, transform = P.choose(configured, offered, P.ike_from_transform)
    assert chosen == configured[1] and transform is offered[0][1]
    assert P.choose(P.parse_ike("aes128-sha1-ecp256"), offered, P.ike_from_transform) is None


def test_charon_quick_mode_offer():
    """charon's QM1, decrypted from the capture, offers aes256-sha256."""
    capture = shared_file("strongswan", "mm-psk-aes256-sha256-modp2048.pcap")
    keys = read_keys(capture.with_suffix(".keys").read_text())
    session = Session(ike=IkeTracker(psk=b"swp-mm-psk-1", gxy=[keys.ike[0].gxy]))
    records = [session.decode(n, p) for n, p in enumerate(read_capture(capture), 1)]
    qm1 = records[6].inner[0]
    assert qm1[ISAKMP].exch_type == 32
    offered = list(P.offered_transforms(qm1[ISAKMP_payload_SA]))
    chosen, _ = P.choose(P.parse_esp("aes256-sha256"), offered, P.esp_from_transform)
    assert chosen.transform.cipher.name == "aes" and chosen.transform.integrity.name == "sha256"
    assert P.esp_from_transform(offered[0][1]).transform.udp_encap


def test_cipher_keywords_from_the_registry():
    """Every cipher keyword the registry gives parses back to its record
    and key size; strongSwan's other spellings name the same."""
    for cipher in registry.CIPHERS:
        for size in cipher.key_sizes:
            assert registry.cipher_by_keyword(cipher.keyword(size)) == (cipher, size)
    assert [registry.CIPHERS[i].keyword(16) for i in (1, 2, 5, 10)] == [
        "aes128", "aes128ctr", "aes128gcm16", "aes128gmac"]
    assert registry.cipher_by_keyword("aes") == registry.cipher_by_keyword("aes128")
    assert registry.cipher_by_keyword("aes256gcm128") == registry.cipher_by_keyword("aes256gcm16")
    assert registry.cipher_by_keyword("camellia") == (registry.cipher("camellia"), 16)
    assert [(p.transform.cipher.name, p.transform.key_size)
            for p in P.parse_esp("aes192gcm96, camellia-sha1")] == [("aesgcm12", 24), ("camellia", 16)]


@pytest.mark.parametrize("alias, name, number", [("x25519", "curve25519", 31),
                                                 ("x448", "curve448", 32)])
def test_curve_aliases(alias, name, number):
    """strongSwan's x25519 and x448 name curve25519 and curve448 wherever a
    group is read."""
    assert registry.dh_group(alias) is registry.dh_group(name) is registry.dh_group(number)
    assert [p.group for p in P.parse_ike("aes128-sha256-%s" % alias)] == [number]
    assert [p.group for p in P.parse_esp("aes128gcm16-%s" % alias)] == [number]
    with pytest.raises(KeyError, match="unknown DH group 'x25518'"):
        registry.dh_group("x25518")


PHASE1 = "cannot be used in IKEv1 Phase 1: it has no Oakley %s algorithm (RFC 2409 Appendix A)"
ESP_CIPHER = "cannot be used with IKEv1: it has no ESP transform identifier (RFC 2407 4.4.4)"
ESP_INTEG = "cannot be used with IKEv1: it has no IPsec authentication algorithm (RFC 2407 4.5)"


UNCARRIED = [
    (P.parse_esp, "chacha20poly1305", "'chacha20poly1305' " + ESP_CIPHER),
    (P.parse_esp, "aes256-aescmac", "'aescmac' " + ESP_INTEG),
    (P.parse_esp, "aes256-sha256_96-modp2048", "'sha256_96' " + ESP_INTEG),
    (P.parse_ike, "aes128gcm16-sha256-modp2048", "'aes128gcm16' " + PHASE1 % "encryption"),
    (P.parse_ike, "aes128ctr-sha256-ecp256", "'aes128ctr' " + PHASE1 % "encryption"),
    (P.parse_ike, "chacha20poly1305-sha256-x25519", "'chacha20poly1305' " + PHASE1 % "encryption"),
    (P.parse_ike, "null-sha1-modp2048", "'null' " + PHASE1 % "encryption"),
    (P.parse_ike, "aes128-aesxcbc-modp2048", "'aesxcbc' " + PHASE1 % "hash"),
    (P.parse_ike, "aes128-sha256-prfaescmac-modp2048", "'prfaescmac' " + PHASE1 % "hash"),
]


@pytest.mark.parametrize("parse, text, message", UNCARRIED, ids=[c[1] for c in UNCARRIED])
def test_algorithms_ikev1_cannot_carry(parse, text, message):
    """Refused when read, naming the algorithm and why, instead of going
    out as transform 0 or being called unknown."""
    with pytest.raises(P.ProposalError) as error:
        parse(text)
    assert str(error.value) == message


def test_every_registry_record_by_its_ikev1_numbers():
    """A cipher parses in Phase 1 exactly when it has an Oakley value, in
    Quick Mode exactly when it has an ESP transform id; an integrity
    algorithm in Quick Mode exactly when it has an authentication value."""
    for cipher in registry.CIPHERS:
        word = cipher.keyword(cipher.key_sizes[-1])
        for parse, text, number in ((P.parse_ike, word + "-sha256-modp2048", cipher.ike_id),
                                    (P.parse_esp, word + "-sha256", cipher.esp_id)):
            if number is None:
                with pytest.raises(P.ProposalError, match="cannot be used"):
                    parse(text)
            else:
                assert parse(text)[0].key()[:2] == (cipher.name, cipher.key_sizes[-1])
    for integ in registry.INTEGRITIES[1:]:
        if integ.auth_id is None:
            with pytest.raises(P.ProposalError, match="cannot be used"):
                P.parse_esp("aes128-" + integ.name)
        else:
            assert P.parse_esp("aes128-" + integ.name)[0].transform.integrity is integ
    assert [i.name for i in registry.INTEGRITIES if i.auth_id is None] == [
        "null", "sha256_96", "aescmac"]
    assert [c.name for c in registry.CIPHERS if c.esp_id is None] == ["chacha20poly1305"]
