"""What Cisco IOS's ``show crypto isakmp sa [detail]`` and ``show crypto
ipsec sa`` print, for an :class:`~scapy_ike.automaton.ike.IKEv1Automaton`:
so that an operator reads our endpoint as a router's, line for line.

Two steps: :func:`isakmp_rows` and :func:`ipsec_flows` read the endpoint's
IKE SAs, the automaton's tunnels and the engine's ESP pairs
(:mod:`~scapy_ike.core.children`: their hard lifetimes in seconds and
kilobytes, RFC 2407 4.5) into plain records at one instant; the
``format_*`` functions lay the records out as IOS does, and nothing else.
Where IOS shows what we do not have (crypto maps, interfaces, MTUs, the
crypto engine), the line is left out; ``detail`` puts the IKE SA's cookies
(RFC 2408 3.1) where IOS puts its engine's ids.
"""

from dataclasses import dataclass
from ipaddress import ip_network
from typing import Optional, Tuple

from scapy_ike.constants import AuthMethod
from scapy_ike.core import state as S
from scapy_ike.core.proposals import auth_name, cisco_transform

IOS_STATES = {
    S.READY: "MM_NO_STATE", "IKE_I_MM1": "MM_NO_STATE",
    "IKE_R_MM2": "MM_SA_SETUP", "IKE_I_MM3": "MM_SA_SETUP",
    "IKE_R_MM4": "MM_KEY_EXCH", "IKE_I_MM5": "MM_KEY_EXCH",
    "IKE_I_AM1": "AG_NO_STATE", "IKE_R_AM2": "AG_INIT_EXCH",
    S.P1_COMPLETE: "QM_IDLE", S.DEAD: "MM_NO_STATE",
}
"""Our Phase 1 states (IOS's debug names) as ``show crypto isakmp sa``
names them: MM_NO_STATE until the peer's first answer, MM_SA_SETUP once
the proposal is agreed, MM_KEY_EXCH after the Diffie-Hellman exchange,
QM_IDLE once authenticated."""

CODES = """\
Codes: C - IKE configuration mode, D - Dead Peer Detection
       K - Keepalives, N - NAT-traversal
       T - cTCP encapsulation, X - IKE Extended Authentication
       psk - Preshared key, rsig - RSA signature
       renc - RSA encryption"""

_HASHES = {"sha1": "sha"}       # IOS's names where they are not ours
_AUTH = {AuthMethod.PSK: "psk", AuthMethod.XAUTH_INIT_PSK: "psk",
         AuthMethod.XAUTH_RESP_PSK: "psk", AuthMethod.RSA_SIG: "rsig",
         AuthMethod.XAUTH_INIT_RSA: "rsig", AuthMethod.XAUTH_RESP_RSA: "rsig",
         AuthMethod.RSA_ENC: "renc"}


@dataclass(frozen=True)
class IsakmpRow:
    """One IKE SA as ``show crypto isakmp sa`` sees it."""

    conn_id: int
    dst: str                    # the responder's address
    src: str                    # the initiator's
    local: str
    remote: str
    state: str                  # IOS's name (IOS_STATES)
    status: str                 # ACTIVE, or "ACTIVE (deleted)" once it ended
    encr: str = ""
    hash: str = ""
    auth: str = ""
    group: str = ""
    lifetime: Optional[int] = None  # seconds left
    caps: str = ""              # the Codes' letters
    cookies: Tuple[bytes, bytes] = (b"", b"")


@dataclass(frozen=True)
class EspSa:
    """One direction of one ESP pair."""

    spi: bytes
    transform: str              # as IOS writes it
    settings: str               # "Tunnel" or "Transport", then " UDP-Encaps" over NAT-T
    seconds: int                # of the hard lifetime, left
    kilobytes: Optional[int]    # of the kilobyte lifetime, left; None without one
    iv_size: int
    packets: int                # this SA's (encrypted, or decrypted)
    status: str                 # ACTIVE, or REKEYED for a pair replaced, until it is deleted


@dataclass(frozen=True)
class IpsecFlow:
    """One tunnel (a pair of traffic selectors with one peer), every SA
    pair it has, current first."""

    local_ts: str
    remote_ts: str
    peer: Tuple[str, int]
    local_endpoint: str
    encaps: int
    digest: int
    decaps: int
    verify: int
    send_errors: int
    recv_errors: int
    refused: dict               # reason -> packets (Tunnel.refused)
    current_spi: bytes
    pfs_group: Optional[int]
    inbound: Tuple[EspSa, ...]
    outbound: Tuple[EspSa, ...]


# -- reading ----------------------------------------------------------------

def isakmp_rows(endpoint, now):
    """Every IKE SA of *endpoint*, oldest first."""
    rows = []
    for conn in sorted(list(endpoint.connections.values()), key=lambda c: c.conn_id):
        local, remote = conn.local_address, conn.peer[0]
        proposal = conn.sa.proposal
        config = conn.config
        caps = "".join(letter for letter, on in (
            ("C", config.modecfg), ("D", config.dpd_delay > 0), ("N", conn.natted),
            ("X", config.xauth)) if on)
        rows.append(IsakmpRow(
            conn.conn_id, *((remote, local) if conn.role == "initiator" else (local, remote)),
            local, remote, IOS_STATES.get(conn.state, conn.state),
            "ACTIVE (deleted)" if conn.ended is not None else "ACTIVE",
            *(("", "", "", "") if proposal is None else (
                proposal.cipher.name, _HASHES.get(proposal.hash.name, proposal.hash.name),
                _AUTH.get(proposal.auth, auth_name(proposal.auth)), str(proposal.group))),
            None if conn.expires is None else max(0, int(conn.expires - now)),
            caps, (conn.sa.cky_i, conn.sa.cky_r)))
    return rows


def ipsec_flows(tunnels, endpoint, now):
    """Every tunnel of the automaton, in order of creation (copies of the
    lists first: the automaton's thread changes them as it runs)."""
    flows = []
    for tunnel in list(tunnels):
        newest, pair = list(tunnel.pairs.values())[::-1], tunnel.current
        if pair is None:                    # its last pair went a moment ago
            continue
        pairs = [pair] + [p for p in newest if p is not pair]
        current = pair.established
        held = endpoint.child(current.spi_in)
        conn = held[0] if held else tunnel.connection
        authenticated = _authenticated(current.proposal.transform)
        digest, verify = (tunnel.encaps, tunnel.decaps) if authenticated else (0, 0)
        flows.append(IpsecFlow(
            str(tunnel.local_ts), str(tunnel.remote_ts), tuple(conn.peer), conn.local_address,
            tunnel.encaps, digest, tunnel.decaps, verify, tunnel.send_errors,
            tunnel.recv_errors, dict(tunnel.refused), current.spi_out, current.proposal.group,
            tuple(_sa(endpoint, p, True, now, p is pair) for p in pairs),
            tuple(_sa(endpoint, p, False, now, p is pair) for p in pairs)))
    return flows


def _authenticated(transform):
    return transform.cipher.aead or transform.integrity.name != "null"


def _sa(endpoint, pair, inbound, now, current):
    established = pair.established
    held = endpoint.child(established.spi_in)
    child = held[1] if held else None
    seconds = kilobytes = 0
    if child is not None:
        seconds = max(0, int(child.expires - now))
        if child.hard_octets is not None:
            used = max(child.octets_in + pair.unreported_in,
                       child.octets_out + pair.unreported_out)
            kilobytes = max(0, child.hard_octets - used) // 1024
    if established.proposal.lifesize is None:
        kilobytes = None
    transform = established.proposal.transform
    sa = pair.inbound if inbound else pair.out
    return EspSa(established.spi_in if inbound else established.spi_out,
                 cisco_transform(transform),
                 ("Tunnel" if transform.tunnel else "Transport")
                 + (" UDP-Encaps" if established.udp_encap else ""),
                 seconds, kilobytes, transform.cipher.iv_size,
                 sa.stats["packets_in" if inbound else "packets_out"],
                 "ACTIVE" if current else "REKEYED")


# -- laying out ----------------------------------------------------------------

def format_isakmp(rows, detail=False):
    """``show crypto isakmp sa``, or with *detail* ``show crypto isakmp sa
    detail``."""
    if not detail:
        lines = ["IPv4 Crypto ISAKMP SA",
                 "%-15s %-15s %-15s%7s %s" % ("dst", "src", "state", "conn-id", "status")]
        lines += ["%-15s %-15s %-15s%7d %s" % (r.dst, r.src, r.state, r.conn_id, r.status)
                  for r in rows]
        return "\n".join(lines)
    lines = [CODES, "IPv4 Crypto ISAKMP SA", "",
             "C-id  Local           Remote          I-VRF  Status Encr Hash   Auth DH "
             "Lifetime Cap.", ""]
    for r in rows:
        life = "" if r.lifetime is None else "%02d:%02d:%02d" % (
            r.lifetime // 3600, r.lifetime // 60 % 60, r.lifetime % 60)
        lines.append(("%-5d %-15s %-15s %-6s %-6s %-4s %-6s %-4s %-2s %-8s %s" % (
            r.conn_id, r.local, r.remote, "", r.status, r.encr, r.hash, r.auth, r.group,
            life, r.caps)).rstrip())
        lines.append("       Cookie-i:Cookie-r =  %s:%s" % (r.cookies[0].hex(),
                                                          r.cookies[1].hex()))
        lines.append("")
    return "\n".join(lines)


def _ident(network):
    net = ip_network(network)
    return "(%s/%s/0/0)" % (net.network_address, net.netmask)


def _spi(spi):
    return "0x%s(%d)" % (spi.hex().upper(), int.from_bytes(spi, "big"))


def format_ipsec(flows):
    """``show crypto ipsec sa``: per flow, its selectors, peer, counters,
    endpoints and current outbound SPI, then each ESP SA, inbound then
    outbound, the current pair's first."""
    lines = []
    for f in flows:
        lines += [
            "",
            "   local  ident (addr/mask/prot/port): %s" % _ident(f.local_ts),
            "   remote ident (addr/mask/prot/port): %s" % _ident(f.remote_ts),
            "   current_peer %s port %d" % f.peer,
            "    #pkts encaps: %d, #pkts encrypt: %d, #pkts digest: %d"
            % (f.encaps, f.encaps, f.digest),
            "    #pkts decaps: %d, #pkts decrypt: %d, #pkts verify: %d"
            % (f.decaps, f.decaps, f.verify),
            "    #pkts compressed: 0, #pkts decompressed: 0",
            "    #pkts not compressed: 0, #pkts compr. failed: 0",
            "    #pkts not decompressed: 0, #pkts decompress failed: 0",
            "    #send errors %d, #recv errors %d" % (f.send_errors, f.recv_errors),
            "    #pkts invalid sa (rcv) %d, #pkts verify failed: %d"
            % (f.refused.get("invalid sa", 0), f.refused.get("integrity", 0)),
            "    #pkts replay failed (rcv): %d" % f.refused.get("replay", 0),
            "",
            "     local crypto endpt.: %s, remote crypto endpt.: %s"
            % (f.local_endpoint, f.peer[0]),
            "     current outbound spi: %s" % _spi(f.current_spi),
            "     PFS (Y/N): %s, DH group: %s" % (("Y", "group%d" % f.pfs_group)
                                                  if f.pfs_group else ("N", "none")),
        ]
        for direction, sas in (("inbound", f.inbound), ("outbound", f.outbound)):
            lines += ["", "     %s esp sas:" % direction]
            for sa in sas:
                life = "(sec): (%d)" % sa.seconds if sa.kilobytes is None \
                    else "(k/sec): (%d/%d)" % (sa.kilobytes, sa.seconds)
                lines += [
                    "      spi: %s" % _spi(sa.spi),
                    "        transform: %s ," % sa.transform,
                    "        in use settings ={%s, }" % sa.settings,
                    "        sa timing: remaining key lifetime %s" % life,
                    "        IV size: %d bytes" % sa.iv_size,
                    "        replay detection support: Y",
                    "        Status: %s" % sa.status,
                    "        #pkts %s: %d" % ("decrypt" if direction == "inbound" else "encrypt",
                                             sa.packets),
                ]
    return "\n".join(lines)


def show_isakmp_sa(automaton, now, detail=False):
    return format_isakmp(isakmp_rows(automaton.endpoint, now), detail)


def show_ipsec_sa(automaton, now):
    return format_ipsec(ipsec_flows(automaton.tunnels, automaton.endpoint, now))
