"""ESP security associations: every algorithm both ways, against Scapy's
own SecurityAssociation, tampering, replay, the window, ESN wrap, padding,
lifetimes, and the packet API in tunnel and transport mode."""

import os
import tracemalloc

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.inet6 import IPv6, ICMPv6EchoRequest
from scapy.layers.ipsec import SecurityAssociation as ScapySA, ESP

from scapy_ike.crypto import registry
from scapy_ike.esp import (
    IntegrityError, Lifetime, LifetimeExpired, MalformedError, PaddingError,
    ReplayError, SecurityAssociation, WindowError,
)

# (crypt_algo, key bytes incl. salt, icv size, auth_algo, auth key bytes)
SUITES = [
    ("NULL", 0, None, "HMAC-SHA1-96", 20),
    ("AES-CBC", 16, None, "HMAC-SHA1-96", 20),
    ("AES-CBC", 32, None, "SHA2-256-128", 32),
    ("AES-CBC", 24, None, "SHA2-384-192", 48),
    ("AES-CBC", 32, None, "SHA2-512-256", 64),
    ("AES-CBC", 16, None, "HMAC-MD5-96", 16),
    ("AES-CBC", 16, None, "AES-CMAC-96", 16),
    ("AES-CBC", 16, None, "aesxcbc", 16),
    ("AES-CTR", 20, None, "HMAC-SHA1-96", 20),
    ("AES-CTR", 36, None, "SHA2-256-128", 32),
    ("AES-GCM", 20, 8, "NULL", 0),
    ("AES-GCM", 28, 12, "NULL", 0),
    ("AES-GCM", 36, 16, "NULL", 0),
    ("AES-CCM", 19, 8, "NULL", 0),
    ("AES-CCM", 19, 12, "NULL", 0),
    ("AES-CCM", 35, 16, "NULL", 0),
    ("CHACHA20-POLY1305", 36, 16, "NULL", 0),
    ("AES-NULL-GMAC", 20, 16, "NULL", 0),
    ("DES", 8, None, "HMAC-SHA1-96", 20),
    ("3DES", 24, None, "HMAC-SHA1-96", 20),
    ("Blowfish", 16, None, "HMAC-MD5-96", 16),
    ("CAST", 16, None, "HMAC-SHA1-96", 20),
    ("camellia", 32, None, "SHA2-256-128", 32),
]


def suite_id(s):
    return "%s-%d-%s" % (s[0], s[1] * 8, s[3])


def make(suite, **kw):
    crypt, klen, icv, auth, alen = suite
    key, akey = bytes(range(1, klen + 1)), bytes(range(100, 100 + alen))
    return [SecurityAssociation(0x1000, crypt_algo=crypt, crypt_key=key, crypt_icv_size=icv,
                                auth_algo=auth, auth_key=akey, **kw) for _ in range(2)]


INNER = IP(src="198.51.100.2", dst="198.51.100.1") / ICMP(id=7, seq=1) / (b"x" * 61)


@pytest.mark.parametrize("suite", SUITES, ids=suite_id)
def test_round_trip_and_tamper(suite):
    """Sealed packets open; every byte flipped (SPI .. ICV) is refused."""
    out, into = make(suite)
    payload = bytes(INNER)
    packets = [out.seal(payload) for _ in range(3)]
    for seq, packet in enumerate(packets, 1):
        opened = into.open(packet)
        assert opened[:3] == (seq, 4, payload)
    target = out.seal(payload)
    for i in range(len(target)):
        bad = bytearray(target)
        bad[i] ^= 0x01
        fresh = make(suite)[1]
        with pytest.raises((IntegrityError, MalformedError)):
            fresh.open(bytes(bad))
    assert into.stats["packets_in"] == 3


def test_every_cipher_and_mac_of_the_table_is_covered():
    names = {registry.aead_by_scapy(s[0], s[2]).name if s[0] in ("AES-GCM", "AES-CCM")
             else registry.cipher(s[0]).name for s in SUITES}
    assert names == {c.name for c in registry.CIPHERS}
    macs = {registry.integrity(s[3]).name for s in SUITES}
    assert macs | {"sha256_96"} == {i.name for i in registry.INTEGRITIES}


# Scapy lacks AES-XCBC and Camellia, and its AES-GCM/CCM always append a 16-byte tag,
# whatever crypt_icv_size says: only 16-byte AEAD ICVs can be compared.
SCAPY_SUITES = [s for s in SUITES if s[3] != "aesxcbc" and s[2] in (None, 16)
                and s[0] != "camellia"]


@pytest.mark.parametrize("suite", SCAPY_SUITES, ids=suite_id)
@pytest.mark.parametrize("esn", [False, True])
def test_against_scapy_both_ways(suite, esn):
    """What Scapy's SecurityAssociation encrypts, ours decrypts, and the
    other way round, in tunnel mode."""
    crypt, klen, icv, auth, alen = suite
    if esn and crypt in ("DES", "3DES", "Blowfish", "CAST", "NULL"):
        pytest.skip("Scapy applies ESN to AEAD and HMAC suites alike; covered by AES")
    key, akey = bytes(range(1, klen + 1)), bytes(range(100, 100 + alen))
    tunnel = IP(src="192.0.2.2", dst="192.0.2.1")
    kw = dict(crypt_algo=crypt, crypt_key=key, crypt_icv_size=icv, auth_algo=auth, auth_key=akey)
    theirs = ScapySA(ESP, spi=0x2222, tunnel_header=tunnel, esn_en=esn, esn=1 if esn else 0, **kw)
    ours = SecurityAssociation(0x2222, tunnel_header=tunnel, esn_en=esn, esn=1 if esn else 0, **kw)
    sent = IP(bytes(theirs.encrypt(INNER)))
    got = ours.decrypt(sent)
    assert bytes(got) == bytes(INNER)
    mine = ours.encrypt(INNER)
    back = ScapySA(ESP, spi=0x2222, tunnel_header=tunnel, esn_en=esn, esn=1 if esn else 0, **kw)
    assert bytes(back.decrypt(IP(bytes(mine)))) == bytes(INNER)


def test_replay_window_and_esn_wrap():
    """Across 2^32 with ESN the receiver infers the high half (RFC 4303
    A2.2); duplicates and packets left of the window are refused."""
    out, into = make(SUITES[12], esn_en=True, replay_window=32)
    out.seq_num = (1 << 32) - 40
    packets = {}
    for _ in range(80):
        seq = out.seq_num
        packets[seq] = out.seal(b"p")
    order = sorted(packets)
    assert order[-1] >> 32 == 1 and order[0] >> 32 == 0
    for seq in order[:10]:
        assert into.open(packets[seq]).seq == seq
    with pytest.raises(ReplayError):
        into.open(packets[order[5]])
    for seq in order[40:50] + order[51:]:
        assert into.open(packets[seq]).seq == seq
    assert into.open(packets[order[50]]).seq == order[50]     # late, inside the window
    with pytest.raises(IntegrityError):
        # 59 behind the top: RFC 4303 A2.2 guesses the next high half, and
        # the ICV (computed over the high half) rejects it
        into.open(packets[order[20]])
    with pytest.raises(ReplayError):
        into.open(packets[order[79]])
    assert (into.stats["replay"], into.stats["integrity"]) == (2, 1)


def test_out_of_order_inside_window():
    out, into = make(SUITES[1], replay_window=8)
    packets = [out.seal(b"%d" % i) for i in range(20)]
    for i in (9, 3, 7, 5, 19, 12):
        assert into.open(packets[i]).seq == i + 1
    with pytest.raises(ReplayError):
        into.open(packets[7 + 5])
    with pytest.raises(WindowError):
        into.open(packets[11])              # seq 12, 8 behind top 20
    assert into.open(packets[13]).seq == 14
    assert (into.stats["replay"], into.stats["window"]) == (1, 1)


def peak_memory(run):
    """What *run* returns, and the most memory Python held meanwhile."""
    tracemalloc.start()
    try:
        return run(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_jump_past_the_window_starts_it_afresh():
    """RFC 4303 3.4.3: a number right of the window is accepted and slides
    the window to it; after a jump of 2^32 - 2 only the new number is
    marked, numbers just below it are accepted, older ones refused, and the
    bitmap never grows with the jump (Appendix A)."""
    out, into = make(SUITES[1], replay_window=64)
    first = out.seal(b"first")
    top = (1 << 32) - 1
    out.seq_num = top - 64
    below = {seq: out.seal(b"below") for seq in range(top - 64, top)}
    last = out.seal(b"last")

    def run():
        seqs = [into.open(first).seq, into.open(last).seq]
        for packet, error in ((last, ReplayError), (below[top - 64], WindowError),
                              (first, WindowError)):
            with pytest.raises(error):
                into.open(packet)
        return seqs + [into.open(below[seq]).seq for seq in (top - 1, top - 63, top - 30)]

    seqs, peak = peak_memory(run)
    assert seqs == [1, top, top - 1, top - 63, top - 30]
    with pytest.raises(ReplayError):
        into.open(below[top - 63])
    assert (into.stats["packets_in"], into.stats["replay"], into.stats["window"]) == (5, 2, 2)
    assert peak < 1 << 20


def test_an_esn_jump_starts_the_window_afresh():
    """With ESN near 2^60 the largest jump RFC 4303 A2.2 can infer (the
    next high half, 2^32 - 70 on) resets the window: numbers just below
    the new top, across the high-half boundary, are accepted."""
    base = 1 << 60
    out, into = make(SUITES[12], esn_en=True, esn=1 << 28, replay_window=64)
    out.seq_num = base + 100
    old = out.seal(b"old")
    top = base + (1 << 32) + 30
    out.seq_num = top - 40
    below = {seq: out.seal(b"below") for seq in range(top - 40, top)}
    last = out.seal(b"last")

    def run():
        seqs = [into.open(old).seq, into.open(last).seq]
        with pytest.raises(ReplayError):
            into.open(last)
        return seqs + [into.open(below[seq]).seq for seq in (top - 1, top - 30, top - 31, top - 40)]

    seqs, peak = peak_memory(run)
    assert seqs == [base + 100, top, top - 1, top - 30, top - 31, top - 40]
    assert [s >> 32 for s in seqs] == [1 << 28, (1 << 28) + 1, (1 << 28) + 1, (1 << 28) + 1,
                                       1 << 28, 1 << 28]
    with pytest.raises(ReplayError):
        into.open(below[top - 31])
    assert peak < 1 << 20


@pytest.mark.parametrize("jump,error", [(7, ReplayError), (8, WindowError), (9, WindowError)])
def test_window_edge(jump, error):
    """Within the window the old top stays marked; a jump of the whole
    window (8) or more pushes it out."""
    out, into = make(SUITES[1], replay_window=8)
    packets = [out.seal(b"%d" % i) for i in range(20)]
    assert into.open(packets[9]).seq == 10
    assert into.open(packets[9 + jump]).seq == 10 + jump
    with pytest.raises(error):
        into.open(packets[9])
    assert into.open(packets[9 + jump - 1]).seq == 9 + jump


def test_no_window_takes_any_order_at_any_distance():
    """A decrypt-only SA without a window (captures) opens a number 2^32 - 2
    below the highest, and again, without a bitmap of that size."""
    out, into = make(SUITES[1], replay_window=0)
    first = out.seal(b"first")
    out.seq_num = (1 << 32) - 1
    last = out.seal(b"last")
    seqs, peak = peak_memory(lambda: [into.open(p).seq for p in (last, first, first, last)])
    assert seqs == [(1 << 32) - 1, 1, 1, (1 << 32) - 1]
    assert peak < 1 << 20


def test_sequence_number_cycle_needs_rekey():
    out, _ = make(SUITES[1])
    out.seq_num = 0xFFFFFFFF
    out.seal(b"last")
    with pytest.raises(LifetimeExpired):
        out.seal(b"one too many")


def test_lifetimes():
    out, _ = make(SUITES[1], lifetime=Lifetime(soft_packets=2, hard_packets=3, hard_bytes=100))
    out.seal(b"a")
    assert not out.soft_expired
    out.seal(b"b")
    assert out.soft_expired
    out.seal(b"c")
    with pytest.raises(LifetimeExpired):
        out.seal(b"d")
    assert out.stats["lifetime"] == 1


def test_bad_padding_means_wrong_key():
    """With a NULL ICV a wrong key shows as bad padding, not garbage."""
    key = bytes(16)
    out = SecurityAssociation(1, crypt_algo="AES-CBC", crypt_key=key)
    wrong = SecurityAssociation(1, crypt_algo="AES-CBC", crypt_key=b"\x01" * 16)
    failures = 0
    for _ in range(20):
        try:
            wrong.open(out.seal(os.urandom(30)))
        except PaddingError:
            failures += 1
    assert failures >= 15 and wrong.stats["padding"] == failures


def test_decrypt_only_skips_unknown_icv():
    out, _ = make(SUITES[19])                    # 3DES + HMAC-SHA1-96
    blind = SecurityAssociation(0x1000, crypt_algo="3DES", crypt_key=bytes(range(1, 25)), skip_icv=12)
    assert blind.open(out.seal(b"hello")).payload == b"hello"
    assert blind.stats["unverified"] == 1


def test_tfc_padding_is_carried():
    out, into = make(SUITES[12])
    opened = into.open(out.seal(bytes(INNER), tfc_padding=100))
    assert opened.payload == bytes(INNER) + bytes(100)
    assert IP(opened.payload)[ICMP].load == b"x" * 61


@pytest.mark.parametrize("v6", [False, True])
@pytest.mark.parametrize("natt", [False, True])
def test_transport_mode(v6, natt):
    pkt = (IPv6(src="2001:db8::2", dst="2001:db8::1") / ICMPv6EchoRequest(id=3, data=b"ping")) if v6 \
        else (IP(src="192.0.2.2", dst="192.0.2.1", ttl=9) / ICMP(id=3) / b"ping")
    kw = dict(nat_t_header=UDP(sport=4500, dport=4500)) if natt else {}
    out, into = make(SUITES[12], **kw)
    sealed = out.encrypt(pkt)
    if natt:
        assert sealed[UDP].dport == 4500 and sealed.haslayer(ESP)
    else:
        assert (sealed.nh if v6 else sealed.proto) == 50
    assert sealed.src == pkt.src and sealed.dst == pkt.dst
    back = into.decrypt(type(sealed)(bytes(sealed)))
    assert bytes(back.payload) == bytes(pkt.payload)
    assert (back.nh if v6 else back.proto) == (58 if v6 else 1)


def test_tunnel_ipv6_outer_and_inner():
    inner = IPv6(src="2001:db8:1::2", dst="2001:db8:1::1") / ICMPv6EchoRequest(data=b"v6")
    out, into = make(SUITES[16], tunnel_header=IPv6(src="2001:db8::2", dst="2001:db8::1"))
    sealed = out.encrypt(inner)
    assert isinstance(sealed, IPv6) and sealed.nh == 50 and sealed.plen == len(sealed.payload)
    assert bytes(into.decrypt(IPv6(bytes(sealed)))) == bytes(inner)


def test_results_are_dissected_on_first_use():
    inner = IP(src="198.51.100.2", dst="198.51.100.1") / UDP(dport=9) / b"lazy"
    out, into = make(SUITES[0], tunnel_header=IP(src="192.0.2.2", dst="192.0.2.1"))
    sealed = out.encrypt(inner)
    wire = bytes(sealed)
    assert type(sealed) is not IP and wire[9] == 50 and wire[20:24] == (0x1000).to_bytes(4, "big")
    assert sealed[ESP].seq == 1 and type(sealed) is IP
    back = into.decrypt(IP(wire))
    assert bytes(back) == bytes(inner) and type(back) is not IP
    assert back[UDP].load == b"lazy" and type(back) is IP


def test_key_length_checked():
    with pytest.raises(ValueError, match="AES-CBC|aes"):
        SecurityAssociation(1, crypt_algo="AES-CBC", crypt_key=b"short")


def _keys_file(path):
    """The esp lines of a .keys file: {spi: fields}."""
    out = {}
    for line in path.read_text().splitlines():
        if line.startswith("esp "):
            fields = dict(item.split("=", 1) for item in line.split()[1:])
            out[int(fields["spi"], 16)] = fields
    return out


@pytest.mark.parametrize("name,transform", [
    ("mm-psk-aes256-sha256-modp2048", dict(transform_id="ESP-AES-CBC", transforms=[
        ("KeyLength", 256), ("AuthenticationAlgorithm", "HMAC-SHA2-256"),
        ("EncapsulationMode", "UDP-Encapsulated-Tunnel")])),
    ("mm-psk-3des-sha1-modp1024", dict(transform_id="ESP-3DES", transforms=[
        ("AuthenticationAlgorithm", "HMAC-SHA"), ("EncapsulationMode", "UDP-Encapsulated-Tunnel")])),
])
def test_sa_pair_from_keymat(name, transform):
    """KEYMAT (encryption key, then integrity key) and the Quick Mode
    transform give the SA pair that decrypts charon's ESP-in-UDP."""
    from conftest import read_capture, shared_file
    from scapy_ike.esp import EspTransform, sa_pair
    from scapy_ike.layers.isakmp import ISAKMP_payload_Proposal, ISAKMP_payload_Transform
    proposal = ISAKMP_payload_Proposal(bytes(ISAKMP_payload_Proposal(
        proto=3, SPI=b"\0\0\0\1", trans=ISAKMP_payload_Transform(**transform))))
    esp = EspTransform.from_payload(proposal.trans)
    assert esp.tunnel and esp.udp_encap
    keys = _keys_file(shared_file("strongswan", name + ".keys"))
    (spi_a, a), (spi_b, b) = keys.items()
    keymat = {spi: bytes.fromhex(k["encr_key"] + k["integ_key"]) for spi, k in keys.items()}
    out, into = sa_pair(esp, spi_a, keymat[spi_a], spi_b, keymat[spi_b], replay_window=0)
    sas = {spi_a: out, spi_b: into}
    opened = 0
    for pkt in read_capture(shared_file("strongswan", name + ".pcap")):
        if pkt.haslayer(ESP) and pkt[ESP].spi in sas:
            inner = sas[pkt[ESP].spi].decrypt(pkt)
            assert inner.haslayer(ICMP) and inner.src.startswith("198.51.100.")
            opened += 1
    assert opened == 6
