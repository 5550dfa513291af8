"""tshark decrypts what our SAs encrypt: every algorithm Wireshark 4.0 has
a label for (not ChaCha20-Poly1305 nor GMAC), tunnel mode, plain ESP and
ESP-in-UDP, ICVs checked."""

import subprocess

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.utils import wrpcap

from conftest import need_tool
from scapy_ike.crypto import registry
from scapy_ike.decode.keylog import esp_sa_row, read_esp_keys
from scapy_ike.esp import SecurityAssociation

SUITES = [
    ("AES-CBC", 16, None, "HMAC-SHA1-96", 20),
    ("AES-CBC", 32, None, "SHA2-256-128", 32),
    ("AES-CBC", 24, None, "SHA2-384-192", 48),
    ("AES-CBC", 32, None, "SHA2-512-256", 64),
    ("AES-CBC", 16, None, "HMAC-MD5-96", 16),
    ("AES-CTR", 20, None, "HMAC-SHA1-96", 20),
    ("AES-GCM", 20, 8, "NULL", 0),
    ("AES-GCM", 28, 12, "NULL", 0),
    ("AES-GCM", 36, 16, "NULL", 0),
    ("NULL", 0, None, "HMAC-SHA1-96", 20),
    ("DES", 8, None, "HMAC-SHA1-96", 20),
    ("3DES", 24, None, "HMAC-SHA1-96", 20),
    ("Blowfish", 16, None, "HMAC-SHA1-96", 20),
    ("CAST", 16, None, "HMAC-SHA1-96", 20),
]
COUNT = 3


@pytest.mark.interop
def test_tshark_decrypts_what_we_encrypt(tmp_path):
    tshark = need_tool("tshark")
    frames, rows = [], []
    for index, (crypt, klen, icv, auth, alen) in enumerate(SUITES):
        spi = 0x5000 + index
        natt = index % 2 == 1
        tunnel = IP(src="192.0.2.2", dst="192.0.2.1")
        sa = SecurityAssociation(spi, crypt_algo=crypt, crypt_key=bytes(range(7, 7 + klen)),
                                 crypt_icv_size=icv, auth_algo=auth, auth_key=bytes(range(alen)),
                                 tunnel_header=tunnel,
                                 nat_t_header=UDP(sport=4500, dport=4500) if natt else None)
        rows.append(esp_sa_row(sa, "192.0.2.2", "192.0.2.1"))
        for seq in range(1, COUNT + 1):
            inner = IP(src="198.51.100.2", dst="198.51.100.1") / ICMP(id=index, seq=seq) / (b"t" * (seq * 7))
            frames.append(sa.encrypt(inner))
    assert [k.spi for k in read_esp_keys("\n".join(rows))] == [0x5000 + i for i in range(len(SUITES))]
    config = tmp_path / "config"
    config.mkdir()
    (config / "esp_sa").write_text("\n".join(rows) + "\n")
    pcap = tmp_path / "ours.pcap"
    wrpcap(str(pcap), frames)
    columns = ["frame.number", "esp.spi", "esp.sequence", "esp.icv_good", "icmp.ident",
               "icmp.seq", "_ws.malformed"]
    out = subprocess.run(
        [tshark, "-n", "-r", str(pcap), "-o", "esp.enable_encryption_decode:TRUE",
         "-o", "esp.enable_authentication_check:TRUE", "-T", "fields", "-E", "separator=\t",
         "-E", "occurrence=f"] + [a for c in columns for a in ("-e", c)],
        capture_output=True, text=True, timeout=120, check=True,
        env={"PATH": "/usr/bin:/bin", "WIRESHARK_CONFIG_DIR": str(config), "HOME": str(tmp_path)}).stdout
    rows = [dict(zip(columns, line.split("\t"))) for line in out.splitlines()]
    assert len(rows) == len(SUITES) * COUNT
    for n, row in enumerate(rows):
        index, seq = divmod(n, COUNT)
        suite = SUITES[index]
        assert int(row["esp.spi"], 16) == 0x5000 + index, suite
        assert (row["icmp.ident"], row["icmp.seq"]) == (str(index), str(seq + 1)), suite
        assert row["_ws.malformed"] == "", suite
        if registry.integrity(suite[3]).icv_size or suite[2]:
            assert row["esp.icv_good"] == "1", suite
