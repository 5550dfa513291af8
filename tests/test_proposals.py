"""Proposals: strongSwan's syntax and Cisco transform sets, the SA payloads
they build, and the responder's choice, checked against what charon
offered in real captures."""

import random

import pytest

from conftest import read_capture, shared_file
from scapy_ike.constants import AuthMethod, Group
from scapy_ike.core import proposals as P
from scapy_ike.crypto import registry
from scapy_ike.decode.ike import IkeTracker
from scapy_ike.decode.keylog import read_keys
from scapy_ike.decode.session import Session
from scapy_ike.layers.isakmp import (
    ISAKMP, ISAKMP_payload_Proposal, ISAKMP_payload_SA, ISAKMP_payload_Transform,
)


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


# charon 5.9.8 (Debian 12) initiating with proposals = default and
# esp_proposals = default: the SA payloads of its MM1 and of its QM1
# (decrypted).  MM1: aes128-sha256-curve25519, then a transform of its AEAD
# proposal with no cipher and no hash; QM1: aes128-sha256, aes128gcm16.
CHARON_DEFAULT_MM1_SA = bytes.fromhex(
    "0d00005000000001000000010000004401010002030000240101000080010007"
    "800e0080800200048004001f80030001800b0001800c3de20000001802010000"
    "8004001f80030001800b0001800c3de2")
CHARON_DEFAULT_QM1_SA = bytes.fromhex(
    "0a00004c000000010000000100000040010304027b9837c90300001c010c0000"
    "8006008080050005800400038001000180020f7a000000180214000080060080"
    "800400038001000180020f7a")

GROUPS = "curve25519-ecp256-ecp384-ecp521-modp3072-modp4096-modp6144-modp8192-modp2048"


def test_default_strings():
    assert P.DEFAULT_IKE == (
        "aes128-aes192-aes256-sha256-sha384-sha512-" + GROUPS + ", "
        "aes128-aes192-aes256-sha1-" + GROUPS)
    assert P.DEFAULT_ESP == (
        "aes128gcm16-aes192gcm16-aes256gcm16-" + GROUPS + "-none, "
        "aes128-aes192-aes256-sha256-sha384-sha512-" + GROUPS + "-none, "
        "aes128-aes192-aes256-sha1-aesxcbc-" + GROUPS + "-none")
    assert (P.DEFAULT_INITIATOR_IKE, P.DEFAULT_INITIATOR_ESP) == (
        "aes256-sha256-modp2048", "aes256-sha256")
    assert [p.key() for p in P.parse_ike(P.DEFAULT_INITIATOR_IKE)] == [
        ("aes", 32, "sha256", 14, AuthMethod.PSK)]
    assert [p.key() for p in P.parse_esp_any(P.DEFAULT_INITIATOR_ESP)] == [
        ("aes", 32, "sha256", True, None)]


def test_defaults_choose_what_charon_offers_by_default():
    offered = list(P.offered_transforms(ISAKMP_payload_SA(CHARON_DEFAULT_MM1_SA)))
    chosen, transform = P.choose(P.parse_ike(P.DEFAULT_IKE), offered, P.ike_from_transform)
    assert chosen.key() == ("aes", 16, "sha256", Group.CURVE25519, AuthMethod.PSK)
    assert transform is offered[0][1]
    offered = list(P.offered_transforms(ISAKMP_payload_SA(CHARON_DEFAULT_QM1_SA)))
    chosen, transform = P.choose(P.parse_esp_any(P.DEFAULT_ESP), offered, P.esp_from_transform)
    assert chosen.key() == ("aesgcm16", 16, "null", True, None)
    assert transform is offered[1][1]
    chosen, _ = P.choose(P.parse_esp_any(P.DEFAULT_ESP), offered[:1], P.esp_from_transform)
    assert chosen.key() == ("aes", 16, "sha256", True, None)


def _keys(proposals):
    return {p.key() for p in proposals}


def test_defaults_cover_charon_and_current_peers():
    """Every combination of charon's default lists that IKEv1 carries (but
    the groups it never offers first), AES-CBC with SHA-1/SHA-2 and modp2048
    and up, ECP 256/384/521 and Curve25519; ESP with and without PFS."""
    ike = _keys(P.parse_ike(P.DEFAULT_IKE))
    assert ike == _keys(P.parse_ike("aes128-aes192-aes256-sha1-sha256-sha384-sha512-" + GROUPS))
    esp = P.parse_esp_any(P.DEFAULT_ESP)
    assert _keys(esp) == _keys(P.parse_esp(
        "aes128gcm16-aes192gcm16-aes256gcm16-aes128-aes192-aes256-sha1-sha256-sha384-sha512-"
        "aesxcbc-none-" + GROUPS))
    assert {p.group for p in P.parse_ike(P.DEFAULT_IKE)} == {
        14, 15, 16, 17, 18, 19, 20, 21, 31} == {p.group for p in esp} - {None}


def test_defaults_leave_weak_algorithms_out():
    ike = P.parse_ike(P.DEFAULT_IKE)
    esp = P.parse_esp_any(P.DEFAULT_ESP)
    assert not [p for p in ike if p.cipher.decrepit or p.hash.decrepit]
    assert not [p for p in esp if p.transform.cipher.decrepit or p.transform.integrity.decrepit]
    assert not {p.group for p in ike + esp} & {Group.MODP768, Group.MODP1024, Group.MODP1536}
    assert {p.transform.cipher.name for p in esp} == {"aes", "aesgcm16"}
    assert {p.cipher.name for p in ike} == {"aes"}


def _each_transform(sa):
    """Every transform of a one-proposal SA payload, each dissected in an SA
    payload of its own (the layers stop dissecting at 100 nested payloads)."""
    proposal, spi_size = sa[12:20], sa[18]
    spi, body = sa[20:20 + spi_size], sa[20 + spi_size:]
    while body:
        size = int.from_bytes(body[2:4], "big")
        one = bytes(proposal[:2]) + (8 + spi_size + size).to_bytes(2, "big") \
            + bytes(proposal[4:7]) + b"\x01" + spi + b"\x00" + body[1:size]
        yield ISAKMP_payload_SA(bytes(sa[:2]) + (12 + len(one)).to_bytes(2, "big") + sa[4:12] + one)
        body = body[size:]


@pytest.mark.parametrize("phase, count", [("ike", 108), ("esp", 180)])
def test_defaults_fit_one_proposal(phase, count):
    """An initiator given the defaults offers them in one proposal, whose
    transform count is one octet (RFC 2408 3.5): under 255, every one
    numbered and read back."""
    if phase == "ike":
        ours, parse = P.parse_ike(P.DEFAULT_IKE), P.ike_from_transform
        sa = bytes(P.ike_sa_payload(ours))
    else:
        ours, parse = P.parse_esp_any(P.DEFAULT_ESP), P.esp_from_transform
        sa = bytes(P.esp_sa_payload(ours, b"\x01\x02\x03\x04"))
    assert len(ours) == count
    assert sa[19] == count
    back = [(t.transform_count, parse(t)) for sa1 in _each_transform(sa)
            for _, t in P.offered_transforms(sa1)]
    assert [n for n, _ in back] == list(range(1, count + 1))
    assert [p.key() for _, p in back] == [p.key() for p in ours]


def test_no_pfs_keyword():
    """strongSwan's ``none`` (``modpnone``) accepts no PFS beside the groups."""
    assert [p.group for p in P.parse_esp("aes128-sha1-modp2048-none")] == [14, None]
    assert [p.group for p in P.parse_esp("aes128gcm16-modpnone-ecp256")] == [None, 19]


def _sa(proto, *transforms, spi=b""):
    """An SA payload of one proposal, dissected from its bytes."""
    chain = transforms[0]
    for t in transforms[1:]:
        chain = chain / t
    return ISAKMP_payload_SA(bytes(ISAKMP_payload_SA(prop=ISAKMP_payload_Proposal(
        proto=proto, SPI=spi, trans=chain))))


OAKLEY = [("Encryption", 7), ("KeyLength", 128), ("Hash", 2), ("GroupDesc", 14)]
ESP_SHA1 = [("EncapsulationMode", 1), ("AuthenticationAlgorithm", 2)]

UNREADABLE = [
    (_sa(1, ISAKMP_payload_Transform(transform_count=4, transforms=[("Encryption", 99)]
                                     + OAKLEY[1:])), "transform 4 (unknown cipher 99)"),
    (_sa(1, ISAKMP_payload_Transform(transforms=OAKLEY[:2] + [("Hash", 9), ("GroupDesc", 14)])),
     "transform 1 (unknown hash 9)"),
    (_sa(1, ISAKMP_payload_Transform(transforms=OAKLEY[:3] + [("GroupDesc", 99)])),
     "transform 1 (unknown DH group 99)"),
    (_sa(1, ISAKMP_payload_Transform(transforms=[("Encryption", 7), ("KeyLength", 100)]
                                     + OAKLEY[2:])), "transform 1 (aes with a key of 100 bits)"),
    (_sa(1, ISAKMP_payload_Transform(transforms=[("GroupDesc", 14)])),
     "transform 1 (no cipher, no hash)"),
    (_sa(1, ISAKMP_payload_Transform(transforms=[])),
     "transform 1 (no cipher, no hash, no DH group)"),
    (_sa(3, ISAKMP_payload_Transform(transform_id=99, transforms=ESP_SHA1), spi=b"abcd"),
     "transform 1 (unknown cipher 99)"),
    (_sa(3, ISAKMP_payload_Transform(transform_id=12, transforms=ESP_SHA1), spi=b"abcd"),
     "transform 1 (aes needs a key length attribute)"),
    (_sa(3, ISAKMP_payload_Transform(transform_id=3, transforms=[("AuthenticationAlgorithm", 99)]),
         spi=b"abcd"), "transform 1 (unknown integrity algorithm 99)"),
    (_sa(3, ISAKMP_payload_Transform(transform_id=3, transforms=ESP_SHA1 + [("GroupDesc", 99)]),
         spi=b"abcd"), "transform 1 (unknown DH group 99)"),
    (_sa(2, ISAKMP_payload_Transform(transform_id=3, transforms=ESP_SHA1), spi=b"abcd"),
     "transform 1 (protocol IPSEC-AH)"),
]


def test_describe_what_peers_offer():
    assert P.describe_offered(ISAKMP_payload_SA(CHARON_DEFAULT_MM1_SA)) == (
        "aes128-sha256-curve25519, transform 2 (no cipher, no hash)")
    assert P.describe_offered(ISAKMP_payload_SA(CHARON_DEFAULT_QM1_SA)) == "aes128-sha256, aes128gcm16"
    ike = P.ike_sa_payload(P.parse_ike("3des-md5-modp1024, aes128-sha1-modp1024"))
    assert P.describe_offered(ISAKMP_payload_SA(bytes(ike))) == "3des-md5-modp1024, aes128-sha1-modp1024"
    esp = P.esp_sa_payload(P.parse_esp("aes128-sha1, aes256gcm16-modp2048, null-sha256"), b"abcd")
    assert P.describe_offered(ISAKMP_payload_SA(bytes(esp))) == (
        "aes128-sha1, aes256gcm16-modp2048, null-sha256")
    ike = P.ike_sa_payload(P.parse_ike("aes256-sha256-modp2048", auth=AuthMethod.XAUTH_INIT_PSK))
    assert P.describe_offered(ISAKMP_payload_SA(bytes(ike))) == (
        "aes256-sha256-modp2048 (auth XAUTHInitPreShared)")
    esp = P.esp_sa_payload(P.parse_esp("aes128-sha1", tunnel=False), b"abcd")
    assert P.describe_offered(ISAKMP_payload_SA(bytes(esp))) == "aes128-sha1 (transport)"


@pytest.mark.parametrize("sa, text", UNREADABLE, ids=["%d %s" % (sa.prop.proto, text) for sa, text in UNREADABLE])
def test_describe_transforms_we_cannot_read(sa, text):
    assert P.describe_offered(sa) == text


def test_describe_long_and_repeated_lists():
    many = P.parse_ike("aes128-aes256-sha1-sha256-sha512-modp2048-ecp256")   # 12
    sa = ISAKMP_payload_SA(bytes(P.ike_sa_payload(many + many)))
    assert P.describe_offered(sa, limit=2) == "aes128-sha1-modp2048, aes128-sha1-ecp256 and 10 more"
    assert P.describe_offered(sa).endswith("aes256-sha256-ecp256 and 2 more")
    assert P.describe_configured(P.parse_ike(P.DEFAULT_IKE)) == (
        "aes128-sha256-curve25519, aes128-sha256-ecp256, aes128-sha256-ecp384 and 105 more")
    assert P.describe_configured(P.parse_esp_any(P.DEFAULT_ESP), limit=1) == (
        "aes128gcm16-curve25519 and 179 more")
    assert P.describe_configured(P.parse_ike(P.DEFAULT_INITIATOR_IKE)) == "aes256-sha256-modp2048"
    assert P.describe_configured([]) == "nothing"
    assert P.describe_offered(ISAKMP_payload_SA(prop=None)) == "nothing"


def test_no_proposal_reason():
    assert P.no_proposal_reason("3des-md5-modp1024", "aes256-sha256-modp2048", 1) == (
        "no proposal chosen: peer offered 3des-md5-modp1024; we accept aes256-sha256-modp2048"
        " (allow it with --ike 3des-md5-modp1024)")
    offered = P.describe_offered(ISAKMP_payload_SA(CHARON_DEFAULT_QM1_SA))
    accepted = P.describe_configured(P.parse_esp("3des-md5, aes256-sha512, aes128-sha1-modp1024"))
    assert P.no_proposal_reason(offered, accepted, 2) == (
        "no proposal chosen: peer offered aes128-sha256, aes128gcm16; we accept 3des-md5, "
        "aes256-sha512, aes128-sha1-modp1024 (allow it with --esp aes128-sha256)")
    # nothing the peer offered is a proposal string on its own: no advice
    offered = "transform 2 (no cipher, no hash), aes256-sha256-modp2048 (auth XAUTHInitPreShared)"
    assert P.no_proposal_reason(offered, "aes256-sha256-modp2048", 1) == (
        "no proposal chosen: peer offered %s; we accept aes256-sha256-modp2048" % offered)
    assert P.no_proposal_reason("aes128-sha1 (transport) and 3 more", "aes128-sha1", 2) == (
        "no proposal chosen: peer offered aes128-sha1 (transport) and 3 more; we accept aes128-sha1")


def test_descriptions_of_mutated_offers_never_raise():
    """Flipped, cut and grown SA payloads (of at least the 4 bytes that the
    layers need for a payload header) always give a description."""
    rng = random.Random(2408)
    seeds = [CHARON_DEFAULT_MM1_SA, CHARON_DEFAULT_QM1_SA,
             bytes(P.esp_sa_payload(P.parse_esp("aes128-sha1, aes256gcm16-modp2048"), b"abcd"))]
    seen = set()
    for _ in range(1500):
        wire = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(wire))
            kind = rng.random()
            if kind < 0.6:
                wire[at] = rng.randrange(256)
            elif kind < 0.8:
                del wire[max(at, 4):]
            else:
                wire[at:at] = rng.randbytes(rng.randint(1, 8))
        text = P.describe_offered(ISAKMP_payload_SA(bytes(wire)))
        assert isinstance(text, str) and text
        seen.add(text)
    assert len(seen) > 300
