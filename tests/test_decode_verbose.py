"""``decode -V``: the tree shows what ``tshark -V`` shows, field by field,
for the fields both name, on every capture we have with the keys both
tools are given; passwords are hidden unless --show-secrets."""

import re
from pathlib import Path
import shutil
import subprocess

import pytest

from conftest import PCAPS, TESTDATA, need_tool, shared_file
from scapy_ike.cli import main
from scapy_ike.decode.capture import open_capture
from scapy_ike.decode.verbose import tree
from test_captures import KNOWN_TSHARK_ERRORS, all_captures
from test_decode_fast import session_for
from test_decode_ike import PSKS

COMPARED = {
    "Initiator SPI", "Responder SPI", "Next payload", "Exchange type", "Message ID",
    "Payload length", "Domain of interpretation", "Proposal number", "SPI Size",
    "Proposal transforms", "Transform number", "Transform ID", "Key Exchange Data",
    "Nonce DATA", "Hash DATA", "ID type", "Identification Data", "Notify Message Type",
    "Number of SPIs", "Delete SPI", "Identifier", "Value", "ESP SPI", "ESP Sequence",
    "ESP Pad Length", "Next header", "Source Address", "Destination Address", "Source Port",
    "Destination Port", "Total Length", "Time to Live", "Identifier (BE)",
    "Sequence Number (BE)", "Code", "Vendor ID", "Protocol",
}
TSHARK_MISREADS = {
    # tshark decrypts a retransmitted MM5 with the wrong IV (pcaps/README.md)
    ("mm-psk-aes128-sha256-modp2048-retransmit.pcap", 6),
}
HEX = re.compile(r"[0-9a-f]+$")


def normal(value):
    """A value as both tools write it: the number of ``Name (N)``, of
    ``N (Name)`` and of ``0x... (N)``; hex without its length; else the text."""
    value = re.sub(r" \(\d+ bytes\)$", "", value.strip())
    trailing = re.search(r"\((0x[0-9a-f]+|\d+)\)$", value)
    if trailing:
        return int(trailing.group(1), 0)
    leading = re.match(r"(\d+) \(", value)
    if leading:
        return int(leading.group(1))
    if re.fullmatch(r"0x[0-9a-f]+|[1-9]\d*|0", value):
        return int(value, 0)
    return value


def frames_of(text):
    """``{frame: {label: [values]}}`` of a -V text (tshark's or ours)."""
    out, current = {}, None
    for line in text.splitlines():
        match = re.match(r"Frame (\d+):", line)
        if match:
            current = out.setdefault(int(match.group(1)), {})
            continue
        if current is None or " = " in line or ":" not in line:
            continue
        label, value = line.strip().split(":", 1)
        if label in COMPARED:
            current.setdefault(label, []).append(value)
    return out


def same(ours, theirs):
    if "\\x00" in ours and not theirs.strip():   # tshark's text stops at a NUL
        return ours.strip().startswith("\\x00")
    if theirs.endswith("…"):
        return ours.strip().startswith(theirs.strip()[:-1])
    return normal(ours) == normal(theirs)


def tshark_config(capture, folder):
    """Wireshark's key tables for *capture*: its own, or the shared ones."""
    folder.mkdir()
    for table in ("esp_sa", "ikev1_decryption_table"):
        own = capture.with_suffix("." + table)
        shared = TESTDATA / "keys" / table
        source = own if own.exists() else shared if shared.exists() else None
        if source is not None:
            shutil.copy(source, folder / table)
    return folder


@pytest.mark.interop
@pytest.mark.parametrize("capture", all_captures() or [pytest.param(
    None, marks=pytest.mark.skip(reason="public test data absent (../shared/testdata)"))],
    ids=lambda p: getattr(p, "name", "none"))
def test_verbose_like_tshark(capture, tmp_path):
    tshark = need_tool("tshark")
    config = tshark_config(capture, tmp_path / "config")
    theirs = frames_of(subprocess.run(
        [tshark, "-n", "-V", "-o", "esp.enable_encryption_decode:TRUE", "-r", str(capture)],
        capture_output=True, text=True, timeout=120, check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
             "WIRESHARK_CONFIG_DIR": str(config)}).stdout)
    session = session_for(capture)
    f, records = open_capture(capture)
    text = []
    with f:
        for n, (lt, t, d) in enumerate(records, 1):
            text += tree(session.decode_frame(n, t, lt, d), show_secrets=True)
    ours = frames_of("\n".join(text))
    compared = 0
    known = {frame for name, frame, *_ in set(KNOWN_TSHARK_ERRORS) | TSHARK_MISREADS
             if name == capture.name}
    for number, fields in ours.items():
        if number in known:
            continue
        for label, values in fields.items():
            other = theirs.get(number, {}).get(label, [])
            if label == "Vendor ID":       # tshark gives the bytes, then the name
                other = [v for v in other if HEX.fullmatch(v.strip())]
            # where one of us decrypted or dissected more, the rest of its values follow
            for mine, them in zip(values, other):
                assert same(mine, them), (capture.name, number, label, mine, them)
                compared += 1
    assert compared >= min(10, 5 * len(ours)), (capture.name, compared)


def test_xauth_password_hidden_unless_asked(capsys):
    """The XAuth reply of the strongSwan capture: the user name as text,
    the password's length only, or with --show-secrets its value."""
    capture = shared_file("strongswan", "mm-psk-xauth-modecfg-aes256-sha256-modp2048.pcap")
    from scapy_ike.decode.keylog import read_keys
    gxy = read_keys(capture.with_suffix(".keys").read_text()).ike[0].gxy.hex()
    argv = ["decode", str(capture), "--psk", PSKS[capture.stem], "--gxy", gxy, "-V"]
    assert main(argv) == 0
    hidden = capsys.readouterr().out.splitlines()
    assert main(argv + ["--show-secrets"]) == 0
    shown = capsys.readouterr().out.splitlines()
    name = "        Config Attribute (t=16521,l=5): XAUTH_USER_NAME: alice"
    assert name in hidden and name in shown
    at = hidden.index(name) + 3
    assert hidden[at:at + 3] == [
        "        Config Attribute (t=16522,l=8): XAUTH_USER_PASSWORD: <hidden 8 bytes>",
        "            Type: XAUTH_USER_PASSWORD (16522)",
        "            Value: <hidden 8 bytes>"]
    assert shown[at:at + 3] == [
        "        Config Attribute (t=16522,l=8): XAUTH_USER_PASSWORD: alice-pw",
        "            Type: XAUTH_USER_PASSWORD (16522)",
        "            Value: 616c6963652d7077"]
    assert "alice-pw" not in "\n".join(hidden)


def test_verbose_tree_of_a_quick_mode():
    """QM1 of our Main Mode capture, decrypted: the ESP proposal with its
    SPI and named IPsec attributes, the nonce's length, the IDs as text."""
    capture = PCAPS / "mm-psk-aes128-sha1-modp2048.pcap"
    session = session_for(capture)
    f, records = open_capture(capture)
    with f:
        lines = [tree(session.decode_frame(n, t, lt, d)) for n, (lt, t, d) in enumerate(records, 1)]
    qm1 = lines[6]
    decrypted = qm1[qm1.index("Decrypted payloads"):]
    assert decrypted[:4] == ["Decrypted payloads", "    Payload: Hash (8)",
                             "        Next payload: SA (1)", "        Payload length: 24"]
    assert "            Protocol ID: IPSEC-ESP (3)" in decrypted
    assert "                Transform ID: ESP-AES-CBC (12)" in decrypted
    assert "            SPI: 166249dd" in decrypted
    assert "                IPsec Attribute (t=5,l=2): AuthenticationAlgorithm: HMAC-SHA (2)" \
        in decrypted
    nonce = [line for line in decrypted if "Nonce DATA" in line]
    assert len(nonce) == 1 and nonce[0].endswith("(32 bytes)")
    assert [line.strip() for line in decrypted if "Identification Data" in line] == [
        "Identification Data: 198.51.100.2", "Identification Data: 198.51.100.1"]


def test_json_names_enums_vendors_attributes_and_ids(capsys):
    """--json: enums as name and number, vendor IDs named, XAuth and Mode
    Config attribute values decoded (the password hidden unless asked),
    IDs as text."""
    import json
    capture = shared_file("strongswan", "mm-psk-xauth-modecfg-aes256-sha256-modp2048.pcap")
    from scapy_ike.decode.keylog import read_keys
    gxy = read_keys(capture.with_suffix(".keys").read_text()).ike[0].gxy.hex()
    argv = ["decode", str(capture), "--psk", PSKS[capture.stem], "--gxy", gxy, "--json"]
    assert main(argv) == 0
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    def layers(frame, name):
        return [layer["fields"] for layer in objects[frame - 1]["layers"] if layer["layer"] == name]

    (head,) = layers(1, "ISAKMP")
    assert head["exch_type"] == {"number": 2, "name": "identity protection"}
    assert head["next_payload"] == {"number": 1, "name": "SA"}
    assert [v["VendorID"] for v in layers(1, "ISAKMP_payload_VendorID")][:2] == [
        {"bytes": "09002689dfd6b712", "name": "XAUTH"},
        {"bytes": "afcad71368a1f1c96b8696fc77570100", "name": "RFC 3706 DPD"}]
    assert layers(5, "ISAKMP")[1]["flags"] == 0 and layers(5, "ISAKMP_payload_ID")[0][
        "IdentData"] == "192.0.2.2"
    assert [h["exch_type"]["name"] for h in layers(8, "ISAKMP")] == ["transaction"] * 2
    (reply,) = layers(8, "ISAKMP_payload_Attributes")
    assert reply["type"] == {"number": 2, "name": "CFG-REPLY"}
    assert reply["attributes"] == [
        {"type": "XAUTH_USER_NAME", "number": 16521, "value": "alice", "wire": "616c696365"},
        {"type": "XAUTH_USER_PASSWORD", "number": 16522, "value": "<hidden 8 bytes>",
         "wire": "<hidden 8 bytes>"}]
    (address,) = layers(12, "ISAKMP_payload_Attributes")
    assert address["attributes"][0] == {"type": "INTERNAL_IP4_ADDRESS", "number": 1,
                                        "value": "198.51.100.65", "wire": "c6336441"}
    assert main(argv + ["--show-secrets"]) == 0
    shown = [json.loads(line) for line in capsys.readouterr().out.splitlines()][7]
    (reply,) = [layer["fields"] for layer in shown["layers"]
                if layer["layer"] == "ISAKMP_payload_Attributes"]
    assert reply["attributes"][1]["value"] == "alice-pw"


def test_tree_from_bytes_is_scapys():
    """Every frame of every capture, and of our mutated ones: the tree
    read with struct is the tree of Scapy's dissection, line for line."""
    from test_decode_fuzz import mutated_capture
    import tempfile
    captures = list(all_captures())
    with tempfile.TemporaryDirectory() as tmp:
        for capture in sorted(PCAPS.glob("*.pcap")):
            path = Path(tmp) / (capture.stem + "-mutated.pcap")
            mutated_capture(capture, path)
            captures.append(path)
        compared = 0
        for capture in captures:
            session = session_for(capture)
            f, records = open_capture(capture)
            with f:
                for n, (lt, t, d) in enumerate(records, 1):
                    record = session.decode_frame(n, t, lt, d)
                    assert tree(record, True) == tree(record, True, scapy=True), (capture, n)
                    compared += 1
    assert compared > 1000
