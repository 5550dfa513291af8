"""Offline search for the pre-shared key behind an Aggressive Mode HASH_R.

A responder's AM2 proves its knowledge of the key in the clear (RFC 2409
5.4): SKEYID = prf(pre-shared-key, Ni_b | Nr_b) and HASH_R = prf(SKEYID,
g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b), prf being the HMAC of the
negotiated hash (RFC 2409 4, RFC 2104).  Whoever captured AM2 can try
keys offline.

Lines are psk-crack's (ike-scan ``--pskcrack``, hashcat modes 5300/5400):
nine hex fields ``g_xr:g_xi:cky_r:cky_i:sai_b:idir_b:ni_b:nr_b:hash_r``.
psk-crack tells MD5 from SHA-1 by the length of HASH_R; so do we, for
SHA2-256/384/512 too, and a tenth field may name the hash (``sha256``), as
:func:`format_line` writes it for the SHA-2 hashes.

Speed: the HMAC is written out (RFC 2104 2: H(K ^ opad | H(K ^ ipad |
text))) in a compiled loop over OpenSSL's digests (``_crackloop.c``, built
where a C compiler and OpenSSL's headers are), a batch of candidates per
call, and a match is confirmed by :meth:`Target.check`, with :mod:`hmac`
and a constant-time compare.  Where the loop was not built, that check
alone tries each candidate, some six times slower.  Workers split a
dictionary by byte ranges and a brute force by first character, one
process each.
"""

import hmac
import itertools
import mmap
import multiprocessing
import os
import threading
from dataclasses import dataclass
from typing import Optional

from scapy_ike.crypto import registry

try:
    from scapy_ike.probe import _crackloop
except ImportError:         # built without a C compiler or OpenSSL's headers
    _crackloop = None

BLOCK_SIZES = {"md5": 64, "sha1": 64, "sha256": 64, "sha384": 128, "sha512": 128}
"""The HMAC block size B of each hash (RFC 2104 2; FIPS 180-4 for SHA-2)."""

BY_DIGEST_SIZE = {h.digest_size: h.name for h in registry.HASHES}
"""The hash of a HASH_R of each length: all five IKEv1 hashes differ."""

DEFAULT_CHARSET = "0123456789abcdefghijklmnopqrstuvwxyz"
"""psk-crack's default brute-force character set."""

CHUNK = 1 << 20
"""Bytes of a dictionary read at a time by one worker."""


class LineError(ValueError):
    """A line that is not a psk-crack line."""


@dataclass(frozen=True)
class Target:
    """One captured HASH_R with what it covers (RFC 2409 5.4)."""

    hash: str            # strongSwan's name: md5, sha1, sha256, ...
    g_xr: bytes
    g_xi: bytes
    cky_r: bytes
    cky_i: bytes
    sai_b: bytes
    idir_b: bytes
    ni_b: bytes
    nr_b: bytes
    hash_r: bytes

    @property
    def label(self):
        """The hash as psk-crack prints it: ``MD5``, ``SHA1``, ``SHA256``."""
        return self.hash.upper()

    def signed(self):
        """What HASH_R is the prf of: g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b."""
        return self.g_xr + self.g_xi + self.cky_r + self.cky_i + self.sai_b + self.idir_b

    def check(self, key):
        """Whether *key* is the pre-shared key (the slow, plain path)."""
        skeyid = hmac.new(key, self.ni_b + self.nr_b, self.hash).digest()
        return hmac.compare_digest(hmac.new(skeyid, self.signed(), self.hash).digest(),
                                   self.hash_r)


_FIELDS = ("g_xr", "g_xi", "cky_r", "cky_i", "sai_b", "idir_b", "ni_b", "nr_b", "hash_r")


def parse_line(text):
    """The :class:`Target` of one psk-crack line."""
    fields = text.strip().split(":")
    named = None
    if len(fields) == 10:
        named = fields.pop().lower()
        if named not in BLOCK_SIZES:
            raise LineError("unknown hash %r in the tenth field" % named)
    if len(fields) != 9:
        raise LineError("%d fields, not the 9 of a psk-crack line" % len(fields))
    try:
        values = [bytes.fromhex(f) for f in fields]
    except ValueError:
        raise LineError("a field is not hex") from None
    guessed = BY_DIGEST_SIZE.get(len(values[-1]))
    if named is None and guessed is None:
        raise LineError("a HASH_R of %d bytes is no IKEv1 hash" % len(values[-1]))
    if named is not None and guessed != named:
        raise LineError("a HASH_R of %d bytes is not %s" % (len(values[-1]), named))
    return Target(named or guessed, *values)


def read_lines(text):
    """``[(line number, Target)]`` of every line of a psk-crack file but
    blanks and ``#`` comments; a bad line is a LineError naming it."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            out.append((number, parse_line(line)))
        except LineError as exc:
            raise LineError("line %d: %s" % (number, exc)) from None
    return out


def format_line(target):
    """The psk-crack line of *target*; a SHA-2 one names its hash in a
    tenth field (psk-crack reads MD5 and SHA-1 only)."""
    line = ":".join(getattr(target, name).hex() for name in _FIELDS)
    return line if target.hash in ("md5", "sha1") else line + ":" + target.hash


HASHCAT_MODES = {"md5": 5300, "sha1": 5400}
"""hashcat's modes for IKE-PSK lines in psk-crack's format."""


# -- the search ---------------------------------------------------------------

def matcher(target, compiled=None):
    """``find(candidates)``: the first of *candidates* (a list of bytes)
    that is the key, or None: by the compiled loop where it was built
    (*compiled* None) or when *compiled* is true, every match confirmed by
    :meth:`Target.check`; else by :meth:`Target.check` alone."""
    if compiled is None:
        compiled = _crackloop is not None
    if not compiled:
        return lambda candidates: next(filter(target.check, candidates), None)
    search, nonces, signed = _crackloop.find, target.ni_b + target.nr_b, target.signed()

    def find(candidates):
        index = search(target.hash, nonces, signed, target.hash_r, candidates)
        if index < 0:
            return None
        return candidates[index] if target.check(candidates[index]) else None
    return find


def _lines(data):
    """The non-empty lines of *data* without their ``\\n`` or ``\\r\\n``:
    split once, stripped and filtered only where *data* needs it."""
    lines = data.split(b"\n")
    if b"\r" in data:
        lines = [line.rstrip(b"\r") for line in lines]
    return lines if all(lines) else [line for line in lines if line]


def dictionary_slices(path, jobs):
    """``[(start, end)]``: *jobs* byte ranges of the file at *path*, each
    starting at a line."""
    size = os.path.getsize(path)
    bounds = [size * i // jobs for i in range(jobs + 1)]
    with open(path, "rb") as f:
        starts = [0]
        for b in bounds[1:-1]:
            f.seek(max(b - 1, 0))
            f.readline()
            starts.append(max(f.tell(), starts[-1]))
    return list(zip(starts, starts[1:] + [size]))


BATCH = 65536
"""Candidates tried between two looks at the stop flag."""


def _search(target, batches, stop, progress):
    """``(key or None, candidates tried)`` over *batches* of candidates."""
    find, tried = matcher(target), 0
    for batch in batches:
        if stop is not None and stop.is_set():
            break
        found = find(batch)
        tried += len(batch) if found is None else batch.index(found) + 1
        if progress is not None:
            with progress.get_lock():
                progress.value += len(batch)
        if found is not None:
            return found, tried
    return None, tried


def _dictionary_batches(path, start, end):
    if end <= start:
        return
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        pos = start
        while pos < end:
            stop_at = min(pos + CHUNK, end)
            if stop_at < end:
                cut = m.rfind(b"\n", pos, stop_at)
                stop_at = cut + 1 if cut >= pos else m.find(b"\n", stop_at, end) + 1 or end
            yield _lines(m[pos:stop_at])
            pos = stop_at


def search_dictionary(target, path, start, end, stop=None, progress=None):
    """``(key or None, candidates tried)`` over the lines of *path*
    between byte offsets *start* and *end* (a line each)."""
    return _search(target, _dictionary_batches(path, start, end), stop, progress)


def _bruteforce_batches(length, charset, first):
    """Lists of every key of 1 to *length* characters of *charset* whose
    first character is in *first*, in :func:`itertools.product`'s order: the
    last characters, as many as make at most :data:`BATCH` keys, are made
    once per length, and a batch is one prefix joined to each of them."""
    chars = [bytes([c]) for c in charset]
    for n in range(1, length + 1):
        tail = 0
        while tail < n - 1 and len(chars) ** (tail + 1) <= BATCH:
            tail += 1
        suffixes = [b"".join(p) for p in itertools.product(chars, repeat=tail)]
        for head in first:
            for middle in itertools.product(chars, repeat=n - 1 - tail):
                prefix = bytes([head]) + b"".join(middle)
                yield [prefix + suffix for suffix in suffixes]


def search_bruteforce(target, length, charset, first, stop=None, progress=None):
    """``(key or None, candidates tried)`` over every key of 1 to *length*
    characters of *charset* whose first character is in *first*."""
    return _search(target, _bruteforce_batches(length, charset, first), stop, progress)


@dataclass(frozen=True)
class Result:
    key: Optional[bytes]
    tried: int


_STATE = {}


def _init(stop, progress):
    _STATE["stop"], _STATE["progress"] = stop, progress


def _work(task):
    kind, target, args = task
    search = search_dictionary if kind == "dictionary" else search_bruteforce
    found, tried = search(target, *args, stop=_STATE["stop"], progress=_STATE["progress"])
    if found is not None:
        _STATE["stop"].set()
    return found, tried


def _ticking(running, wait, progress, tick, interval):
    """Wait while *running()*, calling *tick* with the count so far."""
    while running():
        wait(interval)
        if tick is not None:
            tick(progress.value)


def crack(target, jobs=1, wordlist=None, bruteforce=0, charset=DEFAULT_CHARSET, tick=None,
          interval=1.0):
    """Search the dictionary at *wordlist*, then keys of up to *bruteforce*
    characters of *charset*, in *jobs* processes; *tick(candidates tried
    so far)* is called every *interval* seconds while they run."""
    charset = charset.encode() if isinstance(charset, str) else charset
    tasks = []
    if wordlist is not None:
        tasks += [[("dictionary", target, (wordlist, s, e))
                   for s, e in dictionary_slices(wordlist, jobs)]]
    if bruteforce:
        tasks += [[("bruteforce", target, (bruteforce, charset, charset[j::jobs]))
                   for j in range(jobs)]]
    total = 0
    context = multiprocessing.get_context("fork")
    stop, progress = context.Event(), context.Value("q", 0)
    for round_ in tasks:
        if jobs == 1:           # in this process; a thread, so that we can tick
            _init(stop, progress)
            results = []
            worker = threading.Thread(target=lambda: results.append(_work(round_[0])))
            worker.start()
            _ticking(worker.is_alive, worker.join, progress, tick, interval)
        else:
            with context.Pool(jobs, _init, (stop, progress)) as pool:
                pending = pool.map_async(_work, round_)
                _ticking(lambda: not pending.ready(), pending.wait, progress, tick, interval)
                results = pending.get()
        total += sum(t for _, t in results)
        found = next((k for k, _ in results if k is not None), None)
        if found is not None:
            return Result(found, total)
    return Result(None, total)
