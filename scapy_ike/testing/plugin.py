"""The pytest plugin of scapy-ike (entry point ``pytest11``): fixtures for
users' own tests and the project's.

* ``strongswan_peer``: a factory of real charon peers in their own network
  namespaces (skips, saying why, where charon cannot run);
* ``loopback_responder``: a factory of our responder on a loopback port;
* ``recorded_capture``: a capture of ``scapy_ike.pcaps`` with its keys.

Scapy and the engine are imported only when a fixture is used, since the
plugin loads in every pytest run.
"""

import pytest


@pytest.fixture
def strongswan_peer(tmp_path):
    """``make(**PeerConfig fields)`` -> a started StrongSwanPeer, stopped
    after the test."""
    from scapy_ike.testing.strongswan import PeerConfig, StrongSwanPeer, available
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    peers = []

    def make(**settings):
        directory = tmp_path / ("charon%d" % len(peers))
        peer = StrongSwanPeer(PeerConfig(**settings), directory)
        peers.append(peer)
        return peer.start()

    yield make
    for peer in reversed(peers):
        peer.stop()


@pytest.fixture
def loopback_responder():
    """``make(config, port=...)`` -> our responder automaton running on
    127.0.0.1 (NAT-T on port + 1), stopped after the test."""
    from scapy_ike.automaton import IKEv1Automaton
    automata = []

    def make(config, port=27500, address="127.0.0.1"):
        automaton = IKEv1Automaton(config, local_address=address, ike_port=port,
                                   natt_port=port + 1)
        automata.append(automaton)
        automaton.runbg()
        return automaton

    yield make
    for automaton in automata:
        automaton.stop()
        automaton.close()


@pytest.fixture
def recorded_capture():
    """``open(name)`` -> (pcap path, Keys) of a capture of scapy_ike.pcaps
    (``mm-psk-aes128-sha1-modp2048`` ...)."""
    from importlib.resources import files
    from pathlib import Path

    from scapy_ike.decode.keylog import read_keys

    def open_(name):
        folder = Path(str(files("scapy_ike.pcaps")))
        keys = read_keys((folder / (name + ".keys")).read_text())
        return folder / (name + ".pcap"), keys

    return open_
