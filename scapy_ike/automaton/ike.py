"""The IKEv1 endpoint as a Scapy ``Automaton``: initiator, responder, or
both at once.

The automaton owns the UDP sockets (IKE port and NAT-T port, made before it
runs) and feeds the sans-IO :class:`~scapy_ike.core.endpoint.Endpoint`.
Its own states describe the endpoint, not one SA: it is ``SERVING`` until
stopped, whatever each SA does; an SA that fails or ends is an event and a
log line, and the next peer is served.  Each SA's state changes are logged
the way IOS logs them (``Old State = IKE_I_MM1 New State = IKE_I_MM3``),
so that our log lies beside a router's.  Every outgoing datagram passes
:meth:`tamper`, to be changed at the Scapy prompt.  After Quick Mode the
tunnel is a SuperSocket (:meth:`tunnel_socket`), and :meth:`show_isakmp_sa`
/ :meth:`show_ipsec_sa` print the summaries IOS's ``show crypto`` commands
do.
"""

import logging
import socket
import threading
import time

from scapy.automaton import ATMT, Automaton, select_objects
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.supersocket import SuperSocket
from scapy.utils import PcapWriter

from scapy_ike.automaton import show
from scapy_ike.automaton.tunnel import Tunnel, bind_udp, esp_socket
from scapy_ike.constants import NAT_KEEPALIVE, NON_ESP_MARKER
from scapy_ike.core import Endpoint, events as ev, state as S
from scapy_ike.decode.keylog import (
    esp_sa_row, ikev1_decryption_table_row, key_log_line, write_key_files,
)
from scapy_ike.log import Log
from scapy_ike.log.lines import DEBUG_ONLY

log = logging.getLogger("scapy_ike")

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
BATCH = 64
"""Datagrams read from a socket at most before the next look at the others."""
EVENTS_KEPT = 50000
"""Events kept in ``events`` (the oldest go first)."""


class _NoSocket(SuperSocket):
    """The automaton talks through its own UDP sockets, not Scapy's L2/L3
    ones (which would need a raw socket)."""

    def __init__(self, *args, **kwargs):
        pass

    def close(self):
        pass


class IKEv1Automaton(Automaton):
    """An IKEv1 endpoint: ``config.role`` says whether it initiates.

    *peer* is the responder's (address, port) for an initiator; *sockets*
    optionally gives ready UDP sockets ``{port: socket}`` (made in a network
    namespace, say), else they are bound here (an ``OSError`` says why
    they cannot be); *keylog* a path written as keys appear (this project's
    key log, with Wireshark's ``ikev1_decryption_table`` and ``esp_sa``
    beside it), *pcap* a capture file's path.  A responder on loopback:

    >>> from scapy_ike.core.config import Configuration
    >>> ike = IKEv1Automaton(Configuration(role="responder", psk="secret"),
    ...                      local_address="127.0.0.1", ike_port=17850, natt_port=17851)
    >>> ike.runbg()
    >>> ike
    <IKEv1Automaton responder 127.0.0.1:17850 (NAT-T 17851), 0 IKE SAs, 0 tunnels [RUNNING]>
    >>> ike.stop(); ike.close()
    """

    def __init__(self, *args, **kargs):
        kargs.setdefault("ll", _NoSocket)
        kargs.setdefault("recvsock", _NoSocket)
        # what can fail is opened here, in the caller's thread, so that its
        # OSError reaches the caller (Scapy runs parse_args in its own)
        bound = None
        if not kargs.get("sockets"):
            bound = kargs["sockets"] = bind_udp(kargs.get("local_address", "0.0.0.0"),
                                                kargs.get("ike_port", 500),
                                                kargs.get("natt_port", 4500))
        if isinstance(kargs.get("pcap"), str):
            try:
                kargs["pcap"] = PcapWriter(kargs["pcap"], sync=True)
            except OSError:
                for sock in (bound or {}).values():
                    sock.close()
                raise
        super().__init__(*args, **kargs)

    def parse_args(self, config, peer=None, local_address="0.0.0.0", ike_port=500,
                   natt_port=4500, peer_natt_port=4500, sockets=None, keylog=None,
                   pcap=None, poll=0.1, log="ios", **kargs):
        super().parse_args(**kargs)
        self.config = config
        self.peer = peer
        self.endpoint = Endpoint(config, local_address, ike_port, natt_port, peer_natt_port)
        self.log = log if isinstance(log, Log) else Log(log, self._conn_id)   # "ios", "quiet"
        self.endpoint.debug = self.log.debug
        self.sockets = sockets
        for sock in self.sockets.values():     # the address each datagram was sent to
            try:
                sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            except OSError:
                pass
        self.esp = None                         # raw ESP, made for the first unencapsulated SA
        self.keylog = keylog
        self._keys_written = False
        self._send_errors = 0
        self.pcap = pcap
        self._pcap_lock = threading.Lock()
        self.poll = poll
        self.tunnels = []                       # newest last
        self._inbound = {}                      # inbound SPI -> its tunnel
        self._active = set()                    # pairs whose octets the engine has not seen
        self.events = []
        self._initiated = False

    def __repr__(self):
        endpoint = self.endpoint
        where = "%s:%d (NAT-T %d)" % (endpoint.local_address, endpoint.ike_port,
                                     endpoint.natt_port)
        if self.peer is not None:
            where += " to %s:%d" % tuple(self.peer)
        return "<IKEv1Automaton %s %s, %d IKE SAs, %d tunnels [%s]>" % (
            self.config.role, where, len(endpoint.connections), len(self.tunnels),
            "RUNNING" if self.isrunning() else "HALTED")

    def _conn_id(self, cookie):
        """IOS's conn-id of the IKE SA of initiator *cookie* (for the log)."""
        conn = self.endpoint.connections.get(cookie)
        return conn.conn_id if conn is not None else None

    # -- the endpoint's states -------------------------------------------------

    @ATMT.state(initial=1)
    def SERVING(self):
        """Receiving, answering and timing every SA until stopped."""

    @ATMT.condition(SERVING)
    def serve(self):
        self.pump(self.poll)
        raise self.SERVING()

    # -- hooks -----------------------------------------------------------------

    def tamper(self, datagram):
        """Every outgoing datagram passes here: return it, a changed
        :class:`~scapy_ike.core.Datagram`, or None to drop it."""
        return datagram

    # -- the pump ---------------------------------------------------------------

    def pump(self, timeout):
        """Run the engine for up to *timeout* seconds: datagrams in and
        out, timers, events."""
        if not self._initiated:
            self._initiated = True
            if self.config.role == "initiator" and self.peer is not None:
                self.endpoint.initiate(self.peer, time.monotonic())
        deadline = time.monotonic() + timeout
        while True:
            self._flush()
            self._drain()
            remain = deadline - time.monotonic()
            if remain <= 0:
                return
            self._receive(remain)

    def connect(self, peer):
        """Start one more IKE SA, with *peer* = (address, port)."""
        self.endpoint.initiate(peer, time.monotonic())

    def _flush(self):
        for datagram in self.endpoint.datagrams_to_send():
            datagram = self.tamper(datagram)
            if datagram is not None:
                self._sendto(datagram.local_port, datagram.data, datagram.addr)

    def _sendto(self, port, data, addr):
        # recorded first: an answer (received by another thread) comes after
        self._record((self.endpoint.local_address, port), addr, data)
        try:
            self.sockets[port].sendto(data, addr)
        except OSError as exc:            # no route, a full buffer: the engine retransmits
            self._send_errors += 1
            if self._send_errors in (1, 10, 100) or self._send_errors % 1000 == 0:
                log.warning("ISAKMP: cannot send to %s:%d: %s (%d such errors)",
                            addr[0], addr[1], exc, self._send_errors)
            return False
        return True

    def _record(self, src, dst, data, proto=None):
        """Every datagram we send or receive, into the capture (no
        sniffing needed)."""
        if self.pcap is not None:
            if proto is None:
                frame = Ether() / IP(src=src[0], dst=dst[0]) / UDP(sport=src[1], dport=dst[1]) \
                    / Raw(data)
            else:
                frame = Ether() / IP(src=src[0], dst=dst[0], proto=proto) / Raw(data)
            with self._pcap_lock:
                self.pcap.write(frame)

    def _receive(self, timeout):
        timer = self.endpoint.get_timer()
        if timer is not None:
            timeout = max(0.0, min(timeout, timer - time.monotonic()))
        readable = list(self.sockets.values()) + ([self.esp] if self.esp else [])
        ready = select_objects(readable, timeout)
        now = time.monotonic()
        for port, sock in self.sockets.items():
            if sock not in ready:
                continue
            for _ in range(BATCH):           # what has queued up, without a select each
                try:
                    data, ancillary, _, addr = sock.recvmsg(65535, socket.CMSG_SPACE(12),
                                                            socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                except OSError:              # an ICMP error reported on the socket
                    continue
                local = _destination(ancillary)
                self._record(addr, (local or self.endpoint.local_address, port), data)
                self._datagram(data, addr, port, now, local)
        if self.esp is not None and self.esp in ready:
            self._raw_esp()
        self._report(now)
        self.endpoint.handle_timer(now)

    def _datagram(self, data, addr, port, now, local):
        if port == self.endpoint.natt_port and data[:4] != NON_ESP_MARKER:
            if data != NAT_KEEPALIVE:
                self._esp_in(data)
            return
        self.endpoint.receive_datagram(data, addr, now, local_port=port, local_address=local)
        # answered and acted on before the next datagram is read: that may be
        # ESP on the pair this one completed, the initiator sending on it as
        # soon as QM3 is out (RFC 2409 5.5, no commit bit)
        self._flush()
        self._drain()

    def _esp_in(self, data):
        tunnel = self._inbound.get(data[:4])    # the SPI (RFC 4303 2.1)
        if tunnel is not None:
            tunnel.receive(data)

    def _raw_esp(self):
        """ESP straight over IP (protocol 50), for SAs without UDP
        encapsulation: the raw socket gives the IP header too."""
        try:
            packet, addr = self.esp.recvfrom(65535)
        except OSError:
            return
        header = (packet[0] & 0x0F) * 4
        self._record((addr[0], 0), (self.endpoint.local_address, 0), packet[header:], proto=50)
        self._esp_in(packet[header:])

    def _drain(self):
        """The events of the last input: acted on, kept, then logged."""
        batch = []
        while (event := self.endpoint.next_event()) is not None:
            batch.append(event)
            if isinstance(event, ev.QuickModeEstablished):
                self._tunnel(event)
            elif isinstance(event, ev.Phase1Established):
                self._write_keys(event)
            elif isinstance(event, ev.ChildSaClosed):
                self._forget_pair(event)
        if not batch:
            return
        self.events.extend(e for e in batch if not isinstance(e, DEBUG_ONLY))
        if len(self.events) > 2 * EVENTS_KEPT:        # a responder runs for days
            del self.events[:EVENTS_KEPT]
        try:
            lines = self.log.feed(batch)
        except Exception as exc:        # a log that cannot say something must not stop us
            log.error("ISAKMP: cannot log %s: %s: %s", ", ".join(
                type(e).__name__ for e in batch), type(exc).__name__, exc)
            return
        for line in lines:
            log.log(logging.WARNING if line.kind == "PeerDead" else logging.INFO, line.text)

    def _forget_pair(self, event):
        """The engine removed an ESP pair: its tunnel goes with its last."""
        tunnel = self._inbound.pop(event.spi_in, None)
        if tunnel is not None and tunnel.remove(event.spi_in):
            self.tunnels.remove(tunnel)
            tunnel.close()

    def _report(self, now):
        """Tell the engine the ESP octets carried since the last time
        (kilobyte lifetimes, and the peer's signs of life for DPD)."""
        while self._active:
            pair = self._active.pop()
            inbound, outbound = pair.unreported_in, pair.unreported_out
            pair.unreported_in = pair.unreported_out = 0
            self.endpoint.esp_counted(pair.established.spi_in, now, inbound, outbound)

    def _tunnel(self, established):
        conn = self.endpoint.connections[established.cookies[:8]]
        if established.udp_encap:
            def send(esp):                 # ESP in UDP, on the NAT-T port (RFC 3948 2)
                return self._sendto(self.endpoint.natt_port, esp, conn.peer)
        else:
            if self.esp is None:
                try:
                    self.esp = esp_socket(self.endpoint.local_address)
                except OSError as exc:
                    log.error("IPSEC: ESP without UDP encapsulation needs a raw socket (%s); "
                              "with force_encap it goes in UDP instead", exc)

            def send(esp):                 # ESP over IP (RFC 4303)
                self._record((self.endpoint.local_address, 0), (conn.peer[0], 0), esp, proto=50)
                try:
                    self.esp.sendto(esp, (conn.peer[0], 0))
                except (OSError, AttributeError) as exc:
                    log.warning("IPSEC: cannot send ESP to %s: %s", conn.peer[0], exc)
                    return False
                return True
        now = time.monotonic()
        tunnel = self._inbound.get(established.replaces)
        if tunnel is not None:                  # a rekey: the same tunnel, a new pair
            pair = tunnel.add(established, now)
        else:
            tunnel = Tunnel(established, send, established.local_ts, established.remote_ts,
                            conn, now, self._active)
            pair = tunnel.current
            self.tunnels.append(tunnel)
        self._inbound[established.spi_in] = tunnel
        self._write_keys(tunnel, pair)

    def _write_keys(self, event, pair=None):
        """The keys of an IKE SA that is up (*event*) or of a tunnel's new
        *pair*, added to the key log and Wireshark's tables, mode 0600:
        every SA of the run stays in them, pruned ones too."""
        if not self.keylog:
            return
        ike, table, esp = [], [], []
        if isinstance(event, ev.Phase1Established):
            sa = self.endpoint.connections[event.cookies[:8]].sa
            ike, table = [key_log_line(sa)], [ikev1_decryption_table_row(sa)]
        else:
            peer, local = event.connection.peer[0], event.connection.local_address
            esp = [esp_sa_row(pair.out, local, peer), esp_sa_row(pair.inbound, peer, local)]
        write_key_files(self.keylog, ike, table, esp, append=self._keys_written)
        self._keys_written = True

    # -- for people ---------------------------------------------------------

    def tunnel_socket(self):
        """The newest tunnel as a SuperSocket."""
        return self.tunnels[-1].socket()

    def show_isakmp_sa(self, detail=False):
        """IOS's ``show crypto isakmp sa [detail]`` (:mod:`.show`)."""
        return show.show_isakmp_sa(self, time.monotonic(), detail)

    def show_ipsec_sa(self):
        """IOS's ``show crypto ipsec sa`` (:mod:`.show`): every tunnel,
        every pair of it, current and previous."""
        return show.show_ipsec_sa(self, time.monotonic())

    def close(self):
        """Tell the peers our SAs are deleted, then close the sockets and
        the capture (after ``stop()``)."""
        self.endpoint.close(time.monotonic())
        self._flush()
        for sock in list(self.sockets.values()) + ([self.esp] if self.esp else []):
            sock.close()
        for tunnel in self.tunnels:
            tunnel.close()
        if self.pcap is not None:
            self.pcap.close()




def _destination(ancillary):
    """The destination address of a datagram, from its IP_PKTINFO
    (``struct in_pktinfo``: ifindex, spec_dst, addr), or None."""
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= 12:
            return socket.inet_ntoa(data[8:12])
    return None
