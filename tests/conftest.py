"""Shared fixtures: the public test data beside the project, the project's
own captures, and the real tools the interop tests need."""

import gzip
import shutil
import subprocess
from importlib.resources import files
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTDATA = ROOT.parent / "shared" / "testdata"
PCAPS = Path(str(files("scapy_ike.pcaps")))


def shared_file(*parts):
    """A file of ../shared/testdata, or a skip saying it is absent."""
    path = TESTDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip("public test data absent: %s (../shared/testdata)" % path)
    return path


def read_capture(path):
    """Every packet of a pcap/pcapng capture, gzip or not."""
    from scapy.utils import rdpcap
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path) as f:
            return rdpcap(f)
    return rdpcap(str(path))


def need_tool(name):
    """The path of a Debian-installed tool, or a skip saying it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.skip("%s is not installed (scripts/test.sh installs it as root)" % name)
    return path


@pytest.fixture
def testdata():
    if not TESTDATA.is_dir():
        pytest.skip("public test data absent: %s" % TESTDATA)
    return TESTDATA


def stop(process, grace=10):
    """SIGTERM to a process a test started (by its handle), SIGKILL after
    *grace* seconds; its remaining output, when it was piped."""
    process.terminate()
    try:
        return process.communicate(timeout=grace)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate(timeout=5)[0]


def loopback_pair(port, **common):
    """Our initiator on 127.0.0.2 and responder on 127.0.0.1, ports *port*
    and *port* + 1 (NAT-T, forced), selectors 198.51.100.2 === .1, the
    Configuration fields *common* shared: ``(initiator, responder)``."""
    from scapy_ike.automaton import IKEv1Automaton
    from scapy_ike.core.config import Configuration
    r = IKEv1Automaton(Configuration(role="responder", local_ts="198.51.100.1/32",
                                     remote_ts="198.51.100.2/32", **common),
                       local_address="127.0.0.1", ike_port=port, natt_port=port + 1)
    i = IKEv1Automaton(Configuration(role="initiator", local_ts="198.51.100.2/32",
                                     remote_ts="198.51.100.1/32", force_encap=True, **common),
                       peer=("127.0.0.1", port), local_address="127.0.0.2", ike_port=port,
                       natt_port=port + 1, peer_natt_port=port + 1)
    return i, r
