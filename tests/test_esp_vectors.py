"""ESP known answers (../shared/testdata/vectors/esp): RFC 3602, the McGrew
GCM draft, and the Linux-kernel packets of Scapy's tests, each opened and
sealed back to the same bytes."""

import json

import pytest

from conftest import TESTDATA, shared_file
from scapy_ike.esp import SecurityAssociation


def vectors(name):
    path = TESTDATA / "vectors" / "esp" / name
    if not path.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason="test data absent: %s" % path))]
    return [pytest.param(v, id=str(v.get("name") or v.get("case")))
            for v in json.loads(path.read_text())["vectors"]]


@pytest.mark.parametrize("v", vectors("esp_aes_cbc_vectors.json"))
def test_rfc3602(v):
    sa = SecurityAssociation(int(v["spi_hex"], 16), crypt_algo=v["cipher"],
                             crypt_key=bytes.fromhex(v["key_hex"]), auth_algo=v["auth"],
                             auth_key=bytes.fromhex(v["auth_key_hex"] or ""))
    packet = bytes.fromhex(v["esp_packet_hex"])
    opened = sa.open(packet)
    assert (opened.seq, opened.next_header) == (v["seq"], v["next_header"])
    assert opened.payload == bytes.fromhex(v["expected_payload_hex"])
    sa.seq_num = v["seq"]
    assert sa.seal(opened.payload, opened.next_header, iv=bytes.fromhex(v["iv_hex"])) == packet


@pytest.mark.parametrize("v", vectors("mcgrew_gcm_esp_vectors.json"))
def test_mcgrew_gcm(v):
    seq = int(v["seq_hex"], 16)
    plain = bytes.fromhex(v["plaintext_hex"])
    gmac = not plain
    sa = SecurityAssociation(int(v["spi_hex"], 16),
                             crypt_algo="AES-NULL-GMAC" if gmac else "AES-GCM",
                             crypt_key=bytes.fromhex(v["wireshark_esp_sa_key_hex"]),
                             crypt_icv_size=v["icv_len"], esn_en=v["esn"], esn=seq >> 32)
    packet = bytes.fromhex(v["esp_packet_hex"])
    opened = sa.open(packet)
    assert opened.seq == (seq if v["esn"] else seq & 0xFFFFFFFF)
    if not gmac:
        assert opened.payload + bytes(range(1, plain[-2] + 1)) + plain[-2:] == plain
    sa.seq_num = opened.seq
    assert sa.seal(opened.payload, opened.next_header, iv=bytes.fromhex(v["esp_iv_hex"])) == packet


@pytest.mark.parametrize("v", vectors("scapy_linux_esp_vectors.json"))
def test_linux_kernel_packets(v):
    esn = v["esn_high"] is not None
    sa = SecurityAssociation(v["spi"], crypt_algo=v["scapy_crypt_algo"],
                             crypt_key=bytes.fromhex(v["key_hex"]),
                             crypt_icv_size=v["icv_len"] or None, esn_en=esn, esn=v["esn_high"] or 0)
    packet = v["spi"].to_bytes(4, "big") + v["seq"].to_bytes(4, "big") + bytes.fromhex(v["esp_payload_hex"])
    opened = sa.open(packet)
    assert opened.next_header == v["next_header"] == 4
    assert opened.payload == bytes.fromhex(v["inner_packet_hex"])
    sa.seq_num = opened.seq
    assert sa.seal(opened.payload, 4, iv=bytes.fromhex(v["iv_hex"])) == packet


def test_vector_files_present():
    for name in ("esp_aes_cbc_vectors.json", "mcgrew_gcm_esp_vectors.json",
                 "scapy_linux_esp_vectors.json"):
        assert len(json.loads(shared_file("vectors", "esp", name).read_text())["vectors"]) >= 3
