"""``decode --ios-log``: a capture's exchanges run through the engine's
transition table as an observer of both ends, each end's IOS-style log.
On every strongSwan capture we have, each side's states and Quick Mode
lines are those the same exchange gives live between our own initiator
and responder (in memory, with the same mode, XAuth and Mode Config)."""

from pathlib import Path

import pytest

from conftest import shared_file
from test_ios_log import LoggedNetwork
from test_engine import R_ADDR, configs
from scapy_ike.cli import main
from scapy_ike.decode.capture import open_capture
from scapy_ike.decode.ike import IkeTracker
from scapy_ike.decode.ios_log import ios_log
from scapy_ike.decode.keylog import read_keys
from scapy_ike.decode.session import Session

PCAPS = Path(__file__).resolve().parent.parent / "pcaps"
KINDS = ("state", "beginning", "creating sa", "node deleted")


def captures():
    found = []
    folder = shared_file("strongswan")
    for base in ([folder] if folder is not None else []) + [PCAPS]:
        for pcap in sorted(Path(base).glob("*.pcap")):
            if pcap.with_suffix(".keys").exists() and not pcap.name.startswith("ikescan"):
                found.append(pcap)
    return found


def observed(pcap):
    keys = read_keys(pcap.with_suffix(".keys").read_text())
    session = Session(esp_keys=keys.esp, ike=IkeTracker(keys.ike))
    f, records = open_capture(str(pcap))
    with f:
        return ios_log(session.decode_frame(n, stamp, linktype, data)
                       for n, (linktype, stamp, data) in enumerate(records, 1))


def shape(lines):
    """The line kinds to compare, with their facts, up to the first Quick
    Mode's end."""
    out = []
    for line in lines:
        if line.kind in KINDS:
            out.append((line.kind, line.fact("old"), line.fact("new"), line.fact("mode"),
                        line.fact("reason")))
            if line.fact("new") == "IKE_QM_PHASE2_COMPLETE":
                break
    return out


def live(name):
    """Our own pair, set up as the capture's charons were."""
    mode = "aggressive" if name.startswith("am-") else "main"
    i, r = {}, {}
    if "xauth" in name:
        i = dict(local_ts="0.0.0.0/0", xauth="client", xauth_user="alice",
                 xauth_password="alice-pw", modecfg="pull")
        r = dict(remote_ts="198.51.100.64/26", xauth="server", modecfg="pull",
                 xauth_users=(("alice", "alice-pw"),), pool="198.51.100.64/26")
    net = LoggedNetwork(*configs(mode, ike="aes128-sha1-ecp256", esp="aes128-sha1",
                                 i=i, r=r))
    net.i.initiate((R_ADDR, 500), net.now)
    net.run()
    return shape(net.lines["i"]), shape(net.lines["r"])


@pytest.mark.parametrize("pcap", captures(), ids=lambda p: p.stem)
def test_each_side_logs_what_our_engine_logs_live(pcap):
    logs = observed(pcap)
    initiator, responder = list(logs.values())[:2]
    ours_i, ours_r = live(pcap.stem)
    assert shape(initiator) == ours_i
    assert shape(responder) == ours_r
    assert ("state", "IKE_QM_I_QM1", "IKE_QM_PHASE2_COMPLETE", None, None) in ours_i


def test_the_ike_scan_probe_logs_the_responder_to_am2():
    pcap = shared_file("strongswan", "ikescan-am-psk-3des-md5-modp1024.pcap")
    if pcap is None:
        pytest.skip("../shared/testdata/strongswan is not here")
    logs = observed(Path(pcap))
    prober, charon = list(logs.values())
    assert shape(charon) == [("state", "IKE_READY", "IKE_R_AM1", None, None),
                             ("state", "IKE_R_AM1", "IKE_R_AM2", None, None)]
    assert shape(prober)[:2] == [("state", "IKE_READY", "IKE_I_AM1", None, None),
                                 ("beginning", None, None, "Aggressive", None)]


def test_without_keys_the_log_says_where_it_stops(capsys):
    """No keys: each side's log goes as far as the clear messages (MM1 to
    MM4), then says where it stops; the exit status is still 0."""
    pcap = next(p for p in captures() if p.stem.startswith("mm-psk-aes256"))
    assert main(["decode", str(pcap), "--ios-log"]) == 0
    out = capsys.readouterr().out.splitlines()
    routers = [n for n, line in enumerate(out) if line.endswith("#debug crypto isakmp")]
    assert [out[n] for n in routers] == ["192.0.2.2#debug crypto isakmp",
                                         "192.0.2.1#debug crypto isakmp"]
    for (start, end), last in zip(((routers[0], routers[1]), (routers[1], len(out))),
                                  ("IKE_I_MM4 New State = IKE_I_MM5",
                                   "IKE_R_MM3 New State = IKE_R_MM4")):
        section = out[start:end]
        assert section[-1].startswith("ISAKMP: the log of IKE SA ")
        assert section[-1].endswith(" stops at message ID 0: its keys are unknown")
        assert [x for x in section if "Old State" in x][-1].endswith(last)
