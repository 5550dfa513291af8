"""The probe without sockets: its generator driven against gateways in
memory (our own Endpoint as responder, one that keeps few half-open SAs per
source, one that takes a single transform per proposal, one that is
silent), reply classification, fingerprints and the report."""

import os

import pytest

from scapy_ike.constants import VENDOR_IDS, AuthMethod, vendor_id_name
from scapy_ike.core.config import Configuration, Identity
from scapy_ike.core.endpoint import Endpoint
from scapy_ike.core.message import Message, encode_header, encode_notify, encode_payloads
from scapy_ike.core.proposals import parse_ike
from scapy_ike.probe import candidates as C, crack, fingerprint, messages, replies as R, session
from scapy_ike.probe.enumeration import Enumeration
from scapy_ike.probe.report import report, transforms
from scapy_ike.constants import ExchangeType, PayloadType as T

ACCEPTED = "aes192-sha256-modp3072,3des-md5-modp1024,aes128-sha1-ecp256"
SUITES = {"aes192-sha256-modp3072", "3des-md5-modp1024", "aes128-sha1-ecp256"}
PEER = ("127.0.0.60", 26000)


def gateway(**settings):
    config = Configuration(role="responder", psk=b"group-secret", ike=ACCEPTED, **settings)
    return Endpoint(config, "127.0.0.50", 26001, 26002)


class Simulated:
    """Runs a probe generator against an Endpoint on a fake clock; the
    Endpoint's timers (half-open timeouts, AM2 repeats) run as time passes."""

    def __init__(self, endpoint, filter_=None):
        self.endpoint, self.filter = endpoint, filter_
        self.now, self.sent = 0.0, 0

    def answers(self, data):
        if self.filter is not None:
            verdict = self.filter(data)
            if verdict is not None:
                return verdict
        self.endpoint.receive_datagram(data, PEER, self.now)
        return [d.data for d in self.endpoint.datagrams_to_send(self.now)]

    def advance(self, seconds):
        """Time passes; what the Endpoint sends meanwhile, with when."""
        out, end = [], self.now + seconds
        while True:
            timer = self.endpoint.get_timer()
            if timer is None or timer > end:
                break
            self.now = max(self.now, timer)
            self.endpoint.handle_timer(self.now)
            out += [(self.now, d.data) for d in self.endpoint.datagrams_to_send(self.now)]
        self.now = end
        return out

    def run(self, generator):
        try:
            send = next(generator)
            for _ in range(100000):
                got = []
                if send.probe is not None:
                    self.sent += 1
                    start = self.now
                    got = [(0.0, data) for data in self.answers(send.probe.data)]
                    if send.collect or not got:
                        got += [(t - start, d) for t, d in self.advance(send.wait)]
                    else:
                        self.now += 0.001
                else:
                    self.advance(send.wait)
                send = generator.send(got)
        except StopIteration as stop:
            return stop.value
        raise AssertionError("the probe did not end")


def suites(mode):
    return {p.suite() for p in mode.accepted}


def test_enumeration_finds_exactly_the_accepted_transforms_in_both_modes():
    sim = Simulated(gateway(half_open_per_source=1000))
    found = sim.run(session.probe(session.Options(enumerate=True, aggressive=True,
                                                  ikev2=False, retries=0), os.urandom))
    for mode in (found.main, found.aggressive):
        assert suites(mode) == SUITES
        assert {p.auth for p in mode.accepted} == {AuthMethod.PSK}
        assert mode.complete and not mode.uncertain
        assert mode.refused == len(C.candidates()) - 3
        assert mode.answer == "notify NO-PROPOSAL-CHOSEN"
        # far fewer probes than candidates: groups of 64, three handshakes
        assert mode.probes < 80 and mode.probes == mode.datagrams
    # groups of 64 per authentication method: 3750 / 5 = 750 = 11 x 64 + 46
    assert found.main.probes == 5 * 12 + 3
    assert found.crack is not None and found.crack.hash in ("md5", "sha256", "sha1")
    assert crack.matcher(found.crack)([b"wrong", b"group-secret"]) == b"group-secret"


def test_half_open_limit_is_waited_out_not_taken_for_refusal():
    """Five half-open SAs per source, then silence until they time out
    (30 s), as charon's block_threshold: the probe pauses and asks again."""
    sim = Simulated(gateway(half_open_per_source=5))
    found = sim.run(session.probe(session.Options(enumerate=True, aggressive=True,
                                                  ikev2=False), os.urandom))
    assert suites(found.main) == suites(found.aggressive) == SUITES
    assert found.main.complete and found.aggressive.complete
    # six handshakes: the sixth waits for the first half-open SAs to expire
    assert found.aggressive.datagrams > found.aggressive.probes
    assert sim.now > 30


def test_silent_after_retries_is_uncertain_not_refused():
    sim = Simulated(gateway(half_open_per_source=5, half_open_timeout=10000.0))
    options = session.Options(enumerate=True, aggressive=True, ikev2=False, retries=1,
                              timeout=1.0, pause=5.0)
    found = sim.run(session.probe(options, os.urandom))
    assert suites(found.main) == SUITES
    aggressive = found.aggressive
    assert len(aggressive.accepted) == 2       # 3 + 2 = 5 half-open SAs, never freed
    assert {p.suite() for p in aggressive.uncertain} >= SUITES - suites(aggressive)
    assert not aggressive.complete


def single_transform_only(data):
    """A gateway that calls an offer of more than one transform malformed."""
    msg = Message.parse(data)
    sa = msg.bodies(T.SA)
    if sa and sa[0][8 + 4 + 3] > 1:                       # the proposal's transform count
        body = encode_payloads([(T.NOTIFICATION, encode_notify(1, msg.cky_i + bytes(8), 16))])
        return [encode_header(msg.cky_i, bytes(8), T.NOTIFICATION, ExchangeType.INFORMATIONAL,
                              0, 0, 28 + len(body)) + body]
    return None


def test_groups_split_for_a_gateway_that_takes_one_transform_per_proposal():
    sim = Simulated(gateway(half_open_per_source=1000), single_transform_only)
    auths = (AuthMethod.PSK,)
    found = sim.run(session.probe(session.Options(enumerate=True, ikev2=False, retries=0,
                                                  auths=auths), os.urandom))
    assert suites(found.main) == SUITES and found.main.complete
    # 64 -> 32 -> ... -> 1 once, then single transforms: one probe per candidate and the halvings
    assert len(C.candidates(auths)) < found.main.probes < len(C.candidates(auths)) + 64


def test_silent_gateway():
    sim = Simulated(gateway(), lambda data: [])
    found = sim.run(session.probe(session.Options(retries=2, timeout=1.0), os.urandom))
    assert not found.answered and found.main.answer is None and found.ikev2 is None
    assert found.main.probes == 1 and found.main.datagrams == 3
    assert sim.now == pytest.approx(1 + 2 + 4 + 1 + 2 + 4)     # doubling waits, MM then IKEv2


def test_discovery_without_enumeration_names_the_chosen_transform():
    sim = Simulated(gateway())
    found = sim.run(session.probe(session.Options(aggressive=True, ikev2=False), os.urandom))
    assert found.main.answer == "handshake" and found.main.probes == 1
    assert suites(found.main) == {"3des-md5-modp1024"}       # the only COMMON one accepted
    assert found.aggressive.answer == "handshake"
    assert found.crack.hash == "md5" and found.crack.idir_b == Identity.parse("127.0.0.50").body()


def test_id_list_tells_valid_ids_by_their_different_answer():
    config = Configuration(role="responder", psk=b"k", ike=ACCEPTED, remote_id="vpn-group",
                           half_open_per_source=1000)
    sim = Simulated(Endpoint(config, "127.0.0.50", 26001, 26002))
    ids = tuple(Identity.parse(text) for text in ("sales", "vpn-group", "admin"))
    found = sim.run(session.probe(session.Options(aggressive=True, ikev2=False, retries=0,
                                                  identity=Identity.parse("vpn-group"),
                                                  id_list=ids), os.urandom))
    assert found.id_baseline == "notify INVALID-ID-INFORMATION"
    assert [(str(i), a) for i, a in found.ids] == [
        ("sales", "notify INVALID-ID-INFORMATION"), ("vpn-group", "handshake"),
        ("admin", "notify INVALID-ID-INFORMATION")]
    record = report("gw", 500, found, session.Options(aggressive=True, id_list=ids))
    assert [e["id"] for e in record["aggressive"]["ids"] if e["valid"]] == ["vpn-group"]


def test_enumeration_is_bounded_for_any_answers():
    """Whatever the answers, each takes a candidate out or splits a group."""
    cands = C.candidates((AuthMethod.PSK,))
    search = Enumeration(cands)
    steps = 0
    while not search.done:
        offer = search.next_offer()
        search.record(offer, None if steps % 3 else R.Reply("other", 1, 5, bytes(8)))
        steps += 1
        assert steps <= 3 * len(cands)
    assert len(search.refused) + len(search.uncertain) == len(cands)


def test_first_messages():
    random = os.urandom
    offer = parse_ike("aes256-sha256-ecp256,aes128-sha1-ecp256")
    am = messages.aggressive_mode(offer, Identity.parse("probe@example"), random)
    msg = Message.parse(am.data)
    assert msg.exch_type == ExchangeType.AGGRESSIVE and msg.cky_i == am.cky_i
    assert [t for t, _ in msg.payloads][:4] == [T.SA, T.KE, T.NONCE, T.ID]
    ke = msg.bodies(T.KE)[0]
    assert len(ke) == 64 and ke == am.gxi
    from cryptography.hazmat.primitives.asymmetric import ec
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + ke)  # on the curve
    assert msg.bodies(T.ID)[0] == bytes([3, 0, 0, 0]) + b"probe@example"
    assert msg.bodies(T.SA)[0] == am.sai_b
    assert [vendor_id_name(v) for v in msg.bodies(T.VENDOR_ID)] == [
        "RFC 3947 NAT-T", "draft-ietf-ipsec-nat-t-ike-03", "draft-ietf-ipsec-nat-t-ike-02",
        "draft-ietf-ipsec-nat-t-ike-02\\n", "RFC 3706 DPD"]
    with pytest.raises(ValueError, match="one DH group"):
        messages.aggressive_mode(parse_ike("aes128-sha1-modp2048-ecp256"),
                                 Identity.parse("x"), random)
    v2 = messages.ikev2_sa_init(random)
    assert v2.data[17] == 0x20 and v2.data[18] == 34 and v2.data[:8] == v2.cky_i


def test_ikev2_notify_classified():
    from scapy.contrib.ikev2 import IKEv2, IKEv2_Notify
    v2 = messages.ikev2_sa_init(os.urandom)
    answer = bytes(IKEv2(init_SPI=v2.cky_i, exch_type="IKE_SA_INIT", flags="Response")
                   / IKEv2_Notify(type="NO_PROPOSAL_CHOSEN"))
    reply = R.classify(answer, v2)
    assert (reply.version, reply.kind, reply.notify) == (2, "notify", "NO_PROPOSAL_CHOSEN")
    assert R.classify(b"\x00" * 8 + answer[8:], v2) is None          # another SPI
    assert R.classify(b"short", v2) is None


def test_backoff_patterns():
    assert fingerprint.match_backoff([4.0, 7.3, 12.9]) == "strongSwan 5 (charon) or scapy-ike"
    assert fingerprint.match_backoff([2.0, 3.6, 6.5]).startswith("strongSwan 5 (charon)")
    assert fingerprint.match_backoff([1.0, 2.1, 4.0, 8.0]) == "Windows 2000/2003/XP"
    assert fingerprint.match_backoff([10.0, 20.0]) \
        == "Linux FreeS/WAN, Openswan, strongSwan 4 (pluto)"
    assert fingerprint.match_backoff([3.0, 12.0]) is None
    assert fingerprint.match_backoff([4.0]) is None


def test_guess_from_vendor_ids():
    def reply(*names):
        vids = tuple(next(k for k, v in VENDOR_IDS.items() if v == n) for n in names)
        return R.Reply("handshake", 1, 2, bytes(8), vendor_ids=vids)
    vids = fingerprint.vendor_ids([reply("XAUTH", "RFC 3706 DPD"),
                                   reply("RFC 3947 NAT-T", "XAUTH")])
    assert [(v.name, v.hex, v.source) for v in vids] == [
        ("XAUTH", "09002689dfd6b712", "draft-ietf-ipsra-isakmp-xauth-06.txt"),
        ("RFC 3706 DPD", "afcad71368a1f1c96b8696fc77570100", None),
        ("RFC 3947 NAT-T", "4a131c81070358455c5728f20e95452f", "RFC 3947")]
    assert fingerprint.guess(vids, None, [])[0] == "strongSwan 5 (charon)"
    cisco = fingerprint.vendor_ids([reply("Cisco Unity", "XAUTH", "RFC 3706 DPD",
                                          "Cisco Delete Reason")])
    assert [v.source for v in cisco] == ["CISCO-UNITY", "draft-ietf-ipsra-isakmp-xauth-06.txt",
                                         None, "CISCO-DELETE-REASON"]
    name, evidence = fingerprint.guess(cisco, None, ["Main Mode refused with X"])
    assert name == "Cisco" and evidence[0].startswith("vendor ID Cisco Unity")
    assert evidence[-1] == "Main Mode refused with X"


def test_report_collapses_auth_methods_and_names_risks():
    accepted = [p for auth in C.AUTH_NAMES for p in parse_ike("3des-md5-modp1024", auth=auth)]
    accepted += parse_ike("aes256-sha256-modp2048", auth=AuthMethod.XAUTH_INIT_PSK)
    out = transforms(accepted, tuple(C.AUTH_NAMES))
    assert [(t["proposal"], t["auth"]) for t in out] == [
        ("3des-md5-modp1024", "any"), ("aes256-sha256-modp2048", "xauth-psk")]
    assert out[0] == {"proposal": "3des-md5-modp1024", "auth": "any", "cipher": "3des",
                      "hash": "md5", "group": "modp1024", "group_number": 2}
    found = session.Findings()
    found.main.accepted = accepted
    found.main.answer = "handshake"
    found.replies = [R.Reply("handshake", 1, 2, bytes(8))]
    record = report("192.0.2.1", 500, found, session.Options())
    assert record["versions"] == ["ikev1-main"] and record["aggressive"] is None
    assert record["risks"] == ["weak cipher: 3des", "weak hash: md5", "weak DH group: modp1024",
                               "XAuth: xauth-psk", "no DPD (RFC 3706) announced"]
