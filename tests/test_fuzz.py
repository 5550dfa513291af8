"""Property tests: random and mutated messages dissect without exception
or hang, keep every byte, and either are well-formed or carry a reason."""

from hypothesis import HealthCheck, given, settings, strategies as st

from scapy_ike.layers import isakmp as L
from test_roundtrip import SAMPLES, message

SEEDS = [bytes(message(t)) for t in SAMPLES]


def check(wire):
    pkt = L.ISAKMP(wire)
    assert bytes(pkt) == wire
    reasons = L.malformed(pkt)
    assert all(isinstance(r, str) and r for _, r in reasons)
    if isinstance(pkt, L.ISAKMP) and not reasons:
        # nothing flagged: the payloads fit in the length the header declares
        covered, layer = 28, pkt.payload
        while isinstance(layer, L.ISAKMP_payload):
            covered, layer = covered + layer.length, layer.payload
        assert covered <= pkt.length


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes(wire):
    check(wire)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255)),
                                        min_size=1, max_size=6),
       st.integers(0, 10 ** 6), st.booleans())
def test_mutated_messages(seed, flips, cut, truncate):
    wire = bytearray(seed)
    for position, value in flips:
        wire[position % len(wire)] = value
    if truncate:
        wire = wire[:cut % (len(wire) + 1)]
    check(bytes(wire))


def test_many_tiny_payloads_are_bounded():
    """A chain of thousands of 4-byte payloads stops at MAX_PAYLOADS with a
    reason instead of recursing without end; a long real chain is whole."""
    body = b"\x0d\x00\x00\x04" * 90 + b"\x00\x00\x00\x04"
    pkt = L.ISAKMP(bytes(L.ISAKMP(next_payload=13, length=28 + len(body))) + body)
    assert L.malformed(pkt) == [] and len(list(L.iter_payloads(pkt))) == 91
    body = b"\x0d\x00\x00\x04" * 4000
    wire = bytes(L.ISAKMP(next_payload=13, length=28 + len(body))) + body
    pkt = L.ISAKMP(wire)
    assert bytes(pkt) == wire
    assert ("ISAKMP Vendor ID", "more than %d payloads" % L.MAX_PAYLOADS) in L.malformed(pkt)
