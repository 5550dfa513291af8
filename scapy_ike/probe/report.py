"""The report of one target: a JSON-ready dict (``probe --json``) and the
risks its findings show.  Transforms are named in strongSwan's proposal
syntax, so that ``proposal`` can be pasted into ``--ike``."""

from scapy_ike.constants import AuthMethod
from scapy_ike.crypto import registry
from scapy_ike.probe import fingerprint
from scapy_ike.probe.candidates import XAUTH_METHODS, auth_name

WEAK_GROUP_BITS = 2048
"""MODP groups below this size are weak (RFC 8247 2.4: modp1024 SHOULD
NOT, modp768 MUST NOT)."""


def transform(proposal):
    """One accepted (or uncertain) transform."""
    group = registry.dh_group(proposal.group)
    return {"proposal": proposal.suite(), "auth": auth_name(proposal.auth),
            "cipher": proposal.cipher.keyword(proposal.key_size), "hash": proposal.hash.name,
            "group": group.name, "group_number": int(proposal.group)}


def transforms(accepted, auths):
    """The accepted transforms; a suite accepted with every method of
    *auths* is one entry, auth ``any``: the answer did not depend on it
    (charon's Main Mode picks by the algorithms and checks the method
    later, RFC 2409 5 leaving that open)."""
    methods = {}
    for p in accepted:
        methods.setdefault(p.suite(), set()).add(p.auth)
    out, seen = [], set()
    for p in accepted:
        if len(auths) > 1 and methods[p.suite()] >= set(auths):
            if p.suite() not in seen:
                seen.add(p.suite())
                out.append(dict(transform(p), auth="any"))
        else:
            out.append(transform(p))
    return out


def _mode(mode, auths):
    if mode is None:
        return None
    return {"answer": mode.answer, "transforms": transforms(mode.accepted, auths),
            "probes": mode.probes, "datagrams": mode.datagrams, "refused": mode.refused,
            "uncertain": [transform(p) for p in mode.uncertain], "complete": mode.complete,
            "notes": mode.notes}


def _weak_group(number):
    group = registry.dh_group(number)
    return group.kind == "modp" and group.public_size * 8 < WEAK_GROUP_BITS


def risks(findings, vids, auths):
    """The weaknesses shown: weak ciphers, hashes and groups accepted,
    Aggressive Mode with a pre-shared key (its HASH_R can be searched
    offline), XAuth where the answer depended on the method (its PSK is
    a shared group secret), no DPD."""
    accepted = list(findings.main.accepted)
    if findings.aggressive is not None:
        accepted += findings.aggressive.accepted
    out = []

    def add(text):
        if text not in out:
            out.append(text)
    for p in accepted:
        if p.cipher.decrepit:
            add("weak cipher: %s" % p.cipher.keyword(p.key_size))
        if p.hash.decrepit or p.hash.name == "sha1":
            add("weak hash: %s" % p.hash.name)
        if _weak_group(p.group):
            add("weak DH group: %s" % registry.dh_group(p.group).name)
    for mode in (findings.main, findings.aggressive):
        for t in transforms(mode.accepted if mode else [], auths):
            if t["auth"] in {auth_name(m) for m in XAUTH_METHODS}:
                add("XAuth: %s" % t["auth"])
    if findings.aggressive is not None and any(
            p.auth in (AuthMethod.PSK, AuthMethod.XAUTH_INIT_PSK)
            for p in findings.aggressive.accepted):
        add("Aggressive Mode with a pre-shared key: its HASH_R can be cracked offline")
    if findings.answered and not any(v.name == "RFC 3706 DPD" for v in vids):
        add("no DPD (RFC 3706) announced")
    return out


def report(target, port, findings, options):
    """The JSON object of one target."""
    vids = fingerprint.vendor_ids(findings.replies)
    versions = []
    if findings.main.answer:
        versions.append("ikev1-main")
    if findings.aggressive is not None and findings.aggressive.answer:
        versions.append("ikev1-aggressive")
    if findings.ikev2:
        versions.append("ikev2")
    out = {"target": target, "port": port, "versions": versions,
           "answers": {"main": findings.main.answer,
                       "aggressive": findings.aggressive and findings.aggressive.answer,
                       "ikev2": findings.ikev2},
           "main": _mode(findings.main, options.auths),
           "aggressive": _mode(findings.aggressive, options.auths),
           "vendor_ids": [{"name": v.name, "hex": v.hex, "source": v.source} for v in vids]}
    if findings.aggressive is not None:
        out["aggressive"]["id"] = str(options.identity)
        out["aggressive"]["hash_captured"] = findings.crack is not None
        if options.id_list:
            out["aggressive"]["id_baseline"] = findings.id_baseline
            out["aggressive"]["ids"] = [
                {"id": str(ident), "answer": answer, "valid": answer != findings.id_baseline}
                for ident, answer in findings.ids]
    matched = fingerprint.match_backoff(findings.backoff)
    out["backoff"] = {"intervals": findings.backoff, "mode": findings.backoff_mode,
                      "match": matched} if options.fingerprint else None
    implementation, evidence = fingerprint.guess(vids, matched,
                                                 fingerprint.notify_quirks(findings))
    out["guess"] = {"implementation": implementation, "evidence": evidence}
    out["risks"] = risks(findings, vids, options.auths)
    return out
