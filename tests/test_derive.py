"""``scapy-ike derive`` reproduces what charon logged, from its inputs."""

import json

from conftest import read_capture, shared_file
from scapy_ike.cli import main
from scapy_ike.decode.keylog import read_keys
from scapy_ike.layers.isakmp import ISAKMP, ISAKMP_payload_KE, ISAKMP_payload_Nonce


def phase1_inputs(name):
    keys_text = shared_file("strongswan", name + ".keys").read_text()
    logged = read_keys(keys_text).ike[0]
    ike_line = next(line for line in keys_text.splitlines() if line.startswith("ike "))
    logged_iv = ike_line.split("iv=")[1].split()[0]
    packets = [p[ISAKMP] for p in read_capture(shared_file("strongswan", name + ".pcap"))
               if p.haslayer(ISAKMP) and not p[ISAKMP].flags & 1]
    kes = [p[ISAKMP_payload_KE].ke for p in packets if p.haslayer(ISAKMP_payload_KE)]
    nonces = [p[ISAKMP_payload_Nonce].nonce for p in packets if p.haslayer(ISAKMP_payload_Nonce)]
    return logged, logged_iv, kes, nonces


def test_derive_json_matches_charon(capsys):
    logged, iv, (gxi, gxr), (ni, nr) = phase1_inputs("mm-psk-3des-sha1-modp1024")
    assert main(["derive", "--auth", "psk", "--prf", "sha1", "--psk", "swp-legacy-psk-6",
                 "--ni", ni.hex(), "--nr", nr.hex(), "--gxy", logged.gxy.hex(),
                 "--cky-i", logged.cky_i.hex(), "--cky-r", logged.cky_r.hex(),
                 "--cipher", "3des", "--gxi", gxi.hex(), "--gxr", gxr.hex(), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"SKEYID": logged.skeyid.hex(), "SKEYID_d": logged.skeyid_d.hex(),
                   "SKEYID_a": logged.skeyid_a.hex(), "SKEYID_e": logged.skeyid_e.hex(),
                   "Ka": logged.ka.hex(), "IV": iv[:16]}
    assert len(out["Ka"]) == 48            # Appendix B: 24 bytes from a 20-byte SKEYID_e


def test_derive_text_and_hex_psk(capsys):
    logged, _, _, (ni, nr) = phase1_inputs("mm-psk-aes256-sha256-modp2048")
    assert main(["derive", "--auth", "psk", "--prf", "sha256",
                 "--psk", "0x" + b"swp-mm-psk-1".hex(), "--ni", ni.hex(), "--nr", nr.hex(),
                 "--gxy", logged.gxy.hex(), "--cky-i", logged.cky_i.hex(),
                 "--cky-r", logged.cky_r.hex(), "--cipher", "aes256"]) == 0
    lines = dict(line.split() for line in capsys.readouterr().out.splitlines())
    assert lines["SKEYID_d"] == logged.skeyid_d.hex() and lines["Ka"] == logged.ka.hex()


def test_derive_usage_errors(capsys):
    base = ["derive", "--auth", "psk", "--prf", "sha1", "--ni", "00", "--nr", "00",
            "--gxy", "00", "--cky-i", "00", "--cky-r", "00"]
    for extra in ([], ["--psk", "x", "--cipher", "rot13"], ["--psk", "x", "--gxi", "00"]):
        assert main(base + extra) == 2, extra
    assert capsys.readouterr().err.splitlines() == [
        "scapy-ike derive: --auth psk needs --psk",
        "scapy-ike derive: argument --cipher: unknown cipher 'rot13' (aes128, aes256, 3des, ...)",
        "scapy-ike derive: --gxi/--gxr need --cipher (the IV is one cipher block)"]
