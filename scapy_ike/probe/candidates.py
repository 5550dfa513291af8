"""The Phase 1 transforms a probe asks about: every cipher with an Oakley
value and each of its key sizes, every hash, the DH groups gateways
implement, and the authentication methods of remote access (RFC 2409
Appendix A; XAuth: draft-beaulieu-ike-xauth-02 5; hybrid:
draft-ietf-ipsec-isakmp-hybrid-auth-05), taken from the one algorithm
table, :mod:`scapy_ike.crypto.registry`."""

import itertools

from scapy_ike.constants import AuthMethod, Group
from scapy_ike.core.proposals import IkeProposal
from scapy_ike.crypto import dh, registry

AUTH_NAMES = {
    AuthMethod.PSK: "psk",
    AuthMethod.RSA_SIG: "rsa",
    AuthMethod.XAUTH_INIT_PSK: "xauth-psk",
    AuthMethod.XAUTH_INIT_RSA: "xauth-rsa",
    AuthMethod.HYBRID_INIT_RSA: "hybrid-rsa",
}
"""The methods enumerated, by the names the report gives them."""

XAUTH_METHODS = frozenset((AuthMethod.XAUTH_INIT_PSK, AuthMethod.XAUTH_INIT_RSA,
                           AuthMethod.HYBRID_INIT_RSA))

GROUPS = (Group.MODP768, Group.MODP1024, Group.MODP1536, Group.MODP2048, Group.MODP3072,
          Group.MODP4096, Group.MODP6144, Group.MODP8192, Group.ECP256, Group.ECP384,
          Group.ECP521, Group.MODP1024_S160, Group.MODP2048_S224, Group.MODP2048_S256,
          Group.CURVE25519)
"""The groups asked about: RFC 2409 6, RFC 3526, RFC 5903, RFC 5114 and
RFC 8031's curve25519, which charon, libreswan, Cisco and Juniper offer."""


def auth_name(method):
    """The report's name of an authentication method (``psk``), or its number."""
    return AUTH_NAMES.get(method, str(int(method)))


def ciphers():
    """``(cipher, key size)`` of every Phase 1 cipher in the table."""
    return [(c, size) for c in registry.CIPHERS if c.ike_id is not None for size in c.key_sizes]


def candidates(auths=tuple(AUTH_NAMES), groups=GROUPS, computable=False):
    """Every combination, strongest cipher first; *computable*: only the
    groups whose KE can be made here (Aggressive Mode sends one)."""
    if computable:
        groups = [g for g in groups if dh.group(g).supported]
    order = sorted(ciphers(), key=lambda cs: (cs[0].decrepit, -cs[1]))
    return [IkeProposal(cipher, size, h, group, auth)
            for auth, (cipher, size), h, group in itertools.product(
                auths, order, reversed(registry.HASHES), groups)]


COMMON = "aes256-aes128-3des-sha256-sha1-md5-modp2048-modp1536-modp1024-ecp256"
"""What a discovery probe offers (strongSwan syntax): the suites most
gateways still accept."""
