"""ESP throughput on 1400-byte payloads, in one run:

1. the bare ``cryptography`` ceiling (the primitives alone);
2. Scapy's ``SecurityAssociation`` on dissected input, output built to
   bytes (Scapy's decrypt changes its input, so each call gets a copy made
   outside the timed part; ours is measured the same way);
3. ours through the packet API, on the same input and output (our
   result is dissected on first use, so building it to bytes costs no
   dissection);
4. ours through ``seal``/``open``.

The last lines compare the two when the result is used (a field of the
ESP header, or of the inner UDP header, read), which dissects ours too.

Prints packets per second (each the best of several timing windows, the
one least disturbed by other work on the machine) and the ratios.  Run: ``python benchmarks/esp.py``.
"""

import hashlib
import hmac
import os
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import ESP
from scapy.layers.ipsec import SecurityAssociation as ScapySA

from scapy_ike.esp import SecurityAssociation

SIZE = 1400
TUNNEL = IP(src="192.0.2.2", dst="192.0.2.1")
INNER = IP(bytes(IP(src="198.51.100.2", dst="198.51.100.1") / UDP(sport=1, dport=2)
                 / os.urandom(SIZE - 28)))
SUITES = {
    "AES-GCM-128": dict(crypt_algo="AES-GCM", crypt_key=os.urandom(20), crypt_icv_size=16),
    "AES-CBC-128+HMAC-SHA1-96": dict(crypt_algo="AES-CBC", crypt_key=os.urandom(16),
                                     auth_algo="HMAC-SHA1-96", auth_key=os.urandom(20)),
}


def rate(fn, seconds=1.0, windows=5):
    """Calls of *fn* per second: the best of *windows* windows sharing
    *seconds* (the least disturbed by other work on the machine, as
    ``timeit`` advises)."""
    best = 0.0
    for _ in range(windows):
        count, start = 0, time.perf_counter()
        while True:
            for _ in range(50):
                fn()
            count += 50
            elapsed = time.perf_counter() - start
            if elapsed >= seconds / windows:
                break
        best = max(best, count / elapsed)
    return best


def rate_on_copies(fn, pkt, seconds=1.0):
    """Calls per second of *fn* on fresh copies of *pkt*, the copies made
    outside the timed part (Scapy's decrypt changes its input); the best
    of *windows* batches."""
    best, elapsed = 0.0, 0.0
    while elapsed < seconds:
        copies = [pkt.copy() for _ in range(200)]
        start = time.perf_counter()
        for c in copies:
            fn(c)
        batch = time.perf_counter() - start
        elapsed += batch
        best = max(best, len(copies) / batch)
    return best


def ceiling(name, params):
    """The primitives alone: what any Python ESP pays at least."""
    payload = os.urandom(SIZE + 2)
    if name.startswith("AES-GCM"):
        gcm = AESGCM(params["crypt_key"][:16])
        nonce, aad = os.urandom(12), os.urandom(8)
        sealed = gcm.encrypt(nonce, payload, aad)
        return rate(lambda: gcm.encrypt(nonce, payload, aad)), \
            rate(lambda: gcm.decrypt(nonce, sealed, aad))
    key = params["crypt_key"]
    mac = hmac.new(params["auth_key"], digestmod=hashlib.sha1)
    padded = payload + bytes(-len(payload) % 16)
    enc = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    dec = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).decryptor()

    def seal():
        ct = enc.update(padded)
        m = mac.copy()
        m.update(ct)
        return m.digest()

    def open_():
        m = mac.copy()
        m.update(padded)
        m.digest()
        return dec.update(padded)
    return rate(seal), rate(open_)


def measure(name, params):
    theirs = ScapySA(ESP, spi=0x1001, tunnel_header=TUNNEL, **params)
    ours = SecurityAssociation(0x1001, tunnel_header=TUNNEL, **params)
    inner_bytes = bytes(INNER)
    sealed = ours.seal(inner_bytes)
    sealed_pkt = IP(bytes(ours.encrypt(INNER)))
    scapy_sealed = IP(bytes(theirs.encrypt(INNER)))

    rx_theirs = ScapySA(ESP, spi=0x1001, tunnel_header=TUNNEL, **params)
    rx_ours = SecurityAssociation(0x1001, tunnel_header=TUNNEL, replay_window=0, **params)
    rx_fast = SecurityAssociation(0x1001, replay_window=0, **params)
    results = {
        "cryptography": ceiling(name, params),
        "scapy packets": (rate(lambda: bytes(theirs.encrypt(INNER))),
                          rate_on_copies(lambda p: bytes(rx_theirs.decrypt(p)), scapy_sealed)),
        "ours packets": (rate(lambda: bytes(ours.encrypt(INNER))),
                         rate_on_copies(lambda p: bytes(rx_ours.decrypt(p)), sealed_pkt)),
        "ours seal/open": (rate(lambda: ours.seal(inner_bytes)),
                           rate(lambda: rx_fast.open(sealed))),
    }
    print("\n%s, %d-byte payloads (packets/s; encrypt, decrypt)" % (name, SIZE))
    for label, (enc, dec) in results.items():
        print("  %-16s %9.0f %9.0f" % (label, enc, dec))
    scapy = results["scapy packets"]
    ours_pkt = results["ours packets"]
    fast = results["ours seal/open"]
    top = results["cryptography"]
    print("  packet API vs Scapy:      %.1fx encrypt, %.1fx decrypt" % (
        ours_pkt[0] / scapy[0], ours_pkt[1] / scapy[1]))
    print("  seal/open vs ceiling:     %.0f%% encrypt, %.0f%% decrypt" % (
        100 * fast[0] / top[0], 100 * fast[1] / top[1]))
    used = {
        "encrypt": (rate(lambda: ours.encrypt(INNER)[ESP].seq),
                    rate(lambda: theirs.encrypt(INNER)[ESP].seq)),
        "decrypt": (rate_on_copies(lambda p: rx_ours.decrypt(p)[UDP].dport, sealed_pkt),
                    rate_on_copies(lambda p: rx_theirs.decrypt(p)[UDP].dport, scapy_sealed)),
    }
    for what, (mine, scapys) in used.items():
        print("  %s, result used:     %.0f vs Scapy %.0f pkt/s, %.1fx" % (
            what, mine, scapys, mine / scapys))
    return results


if __name__ == "__main__":
    for suite, parameters in SUITES.items():
        measure(suite, parameters)
