"""Offline search for Aggressive Mode pre-shared keys: psk-crack's lines
read and written, HASH_R of every IKEv1 hash (RFC 2409 5.4) matched by
dictionary and brute force, in one process and in several, and the
``scapy-ike crack`` command with psk-crack's output and exit status."""

import itertools
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, need_tool, shared_file
from scapy_ike.crypto import keys
from scapy_ike.probe import crack

IKESCAN_LINE = ("strongswan", "ikescan-am-psk-3des-md5-modp1024.psk-crack-params")


def made_line(hash_name, psk):
    """A Target whose HASH_R is computed by the key schedule for *psk*."""
    g_xr, g_xi = bytes(range(1, 129)), bytes(range(2, 130))
    cky_r, cky_i = bytes.fromhex("0102030405060708"), bytes.fromhex("1112131415161718")
    sai_b, idir_b = bytes.fromhex("00000001000000010000002c"), bytes.fromhex("01000000c0000201")
    ni_b, nr_b = bytes(range(20)), bytes(range(32, 64))
    skeyid = keys.skeyid_psk(hash_name, psk, ni_b, nr_b)
    hash_r = keys.hash_r(hash_name, skeyid, g_xi, g_xr, cky_i, cky_r, sai_b, idir_b)
    return crack.Target(hash_name, g_xr, g_xi, cky_r, cky_i, sai_b, idir_b, ni_b, nr_b, hash_r)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "scapy_ike", "crack", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_ikescan_line_parsed_as_md5():
    target = crack.parse_line(shared_file(*IKESCAN_LINE).read_text())
    assert target.hash == "md5" and target.label == "MD5"
    assert target.cky_r.hex() == "6d6e01f365c7503d" and target.idir_b.hex() == "01000000c0000201"
    assert target.hash_r.hex() == "aa16868748b5a81197376ce36ba63b1a"
    assert len(target.g_xr) == len(target.g_xi) == 128
    assert crack.format_line(target) == shared_file(*IKESCAN_LINE).read_text().strip()


HASHES = ["md5", "sha1", "sha256", "sha384", "sha512"]
COMPILED = pytest.mark.skipif(crack._crackloop is None,
                              reason="the compiled loop was not built (no C compiler "
                                     "or OpenSSL headers at install)")
LOOPS = [pytest.param(True, id="compiled", marks=COMPILED), pytest.param(False, id="hmac")]


@pytest.mark.parametrize("compiled", LOOPS)
@pytest.mark.parametrize("hash_name", HASHES)
def test_every_hash_found_by_dictionary(hash_name, compiled):
    target = made_line(hash_name, b"correct horse")
    line = crack.format_line(target)
    assert line.count(":") == (8 if hash_name in ("md5", "sha1") else 9)
    assert crack.parse_line(line) == target
    find = crack.matcher(target, compiled)
    assert find([b"wrong", b"correct hors", b"correct horse", b"later"]) == b"correct horse"
    assert find([b"wrong", b"Correct horse"]) is None
    assert find([]) is None


@pytest.mark.parametrize("compiled", LOOPS)
def test_key_longer_than_the_block_is_hashed_first(compiled):
    long_key = b"k" * 150          # RFC 2104 2: keys longer than B are hashed first
    target = made_line("sha256", long_key)
    find = crack.matcher(target, compiled)
    assert find([b"k" * 149, long_key]) == long_key
    assert target.check(long_key) and not target.check(b"k" * 149)


@COMPILED
@pytest.mark.parametrize("hash_name", HASHES)
def test_compiled_loop_finds_every_key_length_where_the_plain_hmac_does(hash_name):
    """Keys of 0 to 2 blocks and a byte (the pads filled, a key of exactly
    one block, longer keys hashed first), each one found at its place in a
    list of all the others, and the index the C function returns."""
    block = crack.BLOCK_SIZES[hash_name]
    keys_ = [bytes((i * 7 + j) % 256 for j in range(i)) for i in range(2 * block + 2)]
    keys_[5] = b"a\0\0b\0"             # NUL bytes are key bytes like any other
    for n in (0, 1, 5, block - 1, block, block + 1, 2 * block + 1):
        target = made_line(hash_name, keys_[n])
        assert target.check(keys_[n])
        args = (hash_name, target.ni_b + target.nr_b, target.signed(), target.hash_r)
        assert crack._crackloop.find(*args, keys_) == n
        assert crack._crackloop.find(*args, keys_[:n] + keys_[n + 1:]) == -1
        assert crack.matcher(target, True)(keys_) == keys_[n] == crack.matcher(target, False)(keys_)


@COMPILED
def test_compiled_loop_refuses_what_it_cannot_hash():
    target = made_line("sha1", b"x")
    args = (target.ni_b + target.nr_b, target.signed())
    with pytest.raises(TypeError):
        crack._crackloop.find("sha1", *args, target.hash_r, [b"a", "text", b"x"])
    with pytest.raises(ValueError, match="unknown hash"):
        crack._crackloop.find("tiger", *args, target.hash_r, [b"x"])
    with pytest.raises(ValueError, match="a sha256 HASH_R has 32 bytes"):
        crack._crackloop.find("sha256", *args, target.hash_r, [b"x"])
    with pytest.raises(ValueError, match="sha3-256 has blocks of 136 bytes"):
        crack._crackloop.find("sha3-256", *args, bytes(32), [b"x"])
    assert crack._crackloop.find("sha1", *args, target.hash_r, (b"y", b"x")) == 1


@pytest.mark.skipif(not os.path.exists("/usr/include/openssl/evp.h"),
                    reason="no OpenSSL headers: the package installs without its compiled loop")
def test_compiled_loop_built_where_it_can_be():
    """The set-up installs a C compiler and OpenSSL's headers, so an install
    that silently left the compiled loop out is a broken build."""
    assert crack._crackloop is not None


def test_bad_lines_refused():
    good = crack.format_line(made_line("sha1", b"x")).split(":")
    with pytest.raises(crack.LineError, match="8 fields"):
        crack.parse_line(":".join(good[:8]))
    with pytest.raises(crack.LineError, match="not hex"):
        crack.parse_line(":".join(good[:8] + ["zz"]))
    with pytest.raises(crack.LineError, match="20 bytes is not sha256"):
        crack.parse_line(":".join(good + ["sha256"]))
    with pytest.raises(crack.LineError, match="line 2"):
        crack.read_lines("# comment\nnot a line\n")


def test_ikescan_capture_key_by_bruteforce_in_two_processes():
    """The PSK of the ike-scan capture, found as its README says psk-crack
    finds it (``--bruteforce=4``)."""
    target = crack.parse_line(shared_file(*IKESCAN_LINE).read_text())
    result = crack.crack(target, jobs=2, bruteforce=4)
    assert result.key == b"q7z2"
    assert 0 < result.tried <= sum(36 ** n for n in range(1, 5))


@pytest.mark.parametrize("charset, first", [(b"abc", b"abc"), (b"abc", b"c"),
                                            (b"abcdefghijklmnopqrstuvwxyz", b"qz")])
def test_bruteforce_makes_every_key_once_in_order(charset, first, monkeypatch):
    """Each length in turn, each first character, the rest in product
    order; no batch above BATCH (here 9: suffixes of two of three
    characters, of none of twenty-six)."""
    monkeypatch.setattr(crack, "BATCH", 9)
    batches = list(crack._bruteforce_batches(4, charset, first))
    assert [key for batch in batches for key in batch] == [
        bytes([head, *rest]) for n in range(1, 5) for head in first
        for rest in itertools.product(charset, repeat=n - 1)]
    assert max(map(len, batches)) == (9 if len(charset) == 3 else 1)


def test_dictionary_slices_cover_every_line_once(tmp_path):
    words = [b"w%05d" % i for i in range(5000)]
    path = tmp_path / "words"
    path.write_bytes(b"\n".join(words) + b"\n")
    for jobs in (1, 2, 3, 7):
        seen = []
        for start, end in crack.dictionary_slices(path, jobs):
            data = path.read_bytes()[start:end]
            seen += [w for w in data.split(b"\n") if w]
        assert seen == words


def test_dictionary_search_reports_candidates_tried(tmp_path):
    target = made_line("sha1", b"w01234")
    path = tmp_path / "words"
    path.write_bytes(b"".join(b"w%05d\r\n" % i for i in range(3000)))
    assert crack.crack(target, jobs=1, wordlist=str(path)) == crack.Result(b"w01234", 1235)
    assert crack.crack(made_line("sha1", b"absent"), jobs=2, wordlist=str(path)) \
        == crack.Result(None, 3000)


def test_cli_finds_sha256_and_md5_lines_and_writes_hashcat(tmp_path):
    lines = tmp_path / "lines"
    sha256 = made_line("sha256", b"ab7")
    lines.write_text(shared_file(*IKESCAN_LINE).read_text().strip() + "\n"
                     + crack.format_line(sha256) + "\n")
    out = run_cli(lines, "--bruteforce", 4, "--jobs", 2, "--hashcat", tmp_path / "hc")
    assert out.returncode == 0, out.stderr
    assert 'key "q7z2" matches MD5 hash aa16868748b5a81197376ce36ba63b1a' in out.stdout.splitlines()
    assert 'key "ab7" matches SHA256 hash %s' % sha256.hash_r.hex() in out.stdout.splitlines()
    assert "1 line(s) for hashcat -m 5300 in %s" % (tmp_path / "hc") in out.stdout
    assert (tmp_path / "hc").read_text() == shared_file(*IKESCAN_LINE).read_text().strip() + "\n"


def test_cli_json_and_not_found(tmp_path):
    lines = tmp_path / "lines"
    target = made_line("sha512", b"zzzz-not-in-it")
    lines.write_text(crack.format_line(target) + "\n")
    words = tmp_path / "words"
    words.write_text("a\nb\nc\n")
    out = run_cli(lines, "--wordlist", words, "--jobs", 1, "--json")
    assert out.returncode == 1
    record = json.loads(out.stdout)
    assert record["key"] is None and record["hash"] == "sha512" and record["candidates"] == 3
    assert record["hash_r"] == target.hash_r.hex()


@pytest.mark.parametrize("args, message", [
    ([], "give --wordlist FILE or --bruteforce N"),
    (["--bruteforce", "0"], "'0' is not a whole number of 1 or more"),
    (["--wordlist", "/nonexistent/words"], "no such file"),
    (["--bruteforce", "2", "--charset", "aa"], "distinct ASCII"),
])
def test_cli_usage_errors(tmp_path, args, message):
    lines = tmp_path / "lines"
    lines.write_text(crack.format_line(made_line("md5", b"x")) + "\n")
    out = run_cli(lines, *args)
    assert out.returncode == 2 and message in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_cli_bad_file(tmp_path):
    bad = tmp_path / "bad"
    bad.write_text("1:2:3\n")
    out = run_cli(bad, "--bruteforce", "1")
    assert out.returncode == 2 and "line 1: 3 fields" in out.stderr


def psk_crack_bruteforce(tmp_path, target, length):
    """What psk-crack (ike-scan's) prints for *target*'s line, searched by
    brute force up to *length* characters."""
    psk_crack = need_tool("psk-crack")
    path = tmp_path / "line"
    path.write_text(crack.format_line(target) + "\n")
    return subprocess.run([psk_crack, "--bruteforce=%d" % length, str(path)],
                          capture_output=True, text=True, timeout=60).stdout


@pytest.mark.interop
def test_psk_crack_reads_our_sha1_line(tmp_path):
    target = made_line("sha1", b"k9")
    out = psk_crack_bruteforce(tmp_path, target, 2)
    assert 'key "k9" matches SHA1 hash %s' % target.hash_r.hex() in out


@pytest.mark.interop
def test_bruteforce_finds_keys_that_psk_crack_misses(tmp_path):
    """psk-crack counts with the first character the fastest and so never
    makes a key of two characters or more that ends in the first character
    of its set; ours tries every key (as the README says)."""
    target = made_line("md5", b"a0")
    out = psk_crack_bruteforce(tmp_path, target, 2)
    assert "no match found for MD5 hash %s" % target.hash_r.hex() in out
    assert "Ending psk-crack: 1296 iterations" in out
    assert crack.crack(target, jobs=1, bruteforce=2) == crack.Result(b"a0", 36 + 10 * 36 + 1)
