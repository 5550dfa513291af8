"""Quick Mode (RFC 2409 5.5): HASH(1), SA, Ni [, KE] [, IDci, IDcr];
HASH(2), SA, Nr [, KE] [, IDci, IDcr]; HASH(3).  Each Quick Mode is an
exchange of its own, under its own message ID and IV, so that several run
at once; HASH(1)/HASH(2) cover every payload after them and are checked
before anything else.
"""

import hmac
from dataclasses import replace

from scapy_ike.constants import (
    ExchangeType, IpsecAttribute, LifeType, NotifyType, PayloadType as T, ProtocolId,
)
from scapy_ike.core import proposals as P
from scapy_ike.core.config import Identity
from scapy_ike.core.errors import RemoteProtocolError, Unauthenticated
from scapy_ike.core.exchanges import Exchange, shared_secret
from scapy_ike.core.message import body_of, encode_notify, encode_payloads, encode_sa
from scapy_ike.crypto import dh, keys
from scapy_ike.attributes import IPSEC_ATTRIBUTES

QUICK = ExchangeType.QUICK_MODE


class QuickMode(Exchange):
    """One Quick Mode: a pair of ESP SAs."""

    kind = "quick"

    def __init__(self, conn, role, message_id, state):
        super().__init__(conn, role, message_id, state)
        self.ni_b = self.nr_b = self.spi_in = self.spi_out = self.ke = self.gxy = b""
        self.dh_key = None
        self.proposal = None
        self.offered = ()
        self.ids = ()
        self.family = ()            # (our ID body, the peer's): the pairs it may succeed
        self.predecessor = None     # the family's current pair when it began


def _hash_rest(msg):
    """HASH(1)'s value and the payloads after it, which it covers: it
    comes first after the header (RFC 2409 5.5, 5.7)."""
    if not msg.payloads or msg.payloads[0][0] != T.HASH:
        raise Unauthenticated("no HASH payload first")
    return msg.payloads[0][1][4:], b"".join(raw for _, raw in msg.payloads[1:])


def check_hash(want, received, what):
    """The one comparison of a Phase 2 HASH, in constant time."""
    if not hmac.compare_digest(want, received):
        raise Unauthenticated("%s does not verify" % what)


def _selectors(conn):
    return conn.selectors()


def _within(body, network):
    """Whether a Quick Mode identity lies inside a configured selector."""
    named = Identity.from_body(body).network()
    return (named is not None and named.version == network.version
            and named.subnet_of(network))


def start(ex, now, proposals=None, family=None):
    """QM1: HASH(1), SA, Ni [, KE], IDci, IDcr (RFC 2409 5.5): the
    configured *proposals* and selectors unless given (a rekey offers the
    pair's own, for its own identities)."""
    conn, sa = ex.conn, ex.conn.sa
    proposals = ex.offered = proposals or conn.esp_proposals()
    ex.family = family or tuple(Identity.of_network(ts).body() for ts in _selectors(conn))
    if ex.predecessor is None:
        ex.predecessor = conn.endpoint.current_pair(conn, ex.family)
    ex.spi_in = conn.endpoint.random(4)
    ex.ni_b = conn.endpoint.random(32)
    payloads = [(T.SA, body_of(P.esp_sa_payload(proposals, ex.spi_in, udp_encap=conn.natt,
                                                 draft=conn.drafts))),
                (T.NONCE, ex.ni_b)]
    group = proposals[0].group
    if group is not None:
        ex.dh_key, ex.ke = dh.generate(group)
        payloads.append((T.KE, ex.ke))
    payloads += [(T.ID, body) for body in ex.family]
    digest = keys.message_hash(sa.hash, sa.skeyid_a, ex.message_id, encode_payloads(payloads))
    ex.send(ex.encrypted(QUICK, [(T.HASH, digest)] + payloads), now)


def responder_qm1(ex, msg, now):
    """QM1 checked; answer QM2, retransmitted until QM3 comes."""
    conn, sa = ex.conn, ex.conn.sa
    received, rest = _hash_rest(msg)
    check_hash(keys.message_hash(sa.hash, sa.skeyid_a, msg.message_id, rest), received, "HASH(1)")
    msg.accept()
    sa_payload = msg.sa()
    offered = list(P.offered_transforms(sa_payload))
    found = P.choose(conn.config.esp_proposals(), offered, P.esp_from_transform,
                     conn.checker(ex.message_id, 2))
    if found is None:
        raise RemoteProtocolError(conn.no_proposal_reason(sa_payload, 2),
                                  NotifyType.NO_PROPOSAL_CHOSEN)
    ours, transform = found
    prop = next(p for p, t in offered if t is transform)
    theirs = P.esp_from_transform(transform)
    ids = msg.bodies(T.ID)
    local, remote = _selectors(conn)
    if len(ids) == 2 and not (_within(ids[0], remote) and _within(ids[1], local)):
        raise RemoteProtocolError("invalid id: %s === %s is not inside %s === %s" % (
            Identity.from_body(ids[0]), Identity.from_body(ids[1]), remote, local),
            NotifyType.INVALID_ID_INFORMATION)
    gxy = ke = b""
    if ours.group is not None:
        dh_key, ke = dh.generate(ours.group)
        gxy = shared_secret(ours.group, dh_key, msg.body(T.KE), "PFS key exchange")
    ex.proposal = replace(ours, lifetime=min(ours.lifetime, theirs.lifetime),
                          lifesize=_least(ours.lifesize, theirs.lifesize))
    ex.spi_out, ex.ni_b, ex.gxy, ex.ke, ex.ids = prop.SPI, msg.body(T.NONCE), gxy, ke, ids
    ex.family = (ids[1], ids[0]) if len(ids) == 2 else ()
    ex.predecessor = conn.endpoint.current_pair(conn, ex.family)
    ex.spi_in = conn.endpoint.random(4)
    ex.nr_b = conn.endpoint.random(32)
    payloads = [(T.SA, encode_sa(prop, transform, ex.spi_in)), (T.NONCE, ex.nr_b)]
    if ke:
        payloads.append((T.KE, ke))
    payloads += [(T.ID, body) for body in ids]      # echoed (RFC 2409 5.5)
    if ex.proposal.lifetime < theirs.lifetime or ex.proposal.lifesize != theirs.lifesize:
        payloads.append(_responder_lifetime(ex.spi_in, ex.proposal))   # RFC 2407 4.6.3.1
    digest = keys.qm_hash2(sa.hash, sa.skeyid_a, ex.message_id, ex.ni_b, encode_payloads(payloads))
    ex.send(ex.encrypted(QUICK, [(T.HASH, digest)] + payloads), now, reply_to=msg.wire)


def initiator_qm2(ex, msg, now):
    """QM2 checked; answer QM3: HASH(3)."""
    sa = ex.conn.sa
    received, rest = _hash_rest(msg)
    check_hash(keys.qm_hash2(sa.hash, sa.skeyid_a, msg.message_id, ex.ni_b, rest), received,
               "HASH(2)")
    msg.accept()
    offered = list(P.offered_transforms(msg.sa()))
    found = P.choose(ex.offered, offered, P.esp_from_transform,
                     ex.conn.checker(ex.message_id, 2)) if len(offered) == 1 else None
    if found is None:
        raise RemoteProtocolError("the responder chose a transform we did not offer",
                                  NotifyType.BAD_PROPOSAL_SYNTAX)
    offer, transform = found
    chosen = P.esp_from_transform(transform)
    proposal = replace(chosen, lifetime=min(chosen.lifetime, offer.lifetime),
                       lifesize=_least(chosen.lifesize, offer.lifesize))
    for n in msg.notifies():
        if n.notify_msg_type == NotifyType.RESPONDER_LIFETIME:
            seconds, kilobytes = _lifetimes_of(n.notify_data)
            proposal = replace(proposal, lifetime=_least(proposal.lifetime, seconds),
                               lifesize=_least(proposal.lifesize, kilobytes))
    nr = msg.body(T.NONCE)
    gxy = shared_secret(chosen.group, ex.dh_key, msg.body(T.KE),
                                "PFS key exchange") if chosen.group is not None else b""
    ex.proposal, ex.spi_out, ex.nr_b, ex.gxy = proposal, offered[0][0].SPI, nr, gxy
    digest = keys.qm_hash3(sa.hash, sa.skeyid_a, msg.message_id, ex.ni_b, ex.nr_b)
    ex.send(ex.encrypted(QUICK, [(T.HASH, digest)]), now, request=False, reply_to=msg.wire)


def responder_qm3(ex, msg, now):
    """QM3: HASH(3)."""
    sa = ex.conn.sa
    check_hash(keys.qm_hash3(sa.hash, sa.skeyid_a, msg.message_id, ex.ni_b, ex.nr_b),
               msg.body(T.HASH), "HASH(3)")
    msg.accept()


def established(ex, msg, now):
    """Both ESP SAs are up: their KEYMAT (RFC 2409 5.5) goes out in the
    event, the IKE SA keeps the pair until it expires."""
    conn, sa = ex.conn, ex.conn.sa
    ex.pending = None
    size = ex.proposal.transform.keymat_size
    km_in = sa.keymat(ProtocolId.IPSEC_ESP, ex.spi_in, ex.ni_b, ex.nr_b, size, ex.gxy)
    km_out = sa.keymat(ProtocolId.IPSEC_ESP, ex.spi_out, ex.ni_b, ex.nr_b, size, ex.gxy)
    ex.dh_key = None
    conn.child_established(ex, km_in, km_out, now)


def timeout(ex, msg, now):
    """No authentic answer to our QM1, or no QM3 to our QM2."""
    what = "no answer to %s" % ex.state
    if ex.unauthenticated:
        what += "; " + ex.dropped_text()
    ex.conn.quick_failed(ex, "timeout: " + what, now)


def error_notify(ex, notify, now):
    """The peer refused our Quick Mode with an error notify."""
    ex.conn.quick_failed(ex, "peer notify %s" % notify.name, now,
                         notify.notify_msg_type)


def _least(a, b):
    """The shorter of two lifetimes, None being none."""
    return b if a is None else a if b is None else min(a, b)


def _responder_lifetime(spi, proposal):
    """N(RESPONDER-LIFETIME): our lifetimes for this SA where shorter than
    offered, as SA attributes, seconds and kilobytes (RFC 2407 4.6.3.1)."""
    life = [(IpsecAttribute.SA_LIFE_TYPE, LifeType.SECONDS),
            (IpsecAttribute.SA_LIFE_DURATION, proposal.lifetime)]
    if proposal.lifesize is not None:
        life += [(IpsecAttribute.SA_LIFE_TYPE, LifeType.KILOBYTES),
                 (IpsecAttribute.SA_LIFE_DURATION, proposal.lifesize)]
    attrs = b"".join(IPSEC_ATTRIBUTES.encode(a) for a in life)
    return T.NOTIFICATION, encode_notify(ProtocolId.IPSEC_ESP, spi,
                                         NotifyType.RESPONDER_LIFETIME, attrs)


def _lifetimes_of(data):
    """``(seconds, kilobytes)`` of a RESPONDER-LIFETIME's attributes, None
    for what it does not say (or cannot be read)."""
    try:
        return P.lifetimes(IPSEC_ATTRIBUTES, IPSEC_ATTRIBUTES.decode(None, data))
    except ValueError:
        return None, None
