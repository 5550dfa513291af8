"""Proposals: what a network engineer writes (strongSwan's proposal syntax,
Cisco's transform-set names), the SA payloads they become (RFC 2408 3.4-3.6,
RFC 2409 Appendix A, RFC 2407 4.5), the responder's choice among the
transforms a peer offers, what a responder accepts by default, and the
strongSwan-style text of an offer that a NO-PROPOSAL-CHOSEN reason quotes.

Selection policy: like strongSwan's default (``prefer_configured_proposals``),
the responder walks its own proposals in its configured order and takes the
first one that any offered transform matches; lifetimes do not take part in
the match (a shorter local lifetime is announced with RESPONDER-LIFETIME).
"""

import itertools
from dataclasses import dataclass
from typing import Optional

from scapy_ike.attributes import IPSEC_ATTRIBUTES, OAKLEY_ATTRIBUTES
from scapy_ike.constants import (
    AuthMethod, EncapsulationMode, IpsecAttribute, LifeType, OakleyAttribute, ProtocolId,
)
from scapy_ike.crypto import registry
from scapy_ike.esp import EspTransform
from scapy_ike.names import PROTOCOL_NAMES


class ProposalError(ValueError):
    """A proposal string that cannot be read."""


_AUTH_NAMES = OAKLEY_ATTRIBUTES.value_names[OakleyAttribute.AUTHENTICATION_METHOD]


def auth_name(method):
    """The name of an Oakley authentication method (RFC 2409 Appendix A,
    draft-beaulieu-ike-xauth-02 4): ``PSK``, ``XAUTHInitPreShared``..."""
    return _AUTH_NAMES.get(method, str(method))


@dataclass(frozen=True)
class IkeProposal:
    """One Phase 1 transform (RFC 2409 Appendix A)."""

    cipher: registry.Cipher
    key_size: int
    hash: registry.Hash
    group: int
    auth: int = AuthMethod.PSK
    lifetime: int = 28800

    def attributes(self):
        """The transform's attributes, Oakley numbers as keys."""
        attrs = [(OakleyAttribute.ENCRYPTION_ALGORITHM, self.cipher.ike_id)]
        if len(self.cipher.key_sizes) > 1:
            attrs.append((OakleyAttribute.KEY_LENGTH, self.key_size * 8))
        attrs += [(OakleyAttribute.HASH_ALGORITHM, self.hash.ike_id),
                  (OakleyAttribute.GROUP_DESCRIPTION, self.group),
                  (OakleyAttribute.AUTHENTICATION_METHOD, self.auth),
                  (OakleyAttribute.LIFE_TYPE, LifeType.SECONDS),
                  (OakleyAttribute.LIFE_DURATION, self.lifetime)]
        return [(OAKLEY_ATTRIBUTES.type_names[int(t)], int(v)) for t, v in attrs]

    def key(self):
        """What a match compares."""
        return self.cipher.name, self.key_size, self.hash.name, self.group, self.auth

    def suite(self):
        """strongSwan's name for its algorithms (``aes256-sha256-modp2048``),
        as ``--ike`` takes it."""
        return "-".join((self.cipher.keyword(self.key_size), self.hash.name,
                         registry.dh_group(self.group).name))

    def describe(self):
        """strongSwan's name for it (``aes256-sha256-modp2048``), with the
        authentication method when it is not a pre-shared key."""
        text = self.suite()
        if self.auth != AuthMethod.PSK:
            text += " (auth %s)" % auth_name(self.auth)
        return text


@dataclass(frozen=True)
class EspProposal:
    """One Quick Mode ESP transform, with its PFS group (RFC 2407 4.5)."""

    transform: EspTransform
    group: Optional[int] = None
    lifetime: int = 3600
    lifesize: Optional[int] = None      # kilobytes (RFC 2407 4.5), None: no limit

    def attributes(self, udp_encap=False, draft=False):
        """The transform's attributes; *udp_encap* asks for UDP-encapsulated
        tunnel mode (RFC 3947 5.2, or the drafts' 61443)."""
        t = self.transform
        mode = EncapsulationMode.TUNNEL if t.tunnel else EncapsulationMode.TRANSPORT
        if udp_encap:
            mode = {(True, False): EncapsulationMode.UDP_TUNNEL,
                    (False, False): EncapsulationMode.UDP_TRANSPORT,
                    (True, True): EncapsulationMode.UDP_TUNNEL_DRAFT,
                    (False, True): EncapsulationMode.UDP_TRANSPORT_DRAFT}[(t.tunnel, draft)]
        attrs = [(IpsecAttribute.SA_LIFE_TYPE, LifeType.SECONDS),
                 (IpsecAttribute.SA_LIFE_DURATION, self.lifetime)]
        if self.lifesize is not None:
            attrs += [(IpsecAttribute.SA_LIFE_TYPE, LifeType.KILOBYTES),
                      (IpsecAttribute.SA_LIFE_DURATION, self.lifesize)]
        attrs.append((IpsecAttribute.ENCAPSULATION_MODE, mode))
        if t.integrity.auth_id is not None:
            attrs.append((IpsecAttribute.AUTHENTICATION_ALGORITHM, t.integrity.auth_id))
        if len(t.cipher.key_sizes) > 1:
            attrs.append((IpsecAttribute.KEY_LENGTH, t.key_size * 8))
        if self.group is not None:
            attrs.append((IpsecAttribute.GROUP_DESCRIPTION, self.group))
        return [(IPSEC_ATTRIBUTES.type_names[int(k)], int(v)) for k, v in attrs]

    def key(self):
        t = self.transform
        return t.cipher.name, t.key_size, t.integrity.name, t.tunnel, self.group

    def describe(self):
        """strongSwan's name for it (``aes128-sha1``, ``aes256gcm16-modp2048``
        with PFS), marked when it is for transport mode."""
        t = self.transform
        words = [t.cipher.keyword(t.key_size)]
        if t.integrity.icv_size:
            words.append(t.integrity.name)
        if self.group is not None:
            words.append(registry.dh_group(self.group).name)
        return "-".join(words) + ("" if t.tunnel else " (transport)")


# -- defaults ---------------------------------------------------------------

_GROUPS = "curve25519-ecp256-ecp384-ecp521-modp3072-modp4096-modp6144-modp8192-modp2048"

DEFAULT_IKE = ("aes128-aes192-aes256-sha256-sha384-sha512-" + _GROUPS + ", "
               "aes128-aes192-aes256-sha1-" + _GROUPS)
"""What a responder accepts in Phase 1 unless configured (108 transforms):
charon's ``default`` IKE proposal (strongSwan 5.9.8, proposal.c
``proposal_add_supported_ike``) as far as IKEv1 carries it, in charon's
order, SHA-1 last as charon ranks it.  Left out: what IKEv1 cannot carry
(AES-CTR, AEAD, the XCBC and CMAC prfs), 3DES, Camellia, and Brainpool and
curve448, which charon never offers first: its openssl plugin registers
X25519 before X448 and the NIST curves before Brainpool.

For IKEv1 charon sends one transform per proposal, with the first
algorithm of each kind (proposal_substructure.c
``set_from_proposal_v1_ike``): with ``default`` that is aes128-sha256 and
curve25519, ecp256 or modp3072, as its plugins go, and a transform of its
AEAD proposal that has no cipher and no hash."""

DEFAULT_ESP = ("aes128gcm16-aes192gcm16-aes256gcm16-" + _GROUPS + "-none, "
               "aes128-aes192-aes256-sha256-sha384-sha512-" + _GROUPS + "-none, "
               "aes128-aes192-aes256-sha1-aesxcbc-" + _GROUPS + "-none")
"""What a responder accepts in Quick Mode unless configured (180
transforms): charon's ``default`` ESP proposals (proposal.c
``proposal_create_default_aead``, then ``proposal_create_default``, the
order of charon-cmd and of the desktop and mobile clients), each with PFS
in a group of :data:`DEFAULT_IKE` or without.  From them charon offers
aes128-sha256 and aes128gcm16."""

DEFAULT_INITIATOR_IKE = "aes256-sha256-modp2048"
"""What an initiator offers in Phase 1 unless configured."""

DEFAULT_INITIATOR_ESP = "aes256-sha256"
"""What an initiator offers in Quick Mode unless configured."""


# -- strongSwan's proposal syntax ----------------------------------------------

def _cipher(keyword):
    """(cipher, key size) of an encryption keyword, or None."""
    try:
        return registry.cipher_by_keyword(keyword)
    except KeyError:
        return None


def _hash(keyword):
    try:
        return registry.hash_algorithm(keyword)
    except KeyError:
        return None


def _integrity(keyword):
    try:
        integ = registry.integrity(keyword)
    except KeyError:
        return None
    return integ if integ.icv_size else None


def _group(keyword):
    try:
        return registry.dh_group(keyword).number
    except KeyError:
        return None


def _cannot_carry(keyword, where, what, source):
    return ProposalError("%r cannot be used %s: it has no %s (%s)" % (keyword, where, what, source))


def _split(text):
    for proposal in (p.strip() for p in text.split(",")):
        if not proposal:
            continue
        yield proposal, proposal.lower().split("-")


def parse_ike(text, auth=AuthMethod.PSK, lifetime=28800):
    """Phase 1 proposals in strongSwan's syntax (``aes256-sha256-modp2048``;
    several algorithms of a kind give every combination; a comma separates
    proposals), in order of preference.

    The hash is also the prf (RFC 2409 4: Appendix A defines no PRF
    values), so ``prfsha256`` and the like are read and left out, as charon
    does for IKEv1.  A cipher or integrity algorithm without an Oakley value
    (AES-GCM, AES-CTR, ChaCha20-Poly1305, AES-XCBC ...) is refused."""
    out = []
    for proposal, words in _split(text):
        ciphers, hashes, groups = [], [], []
        for word in words:
            found = _cipher(word)
            stem = word.removeprefix("prf")
            if found:
                if found[0].ike_id is None:
                    raise _cannot_carry(word, "in IKEv1 Phase 1", "Oakley encryption algorithm",
                                        "RFC 2409 Appendix A")
                ciphers.append(found)
            elif _hash(stem):
                if stem == word:
                    hashes.append(_hash(word))
            elif _integrity(stem):
                raise _cannot_carry(word, "in IKEv1 Phase 1", "Oakley hash algorithm",
                                    "RFC 2409 Appendix A")
            elif _group(word) is not None:
                groups.append(_group(word))
            else:
                raise ProposalError("unknown IKE algorithm %r in %r" % (word, proposal))
        if not (ciphers and hashes and groups):
            raise ProposalError("%r needs a cipher, a hash and a DH group" % proposal)
        for (cipher, size), h, g in itertools.product(ciphers, hashes, groups):
            out.append(IkeProposal(cipher, size, h, g, auth, lifetime))
    return out


def parse_esp(text, tunnel=True, lifetime=3600):
    """Quick Mode proposals in strongSwan's syntax (``aes256-sha256``,
    ``aes128gcm16-ecp256`` with PFS), in order of preference.  A cipher
    without an ESP transform identifier (ChaCha20-Poly1305) or an integrity
    algorithm without an IPsec authentication algorithm value (AES-CMAC,
    HMAC-SHA-256-96) is refused: IKEv1 cannot negotiate it.  ``none`` (or
    ``modpnone``) among the groups also accepts no PFS."""
    out = []
    for proposal, words in _split(text):
        ciphers, integrities, groups = [], [], []
        for word in words:
            found = _cipher(word)
            integ = _integrity(word)
            if found:
                if found[0].esp_id is None:
                    raise _cannot_carry(word, "with IKEv1", "ESP transform identifier",
                                        "RFC 2407 4.4.4")
                ciphers.append(found)
            elif word in ("esn", "noesn"):
                continue
            elif word in ("none", "modpnone"):
                groups.append(None)
            elif integ:
                if integ.auth_id is None:
                    raise _cannot_carry(word, "with IKEv1", "IPsec authentication algorithm",
                                        "RFC 2407 4.5")
                integrities.append(integ)
            elif _group(word) is not None:
                groups.append(_group(word))
            else:
                raise ProposalError("unknown ESP algorithm %r in %r" % (word, proposal))
        out += _esp_combinations(proposal, ciphers, integrities, groups or [None],
                                 tunnel, lifetime)
    return out


def _esp_combinations(proposal, ciphers, integrities, groups, tunnel, lifetime):
    if not ciphers:
        raise ProposalError("%r needs a cipher" % proposal)
    out = []
    for (cipher, size), group in itertools.product(ciphers, groups):
        if cipher.aead:
            choices = [registry.integrity("null")]
        elif integrities:
            choices = integrities
        else:
            raise ProposalError("%r needs an integrity algorithm for %s" % (proposal, cipher.name))
        for integ in choices:
            out.append(EspProposal(EspTransform(cipher, size, integ, tunnel=tunnel),
                                   group, lifetime))
    return out


_CISCO_CIPHERS = {"esp-aes": "aes", "esp-3des": "3des", "esp-des": "des", "esp-null": "null",
                  "esp-gcm": "aesgcm16", "esp-gmac": "null_aes_gmac"}
_CISCO_INTEGRITY = {"esp-md5-hmac": "md5", "esp-sha-hmac": "sha1", "esp-sha256-hmac": "sha256",
                    "esp-sha384-hmac": "sha384", "esp-sha512-hmac": "sha512"}


def parse_cisco(text, tunnel=True, lifetime=3600, group=None):
    """A Cisco IOS transform set (``esp-aes 192 esp-md5-hmac``), as in
    ``crypto ipsec transform-set NAME esp-aes 256 esp-sha-hmac``."""
    words = text.lower().split()
    ciphers, integrities = [], []
    i = 0
    while i < len(words):
        word = words[i]
        if word in _CISCO_CIPHERS:
            cipher = registry.cipher(_CISCO_CIPHERS[word])
            size = cipher.key_sizes[0]
            if i + 1 < len(words) and words[i + 1].isdigit():
                size, i = int(words[i + 1]) // 8, i + 1
            ciphers.append((cipher, size))
        elif word in _CISCO_INTEGRITY:
            integrities.append(registry.integrity(_CISCO_INTEGRITY[word]))
        else:
            raise ProposalError("unknown transform %r in %r" % (word, text))
        i += 1
    return _esp_combinations(text, ciphers, integrities, [group], tunnel, lifetime)


def cisco_transform(transform):
    """An ESP transform as IOS writes it in ``show crypto ipsec sa``
    (``esp-aes 256 esp-sha-hmac``; the key size left out when it is the
    one :func:`parse_cisco` assumes), strongSwan's keyword for an algorithm
    IOS has no name for."""
    cipher, integrity = transform.cipher, transform.integrity
    words = [next((cisco for cisco, name in _CISCO_CIPHERS.items() if name == cipher.name),
                  cipher.keyword(transform.key_size))]
    if words[0].startswith("esp-") and transform.key_size != cipher.key_sizes[0]:
        words.append(str(transform.key_size * 8))
    if integrity.name != "null":
        words.append(next((cisco for cisco, name in _CISCO_INTEGRITY.items()
                           if name == integrity.name), integrity.name))
    return " ".join(words)


def parse_esp_any(text, **kwargs):
    """strongSwan syntax, or a Cisco transform set when it starts ``esp-``."""
    if text.strip().lower().startswith("esp-"):
        return parse_cisco(text, **kwargs)
    return parse_esp(text, **kwargs)


# -- SA payloads ----------------------------------------------------------

def _chained(layers):
    """The first of *layers*, each the payload of the one before: linked in
    place, where ``a / b`` would copy the chain built so far each time."""
    for layer, after in zip(layers, layers[1:]):
        layer.add_payload(after)
    return layers[0] if layers else None


def ike_sa_payload(proposals):
    """The Phase 1 SA payload: one ISAKMP proposal with a KEY_IKE
    transform per proposal (RFC 2409 5)."""
    from scapy_ike.layers.isakmp import (
        ISAKMP_payload_Proposal, ISAKMP_payload_SA, ISAKMP_payload_Transform,
    )
    transforms = _chained([
        ISAKMP_payload_Transform(transform_count=number, transform_id="KEY-IKE",
                                 transforms=proposal.attributes())
        for number, proposal in enumerate(proposals, 1)])
    return ISAKMP_payload_SA(prop=ISAKMP_payload_Proposal(proto=ProtocolId.ISAKMP, trans=transforms))


def esp_sa_payload(proposals, spi, udp_encap=False, draft=False):
    """The Quick Mode SA payload: one ESP proposal with our inbound *spi*
    and a transform per proposal (RFC 2409 5.5)."""
    from scapy_ike.layers.isakmp import (
        ISAKMP_payload_Proposal, ISAKMP_payload_SA, ISAKMP_payload_Transform,
    )
    transforms = _chained([
        ISAKMP_payload_Transform(transform_count=number,
                                 transform_id=proposal.transform.cipher.esp_id,
                                 transforms=proposal.attributes(udp_encap, draft))
        for number, proposal in enumerate(proposals, 1)])
    return ISAKMP_payload_SA(prop=ISAKMP_payload_Proposal(
        proto=ProtocolId.IPSEC_ESP, SPI=spi, trans=transforms))


def offered_transforms(sa):
    """``(proposal, transform)`` for every Transform payload of every
    proposal of an SA payload: its Scapy layer (none when it was too short
    to dissect as one), or the engine's struct reading of it
    (:class:`~scapy_ike.core.message.SaPayload`)."""
    for prop in getattr(sa, "proposals", ()):
        for t in prop.trans:
            yield prop, t
    prop = getattr(sa, "prop", None)
    if prop is None:
        return
    from scapy_ike.layers.isakmp import ISAKMP_payload_Proposal, ISAKMP_payload_Transform
    while isinstance(prop, ISAKMP_payload_Proposal):
        t = prop.trans
        while isinstance(t, ISAKMP_payload_Transform):
            yield prop, t
            t = t.payload
        prop = prop.payload


def _key_size(cipher, bits):
    """Key bytes for a Key Length attribute of *bits* (0: none, the
    cipher's only size)."""
    if not bits:
        return cipher.key_sizes[0]
    if bits % 8 or bits // 8 not in cipher.key_sizes:
        raise ValueError("%s with a key of %d bits" % (cipher.name, bits))
    return bits // 8


_LIFE = {False: (OakleyAttribute.LIFE_TYPE, OakleyAttribute.LIFE_DURATION),
         True: (IpsecAttribute.SA_LIFE_TYPE, IpsecAttribute.SA_LIFE_DURATION)}


def lifetimes(space, attributes):
    """``(seconds, kilobytes)`` of decoded SA attributes, None for a kind
    not given: each Life Type is followed by its Life Duration, and both
    kinds may come (RFC 2407 4.5, RFC 2409 Appendix A).  ValueError for
    a duration without its type, or a type unknown."""
    life_type, life_duration = _LIFE[space is IPSEC_ATTRIBUTES]
    out = {}
    kind = None
    for name, value in attributes or ():
        number = space.type_number(name) if name is not None else None
        if number == life_type:
            kind = int(space.value_number(number, value))
            if kind not in (LifeType.SECONDS, LifeType.KILOBYTES):
                raise ValueError("unknown life type %d" % kind)
        elif number == life_duration:
            if kind is None:
                raise ValueError("a life duration without its life type")
            duration = space.value_number(number, value)
            out[kind] = int.from_bytes(duration, "big") if isinstance(duration, bytes) \
                else int(duration)
            kind = None
    return out.get(LifeType.SECONDS), out.get(LifeType.KILOBYTES)


def _why(error):
    """The reason a lookup or an attribute check gave, as text."""
    text = error.args[0] if error.args and not isinstance(error, TypeError) else None
    return text if isinstance(text, str) else "unreadable attributes"


_IKE_NEEDS = ((OakleyAttribute.ENCRYPTION_ALGORITHM, "cipher"),
              (OakleyAttribute.HASH_ALGORITHM, "hash"),
              (OakleyAttribute.GROUP_DESCRIPTION, "DH group"))


def _read_ike(transform):
    """``(IkeProposal, None)`` for a Phase 1 Transform payload (RFC 2409
    Appendix A attributes), or ``(None, why not)``."""
    try:
        values = OAKLEY_ATTRIBUTES.numbers(transform.transforms or [])
        missing = [what for attr, what in _IKE_NEEDS if attr not in values]
        if missing:
            return None, "no " + ", no ".join(missing)
        cipher = registry.cipher_by_ike_id(int(values[OakleyAttribute.ENCRYPTION_ALGORITHM]))
        h = registry.hash_algorithm(int(values[OakleyAttribute.HASH_ALGORITHM]))
        group = registry.dh_group(int(values[OakleyAttribute.GROUP_DESCRIPTION])).number
        size = _key_size(cipher, int(values.get(OakleyAttribute.KEY_LENGTH, 0)))
        lifetime = lifetimes(OAKLEY_ATTRIBUTES, transform.transforms)[0] or 28800
        auth = int(values.get(OakleyAttribute.AUTHENTICATION_METHOD, AuthMethod.PSK))
    except (KeyError, TypeError, ValueError) as error:
        return None, _why(error)
    return IkeProposal(cipher, size, h, group, auth, lifetime), None


def _read_esp(transform):
    """``(EspProposal, None)`` for an ESP Transform payload (RFC 2407 4.4.4,
    4.5), or ``(None, why not)``."""
    try:
        esp = EspTransform.from_payload(transform)
        values = IPSEC_ATTRIBUTES.numbers(transform.transforms)
        _key_size(esp.cipher, int(values.get(IpsecAttribute.KEY_LENGTH, 0)))
        group = values.get(IpsecAttribute.GROUP_DESCRIPTION)
        group = None if group is None else registry.dh_group(int(group)).number
        seconds, kilobytes = lifetimes(IPSEC_ATTRIBUTES, transform.transforms)
    except (KeyError, TypeError, ValueError) as error:
        return None, _why(error)
    return EspProposal(esp, group, 3600 if seconds is None else seconds, kilobytes), None


def ike_from_transform(transform):
    """The Phase 1 proposal a Transform payload offers, or None when it
    names an algorithm we lack or cannot be read."""
    return _read_ike(transform)[0]


def esp_from_transform(transform):
    """The Quick Mode proposal an ESP Transform payload offers, or None."""
    return _read_esp(transform)[0]


def numbered_attributes(space, attributes):
    """Decoded attributes (RFC 2408 3.3) as ``(type name, number)``, in
    their order, for a log; one that cannot be read is left out."""
    out = []
    for name, value in attributes or ():
        try:
            number = space.type_number(name)
            value = space.value_number(number, value)
        except (TypeError, ValueError):
            continue
        if isinstance(value, (bytes, bytearray)):
            value = int.from_bytes(value, "big")
        out.append((space.type_names.get(number, str(number)), int(value)))
    return tuple(out)


def choose(configured, offered, parse, tried=None):
    """``(our proposal, their Transform payload)`` of the responder's
    choice, or None: our first proposal that an offered transform matches.
    *tried(policy, proposal, transform, matched)* is told of each pair
    compared (the debug log's), *policy* our proposal's position from 1."""
    candidates = [(parse(t), prop, t) for prop, t in offered]
    for policy, ours in enumerate(configured, 1):
        for theirs, prop, transform in candidates:
            matched = theirs is not None and theirs.key() == ours.key()
            if tried is not None:
                tried(policy, prop, transform, matched)
            if matched:
                return ours, transform
    return None


# -- what was offered, for NO-PROPOSAL-CHOSEN ---------------------------------

def _listed(items, limit):
    """*items* without repeats, the first *limit* of them and how many more."""
    unique = list(dict.fromkeys(items))
    if not unique:
        return "nothing"
    more = len(unique) - limit
    return ", ".join(unique[:limit]) + (" and %d more" % more if more > 0 else "")


_READERS = {ProtocolId.ISAKMP: _read_ike, ProtocolId.IPSEC_ESP: _read_esp}


def _offered(prop, transform):
    read = _READERS.get(prop.proto)
    if read is None:
        why = "protocol %s" % PROTOCOL_NAMES.get(prop.proto, prop.proto)
    else:
        proposal, why = read(transform)
        if proposal is not None:
            return proposal.describe()
    return "transform %d (%s)" % (transform.transform_count, why)


def describe_offered(sa_payload, limit=10):
    """What a peer's SA payload offers, as strongSwan names it, one name per
    transform of each proposal (RFC 2408 3.5, 3.6): ``3des-md5-modp1024,
    aes128-sha1-modp1024`` in Phase 1, ``aes128-sha1, aes256gcm16-modp2048``
    in Quick Mode (PFS group last).  A transform that cannot be read is
    ``transform 4 (unknown cipher 99)``; a long offer is cut after *limit*
    names.  Never raises on what the peer sent."""
    return _listed([_offered(prop, t) for prop, t in offered_transforms(sa_payload)], limit)


def describe_configured(proposals, limit=3):
    """What we accept, as strongSwan names it: the first *limit* of our
    proposals, then how many more (``aes128-sha256-curve25519, ... and 105
    more``)."""
    return _listed([p.describe() for p in proposals], limit)


_OPTIONS = {1: ("--ike", parse_ike), 2: ("--esp", parse_esp_any)}


def no_proposal_reason(offered, accepted, phase):
    """The one-line reason for refusing with NO-PROPOSAL-CHOSEN (RFC 2408
    3.14.1) in *phase* 1 (Main or Aggressive Mode) or 2 (Quick Mode), from
    :func:`describe_offered` and :func:`describe_configured` texts, with the
    option that would accept the peer's first offer that is a proposal
    string on its own."""
    option, parse = _OPTIONS[phase]
    reason = "no proposal chosen: peer offered %s; we accept %s" % (offered, accepted)
    for item in offered.split(", "):
        try:
            parse(item)
        except ProposalError:
            continue
        return reason + " (allow it with %s %s)" % (option, item)
    return reason
