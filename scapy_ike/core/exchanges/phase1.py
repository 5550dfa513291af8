"""Phase 1: Main Mode and Aggressive Mode with NAT-T (RFC 2409 5, RFC 3947
and the drafts 02/03), message ID 0.

Every handler checks before it changes anything: the clear messages for
their proposals, key exchange and identities, the encrypted ones (and
Aggressive Mode's HASH_R) for their proof, and only then ``msg.accept()``.
Our encrypted messages end with their HASH, so that the block that the
next IV is taken from is covered by it: a copy changed anywhere that
still authenticates cannot fork the IV chain.
"""

import copy
import functools
import hmac
import ipaddress

from scapy_ike.constants import (
    VENDOR_IDS, ExchangeType, NotifyType, PayloadType as T, ProtocolId,
)
from scapy_ike.core import proposals as P
from scapy_ike.core.auth import authenticator
from scapy_ike.core.config import Identity
from scapy_ike.core.errors import RemoteProtocolError, Unauthenticated
from scapy_ike.core.exchanges import Exchange, shared_secret
from scapy_ike.core.message import body_of, encode_notify, encode_sa
from scapy_ike.crypto import dh, keys

MAIN, AGGRESSIVE = ExchangeType.MAIN_MODE, ExchangeType.AGGRESSIVE


def _vid(name):
    return next(k for k, v in VENDOR_IDS.items() if v == name)


NATT_VIDS = {_vid(name): kind for name, kind in (
    ("RFC 3947 NAT-T", "rfc3947"),
    ("draft-ietf-ipsec-nat-t-ike-03", "drafts"),
    ("draft-ietf-ipsec-nat-t-ike-02", "drafts"),
    ("draft-ietf-ipsec-nat-t-ike-02\\n", "drafts"))}
"""The NAT-T vendor IDs we speak, best first (as charon ranks them): the
drafts 02 and 03 float to the NAT-T port like RFC 3947 but number NAT-D
130 and the UDP encapsulation modes 61443/61444."""
_OFFERED = {True: [_vid("RFC 3947 NAT-T"), _vid("draft-ietf-ipsec-nat-t-ike-02\\n")],
            "rfc3947": [_vid("RFC 3947 NAT-T")],
            "drafts": [_vid("draft-ietf-ipsec-nat-t-ike-02\\n")],
            False: []}
DPD_VID = _vid("RFC 3706 DPD")


class Phase1(Exchange):
    """Main or Aggressive Mode of one IKE SA."""

    kind = "phase1"

    def __init__(self, conn, role, state):
        super().__init__(conn, role, 0, state)
        self.dh_key = None
        self.chosen = None


# -- the pieces --------------------------------------------------------------

def _vids(ex):
    """The initiator offers its NAT-T versions; the responder answers
    with the one it chose (RFC 3947 2); both say they speak DPD
    (RFC 3706 4)."""
    conn = ex.conn
    natt = _OFFERED[conn.config.nat_t] if ex.role == "initiator" else [conn.natt_vid]
    return [(T.VENDOR_ID, vid) for vid in natt + [DPD_VID] if vid is not None]


def _natd_type(conn):
    return T.NAT_D_DRAFT if conn.drafts else T.NAT_D


@functools.lru_cache(maxsize=4096)
def _packed(address):
    return ipaddress.ip_address(address).packed


def _nat_d(conn, local_natd=None):
    """NAT-D of the peer, then ours (RFC 3947 3.2), when both speak
    NAT-T; with force_encap ours is made up, so that the peer sees a NAT
    and both float."""
    if conn.natt_vid is None:
        return []
    sa, h = conn.sa, conn.sa.hash
    theirs = keys.nat_d(h, sa.cky_i, sa.cky_r, _packed(conn.peer[0]), conn.peer[1])
    ours = keys.nat_d(h, sa.cky_i, sa.cky_r, _packed(conn.local_address), conn.endpoint.ike_port)
    if conn.config.force_encap:
        ours = conn.endpoint.random(len(ours))
    return [(_natd_type(conn), theirs), (_natd_type(conn), ours)]


def _natted(conn, msg):
    """Whether a NAT lies between us (RFC 3947 3.2), or None without
    NAT-D payloads."""
    hashes = msg.bodies(_natd_type(conn))
    if not hashes:
        return None
    sa, h = conn.sa, conn.sa.hash
    me = keys.nat_d(h, sa.cky_i, sa.cky_r, _packed(conn.local_address), conn.endpoint.ike_port)
    peer = keys.nat_d(h, sa.cky_i, sa.cky_r, _packed(conn.peer[0]), conn.peer[1])
    return (not hmac.compare_digest(hashes[0], me)
            or not any(hmac.compare_digest(x, peer) for x in hashes[1:])
            or conn.config.force_encap)


def _apply_nat(conn, natted):
    if natted is not None:
        conn.natted = natted


def _peer_natt(conn, msg):
    """The best NAT-T version that both offer."""
    offered = set(msg.bodies(T.VENDOR_ID))
    allowed = conn.config.nat_t
    return next((vid for vid, kind in NATT_VIDS.items()
                 if vid in offered and allowed in (True, kind)), None)


def _choose(ex, msg):
    """The responder picks one of the initiator's transforms: (proposal,
    the SA payload answering with it, the initiator's SA body)."""
    if ex.conn.config.mode is not None and _mode(msg) != ex.conn.config.mode:
        raise RemoteProtocolError("%s Mode refused: this responder speaks %s Mode only"
                                  % (_mode(msg).title(), ex.conn.config.mode.title()),
                                  NotifyType.INVALID_EXCHANGE_TYPE)
    sa_payload = msg.sa()
    offered = list(P.offered_transforms(sa_payload))
    found = P.choose(ex.conn.config.ike_proposals(), offered, P.ike_from_transform,
                     ex.conn.checker(0, 1))
    if found is None:
        raise RemoteProtocolError(ex.conn.no_proposal_reason(sa_payload, 1),
                                  NotifyType.NO_PROPOSAL_CHOSEN)
    chosen, transform = found
    prop = next(p for p, t in offered if t is transform)
    return chosen, (T.SA, encode_sa(prop, transform)), msg.body(T.SA)


def _mode(msg):
    return "main" if msg.msg.exch_type == MAIN else "aggressive"


def _accept_choice(ex, msg):
    """The initiator checks that the responder chose one transform it
    offered."""
    offered = list(P.offered_transforms(msg.sa()))
    if len(offered) != 1 or P.choose(ex.conn.config.ike_proposals(), offered,
                                     P.ike_from_transform, ex.conn.checker(0, 1)) is None:
        raise RemoteProtocolError("the responder chose a transform we did not offer",
                                  NotifyType.BAD_PROPOSAL_SYNTAX)
    return P.ike_from_transform(offered[0][1])


def _check_id(conn, body):
    """The peer's identity is the configured one, if any."""
    want = conn.config.remote_id
    if want is not None:
        ident = Identity.parse(want)
        if body[:1] != bytes([ident.id_type]) or body[4:] != ident.data:
            raise RemoteProtocolError("invalid id: the peer is %s, not %s"
                                      % (Identity.from_body(body), want),
                                      NotifyType.INVALID_ID_INFORMATION)


def _ke_nonce(ex, group):
    """Our DH key and nonce, into the SA (RFC 2409 5)."""
    sa = ex.conn.sa
    ex.dh_key, ke = dh.generate(group)
    nonce = ex.conn.endpoint.random(32)
    if ex.role == "initiator":
        sa.gxi, sa.ni_b = ke, nonce
    else:
        sa.gxr, sa.nr_b = ke, nonce


def _derive(ex, sa, gxy):
    sa.gxy = gxy
    sa.derive(skeyid=authenticator(ex.conn.config, sa.auth_method).skeyid(sa))


def _proof(ex):
    sa = ex.conn.sa
    return authenticator(ex.conn.config, sa.auth_method).proof(sa, ex.role == "initiator")


def _verify(ex, sa, msg, ident, what):
    """The peer's proof (HASH_I from an initiator, HASH_R from a
    responder) for the identity *ident*, or Unauthenticated."""
    auth = authenticator(ex.conn.config, sa.auth_method)
    if not auth.verify(sa, ex.role == "responder", msg, ident):
        raise Unauthenticated("%s does not verify" % what)


def _initial_contact(conn):
    """N(INITIAL-CONTACT) with our first Phase 1 message under
    encryption: the peer may drop older SAs with us (RFC 2407 4.6.3.3);
    so only when we have none with it (as charon)."""
    if not conn.config.initial_contact or conn.endpoint.in_contact(conn.origin[0]):
        return []
    return [(T.NOTIFICATION, encode_notify(ProtocolId.ISAKMP, conn.cookies,
                                           NotifyType.INITIAL_CONTACT))]


def _ke(ex):
    sa = ex.conn.sa
    return T.KE, sa.gxi if ex.role == "initiator" else sa.gxr


# -- the initiator -------------------------------------------------------------

def start(ex, now):
    """The initiator's first message (RFC 2409 5): MM1 is SA and vendor
    IDs; AM1 adds KE, Ni and IDii."""
    conn, sa = ex.conn, ex.conn.sa
    proposals = conn.config.ike_proposals()
    sa.sai_b = body_of(P.ike_sa_payload(proposals))
    if conn.config.initiator_mode == "main":
        ex.send(conn.clear(MAIN, [(T.SA, sa.sai_b)] + _vids(ex)), now)
        return
    _ke_nonce(ex, proposals[0].group)
    sa.idii_b = conn.identity().body()
    payloads = [(T.SA, sa.sai_b), _ke(ex), (T.NONCE, sa.ni_b), (T.ID, sa.idii_b)] + _vids(ex)
    ex.send(conn.clear(AGGRESSIVE, payloads), now)


def initiator_mm2(ex, msg, now):
    """MM2: the responder's choice; answer MM3: KE, Ni, NAT-D."""
    conn, sa = ex.conn, ex.conn.sa
    chosen = _accept_choice(ex, msg)
    natt_vid = _peer_natt(conn, msg)
    msg.accept()
    sa.cky_r = msg.msg.cky_r
    ex.chosen = chosen
    sa.choose(chosen)
    conn.natt_vid = natt_vid
    _ke_nonce(ex, sa.group)
    ex.send(conn.clear(MAIN, [_ke(ex), (T.NONCE, sa.ni_b)] + _nat_d(conn)), now)


def initiator_mm4(ex, msg, now):
    """MM4: KE, Nr, NAT-D; the keys; answer MM5: IDii, [N], HASH_I."""
    conn, sa = ex.conn, ex.conn.sa
    gxr, nr = msg.body(T.KE), msg.body(T.NONCE)
    gxy = shared_secret(sa.group, ex.dh_key, gxr)
    msg.accept()
    sa.gxr, sa.nr_b = gxr, nr
    _derive(ex, sa, gxy)
    _apply_nat(conn, _natted(conn, msg))
    conn.float_to_natt()
    sa.idii_b = conn.identity().body()
    payloads = [(T.ID, sa.idii_b)] + _initial_contact(conn) + [_proof(ex)]
    ex.send(conn.encrypted(MAIN, payloads, 0), now)


def _proved_identity(ex, msg, what):
    """The peer's ID payload body, once its proof *what* verifies (the
    message is then accepted) and the identity is one we take."""
    ident = msg.body(T.ID)
    _verify(ex, ex.conn.sa, msg, ident, what)
    msg.accept()
    _check_id(ex.conn, ident)
    return ident


def initiator_mm6(ex, msg, now):
    """MM6: IDir, HASH_R."""
    ex.conn.sa.idir_b = _proved_identity(ex, msg, "HASH_R")


def initiator_am2(ex, msg, now):
    """AM2: SA, KE, Nr, IDir, NAT-D, HASH_R, proved on a trial copy of
    the SA so that a forged AM2 leaves ours as it was; answer AM3: NAT-D,
    HASH_I, encrypted as strongSwan does (on the NAT-T port after a NAT)."""
    conn = ex.conn
    chosen = _accept_choice(ex, msg)
    natt_vid = _peer_natt(conn, msg)
    trial = copy.copy(conn.sa)
    trial.cky_r = msg.msg.cky_r
    trial.choose(chosen)
    trial.gxr, trial.nr_b, idir = msg.body(T.KE), msg.body(T.NONCE), msg.body(T.ID)
    _derive(ex, trial, shared_secret(trial.group, ex.dh_key, trial.gxr))
    _verify(ex, trial, msg, idir, "HASH_R")
    msg.accept()
    trial.idir_b = idir
    conn.sa, ex.chosen, conn.natt_vid = trial, chosen, natt_vid
    _check_id(conn, idir)
    natted = _natted(conn, msg)
    _apply_nat(conn, natted)
    payloads = (_nat_d(conn) if natted is not None else []) + [_proof(ex)]
    conn.float_to_natt()
    ex.send(conn.encrypted(AGGRESSIVE, payloads, 0), now, request=False, reply_to=msg.wire)


# -- the responder -------------------------------------------------------------

def responder_mm1(ex, msg, now):
    """MM1: the initiator's proposals; answer MM2: our choice, vendor IDs."""
    conn, sa = ex.conn, ex.conn.sa
    chosen, answer, sai_b = _choose(ex, msg)
    natt_vid = _peer_natt(conn, msg)
    msg.accept()
    sa.sai_b, ex.chosen, conn.natt_vid = sai_b, chosen, natt_vid
    sa.choose(chosen)
    ex.send(conn.clear(MAIN, [answer] + _vids(ex)), now, request=False, reply_to=msg.wire)


def responder_mm3(ex, msg, now):
    """MM3: KE, Ni, NAT-D; the keys; answer MM4: KE, Nr, NAT-D."""
    conn, sa = ex.conn, ex.conn.sa
    gxi, ni = msg.body(T.KE), msg.body(T.NONCE)
    dh_key, gxr = dh.generate(sa.group)
    gxy = shared_secret(sa.group, dh_key, gxi)
    msg.accept()
    ex.dh_key, sa.gxi, sa.ni_b, sa.gxr = dh_key, gxi, ni, gxr
    sa.nr_b = conn.endpoint.random(32)
    _derive(ex, sa, gxy)
    _apply_nat(conn, _natted(conn, msg))
    ex.send(conn.clear(MAIN, [_ke(ex), (T.NONCE, sa.nr_b)] + _nat_d(conn)), now,
            request=False, reply_to=msg.wire)


def responder_mm5(ex, msg, now):
    """MM5: IDii, HASH_I; answer MM6: IDir, HASH_R."""
    conn, sa = ex.conn, ex.conn.sa
    sa.idii_b = _proved_identity(ex, msg, "HASH_I")
    sa.idir_b = conn.identity().body()
    ex.send(conn.encrypted(MAIN, [(T.ID, sa.idir_b), _proof(ex)], 0), now,
            request=False, reply_to=msg.wire)


def responder_am1(ex, msg, now):
    """AM1: SA, KE, Ni, IDii; answer AM2: SA, KE, Nr, IDir, vendor IDs,
    NAT-D, HASH_R (RFC 2409 5), retransmitted until AM3 comes."""
    conn, sa = ex.conn, ex.conn.sa
    chosen, answer, sai_b = _choose(ex, msg)
    natt_vid = _peer_natt(conn, msg)
    gxi, ni, idii = msg.body(T.KE), msg.body(T.NONCE), msg.body(T.ID)
    _check_id(conn, idii)
    dh_key, gxr = dh.generate(chosen.group)
    gxy = shared_secret(chosen.group, dh_key, gxi)
    msg.accept()
    sa.sai_b, ex.chosen, conn.natt_vid = sai_b, chosen, natt_vid
    sa.choose(chosen)
    ex.dh_key, sa.gxi, sa.ni_b, sa.idii_b, sa.gxr = dh_key, gxi, ni, idii, gxr
    sa.nr_b = conn.endpoint.random(32)
    _derive(ex, sa, gxy)
    sa.idir_b = conn.identity().body()
    payloads = [answer, _ke(ex), (T.NONCE, sa.nr_b), (T.ID, sa.idir_b)]
    payloads += _vids(ex) + _nat_d(conn) + [_proof(ex)]
    ex.send(conn.clear(AGGRESSIVE, payloads), now, reply_to=msg.wire)


def responder_am3(ex, msg, now):
    """AM3: HASH_I, NAT-D."""
    conn, sa = ex.conn, ex.conn.sa
    _verify(ex, sa, msg, sa.idii_b, "HASH_I")
    msg.accept()
    _apply_nat(conn, _natted(conn, msg))


# -- the ends ------------------------------------------------------------------

def established(ex, msg, now):
    """Phase 1 is complete: the connection's SA-level timers start and
    the event is told."""
    ex.pending = None
    ex.dh_key = None                   # g^xy is made: the private value goes
    ex.ended = now                     # its replies are kept while MM5/AM1 may come again
    ex.conn.established(ex.chosen, now)


def timeout(ex, msg, now):
    """No (authentic) answer in time: the initiator's last try, or a
    responder's half-open SA that did not complete; the IKE SA ends."""
    what = ("no answer to %s" % ex.state if ex.role == "initiator"
            else "half-open SA in %s did not complete" % ex.state)
    if ex.unauthenticated:
        what += "; %s (wrong pre-shared key?)" % ex.dropped_text()
    ex.conn.fail("timeout: " + what, 0, now)


def error_notify(ex, notify, now):
    """The peer refused our Phase 1 with an error notify."""
    ex.conn.fail("peer notify %s" % notify.name, 0, now,
                 notify.notify_msg_type)


def deleted(ex, msg, now):
    """The peer deleted the IKE SA (RFC 2408 3.15)."""
    ex.conn.end(now, "deleted by the peer")
