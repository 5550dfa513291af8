"""The parts of ``decode --jobs N``: frames routed as the session decodes
them, an uncompressed pcap read in place as it is streamed (damage
included), and a capture of several IKE SAs interleaved, shared out by
SA, giving the output, messages and exit status of one process."""

import struct

import pytest

from conftest import PCAPS
from scapy_ike.cli import main
from scapy_ike.decode import wire
from scapy_ike.decode.capture import CaptureError, map_pcap, open_capture
from scapy_ike.decode.frames import ESP, IKE, FrameStore
from scapy_ike.decode.session import Session
from test_captures import all_captures

CAPTURES = sorted(PCAPS.glob("*.pcap"))


def _store(capture):
    f, records = open_capture(capture)
    store = FrameStore()
    with f:
        for record in records:
            store.append(*record)
    return store


def _expected_route(ip):
    """What the frame's decoding depends on, from the session's view."""
    if ip is None:
        return None
    pair = ip.header[12:20] if ip.version == 4 else ip.header[8:40]
    if ip.kind == wire.ESP and len(ip.body) >= 8:
        return ESP, (pair, ip.body[:4])
    if ip.kind == wire.ISAKMP and len(ip.body) >= 28:
        return IKE, ip.body[:8]
    return None


@pytest.mark.parametrize("capture", all_captures() or CAPTURES, ids=lambda p: p.name)
def test_route_agrees_with_the_session(capture):
    """Every frame: ESP SA, IKE SA or neither, as decode_frame finds it."""
    try:
        store = _store(capture)
    except CaptureError:
        pytest.skip("a damaged capture")
    session = Session()
    kinds = set()
    for index in range(len(store)):
        linktype, stamp, data = store[index]
        record = session.decode_frame(index + 1, stamp, linktype, data)
        expected = _expected_route(record.ip)
        assert store.route(index) == expected, index + 1
        kinds.add(expected and expected[0])
    if capture in CAPTURES:
        assert kinds >= {ESP, IKE}


def _pcap(frames):
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + b"".join(
        struct.pack("<IIII", int(t), round(t % 1 * 1e6), len(d), len(d)) + d for _, t, d in frames)


@pytest.mark.parametrize("cut", [0, 8, 16 + 10])
def test_a_mapped_pcap_is_read_as_it_is_streamed(tmp_path, cut):
    """The same frames, then the same damage: a record header cut, a
    record cut, or nothing cut."""
    _, frames = open_capture(PCAPS / "mm-psk-aes128-sha1-modp2048.pcap")
    frames = list(frames)
    data = _pcap(frames)
    if cut:
        data = data[:24 + sum(16 + len(d) for _, _, d in frames[:2]) + cut]
    path = tmp_path / "c.pcap"
    path.write_bytes(data)

    def read(records, item):
        got = []
        try:
            for record in records:
                got.append(item(record))
        except CaptureError as exc:
            return got, str(exc)
        return got, None

    f, records = open_capture(path)
    with f:
        streamed = read(records, lambda r: r)
    f, mapped, records = map_pcap(path)
    with f:
        in_place = read(records, lambda r: (r[0], r[1], mapped[r[2]:r[3]]))
        mapped.close()
    assert in_place == streamed
    assert len(streamed[0]) == (2 if cut else len(frames))
    assert (streamed[1] is None) == (not cut)


def test_map_pcap_leaves_other_files(tmp_path):
    path = tmp_path / "x.pcapng"
    path.write_bytes(b"\x0a\x0d\x0d\x0a" + bytes(40))
    assert map_pcap(path) is None


def _interleaved(tmp_path, captures):
    """The frames of *captures* in one pcap, in time order, each capture's
    frames moved to start at the same time."""
    frames = []
    for order, capture in enumerate(captures):
        f, records = open_capture(capture)
        with f:
            records = list(records)
        start = records[0][1]
        frames += [(t - start + 1e-4 * order, order, (linktype, t - start, data))
                   for linktype, t, data in records]
    path = tmp_path / "interleaved.pcap"
    path.write_bytes(_pcap([frame for _, _, frame in sorted(frames)]))
    return path


WRONG = ("no key fits: 1 candidate(s) fail to decrypt or to verify the hash "
         "(wrong PSK or g^xy?)")


@pytest.mark.parametrize("keyed", ["all", "one"])
def test_several_ike_sas_interleaved(tmp_path, capsys, keyed):
    """Three captures' IKE SAs interleaved: --jobs 2 shares them out by SA
    and says the same as one process; with the keys of one only and a
    wrong PSK, the other two say so once each, in capture order."""
    path = _interleaved(tmp_path, CAPTURES[:3])
    keys = [c.with_suffix(".keys") for c in CAPTURES[:3 if keyed == "all" else 1]]
    argv = ["decode", str(path)] + [a for k in keys for a in ("--keys", str(k))]
    if keyed == "one":
        argv += ["--psk", "wrong", "--gxy", "0102"]
    results = []
    for jobs in ("1", "2"):
        status = main(argv + ["--jobs", jobs])
        results.append((status, *capsys.readouterr()))
    assert results[0] == results[1]
    status, out, err = results[0]
    assert len(out.splitlines()) == 48
    if keyed == "all":
        assert (status, err) == (0, "")
        assert (out.count(" -> ISAKMP "), out.count(" -> ICMP ")) == (20, 18)
    else:
        assert status == 1
        assert (out.count(" -> ISAKMP "), out.count(" -> ICMP ")) == (6, 6)
        assert err.splitlines() == ["scapy-ike decode: IKE SA %s: %s" % (cky, WRONG)
                                    for cky in ("9b2c7559cbd3a735", "c0d9e1bfeb42ee1f")]


def _fail_on_odd(bundle):
    if bundle[0] % 2:
        raise ValueError("odd bundle %d" % bundle[0])
    return sum(bundle)


def test_fan_out_results_in_order_and_a_failing_child():
    """Results in the bundles' order, the first from this process; a
    child that fails makes the parent raise, saying why."""
    from scapy_ike.decode.parallel import fan_out
    assert fan_out(_fail_on_odd, [[2, 3], [4], [6, 1]]) == [([2, 3], 5), ([4], 4), ([6, 1], 7)]
    with pytest.raises(RuntimeError, match="a decoding process failed: ValueError: odd bundle 3"):
        fan_out(_fail_on_odd, [[2], [3]])
    assert fan_out(_fail_on_odd, []) == []


def _fail_here(bundle):
    if bundle == [1]:
        raise ValueError("in this process")
    return bytes(1 << 20)                   # more than a pipe holds


def test_fan_out_waits_for_children_when_this_process_fails():
    import os
    from scapy_ike.decode.parallel import fan_out
    with pytest.raises(ValueError, match="in this process"):
        fan_out(_fail_here, [[1], [2], [3]])
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)          # no child left behind


def _esp_only(tmp_path, mutate, rounds=50):
    """The ESP frames of a capture, *rounds* times over, as a pcap; where
    *mutate*, each followed by a copy with its last byte flipped (its ICV
    fails)."""
    capture = PCAPS / "mm-psk-aes128-sha1-modp2048.pcap"
    store = _store(capture)
    esp = [store[i] for i in range(len(store)) if (store.route(i) or (None,))[0] == ESP]
    frames = []
    for n in range(rounds):
        for linktype, stamp, data in esp:
            frames.append((linktype, stamp + n, data))
            if mutate:
                frames.append((linktype, stamp + n + 1e-6, data[:-1] + bytes([data[-1] ^ 1])))
    path = tmp_path / "esp.pcap"
    path.write_bytes(_pcap(frames))
    return path, capture.with_suffix(".esp_sa")


def _spy(monkeypatch):
    """The calls to the decoding by SA, counted."""
    from scapy_ike.decode import parallel
    calls = []
    by_sa = parallel._by_sa
    monkeypatch.setattr(parallel, "_by_sa", lambda *args: calls.append(1) or by_sa(*args))
    return calls


@pytest.mark.parametrize("mutate", [False, True])
def test_frames_of_given_keys_decode_in_runs(tmp_path, capsys, monkeypatch, mutate):
    """ESP with every key given and no ISAKMP: the frames are cut into
    runs, one per process, and the output, failures and last errors
    are those of one process."""
    path, keys = _esp_only(tmp_path, mutate)
    calls = _spy(monkeypatch)
    argv = ["decode", str(path), "--keys", str(keys)]
    results = []
    for jobs in ("1", "2", "3"):
        status = main(argv + ["--jobs", jobs])
        results.append((status, *capsys.readouterr()))
    assert results[0] == results[1] == results[2] and calls == []
    status, out, err = results[0]
    assert len(out.splitlines()) == (600 if mutate else 300)
    assert out.count(" -> ICMP ") == 300
    if mutate:
        assert status == 1
        assert err.splitlines() == [
            "scapy-ike decode: ESP SPI 0x%s: 150 packet(s) failed: ICV does not verify (seq 3)"
            % sa for sa in ("166249dd 192.0.2.1 > 192.0.2.2", "edb7bbf8 192.0.2.2 > 192.0.2.1")]
    else:
        assert (status, err) == (0, "")


def test_an_isakmp_message_sends_the_runs_back_to_sa(tmp_path, capsys, monkeypatch):
    """A capture with IKE (Quick Mode may key the ESP after it): the runs
    give up and the frames are shared out by SA, the output unchanged."""
    capture = PCAPS / "mm-psk-aes128-sha1-modp2048.pcap"
    calls = _spy(monkeypatch)
    argv = ["decode", str(capture), "--keys", str(capture.with_suffix(".esp_sa"))]
    results = []
    for jobs in ("1", "2"):
        status = main(argv + ["--jobs", jobs])
        results.append((status, *capsys.readouterr()))
    assert results[0] == results[1] and calls == [1]
    assert results[0][1].count(" -> ICMP ") == 6


def _key(spi, src=None, dst=None, guess=None):
    from scapy_ike.decode.keylog import EspKey
    return EspKey(spi=spi, src=src, dst=dst, crypt_algo="AES-CBC", crypt_key=bytes(16),
                  crypt_icv_size=None, auth_algo="HMAC-SHA1-96", auth_key=bytes(20),
                  skip_icv=None, guess=guess)


def test_one_key_each():
    """Runs only where no SA can take two keys, nor a guess."""
    from scapy_ike.decode.parallel import _one_key_each
    a, b = "192.0.2.1", "192.0.2.2"
    assert _one_key_each([_key(1, a, b), _key(2, a, b), _key(1, b, a)])
    assert not _one_key_each([_key(1, a, b), _key(1, a, None)])
    assert not _one_key_each([_key(1, a, b), _key(1, "192.0.2.0/24", b)])
    assert not _one_key_each([_key(None), _key(7, a, b)])
    assert _one_key_each([_key(None, a, b), _key(7, b, a)])
    assert not _one_key_each([_key(1, a, b, guess="g^xy")])
    assert _one_key_each([_key(None)]) and _one_key_each([])
