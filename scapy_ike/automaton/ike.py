"""The IKEv1 initiator and responder as a Scapy ``Automaton``.

The automaton owns the UDP sockets (IKE port and NAT-T port, made before it
runs) and feeds the sans-IO :class:`~scapy_ike.core.connection.Endpoint`.
Its states are the engine's, named as a Cisco IOS debug log names them
(``IKE_READY``, ``IKE_I_MM1`` ... ``IKE_P1_COMPLETE``, ``IKE_QM_I_QM1`` ...
``IKE_QM_PHASE2_COMPLETE``), and each transition is logged the way IOS
logs it (``Old State = IKE_I_MM1 New State = IKE_I_MM3``), so that our log
lies beside a router's.  Every outgoing datagram passes :meth:`tamper`,
to be changed at the Scapy prompt.  After Quick Mode the tunnel is a
SuperSocket (:meth:`tunnel_socket`), and :meth:`show_isakmp_sa` /
:meth:`show_ipsec_sa` print the summaries IOS's ``show crypto`` commands do.
"""

import logging
import threading
import time

from scapy.automaton import ATMT, Automaton, select_objects
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.supersocket import SuperSocket
from scapy.utils import PcapWriter

from scapy_ike.automaton.tunnel import Tunnel, udp_socket
from scapy_ike.constants import NON_ESP_MARKER
from scapy_ike.core import events as ev, state as S
from scapy_ike.core.connection import Endpoint
from scapy_ike.decode.keylog import esp_sa_row, ikev1_decryption_table_row, key_log_line

log = logging.getLogger("scapy_ike")

STATES = sorted({S.READY, S.P1_COMPLETE, S.QM_READY, S.QM_COMPLETE, S.QM_FIRST_SENT}
                | {after for _, after in S.PHASE1.values()}
                | {after for _, after in S.QUICK_MODE.values()}
                | set(S.FIRST_SENT.values()) | {state for _, state, _ in S.PHASE1}
                | {state for _, state, _ in S.QUICK_MODE})


class _Automaton_meta_states(type(Automaton)):
    """Makes one Automaton state (and its condition) per engine state."""

    def __new__(mcs, name, bases, dct):
        for state in STATES:
            dct[state] = ATMT.state(initial=state == S.READY)(_state_function(state))
            dct["_advance_" + state] = ATMT.condition(dct[state])(_advance_function(state))
        dct[S.DEAD] = ATMT.state(error=1)(_state_function(S.DEAD))
        dct["END"] = ATMT.state(final=1)(_state_function("END"))
        return super().__new__(mcs, name, bases, dct)


def _state_function(name):
    def state(self):
        pass
    state.__name__ = name
    return state


def _advance_function(name):
    def advance(self, *state_output):
        self.advance()
    advance.__name__ = "_advance_" + name
    return advance


class _NoSocket(SuperSocket):
    """The automaton talks through its own UDP sockets, not Scapy's L2/L3
    ones (which would need a raw socket)."""

    def __init__(self, *args, **kwargs):
        pass

    def close(self):
        pass


class IKEv1Automaton(Automaton, metaclass=_Automaton_meta_states):
    """An IKEv1 peer: ``config.role`` says initiator or responder.

    *peer* is the responder's (address, port) for an initiator; *sockets*
    optionally gives ready UDP sockets ``{port: socket}`` (made in a network
    namespace, say); *keylog* a path written as keys appear (this project's
    key log, with Wireshark's ``ikev1_decryption_table`` and ``esp_sa``
    beside it).
    """

    def __init__(self, *args, **kargs):
        kargs.setdefault("ll", _NoSocket)
        kargs.setdefault("recvsock", _NoSocket)
        super().__init__(*args, **kargs)

    def parse_args(self, config, peer=None, local_address="0.0.0.0", ike_port=500,
                   natt_port=4500, peer_natt_port=4500, sockets=None, keylog=None,
                   pcap=None, poll=0.1, **kargs):
        super().parse_args(**kargs)
        self.config = config
        self.peer = peer
        self.endpoint = Endpoint(config, local_address, ike_port, natt_port, peer_natt_port)
        self.sockets = sockets or {port: udp_socket(local_address, port)
                                   for port in (ike_port, natt_port)}
        self.keylog = keylog
        self.pcap = PcapWriter(pcap, sync=True) if pcap else None
        self._pcap_lock = threading.Lock()
        self.poll = poll
        self.tunnels = []
        self.events = []
        self._initiated = False

    # -- hooks -----------------------------------------------------------------

    def tamper(self, datagram):
        """Every outgoing datagram passes here: return it, a changed
        :class:`~scapy_ike.core.connection.Datagram`, or None to drop it."""
        return datagram

    # -- the pump ---------------------------------------------------------------

    def advance(self):
        """Run the engine until its state changes, then enter that state
        (the same one again after *poll* seconds without news, so that
        commands like ``stop()`` get through)."""
        if not self._initiated:
            self._initiated = True
            if self.config.role == "initiator":
                self.endpoint.initiate(self.peer, time.monotonic())
        deadline = time.monotonic() + self.poll
        while True:
            self._flush()
            for event in self._drain():
                if isinstance(event, ev.StateChanged):
                    self._log_change(event)
                    if event.new == S.DEAD:
                        raise getattr(self, S.DEAD)()
                    raise getattr(self, event.new)()
            remain = deadline - time.monotonic()
            if remain <= 0:
                raise getattr(self, self.state.state)()
            self._receive(remain)

    def _flush(self):
        for datagram in self.endpoint.datagrams_to_send():
            datagram = self.tamper(datagram)
            if datagram is not None:
                self._sendto(datagram.local_port, datagram.data, datagram.addr)

    def _sendto(self, port, data, addr):
        # recorded first: an answer (received by another thread) comes after
        self._record((self.endpoint.local_address, port), addr, data)
        self.sockets[port].sendto(data, addr)

    def _record(self, src, dst, data):
        """Every datagram we send or receive, into the capture (no
        sniffing needed)."""
        if self.pcap is not None:
            frame = Ether() / IP(src=src[0], dst=dst[0]) / UDP(sport=src[1], dport=dst[1]) / Raw(data)
            with self._pcap_lock:
                self.pcap.write(frame)

    def _receive(self, timeout):
        timer = self.endpoint.get_timer()
        if timer is not None:
            timeout = max(0.0, min(timeout, timer - time.monotonic()))
        ready = select_objects(list(self.sockets.values()), timeout)
        now = time.monotonic()
        for port, sock in self.sockets.items():
            if sock in ready:
                data, addr = sock.recvfrom(65535)
                self._record(addr, (self.endpoint.local_address, port), data)
                self._datagram(data, addr, port, now)
        self.endpoint.handle_timer(now)

    def _datagram(self, data, addr, port, now):
        if port == self.endpoint.natt_port and data[:4] != NON_ESP_MARKER:
            if data != b"\xff":                       # not a NAT keep-alive: ESP
                spi = int.from_bytes(data[:4], "big")
                for tunnel in self.tunnels:
                    if tunnel.inbound.spi == spi:
                        tunnel.receive(data)
            return
        self.endpoint.receive_datagram(data, addr, now, local_port=port)

    def _drain(self):
        while (event := self.endpoint.next_event()) is not None:
            self.events.append(event)
            if isinstance(event, ev.QuickModeEstablished):
                self._tunnel(event)
            elif isinstance(event, ev.Phase1Established):
                self._write_keys()
            elif isinstance(event, ev.DeleteReceived):
                self.tunnels = [t for t in self.tunnels
                                if t.established.spi_out not in event.spis]
            elif not isinstance(event, ev.StateChanged):
                log.info("ISAKMP: %s", event)
            yield event

    def _tunnel(self, established):
        conn = self.endpoint.connections[established.cookies[:8]]

        def send(esp):
            port = self.endpoint.natt_port if established.udp_encap else self.endpoint.ike_port
            self._sendto(port, esp, conn.peer)
        tunnel = Tunnel(established, send, established.local_ts, established.remote_ts)
        self.tunnels.append(tunnel)
        self._write_keys()
        log.info("IPSEC(create_sa): sa created, spi in 0x%s out 0x%s, %s",
                 established.spi_in.hex(), established.spi_out.hex(),
                 tunnel.out.cipher.name)

    def _log_change(self, event):
        log.info("ISAKMP:(%s):Old State = %s New State = %s", event.cookies[:8].hex(),
                 event.old, event.new)

    def _write_keys(self):
        if not self.keylog:
            return
        conns = [c for c in self.endpoint.connections.values() if c.sa.ka is not None]
        with open(self.keylog, "w") as f:
            f.writelines(key_log_line(c.sa) + "\n" for c in conns)
        with open(self.keylog + ".ikev1_decryption_table", "w") as f:
            f.writelines(ikev1_decryption_table_row(c.sa) + "\n" for c in conns)
        with open(self.keylog + ".esp_sa", "w") as f:
            for tunnel in self.tunnels:
                conn = self.endpoint.connections[tunnel.established.cookies[:8]]
                local = self.endpoint.local_address
                f.write(esp_sa_row(tunnel.out, local, conn.peer[0]) + "\n")
                f.write(esp_sa_row(tunnel.inbound, conn.peer[0], local) + "\n")

    # -- for people ---------------------------------------------------------

    def tunnel_socket(self):
        """The newest tunnel as a SuperSocket."""
        return self.tunnels[-1].socket()

    def show_isakmp_sa(self):
        """Like IOS ``show crypto isakmp sa``: dst, src, state, conn-id."""
        lines = ["dst             src             state          conn-id status"]
        for conn in self.endpoint.connections.values():
            local = self.endpoint.local_address
            dst, src = (conn.peer[0], local) if conn.role == "initiator" else (local, conn.peer[0])
            status = "ACTIVE" if conn.state == S.P1_COMPLETE else conn.state
            lines.append("%-15s %-15s %-14s %7s %s" % (
                dst, src, "QM_IDLE" if conn.state == S.P1_COMPLETE else conn.state,
                conn.sa.cky_i[:2].hex(), status))
        return "\n".join(lines)

    def show_ipsec_sa(self):
        """Like IOS ``show crypto ipsec sa``: selectors, SPIs, transforms,
        lifetimes and packet counters of each tunnel."""
        out = []
        for t in self.tunnels:
            e = t.established
            transform = e.proposal.transform
            out += [
                "   local  ident (addr/mask/prot/port): (%s/0/0)" % t.local_ts,
                "   remote ident (addr/mask/prot/port): (%s/0/0)" % t.remote_ts,
                "    #pkts encaps: %d, #pkts encrypt: %d" % ((t.out.stats["packets_out"],) * 2),
                "    #pkts decaps: %d, #pkts decrypt: %d" % ((t.inbound.stats["packets_in"],) * 2),
                "    #pkts failed: %d" % t.errors,
                "     inbound esp sas:",
                "      spi: 0x%s" % e.spi_in.hex().upper(),
                "        transform: %s %d %s ," % (transform.cipher.name, transform.key_size * 8,
                                                   transform.integrity.name),
                "        in use settings ={%s, }" % ("Tunnel UDP-Encaps" if e.udp_encap
                                                     else "Tunnel"),
                "        sa timing: remaining key lifetime (sec): (%d)" % e.proposal.lifetime,
                "     outbound esp sas:",
                "      spi: 0x%s" % e.spi_out.hex().upper(),
            ]
        return "\n".join(out)

    def close(self):
        """Tell the peers our SAs are deleted, then close the sockets and
        the capture (after ``stop()``)."""
        self.endpoint.close(time.monotonic())
        self._flush()
        for sock in self.sockets.values():
            sock.close()
        if self.pcap is not None:
            self.pcap.close()
