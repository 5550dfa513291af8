"""Phase 1 authentication behind one seam (RFC 2409 5): an
:class:`Authenticator` per method makes SKEYID, the payload that proves
our identity and the check of the peer's.  Pre-shared keys (5.4, and the
XAuth variants that authenticate the same way) are here; signatures
(5.1) will be one more class, not branches in the exchanges."""

from scapy_ike.constants import PayloadType as T
from scapy_ike.core.errors import LocalProtocolError
from scapy_ike.core.sa import PSK_METHODS
from scapy_ike.crypto import keys


class Authenticator:
    """What a Phase 1 exchange asks of an authentication method."""

    methods = frozenset()

    def skeyid(self, sa):
        """SKEYID for the nonces (and g^xy) of *sa*."""
        raise NotImplementedError

    def proof(self, sa, initiator):
        """The payload ``(type, body)`` that authenticates us: HASH_I when
        *initiator*, else HASH_R."""
        raise NotImplementedError

    def verify(self, sa, initiator, msg, ident):
        """Whether *msg* proves the peer (the initiator when *initiator*)
        whose ID payload body is *ident*."""
        raise NotImplementedError


class PreSharedKey(Authenticator):
    """SKEYID = prf(pre-shared-key, Ni_b | Nr_b); HASH_I / HASH_R prove
    knowledge of it (RFC 2409 5.4)."""

    methods = frozenset(PSK_METHODS)

    def __init__(self, psk):
        self.psk = psk

    def skeyid(self, sa):
        return keys.skeyid_psk(sa.hash, self.psk, sa.ni_b, sa.nr_b)

    def proof(self, sa, initiator):
        make = keys.hash_i if initiator else keys.hash_r
        ident = sa.idii_b if initiator else sa.idir_b
        return T.HASH, make(sa.hash, sa.skeyid, sa.gxi, sa.gxr, sa.cky_i, sa.cky_r,
                            sa.sai_b, ident)

    def verify(self, sa, initiator, msg, ident):
        received = msg.bodies(T.HASH)
        if not received:
            return False
        check = sa.verify_hash_i if initiator else sa.verify_hash_r
        return check(received[0], ident)


def authenticator(config, method):
    """The authenticator of *method* (an Oakley authentication method)
    as *config* provides it."""
    if method in PreSharedKey.methods:
        return PreSharedKey(config.psk)
    raise LocalProtocolError("authentication method %d is not supported" % method)
