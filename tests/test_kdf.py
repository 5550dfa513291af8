"""The IKEv1 key schedule against every published vector in
../shared/testdata/vectors: NIST CAVP SP 800-135 (PSK and DSA), NSS's
Appendix B expansions, the RUB-NDS Main Mode schedules and encrypted
Informational, and ike-scan's Aggressive Mode HASH_R."""

import json

import pytest

from conftest import TESTDATA, shared_file
from scapy_ike.crypto import keys
from scapy_ike.crypto.cipher import block_cipher

NIST_HASH = {"SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512",
             "HMAC-SHA-1": "sha1", "HMAC-SHA-256": "sha256"}


def load(*parts):
    path = TESTDATA.joinpath("vectors", *parts)
    if not path.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason="test data absent: %s" % path))]
    data = json.loads(path.read_text())
    items = data.get("vectors") or data.get("cases")
    return [pytest.param(v, id="%d" % i) for i, v in enumerate(items)]


H = bytes.fromhex


@pytest.mark.parametrize("v", load("kdf", "ikev1_psk_count0-4.json")
                         + load("kdf", "ikev1_dsa_count0-4.json"))
def test_cavp(v):
    """SP 800-135 IKEv1: SKEYID for pre-shared keys or signatures (DSA),
    then SKEYID_d/a/e."""
    h = NIST_HASH[v["hash"]]
    if v["auth"] == "psk":
        skeyid = keys.skeyid_psk(h, H(v["pre-shared-key"]), H(v["Ni"]), H(v["Nr"]))
    else:
        skeyid = keys.skeyid_sig(h, H(v["Ni"]), H(v["Nr"]), H(v["gxy"]))
    assert skeyid.hex() == v["SKEYID"]
    d, a, e = keys.skeyid_dae(h, skeyid, H(v["gxy"]), H(v["CKY_I"]), H(v["CKY_R"]))
    assert (d.hex(), a.hex(), e.hex()) == (v["SKEYID_d"], v["SKEYID_a"], v["SKEYID_e"])


def test_cavp_files_complete():
    for name in ("ikev1_psk_count0-4.json", "ikev1_dsa_count0-4.json"):
        assert len(json.loads(shared_file("vectors", "kdf", name).read_text())["vectors"]) == 85


@pytest.mark.parametrize("v", load("kdf", "nss_ikev1_appendix_b.json"))
def test_nss_appendix_b(v):
    h = NIST_HASH[v["prf"]]
    if v["type"] == "ikeV1AppB":
        out = keys.encryption_key(h, H(v["key_hex"]), v["out_len"])
    else:
        from scapy_ike.crypto.prf import expand
        out = expand(h, H(v["key_hex"]), H(v["seed_hex"]), v["out_len"])
    assert out.hex() == v["expected_hex"].lower()


@pytest.mark.parametrize("v", load("kdf", "rub_ikev1_session_secrets.json"))
def test_rub_main_mode_schedule(v):
    h, exp = "sha1", {k: x.lower() for k, x in v["expected"].items()}
    cky_i, cky_r, gxy = H(v["cky_i"]), H(v["cky_r"]), H(v["gxy"])
    skeyid = keys.skeyid_psk(h, H(v["psk_hex"]), H(v["ni"]), H(v["nr"]))
    d, a, e = keys.skeyid_dae(h, skeyid, gxy, cky_i, cky_r)
    if "skeyid" in exp:
        assert [x.hex() for x in (skeyid, d, a, e)] == [
            exp["skeyid"], exp["skeyid_d"], exp["skeyid_a"], exp["skeyid_e"]]
        assert keys.hash_r(h, skeyid, H(v["gxi"]), H(v["gxr"]), cky_i, cky_r,
                           H(v["sai_b"]), H(v["idir_b"])).hex() == exp["hash_r"]
    assert keys.encryption_key(h, e, 16).hex() == exp["ka"]
    iv = keys.phase1_iv(h, H(v["gxi"]), H(v["gxr"]), 16)
    assert iv.hex() == exp["iv_phase1"]
    for name, value in exp.items():
        if name.startswith("iv_msgid_"):
            mid = int(name[len("iv_msgid_"):], 16)
            assert keys.phase2_iv(h, iv, mid, 16).hex() == value
    if "qm" in v:
        qm = v["qm"]
        for direction in ("outbound", "inbound"):
            km = keys.keymat(h, d, qm["protocol"], H(qm[direction + "_spi"]), H(qm["ni_b"]),
                             H(qm["nr_b"]), qm["keymat_len"])
            assert km.hex() == exp["keymat_" + direction]


@pytest.mark.parametrize("v", load("isakmp", "rub_encrypted_informational.json"))
def test_rub_encrypted_informational(v):
    message = H(v["message_hex"])
    engine = block_cipher("aes", H(v["key_hex"]))
    plain = engine.decrypt(H(v["iv_hex"]), message[28:])
    assert plain.hex() == v["full_plaintext_hex"]
    assert engine.encrypt(H(v["iv_hex"]), plain) == message[28:]


def ikescan_lines():
    path = TESTDATA / "vectors" / "kdf" / "ikescan_aggressive_mode_psk.txt"
    if not path.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason="test data absent"))]
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return [pytest.param(line, id=str(i)) for i, line in enumerate(lines)]


@pytest.mark.parametrize("line", ikescan_lines())
def test_ikescan_aggressive_hash_r(line):
    """psk-crack's parameters: HASH_R from PSK "abc123" (MD5 or SHA1 by the
    hash's length)."""
    g_xr, g_xi, cky_r, cky_i, sai_b, idir_b, ni_b, nr_b, want = (H(x) for x in line.split(":"))
    h = "md5" if len(want) == 16 else "sha1"
    skeyid = keys.skeyid_psk(h, b"abc123", ni_b, nr_b)
    assert keys.hash_r(h, skeyid, g_xi, g_xr, cky_i, cky_r, sai_b, idir_b) == want
