"""ESP key files (scapy_ike.decode.keylog): Wireshark's esp_sa tables and
tcpdump's -E secrets as published beside their captures, read to exact
values, matched to packets, and opening real ESP."""

import re

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.ipsec import ESP

from conftest import PCAPS, TESTDATA, read_capture, shared_file
from scapy_ike.decode.keylog import (
    EspKey, KeyFileError, parse_esp_sa, parse_tcpdump_secrets, read_esp_keys,
)

H = bytes.fromhex
TDES_02 = H("4043434545464649494a4a4c4c4f4f515152525454575758")   # 02-sunrise, espudp1
TDES_08 = H("43434545464649494a4a4c4c4f4f51515252545457575840")   # 08-sunrise outer
TDES_IN = H("434545464649494a4a4c4c4f4f5151525254545757584043")   # 08-sunrise inner


def tdes(spi, dst, key):
    """A tcpdump-style key: 3DES, any source, a 96-bit ICV skipped."""
    return EspKey(spi, None, dst, "3DES", key, None, "NULL", b"", 12)


def published_esp_sa():
    """Every esp_sa table published beside a capture."""
    shared = sorted((TESTDATA / "strongswan").glob("*.esp_sa")) + [TESTDATA / "keys" / "esp_sa"]
    return [p for p in shared if p.exists()] + sorted(PCAPS.glob("*.esp_sa"))


# -- Wireshark esp_sa ---------------------------------------------------------

def test_wireshark_test_suite_table():
    keys = read_esp_keys(shared_file("keys", "esp_sa").read_text())
    assert keys == [
        EspKey(0x070883C2, "192.168.0.1", "192.168.0.100", "AES-CBC",
               H("5de1a4c2c72662c9fda7a7c78cd25623"), None,
               "HMAC-SHA1-96", H("51c9213c18232f8f26c70c4dee6e0e6d56e31e8a"), None),
        EspKey(0xC254FE64, "192.168.0.100", "192.168.0.1", "AES-CBC",
               H("88e1dad7140af03b8d4f3d734d21be4b"), None,
               "HMAC-SHA1-96", H("3e00d517c1220d4b7d2950fcc02edd4b6023d278"), None),
        tdes(0x12345678, "192.1.2.45", TDES_02),
        tdes(0xABCDABCD, "192.0.1.1", TDES_IN),
        EspKey(0x87654321, "201.25.64.2", "201.25.64.1", "AES-CBC",
               H("000102030405060708090a0b0c0d0e0f"), None, "NULL", b"", None),
        EspKey(0x12345678, "201.25.64.1", "201.25.64.2", "AES-CBC",
               H("000102030405060708090a0b0c0d0e0f"), None, "NULL", b"", None),
        EspKey(0xC1E69148, "201.25.64.2", "201.25.64.1", "AES-GCM",
               H("d5a4eee309983f2da6f52fe84353ab16e6971987"), 16, "NULL", b"", None),
    ]


def test_commented_rows_ctr_sha256_96_and_wildcards():
    """The rows kept commented out (they clash with others) read too:
    AES-CTR with HMAC-SHA-256-96, GCM, and "*" addresses."""
    text = shared_file("keys", "esp_sa").read_text().replace('#"', '"')
    keys = parse_esp_sa(text)
    assert len(keys) == 12
    assert tdes(0x12345678, "192.1.2.45", TDES_08) in keys
    ctr = EspKey(0x87654321, None, None, "AES-CTR", H("000102030405060708090a0b0c0d0e0f80818283"),
                 None, "sha256_96", H("101112131415161718191a1b1c1d1e1f"), None)
    assert ctr in keys
    assert ctr.security_association().integrity.icv_size == 12
    gcm = [k for k in keys if k.crypt_algo == "AES-GCM" and k.src is None]
    assert [k.spi for k in gcm] == [0x87654321, 0x12345678]
    assert {(k.crypt_key, k.crypt_icv_size) for k in gcm} == {
        (H("000102030405060708090a0b0c0d0e0f80818283"), 16)}


@pytest.mark.parametrize("name, row", [
    ("mm-psk-3des-sha1-modp1024", EspKey(
        0x27DD6CDC, "192.0.2.2", "192.0.2.1", "3DES",
        H("702fe28ba022153c92af6fa9cd4be24a59841d2c1b86f4ba"), None,
        "HMAC-SHA1-96", H("dc783bf98cbe9e1dcd6ae9bf95e5a72ee6d90d78"), None)),
    ("am-psk-aes256-sha256-modp2048", EspKey(
        0x4A6F4074, "192.0.2.2", "192.0.2.1", "AES-CBC",
        H("87701c2b64198dac59d2ee964b15e5d13497e03a515d8b8672b9bcb7c10e8d9c"), None,
        "SHA2-256-128", H("059ff8f28394e56f6508db1f2501d29e14281b351114de6489dd564af694ae65"),
        None)),
])
def test_strongswan_rows(name, row):
    keys = parse_esp_sa(shared_file("strongswan", name + ".esp_sa").read_text())
    assert len(keys) == 2 and keys[0] == row
    assert (keys[1].src, keys[1].dst) == ("192.0.2.1", "192.0.2.2")


def test_project_gcm_row():
    keys = read_esp_keys((PCAPS / "am-psk-aes256-sha256-ecp256.esp_sa").read_text())
    assert keys[1] == EspKey(
        0x56869DCB, "192.0.2.1", "192.0.2.2", "AES-GCM",
        H("7d36f14754ebb8740ea0a03fba3f0ffa8a53b5269b6795711e316586756bdca6b33f1648"), 16,
        "NULL", b"", None)
    assert len(keys[1].security_association().salt) == 4


CRYPT = {"AES-CBC [RFC3602]": "AES-CBC", "TripleDES-CBC [RFC2451]": "3DES",
         "AES-GCM with 16 octet ICV [RFC4106]": "AES-GCM"}
AUTH = {"HMAC-SHA-1-96 [RFC2404]": ("HMAC-SHA1-96", None),
        "HMAC-SHA-256-128 [RFC4868]": ("SHA2-256-128", None), "NULL": ("NULL", None),
        "ANY 96 bit authentication [no checking]": ("NULL", 12)}


@pytest.mark.parametrize("path", published_esp_sa(), ids=lambda p: p.parent.name + "/" + p.name)
def test_every_published_row(path):
    """Each row of each table, against the row's own text split by hand."""
    rows = [line.split('","') for line in path.read_text().splitlines() if line.startswith('"')]
    keys = read_esp_keys(path.read_text())
    assert len(keys) == len(rows) >= 2
    for key, row in zip(keys, rows):
        protocol, src, dst, spi, crypt, crypt_key, auth, auth_key = [f.strip('"') for f in row]
        assert protocol == "IPv4"
        assert (key.src or "*", key.dst or "*", key.spi) == (src, dst, int(spi, 16))
        assert (key.crypt_algo, key.crypt_key) == (CRYPT[crypt], H(crypt_key[2:]))
        assert (key.auth_algo, key.skip_icv) == AUTH[auth]
        assert key.auth_key == H(auth_key[2:])
        assert key.crypt_icv_size == (16 if key.crypt_algo == "AES-GCM" else None)


def test_ipv6_prefix_and_any_spi():
    keys = parse_esp_sa('"IPv6","2001:DB8::1","*","*","NULL","","NULL",""\n'
                        '"IPv4","10.1.2.3/8","192.0.2.1","1234","DES-CBC [RFC2405]",'
                        '"0x0123456789abcdef","HMAC-MD5-96 [RFC2403]","0x%s"\n' % ("ab" * 16))
    assert keys[0] == EspKey(None, "2001:db8::1", None, "NULL", b"", None, "NULL", b"", None)
    assert (keys[1].src, keys[1].spi, keys[1].crypt_algo, keys[1].auth_algo) == (
        "10.0.0.0/8", 1234, "DES", "HMAC-MD5-96")


def test_text_keys_and_other_ciphers():
    """Both tools take a key without 0x as its text; a key for "no
    checking" is ignored."""
    keys = parse_esp_sa(
        '"IPv4","*","*","0x1","BLOWFISH-CBC [RFC2451]","sixteen byte key","NULL",""\n'
        '"IPv4","*","*","0x2","CAST5-CBC [RFC2144]","0x%s","ANY 256 bit authentication '
        '[no checking]","0xdeadbeef"\n'
        '"IPv4","*","*","0x3","AES-GCM with 8 octet ICV [RFC4106]","0x%s","NULL",""\n'
        % ("11" * 16, "22" * 20))
    assert [(k.crypt_algo, k.crypt_key, k.crypt_icv_size, k.skip_icv, k.auth_key)
            for k in keys] == [
        ("Blowfish", b"sixteen byte key", None, None, b""), ("CAST", H("11" * 16), None, 32, b""),
        ("AES-GCM", H("22" * 20), 8, None, b"")]


# -- tcpdump -E ----------------------------------------------------------------

def test_tcpdump_secrets_file():
    keys = read_esp_keys(shared_file("tcpdump", "esp-secrets.txt").read_text())
    assert keys == [
        tdes(0x12345678, "192.1.2.45", TDES_08),
        tdes(0xABCDABCD, "192.0.1.1", TDES_IN),
        EspKey(0xD1234567, None, "192.1.2.45", "AES-CBC",
               H("aaaabbbbccccdddd") + TDES_02, None, "NULL", b"", 12),
    ]


def test_tcpdump_command_line():
    arg = ("0x12345678@192.1.2.45 3des-cbc-hmac96:0x%s,0xabcdabcd@192.0.1.1\t3des-cbc-hmac96:0x%s"
           % (TDES_02.hex(), TDES_IN.hex()))
    assert read_esp_keys(arg) == parse_tcpdump_secrets(arg) == [
        tdes(0x12345678, "192.1.2.45", TDES_02), tdes(0xABCDABCD, "192.0.1.1", TDES_IN)]


def test_tcpdump_forms():
    """Decimal SPI, IPv6, text secrets, no -cbc, no ICV, and the entry
    without spi@address that applies to any SA."""
    keys = read_esp_keys("# keys\n305419896@2001:DB8::2 des-cbc:abcdefgh\n"
                         "1@192.0.2.1 AES128:0x%s, cast128-cbc-hmac96:0x%s , none:\n"
                         % ("00" * 16, "ff" * 16))
    assert keys == [
        EspKey(0x12345678, None, "2001:db8::2", "DES", b"abcdefgh", None, "NULL", b"", None),
        EspKey(1, None, "192.0.2.1", "AES-CBC", bytes(16), None, "NULL", b"", None),
        EspKey(None, None, None, "CAST", H("ff" * 16), None, "NULL", b"", 12),
        EspKey(None, None, None, "NULL", b"", None, "NULL", b"", None),
    ]


def test_nothing_to_read():
    assert read_esp_keys("") == read_esp_keys("# only a comment\n\n   \n") == []
    assert parse_esp_sa("#\n") == parse_tcpdump_secrets("\n") == []


# -- matching ------------------------------------------------------------------

def test_wildcards_and_exact_addresses():
    exact, _, any_src = read_esp_keys(shared_file("keys", "esp_sa").read_text())[:3]
    assert exact.matches("192.168.0.1", "192.168.0.100", 0x070883C2)
    assert not exact.matches("192.168.0.100", "192.168.0.1", 0x070883C2)
    assert not exact.matches("192.168.0.1", "192.168.0.100", 0x070883C3)
    assert any_src.matches("10.9.8.7", "192.1.2.45", 0x12345678)
    assert any_src.matches("2001:db8::7", "192.1.2.45", 0x12345678)
    assert not any_src.matches("10.9.8.7", "192.1.2.46", 0x12345678)
    everything = EspKey(None, None, None, "NULL", b"", None, "NULL", b"", None)
    assert everything.matches("2001:db8::1", "10.0.0.1", 7)


def test_ipv6_text_is_normalised():
    key, = parse_esp_sa('"IPv6","2001:DB8::1","*","0x10","NULL","","NULL",""')
    assert key.src == "2001:db8::1"
    assert key.matches("2001:db8:0:0::1", "2001:db8::99", 0x10)
    assert key.matches("2001:0DB8::0001", "::1", 0x10)
    assert not key.matches("2001:db8::2", "2001:db8::99", 0x10)
    assert not key.matches("32.1.13.184", "2001:db8::99", 0x10)


def test_prefix_matches_its_network():
    key, = parse_esp_sa('"IPv4","10.1.2.3/8","*","*","NULL","","NULL",""')
    assert key.matches("10.200.0.1", "192.0.2.1", 5)
    assert not key.matches("11.0.0.1", "192.0.2.1", 5)


# -- opening real packets --------------------------------------------------------

def open_with(keys, pkt, **kwargs):
    """The packet's ESP opened with the one key that matches it."""
    data = bytes(pkt[IP].payload)
    spi = int.from_bytes(data[:4], "big")
    key, = [k for k in keys if k.matches(pkt[IP].src, pkt[IP].dst, spi)]
    return key.security_association(**kwargs).open(data)


def test_wireshark_12671_frame_1():
    """Frame 1 is 192.168.0.100 -> 192.168.0.1, SPI 0xc254fe64: an ICMP
    echo request from 10.1.1.1 to 10.1.0.10 (MANIFEST, tshark)."""
    keys = read_esp_keys(shared_file("keys", "esp_sa").read_text())
    pkt = read_capture(shared_file("wireshark", "esp-bug-12671.pcapng.gz"))[0]
    opened = open_with(keys, pkt, replay_window=0)
    assert (opened.seq, opened.next_header) == (1, 4)
    inner = IP(opened.payload)
    assert (inner.src, inner.dst, inner[ICMP].type, inner[ICMP].id, inner[ICMP].seq) == (
        "10.1.1.1", "10.1.0.10", 8, 2, 2)
    assert H("08090a0b0c0d0e0f1011121314151617") in bytes(inner[ICMP].payload)


def test_tcpdump_secrets_open_nested_esp():
    """08-sunrise-sunset-esp2: the outer SA's key opens ESP carrying ESP,
    which the inner SA's key opens (tcpdump's esp2.out)."""
    keys = read_esp_keys(shared_file("tcpdump", "esp-secrets.txt").read_text())
    for pkt in read_capture(shared_file("tcpdump", "08-sunrise-sunset-esp2.pcap")):
        outer = open_with(keys, pkt)
        middle = IP(outer.payload)
        assert (outer.next_header, middle.src, middle.dst) == (4, "192.1.2.23", "192.0.1.1")
        inner = IP(open_with(keys, middle).payload)
        assert (inner.src, inner.dst, inner[ICMP].type) == ("192.0.2.1", "192.0.1.1", 8)


def test_any_spi_key_needs_an_spi():
    key = parse_tcpdump_secrets("3des-cbc-hmac96:0x" + TDES_02.hex())[0]
    with pytest.raises(ValueError, match="any SPI"):
        key.security_association()
    pkt = read_capture(shared_file("tcpdump", "02-sunrise-sunset-esp.pcap"))[0]
    sa = key.security_association(spi=0x12345678)
    inner = IP(sa.open(bytes(pkt[IP].payload)).payload)
    assert (inner.src, inner.dst, sa.stats["unverified"]) == ("192.0.2.1", "192.0.1.1", 1)


def captures_with_esp_sa():
    shared = sorted((TESTDATA / "strongswan").glob("*.pcap"))
    return [p for p in shared + sorted(PCAPS.glob("*.pcap")) if p.with_suffix(".esp_sa").exists()]


@pytest.mark.parametrize("capture", captures_with_esp_sa(), ids=lambda p: p.name)
def test_every_esp_packet_of_strongswan_captures_opens(capture):
    keys = read_esp_keys(capture.with_suffix(".esp_sa").read_text())
    sas, inner = {}, []
    for pkt in read_capture(capture):
        if ESP in pkt:
            esp = pkt[ESP]
            key, = [k for k in keys if k.matches(pkt[IP].src, pkt[IP].dst, esp.spi)]
            opened = sas.setdefault(esp.spi, key.security_association()).open(bytes(esp))
            assert opened.next_header == 4
            inner.append(IP(opened.payload))
    assert len(sas) == 2 and len(inner) >= 2
    assert all(ICMP in p or p.proto in (6, 17) for p in inner)


# -- errors ----------------------------------------------------------------------

ROW = '"IPv4","192.0.2.1","192.0.2.2","0x1","%s","%s","%s","%s"'
AES = "AES-CBC [RFC3602]"
SHA1 = "HMAC-SHA-1-96 [RFC2404]"
K16, K20 = "0x" + "00" * 16, "0x" + "00" * 20
BAD_ROWS = [
    (ROW % ("TWOFISH-CBC", K16, "NULL", ""), "unknown encryption 'TWOFISH-CBC'"),
    (ROW % (AES, K16, "MAC-RIPEMD-160-96 [RFC2857]", K20), "unknown authentication"),
    (ROW % (AES, K16, "ANY 80 bit authentication [no checking]", ""), "unknown authentication"),
    (ROW % (AES, "0x5de1a4c2c72662c9fda7a7c78cd256zz", SHA1, K20), "encryption key is not"),
    (ROW % (AES, K16, SHA1, "0x123"), "authentication key is not whole bytes of hex"),
    (ROW % (AES, "0x" + "00" * 15, SHA1, K20), "16/24/32 bytes, not 15"),
    (ROW % ("AES-GCM with 16 octet ICV [RFC4106]", K16, "NULL", ""), "plus a 4-byte salt"),
    (ROW % ("AES-GCM with 16 octet ICV [RFC4106]", K20, SHA1, K20), "already authenticates"),
    (ROW % ("TripleDES-CBC [RFC2451]", K16, "NULL", ""), "3des takes a key of 24 bytes"),
    ('"IPv4","192.0.2.1","*","0x1","NULL",""', "8 fields, not 6"),
    ('"IPX","*","*","0x1","NULL","","NULL",""', "unknown protocol 'IPX'"),
    ('"IPv4","2001:db8::1","*","0x1","NULL","","NULL",""', "not an IPv4 address"),
    ('"IPv4","192.168.0.300","*","0x1","NULL","","NULL",""', "bad address"),
    ('"IPv4","10.*.*.1","*","0x1","NULL","","NULL",""', "bad address"),
    ('"IPv4","*","*","0x1234****","NULL","","NULL",""', "bad SPI"),
    ('"IPv4","*","*","0x100000000","NULL","","NULL",""', "not 32 bits"),
]
BAD_ENTRIES = [
    ("0x1@192.0.2.1 rc3-cbc:0x" + "00" * 16, "unknown algorithm 'rc3-cbc'; tcpdump -E takes none, "
     "aes128-cbc, aes192-cbc, aes256-cbc, des-cbc, 3des-cbc, blowfish-cbc, cast128-cbc"),
    ("0x1@192.0.2.1 aes128-cbc-hmac96:0x" + "00" * 32,
     "aes128-cbc-hmac96 takes a 16-byte key, not 32"),
    ("0x1@192.0.2.1 3des-cbc:0x43zz", "the encryption key is not whole bytes of hex"),
    ("0x1@192.0.2.1 3des-cbc", "expected algorithm:secret"),
    ("0x1@192.0.2.300 3des-cbc:0x00", "bad address '192.0.2.300'"),
    ("spi@192.0.2.1 3des-cbc:0x00", "bad SPI 'spi'"),
    ("ikev2 I 0x0011223344556677 0x0011223344556677 sha1:0x00 aes128:0x00",
     "expected spi@address, not 'ikev2'"),
]


@pytest.mark.parametrize("line, message", BAD_ROWS, ids=[m for _, m in BAD_ROWS])
def test_bad_esp_sa_rows(line, message):
    with pytest.raises(KeyFileError, match="^line 3: .*" + re.escape(message)) as e:
        read_esp_keys("# Wireshark esp_sa\n" + ROW % ("NULL", "", "NULL", "") + "\n" + line)
    assert e.value.line == 3 and isinstance(e.value, ValueError)


@pytest.mark.parametrize("entry, message", BAD_ENTRIES, ids=[m[:40] for _, m in BAD_ENTRIES])
def test_bad_tcpdump_entries(entry, message):
    with pytest.raises(KeyFileError, match="^line 3: " + re.escape(message)):
        parse_tcpdump_secrets("0x9@192.0.2.9 none:\n\n" + entry)


def test_unrecognised_line():
    with pytest.raises(KeyFileError, match="^line 2: neither a Wireshark esp_sa row nor"):
        read_esp_keys("# keys\nIPv4,192.0.2.1,192.0.2.2,0x1,NULL,,NULL,\n")


# -- writing key files -----------------------------------------------------------

def test_key_files_are_written_for_the_owner_only(tmp_path):
    """The key log and Wireshark's two tables hold secrets: mode 0600, even
    where an older file was 0644, its content replaced by the lines given."""
    import os
    import stat
    from scapy_ike.decode.keylog import write_key_files
    path = tmp_path / "session.keys"
    names = [path, tmp_path / "session.keys.ikev1_decryption_table",
             tmp_path / "session.keys.esp_sa"]
    for name in names[:2]:
        name.write_text("old secrets, a longer line than the new ones\n")
        name.chmod(0o644)
    write_key_files(str(path), ["ike icookie=01 ka=02"], ["0102030405060708,aa"],
                    ['"IPv4","192.0.2.1","192.0.2.2","0x00000001"', '"IPv4","*","*","*"'])
    assert [stat.S_IMODE(os.stat(name).st_mode) for name in names] == [0o600] * 3
    assert [name.read_text() for name in names] == [
        "ike icookie=01 ka=02\n", "0102030405060708,aa\n",
        '"IPv4","192.0.2.1","192.0.2.2","0x00000001"\n"IPv4","*","*","*"\n']
    write_key_files(str(path), [], [], [])
    assert [name.read_text() for name in names] == ["", "", ""]


def test_a_bad_key_size_after_good_keys_of_the_algorithm():
    """Keys are tried once per algorithm and key size: a good AES-CBC key
    on line 1 does not let a 15-byte one on line 2 through."""
    good = ROW % ("AES-CBC [RFC3602]", "0x" + "00" * 16, "NULL", "")
    with pytest.raises(KeyFileError, match="^line 2: .*not 15"):
        read_esp_keys(good + "\n" + ROW % ("AES-CBC [RFC3602]", "0x" + "00" * 15, "NULL", ""))
    assert len(read_esp_keys(good + "\n" + good)) == 2
