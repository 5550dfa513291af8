"""One configuration object for an endpoint (h2's H2Configuration,
aioquic's QuicConfiguration): role, mode, PSK, identities, proposals,
traffic selectors, NAT-T (keep-alive interval: RFC 3948 4 suggests 20 s),
retransmission, the responder's bounds on half-open SAs (charon's
``half_open_timeout`` 30 s and ``block_threshold`` 5 per source),
lifetimes and rekeying (charon's ``rekey_time``/``rand_time``, its
``delete_rekeyed_delay`` of 5 s for the overlap) and Dead Peer Detection
(RFC 3706: idle for ``dpd_delay``, dead after ``dpd_timeout``)."""

import functools
import hmac
import ipaddress
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Optional, Tuple

from scapy_ike.constants import AuthMethod, IdType
from scapy_ike.core.proposals import (
    DEFAULT_ESP, DEFAULT_IKE, DEFAULT_INITIATOR_ESP, DEFAULT_INITIATOR_IKE, parse_esp_any, parse_ike,
)


@functools.lru_cache(maxsize=64)
def _ike(text, lifetime, auth):
    return tuple(parse_ike(text, auth=auth, lifetime=lifetime))


@functools.lru_cache(maxsize=64)
def _esp(text, tunnel, lifetime, lifesize):
    return tuple(replace(p, lifesize=lifesize)
                 for p in parse_esp_any(text, tunnel=tunnel, lifetime=lifetime))


@dataclass(frozen=True)
class Identity:
    """An IKE identity (RFC 2407 4.6.2): type and data as the ID payload
    carries it."""

    id_type: int
    data: bytes

    @classmethod
    def parse(cls, text):
        """An address gives ID_IPV4_ADDR (or IPV6), ``u@a.b`` ID_USER_FQDN,
        ``keyid:NAME`` ID_KEY_ID (a Cisco group name), anything else
        ID_FQDN."""
        if text.startswith("keyid:"):
            return cls(IdType.KEY_ID, text[len("keyid:"):].encode())
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            kind = IdType.USER_FQDN if "@" in text else IdType.FQDN
            return cls(kind, text.encode())
        kind = IdType.IPV6_ADDR if address.version == 6 else IdType.IPV4_ADDR
        return cls(kind, address.packed)

    @classmethod
    def of_network(cls, network):
        """A Quick Mode identity for a traffic selector: ID_IPV4_ADDR
        (IPV6) for a host, ID_IPV4_ADDR_SUBNET (IPV6) otherwise."""
        v6 = network.version == 6
        if network.prefixlen == network.max_prefixlen:
            return cls(IdType.IPV6_ADDR if v6 else IdType.IPV4_ADDR,
                       network.network_address.packed)
        return cls(IdType.IPV6_ADDR_SUBNET if v6 else IdType.IPV4_ADDR_SUBNET,
                   network.network_address.packed + network.netmask.packed)

    @classmethod
    def from_body(cls, body):
        """The identity of an ID payload body (protocol and port aside)."""
        return cls(body[0], bytes(body[4:])) if len(body) >= 4 else cls(0, b"")

    def body(self, protocol=0, port=0):
        """The ID payload body: type, protocol, port, data."""
        return bytes([self.id_type, protocol]) + port.to_bytes(2, "big") + self.data

    def __str__(self):
        """As strongSwan prints an identity: the address, subnet or name."""
        network = self.network()
        if network is not None:
            return str(network.network_address if self.id_type not in _SUBNETS else network)
        if self.id_type in (IdType.FQDN, IdType.USER_FQDN, IdType.KEY_ID):
            return self.data.decode(errors="replace")
        return "%s %s" % (_type_name(self.id_type), self.data.hex())

    def network(self):
        """The addresses an ADDR or ADDR_SUBNET identity names, or None
        (other types, wrong sizes, a mask with holes)."""
        size = _ADDRESS_SIZES.get(self.id_type)
        if size is None or len(self.data) != size * (2 if self.id_type in _SUBNETS else 1):
            return None
        address = ipaddress.ip_address(self.data[:size])
        if self.id_type not in _SUBNETS:
            return ipaddress.ip_network(address)
        mask = int.from_bytes(self.data[size:], "big")
        prefix = bin(mask).count("1")
        if mask != ((1 << prefix) - 1) << (size * 8 - prefix):
            return None
        return ipaddress.ip_network((address, prefix), strict=False)


def _type_name(id_type):
    try:
        return IdType(id_type).name
    except ValueError:
        return "ID type %d" % id_type


_ADDRESS_SIZES = {IdType.IPV4_ADDR: 4, IdType.IPV4_ADDR_SUBNET: 4,
                  IdType.IPV6_ADDR: 16, IdType.IPV6_ADDR_SUBNET: 16}
_SUBNETS = (IdType.IPV4_ADDR_SUBNET, IdType.IPV6_ADDR_SUBNET)


@dataclass(frozen=True)
class Retransmission:
    """First timeout, backoff factor and tries (charon: 4 s, 1.8, 5)."""

    timeout: float = 4.0
    base: float = 1.8
    tries: int = 5

    def delays(self):
        return [self.timeout * self.base ** n for n in range(self.tries)]

    def span(self):
        """How long a request is retransmitted before it times out."""
        return sum(self.delays())


_SECRETS = ("psk", "xauth_password")
"""Fields a repr shows only the length of."""


@dataclass(frozen=True)
class Configuration:
    """Everything an endpoint needs; proposal strings use strongSwan's
    syntax (Cisco transform sets for ESP too).  Its repr shows what differs
    from the defaults, secrets hidden:

    >>> Configuration(role="responder", psk="secret", ike="aes128-sha256-modp2048")
    Configuration(role='responder', psk=<hidden 6 bytes>, ike='aes128-sha256-modp2048')
    """

    role: str = "initiator"
    mode: Optional[str] = None      # the initiator's (main by default); a responder's only one
    psk: bytes = b""
    ike: Optional[str] = None       # None: DEFAULT_INITIATOR_IKE, or a responder's DEFAULT_IKE
    esp: Optional[str] = None
    local_id: Optional[str] = None
    remote_id: Optional[str] = None
    local_ts: str = "0.0.0.0/0"
    remote_ts: str = "0.0.0.0/0"
    tunnel: bool = True
    nat_t: object = True            # True, "rfc3947", "drafts" (02/03) or False
    force_encap: bool = False
    ike_lifetime: int = 28800
    esp_lifetime: int = 3600
    esp_lifesize: Optional[int] = None  # kilobytes; None: no limit
    rekey_margin: float = 0.1       # rekey this share of a lifetime before it ends ...
    rekey_fuzz: float = 0.5         # ... and up to this share of the margin earlier
    rekey_overlap: float = 5.0      # the old ESP SAs kept this long after their rekey
    dpd_delay: float = 0.0          # R-U-THERE after this long without word from the peer
    dpd_timeout: Optional[float] = None     # then dead after this long (5 delays)
    retransmission: Retransmission = field(default_factory=Retransmission)
    keepalive: float = 20.0
    initial_contact: bool = True
    xauth: Optional[str] = None     # "server" or "client" (draft-beaulieu-ike-xauth-02)
    xauth_user: str = ""            # a client's credentials
    xauth_password: str = ""
    xauth_users: object = ()        # a server's (user, password) pairs, or check(user, password)
    xauth_tries: int = 3            # a server's REQUESTs before it gives up
    xauth_message: str = ""         # a server's XAUTH-MESSAGE, shown to the user
    modecfg: Optional[str] = None   # "pull" (the client asks) or "push" (the server sets)
    modecfg_attributes: Tuple = ()  # a server's: ModeConfig attributes beside the address
    pool: object = None             # a server's: the prefixes it leases (a CIDR per family)
    half_open_timeout: float = 30.0
    half_open_per_source: int = 5
    max_half_open: int = 2048
    linger: float = 10.0

    def __post_init__(self):
        if self.role not in ("initiator", "responder"):
            raise ValueError("role is initiator or responder, not %r" % self.role)
        if self.mode not in (None, "main", "aggressive"):
            raise ValueError("mode is main or aggressive, not %r" % self.mode)
        if self.xauth not in (None, "server", "client"):
            raise ValueError("xauth is 'server', 'client' or None, not %r" % (self.xauth,))
        if self.modecfg not in (None, "pull", "push"):
            raise ValueError("modecfg is 'pull', 'push' or None, not %r" % (self.modecfg,))
        if isinstance(self.pool, str):
            object.__setattr__(self, "pool", tuple(p.strip() for p in self.pool.split(",")))
        if self.pool is not None:
            pool = tuple(str(ipaddress.ip_network(p)) for p in self.pool)
            if len({ipaddress.ip_network(p).version for p in pool}) != len(pool):
                raise ValueError("pool is one prefix per address family, not %s"
                                 % ", ".join(pool))
            object.__setattr__(self, "pool", pool or None)
        if not callable(self.xauth_users):
            object.__setattr__(self, "xauth_users", tuple(tuple(u) for u in self.xauth_users))
        if self.nat_t not in (True, False, "rfc3947", "drafts"):
            raise ValueError("nat_t is True, False, 'rfc3947' or 'drafts', not %r" % (self.nat_t,))
        if isinstance(self.psk, str):
            object.__setattr__(self, "psk", self.psk.encode())
        elif isinstance(self.psk, (bytearray, memoryview)):
            object.__setattr__(self, "psk", bytes(self.psk))
        elif not isinstance(self.psk, bytes):
            raise TypeError("psk is bytes or text, not %s" % type(self.psk).__name__)
        for name in ("ike_lifetime", "esp_lifetime"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError("%s is a positive number of seconds, not %r"
                                 % (name, getattr(self, name)))
        if self.esp_lifesize is not None and (not isinstance(self.esp_lifesize, int)
                                              or self.esp_lifesize < 1):
            raise ValueError("esp_lifesize is a positive number of kilobytes or None, not %r"
                             % (self.esp_lifesize,))
        if not 0 <= self.rekey_fuzz <= 1 or not 0 < self.rekey_margin * (1 + self.rekey_fuzz) < 1:
            raise ValueError("rekey_fuzz is between 0 and 1, and rekey_margin with its fuzz "
                             "less than the whole lifetime")
        if self.dpd_delay < 0 or (self.dpd_timeout is not None and self.dpd_timeout <= 0):
            raise ValueError("dpd_delay is 0 (off) or more, dpd_timeout positive or None")
        for name in ("half_open_per_source", "max_half_open"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError("%s is a positive whole number, not %r" % (name, value))
        groups = {p.group for p in self.ike_proposals()}
        if self.role == "initiator" and self.initiator_mode == "aggressive" and len(groups) > 1:
            raise ValueError("Aggressive Mode sends its KE in the first message, so its "
                             "proposals must share one DH group (these have %s)"
                             % ", ".join(str(g) for g in sorted(groups)))
        self.esp_proposals()
        self.selectors()

    def __repr__(self):
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            default = f.default_factory() if f.default is MISSING else f.default
            if value == default:
                continue
            if f.name in _SECRETS:
                text = "<hidden %d bytes>" % len(value)
            elif f.name == "xauth_users":
                text = "<a check>" if callable(value) else "<%d users>" % len(value)
            else:
                text = repr(value)
            shown.append("%s=%s" % (f.name, text))
        return "Configuration(%s)" % ", ".join(shown)

    @property
    def initiator_mode(self):
        """The mode an initiator starts: Main Mode unless told otherwise."""
        return self.mode or "main"

    def ike_proposals(self):
        """Phase 1 proposals: the configured ones, else the defaults of
        the role (a responder accepts what current peers offer; weak
        algorithms only when configured)."""
        default = DEFAULT_INITIATOR_IKE if self.role == "initiator" else DEFAULT_IKE
        return _ike(self.ike or default, self.ike_lifetime, self.auth_method)

    @property
    def auth_method(self):
        """The Oakley authentication method of our proposals: a pre-shared
        key, or with XAuth XAUTHInitPreShared when the IKE initiator is the
        XAuth client (the usual case), else XAUTHRespPreShared
        (draft-beaulieu-ike-xauth-02 4)."""
        if self.xauth is None:
            return AuthMethod.PSK
        initiator_is_client = (self.xauth == "client") == (self.role == "initiator")
        return AuthMethod.XAUTH_INIT_PSK if initiator_is_client else AuthMethod.XAUTH_RESP_PSK

    def xauth_accepts(self, user, password):
        """Whether a server takes *password* (bytes) for *user*: from its
        table, compared in constant time, or by its callable."""
        if callable(self.xauth_users):
            return bool(self.xauth_users(user, password))
        known = dict(self.xauth_users).get(user)
        return known is not None and hmac.compare_digest(known.encode(), password)

    @property
    def phase15(self):
        """Whether XAuth or Mode Config comes between Phase 1 and Quick Mode."""
        return self.xauth is not None or self.modecfg is not None

    def esp_proposals(self):
        default = DEFAULT_INITIATOR_ESP if self.role == "initiator" else DEFAULT_ESP
        return _esp(self.esp or default, self.tunnel, self.esp_lifetime, self.esp_lifesize)

    @property
    def dead_after(self):
        """How long R-U-THEREs go unanswered before the peer is dead."""
        return self.dpd_timeout if self.dpd_timeout is not None else 5 * self.dpd_delay

    def soft(self, hard, random_share, margin=None):
        """When to rekey something that ends at *hard* (seconds or
        kilobytes from its start): *margin* (``rekey_margin``) before, and
        up to ``rekey_fuzz`` of it more, by *random_share* in [0, 1), as
        charon's ``rekey_time`` and ``rand_time``."""
        margin = self.rekey_margin if margin is None else margin
        return hard * (1 - margin * (1 + self.rekey_fuzz * random_share))

    def identity(self, local_address):
        """Our identity: the configured one, else our address."""
        return _identity(self.local_id or local_address)

    def selectors(self) -> Tuple[ipaddress.IPv4Network, ipaddress.IPv4Network]:
        return _networks(self.local_ts, self.remote_ts)


@functools.lru_cache(maxsize=256)
def _identity(text):
    return Identity.parse(text)


@functools.lru_cache(maxsize=64)
def _networks(*texts):
    return tuple(ipaddress.ip_network(text) for text in texts)
