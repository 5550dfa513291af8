"""The tunnel Quick Modes make: its ESP SA pairs (RFC 4303, UDP-encapsulated
per RFC 3948 after a NAT-T float), one after another as they are rekeyed,
and a Scapy SuperSocket over it that lasts across the rekeys: packets sent
into it leave as ESP, ESP that arrives comes out decrypted.  It counts what
IOS's ``show crypto ipsec sa`` shows for a flow, across its pairs: packets
encapsulated and decapsulated, send and receive errors, and why packets
were refused (an unknown SPI, an ICV that does not verify, a replay)."""

import socket
from collections import Counter
from ipaddress import ip_address, ip_network

from scapy.automaton import ObjectPipe, select_objects
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import IPv6
from scapy.supersocket import SuperSocket

from scapy_ike.esp import IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_NONE, EspError, sa_pair


class Pair:
    """One Quick Mode's ESP SAs in a tunnel, with when they were made and
    the octets not yet reported to the engine."""

    __slots__ = ("established", "out", "inbound", "created", "unreported_in",
                 "unreported_out")

    def __init__(self, established, created):
        transform = established.proposal.transform
        self.established = established
        self.out, self.inbound = sa_pair(
            transform, int.from_bytes(established.spi_out, "big"), established.keymat_out,
            int.from_bytes(established.spi_in, "big"), established.keymat_in)
        self.created = created
        self.unreported_in = self.unreported_out = 0


class Tunnel:
    """The ESP SA pairs that succeed one another between two IKE peers
    for one pair of traffic selectors: outbound traffic goes on the
    current pair, what arrives on any of them is opened (the old pair
    during a rekey's overlap too)."""

    def __init__(self, established, send, local_ts, remote_ts, connection=None, now=0.0,
                 active=None):
        self.pairs = {}                     # inbound SPI -> Pair, oldest first
        self.current = None
        self.connection = connection        # the IKE SA that made it, which it may outlive
        self._send = send                   # callable(esp bytes)
        self.local_ts, self.remote_ts = ip_network(local_ts), ip_network(remote_ts)
        self.received = None                # an ObjectPipe, once a socket is asked for
        self.dropped = 0                    # inner packets that no socket was there to take
        self.encaps = self.decaps = 0       # ESP packets sealed, and opened
        self.send_errors = self.recv_errors = 0
        self.refused = Counter()            # ESP refused, by reason: "invalid sa", EspError's
        self.active = set() if active is None else active   # pairs with octets to report
        self.add(established, now)

    def add(self, established, now):
        """A pair made by a Quick Mode (a rekey's successor, or the first);
        it carries the outbound traffic if the engine says it is current."""
        pair = self.pairs[established.spi_in] = Pair(established, now)
        if established.current or self.current is None:
            self.current = pair
        return pair

    def remove(self, spi_in):
        """The engine removed a pair; the newest left becomes current if it
        was.  True when none is left."""
        pair = self.pairs.pop(spi_in, None)
        if pair is not None and pair is self.current:
            self.current = next(reversed(self.pairs.values()), None)
        return not self.pairs

    @property
    def established(self):
        return self.current.established

    @property
    def out(self):
        return self.current.out

    @property
    def inbound(self):
        return self.current.inbound

    def send(self, pkt):
        """ESP-protect one IP packet (tunnel mode) and send it on the
        current pair (an assignment away from the next one: a packet sent
        while the pair changes goes on either, both valid)."""
        wire = bytes(pkt)
        pair = self.current
        esp = pair.out.seal(wire, IPPROTO_IPV6 if wire[0] >> 4 == 6 else IPPROTO_IPIP)
        self.encaps += 1
        if self._send(esp) is False:        # the send callable's word that it failed
            self.send_errors += 1
        pair.unreported_out += len(wire)
        self.active.add(pair)

    def receive(self, data):
        """One ESP packet from the peer: the inner packet, or None (the
        SA's counters say why)."""
        pair = self.pairs.get(data[:4])
        if pair is None:                    # not one of its SPIs (RFC 4303 2.1)
            return self._refuse("invalid sa")
        try:
            opened = pair.inbound.open(data)
        except EspError as exc:
            return self._refuse(exc.reason)
        self.decaps += 1
        pair.unreported_in += len(opened.payload)
        self.active.add(pair)
        cls = {IPPROTO_IPIP: IP, IPPROTO_IPV6: IPv6}.get(opened.next_header)
        if cls is None:             # a dummy packet (RFC 4303 2.6), or not tunnel mode
            if opened.next_header != IPPROTO_NONE:
                self._refuse("invalid prot")
            return None
        pkt = cls(opened.payload)
        if self._answer_echo(pkt):
            return pkt
        if self.received is None:
            self.dropped += 1
        else:
            self.received.send(pkt)
        return pkt

    def _refuse(self, reason):
        self.recv_errors += 1
        self.refused[reason] += 1

    def _answer_echo(self, pkt):
        """Echo requests to our own inner address are answered through the
        tunnel, so that the peer can test it (RFC 792)."""
        if not (isinstance(pkt, IP) and pkt.haslayer(ICMP) and pkt[ICMP].type == 8
                and ip_address(pkt.dst) in self.local_ts):
            return False
        icmp = pkt[ICMP]
        self.send(IP(src=pkt.dst, dst=pkt.src) / ICMP(type=0, id=icmp.id, seq=icmp.seq)
                  / bytes(icmp.payload))
        return True

    def socket(self):
        """The tunnel as a SuperSocket (its pipe is made now: a gateway
        with thousands of tunnels keeps no file descriptors for them)."""
        if self.received is None:
            self.received = ObjectPipe("tunnel")
        return TunnelSocket(self)

    def close(self):
        if self.received is not None:
            self.received.close()


POLL = 0.05
"""How long :meth:`TunnelSocket.select` waits at most when told to wait
forever (seconds)."""


class TunnelSocket(SuperSocket):
    """A SuperSocket whose packets travel through a :class:`Tunnel`."""

    nonblocking_socket = True

    def __init__(self, tunnel):
        self.tunnel = tunnel
        self.ins = self.outs = tunnel.received

    def send(self, pkt):
        self.tunnel.send(pkt)
        return len(pkt)

    def recv(self, x=None, **kwargs):
        return self.tunnel.received.recv()

    def recv_raw(self, x=None):
        pkt = self.recv()
        return (type(pkt), bytes(pkt), None) if pkt is not None else (None, None, None)

    @staticmethod
    def select(sockets, remain=None):
        """The sockets with a packet waiting, after at most *remain*
        seconds; told to wait forever (None), it still returns within
        :data:`POLL`, as a nonblocking socket's select must: Scapy's
        sniffer stops only between two selects (Scapy 2.6's threaded
        ``sr1`` stops it from the sending thread when the answer came
        back before the sending was done)."""
        ready = select_objects([s.tunnel.received for s in sockets],
                               POLL if remain is None else remain)
        return [s for s in sockets if s.tunnel.received in ready]

    def close(self):
        self.closed = True


def udp_socket(address, port, family=socket.AF_INET):
    """A UDP socket bound to *address*:*port* (without SO_REUSEADDR: with
    it, a second endpoint on the same port would share its datagrams)."""
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        s.bind((address, port))
    except OSError:
        s.close()
        raise
    return s


def bind_udp(address, *ports):
    """``{port: socket}`` bound to *address* on each port; if one cannot be
    bound, those already bound are closed and an OSError says which and
    why (``cannot bind ADDR:PORT/udp: reason``)."""
    sockets = {}
    for number in ports:
        try:
            sockets[number] = udp_socket(address, number)
        except OSError as exc:
            for sock in sockets.values():
                sock.close()
            raise OSError(exc.errno, "cannot bind %s:%d/udp: %s"
                          % (address, number, exc.strerror or exc)) from None
    return sockets


def esp_socket(address):
    """A raw socket for ESP over IP (protocol 50) from *address*: needs
    root (or CAP_NET_RAW)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ESP)
    if address not in ("0.0.0.0", ""):
        s.bind((address, 0))
    return s
