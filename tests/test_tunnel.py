"""The tunnel a Quick Mode made, between our own two peers in memory:
echo answered through it, dummy and foreign packets refused and counted."""

import threading

from scapy.layers.inet import ICMP, IP

from scapy_ike.automaton.tunnel import Tunnel
from test_engine import Network, configs, established


def test_tunnel_answers_echo_and_refuses_what_is_not_tunnel_mode():
    qi, qr = established(Network(*configs()))
    sent_i, sent_r = [], []
    ti = Tunnel(qi, sent_i.append, qi.local_ts, qi.remote_ts)
    tr = Tunnel(qr, sent_r.append, qr.local_ts, qr.remote_ts)
    ti.send(IP(src="198.51.100.2", dst="198.51.100.1") / ICMP(id=7, seq=1) / b"hi")
    (request,) = sent_i
    assert request[:4] == qi.spi_out and tr.receive(request)[ICMP].type == 8
    (reply,) = sent_r
    back = ti.receive(reply)
    assert (back.src, back.dst) == ("198.51.100.1", "198.51.100.2")
    assert (back[ICMP].type, back[ICMP].id, bytes(back[ICMP].payload)) == (0, 7, b"hi")
    # a dummy packet (next header 59, RFC 4303 2.6) is dropped quietly;
    # a transport-mode TCP payload and garbage are counted as failures
    assert tr.receive(ti.out.seal(b"", 59)) is None and tr.recv_errors == 0
    assert tr.receive(ti.out.seal(bytes(20), 6)) is None and tr.recv_errors == 1
    assert tr.receive(b"garbage") is None and tr.recv_errors == 2
    # a replayed packet, a flipped bit in the ICV: refused, each by its reason
    assert tr.receive(request) is None
    fresh = ti.out.seal(bytes(20), 4)
    assert tr.receive(fresh[:-1] + bytes([fresh[-1] ^ 1])) is None
    assert tr.refused == {"invalid prot": 1, "invalid sa": 1, "replay": 1, "integrity": 1}
    assert (tr.recv_errors, tr.decaps, tr.encaps, tr.send_errors) == (4, 3, 1, 0)
    assert (ti.encaps, ti.decaps) == (1, 1)
    assert tr.inbound.stats["packets_in"] == 3


def test_sr1_through_the_tunnel_socket_when_the_answer_beats_the_sender():
    """The peer's answer comes back inside ``send`` (as over loopback):
    ``sr1`` still returns it, on every Scapy of the supported range, since
    the socket's select never blocks for good (Scapy 2.6's sniffer would
    otherwise wait for ever once the sending thread stopped it)."""
    qi, qr = established(Network(*configs()))
    ti = Tunnel(qi, lambda esp: tr.receive(esp), qi.local_ts, qi.remote_ts)
    tr = Tunnel(qr, lambda esp: ti.receive(esp), qr.local_ts, qr.remote_ts)
    sock = ti.socket()
    results = []

    def ask():
        results.append(sock.select([sock], None))
        results.append(sock.sr1(IP(src="198.51.100.2", dst="198.51.100.1")
                                / ICMP(id=9, seq=1) / b"sr1", timeout=1, verbose=False))

    asking = threading.Thread(target=ask, daemon=True)
    asking.start()
    asking.join(10)
    assert not asking.is_alive()
    idle, reply = results
    assert idle == []
    assert (reply[ICMP].type, reply[ICMP].id, bytes(reply[ICMP].payload)) == (0, 9, b"sr1")
