"""The first messages of a probe: Main Mode's MM1 (SA and vendor IDs) and
Aggressive Mode's AM1 (SA, KE, Nonce, ID and vendor IDs; RFC 2409 5), and
IKEv2's IKE_SA_INIT request (RFC 7296 1.2), which tells whether a gateway
speaks IKEv2.  Built with the engine's own pieces: the SA payload of
:func:`~scapy_ike.core.proposals.ike_sa_payload`, a real Diffie-Hellman
value from :mod:`~scapy_ike.crypto.dh` (a point on the curve for the ECP
groups, so that a gateway that checks it answers), and the payload chain of
:mod:`~scapy_ike.core.message`.
"""

from dataclasses import dataclass
from typing import Optional

from scapy_ike.constants import ExchangeType, PayloadType as T
from scapy_ike.core.exchanges.phase1 import DPD_VID, NATT_VIDS
from scapy_ike.core.message import HEADER, body_of, encode_header, encode_payloads
from scapy_ike.core.proposals import ike_sa_payload
from scapy_ike.crypto import dh

OFFERED_VIDS = tuple(NATT_VIDS) + (DPD_VID,)
"""The vendor IDs a probe sends: the NAT-T versions we speak (RFC 3947,
drafts 02 and 03) and DPD (RFC 3706): a gateway answers with its own
(RFC 3947 3.1), which fingerprinting reads."""


@dataclass(frozen=True)
class FirstMessage:
    """A probe's datagram and what its reply is checked and cracked
    against: our cookie, SAi_b, and in Aggressive Mode g^xi, Ni_b, IDii_b."""

    data: bytes
    cky_i: bytes
    mode: str                 # "main", "aggressive" or "ikev2"
    sai_b: bytes = b""
    gxi: bytes = b""
    ni_b: bytes = b""
    idii_b: bytes = b""


def _message(cky_i, exch_type, payloads):
    chain = encode_payloads(payloads)
    return encode_header(cky_i, bytes(8), payloads[0][0], exch_type, 0, 0,
                         HEADER.size + len(chain)) + chain


def main_mode(offered, random):
    """MM1 offering every proposal of *offered* as one transform each, in
    one ISAKMP proposal (RFC 2409 5)."""
    cky_i = random(8)
    sai_b = body_of(ike_sa_payload(list(offered)))
    payloads = [(T.SA, sai_b)] + [(T.VENDOR_ID, v) for v in OFFERED_VIDS]
    return FirstMessage(_message(cky_i, ExchangeType.MAIN_MODE, payloads), cky_i, "main", sai_b)


def aggressive_mode(offered, identity, random):
    """AM1 offering *offered*, which share one DH group (the KE is for
    it), with our ID payload *identity* (an
    :class:`~scapy_ike.core.config.Identity`)."""
    groups = {p.group for p in offered}
    if len(groups) != 1:
        raise ValueError("an Aggressive Mode offer has one DH group, not %d" % len(groups))
    cky_i = random(8)
    sai_b = body_of(ike_sa_payload(list(offered)))
    _, gxi = dh.generate(groups.pop())
    ni_b, idii_b = random(32), identity.body()
    payloads = [(T.SA, sai_b), (T.KE, gxi), (T.NONCE, ni_b), (T.ID, idii_b)]
    payloads += [(T.VENDOR_ID, v) for v in OFFERED_VIDS]
    return FirstMessage(_message(cky_i, ExchangeType.AGGRESSIVE, payloads), cky_i,
                        "aggressive", sai_b, gxi, ni_b, idii_b)


IKEV2_GROUP = 14
"""The group of our IKE_SA_INIT's KE (modp2048: RFC 8247 2.4, MUST)."""


def ikev2_sa_init(random, group: Optional[int] = None):
    """An IKE_SA_INIT request (RFC 7296 1.2) with one proposal of the
    algorithms every IKEv2 implementation has (RFC 8247 2): AES-CBC-128,
    PRF and integrity HMAC-SHA2-256, modp2048; built with
    ``scapy.contrib.ikev2``."""
    from scapy.contrib.ikev2 import IKEv2, IKEv2_KE, IKEv2_Nonce, IKEv2_Proposal, IKEv2_SA, \
        IKEv2_Transform
    group = IKEV2_GROUP if group is None else group
    spi = random(8)
    _, ke = dh.generate(group)
    transforms = (IKEv2_Transform(transform_type="Encryption", transform_id="AES-CBC",
                                  length=12, key_length=128)   # with its Key Length attribute
                  / IKEv2_Transform(transform_type="PRF", transform_id="PRF_HMAC_SHA2_256")
                  / IKEv2_Transform(transform_type="Integrity",
                                    transform_id="SHA2-256-128")
                  / IKEv2_Transform(transform_type="GroupDesc", transform_id=group))
    packet = (IKEv2(init_SPI=spi, exch_type="IKE_SA_INIT", flags="Initiator")
              / IKEv2_SA(prop=IKEv2_Proposal(proposal=1, proto="IKE", trans_nb=4,
                                             trans=transforms))
              / IKEv2_KE(group=group, ke=ke) / IKEv2_Nonce(nonce=random(32)))
    return FirstMessage(bytes(packet), spi, "ikev2")
