"""Diffie-Hellman (scapy_ike.crypto.dh): the group table, an exchange in
every group that computes here, RFC 5903 8 and RFC 7748 6 known answers, a
MODP known answer from Python's pow(), the primes themselves, and peer
values a responder must refuse."""

import subprocess
import sys
import warnings

import pytest
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.utils import CryptographyDeprecationWarning

from scapy_ike.constants import Group
from scapy_ike.crypto import dh

NAMES = {
    1: "modp768", 2: "modp1024", 3: "ec2n155", 4: "ec2n185", 5: "modp1536",
    6: "ec2n163a", 7: "ec2n163b", 8: "ec2n283a", 9: "ec2n283b", 10: "ec2n409a",
    11: "ec2n409b", 12: "ec2n571a", 13: "ec2n571b", 14: "modp2048", 15: "modp3072",
    16: "modp4096", 17: "modp6144", 18: "modp8192", 19: "ecp256", 20: "ecp384",
    21: "ecp521", 22: "modp1024s160", 23: "modp2048s224", 24: "modp2048s256",
    25: "ecp192", 26: "ecp224", 27: "ecp224bp", 28: "ecp256bp", 29: "ecp384bp",
    30: "ecp512bp", 31: "curve25519", 32: "curve448",
}
# group: (kind, KE payload bytes, g^xy bytes)
SUPPORTED = {
    1: ("modp", 96, 96), 2: ("modp", 128, 128), 5: ("modp", 192, 192),
    14: ("modp", 256, 256), 15: ("modp", 384, 384), 16: ("modp", 512, 512),
    17: ("modp", 768, 768), 18: ("modp", 1024, 1024),
    22: ("modp", 128, 128), 23: ("modp", 256, 256), 24: ("modp", 256, 256),
    19: ("ecp", 64, 32), 20: ("ecp", 96, 48), 21: ("ecp", 132, 66),
    25: ("ecp", 48, 24), 26: ("ecp", 56, 28),
    28: ("ecp", 64, 32), 29: ("ecp", 96, 48), 30: ("ecp", 128, 64),
    31: ("curve", 32, 32), 32: ("curve", 56, 56),
}
UNSUPPORTED = [3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 27]
PRIME_BITS = {1: 768, 2: 1024, 5: 1536, 14: 2048, 15: 3072, 16: 4096, 17: 6144, 18: 8192,
              22: 1024, 23: 2048, 24: 2048}


def test_table():
    assert list(dh.GROUPS) == sorted(Group)
    assert {n: g.name for n, g in dh.GROUPS.items()} == NAMES
    assert {n: (g.kind, g.public_size) for n, g in dh.GROUPS.items() if g.supported} == {
        n: kind_sizes[:2] for n, kind_sizes in SUPPORTED.items()}
    assert [n for n, g in dh.GROUPS.items() if not g.supported] == UNSUPPORTED
    assert dh.GROUPS[27] == dh.DhGroup(27, "ecp224bp", "ecp", 56, False)
    assert dh.GROUPS[3] == dh.DhGroup(3, "ec2n155", "ec2n", 20, False)


def test_lookup():
    assert dh.group(14) is dh.group(Group.MODP2048) is dh.group("modp2048") is dh.group("MODP2048")
    assert dh.group("curve25519").number == 31
    for missing in (0, 33, "modp999", "ecp256bp1"):
        with pytest.raises(KeyError):
            dh.group(missing)


@pytest.mark.parametrize("number", sorted(SUPPORTED))
def test_exchange(number):
    _, public_size, secret_size = SUPPORTED[number]
    key_i, public_i = dh.generate(number)
    key_r, public_r = dh.generate(number)
    assert len(public_i) == len(public_r) == public_size
    secret = dh.shared_secret(number, key_i, public_r)
    assert len(secret) == secret_size
    assert dh.shared_secret(number, key_r, public_i) == secret


@pytest.mark.parametrize("number", UNSUPPORTED)
def test_unsupported(number):
    name = NAMES[number]
    with pytest.raises(dh.UnsupportedGroup, match=name):
        dh.generate(number)
    with pytest.raises(dh.UnsupportedGroup, match=name):
        dh.shared_secret(name, None, bytes(dh.GROUPS[number].public_size))
    assert issubclass(dh.UnsupportedGroup, ValueError)


def test_curve_missing_from_the_openssl_build(monkeypatch):
    assert dh._curve_works("SECP192R1") is True
    assert dh._curve_works("BrainpoolP224R1") is False

    def refuse(curve):
        raise UnsupportedAlgorithm("no such curve in this build")

    monkeypatch.setattr(dh.ec, "generate_private_key", refuse)
    assert dh._curve_works("SECP192R1") is False


# -- known answers ------------------------------------------------------------

RFC5903 = {  # section 8: group -> (i, g^i x, g^i y, r, g^r x, g^r y, g^ir x)
    19: ("C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
         "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180",
         "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3",
         "C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53",
         "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63",
         "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB",
         "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE"),
    20: ("099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655"
         "E35B538041E649EE3FAEF896783AB194",
         "667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6"
         "DE3AC808ACB4BDB4C88732AEE95F41AA",
         "9482ED1FC0EEB9CAFC4984625CCFC23F65032149E0E144ADA024181535A0F38E"
         "EB9FCFF3C2C947DAE69B4C634573A81C",
         "41CB0779B4BDB85D47846725FBEC3C9430FAB46CC8DC5060855CC9BDA0AA2942"
         "E0308312916B8ED2960E4BD55A7448FC",
         "E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D"
         "0D1AC43A0336DEF96FDA41D0774A3571",
         "DCFBEC7AACF3196472169E838430367F66EEBE3C6E70C416DD5F0C68759DD1FF"
         "F83FA40142209DFF5EAAD96DB9E6386C",
         "11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4"
         "D603135569B9E9D09CF5D4A270F59746"),
    21: ("0037ADE9319A89F4DABDB3EF411AACCCA5123C61ACAB57B5393DCE47608172A0"
         "95AA85A30FE1C2952C6771D937BA9777F5957B2639BAB072462F68C27A57382D4A52",
         "0015417E84DBF28C0AD3C278713349DC7DF153C897A1891BD98BAB4357C9ECBE"
         "E1E3BF42E00B8E380AEAE57C2D107564941885942AF5A7F4601723C4195D176CED3E",
         "017CAE20B6641D2EEB695786D8C946146239D099E18E1D5A514C739D7CB4A10A"
         "D8A788015AC405D7799DC75E7B7D5B6CF2261A6A7F1507438BF01BEB6CA3926F9582",
         "0145BA99A847AF43793FDD0E872E7CDFA16BE30FDC780F97BCCC3F078380201E"
         "9C677D600B343757A3BDBF2A3163E4C2F869CCA7458AA4A4EFFC311F5CB151685EB9",
         "00D0B3975AC4B799F5BEA16D5E13E9AF971D5E9B984C9F39728B5E5739735A21"
         "9B97C356436ADC6E95BB0352F6BE64A6C2912D4EF2D0433CED2B6171640012D9460F",
         "015C68226383956E3BD066E797B623C27CE0EAC2F551A10C2C724D9852077B87"
         "220B6536C5C408A1D2AEBB8E86D678AE49CB57091F4732296579AB44FCD17F0FC56A",
         "01144C7D79AE6956BC8EDB8E7C787C4521CB086FA64407F97894E5E6B2D79B04"
         "D1427E73CA4BAA240A34786859810C06B3C715A3A8CC3151F2BEE417996D19F3DDEA"),
}


@pytest.mark.parametrize("number", sorted(RFC5903))
def test_rfc5903(number):
    i, gix, giy, r, grx, gry, girx = RFC5903[number]
    key_i, public_i = dh.generate(number, private=int(i, 16))
    key_r, public_r = dh.generate(number, private=int(r, 16))
    assert public_i == bytes.fromhex(gix + giy)
    assert public_r == bytes.fromhex(grx + gry)
    assert dh.shared_secret(number, key_i, public_r) == bytes.fromhex(girx)
    assert dh.shared_secret(number, key_r, public_i) == bytes.fromhex(girx)


RFC7748 = {  # section 6.1 (X25519) and 6.2 (X448): Alice, Alice's public, Bob, Bob's public, K
    31: ("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
         "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
         "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
         "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
         "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"),
    32: ("9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28d"
         "d9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b",
         "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c"
         "22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0",
         "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d"
         "6927c120bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d",
         "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b430"
         "27d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609",
         "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282b"
         "b60c0b56fd2464c335543936521c24403085d59a449a5037514a879d"),
}


@pytest.mark.parametrize("number", sorted(RFC7748))
def test_rfc7748(number):
    alice, alice_public, bob, bob_public, secret = (bytes.fromhex(v) for v in RFC7748[number])
    key_a, public_a = dh.generate(number, private=alice)
    key_b, public_b = dh.generate(number, private=bob)
    assert (public_a, public_b) == (alice_public, bob_public)
    assert dh.shared_secret(number, key_a, public_b) == secret
    assert dh.shared_secret(number, key_b, public_a) == secret


# x found so that both g^x and g^xy begin with a zero byte: the padding of
# RFC 2409 5 is exercised, not assumed.
MODP_KNOWN = {2: (0xC0FFEE0000018DD6, 0x5EED5EED5EED5EED),
              14: (0xC0FFEE00000046B3, 0x5EED5EED5EED5EED)}


@pytest.mark.parametrize("number", sorted(MODP_KNOWN))
def test_modp_against_pow(number):
    x, y = MODP_KNOWN[number]
    p, g, _ = dh.modp_parameters(number)
    size = p.bit_length() // 8
    key_x, public_x = dh.generate(number, private=x)
    key_y, public_y = dh.generate(number, private=y)
    assert public_x == pow(g, x, p).to_bytes(size, "big")
    assert public_y == pow(g, y, p).to_bytes(size, "big")
    secret = pow(int.from_bytes(public_y, "big"), x, p).to_bytes(size, "big")
    assert public_x[0] == secret[0] == 0
    assert dh.shared_secret(number, key_x, public_y) == secret
    assert dh.shared_secret(number, key_y, public_x) == secret


# -- the primes ---------------------------------------------------------------

def miller_rabin(n, bases=(2, 3)):
    """Strong probable-prime test of odd n > 3 to fixed bases."""
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in bases:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def test_miller_rabin():
    assert miller_rabin(2 ** 127 - 1)
    assert not miller_rabin(2 ** 127 + 1)
    assert not miller_rabin(561)  # a Carmichael number
    assert miller_rabin(2047, (2,))  # 23 * 89 fools base 2 alone, not base 3
    assert not miller_rabin(2047)


@pytest.mark.parametrize("number", sorted(PRIME_BITS))
def test_prime(number):
    p, g, q = dh.modp_parameters(number)
    assert p.bit_length() == PRIME_BITS[number]
    assert miller_rabin(p)
    if q is None:  # RFC 2409 6.1/6.2, RFC 3526: top and bottom 64 bits set, g = 2
        mask = 2 ** 64 - 1
        assert (p >> (p.bit_length() - 64), p & mask, g) == (mask, mask, 2)
    else:  # RFC 5114 2.1-2.3: g generates the subgroup of prime order q
        assert q.bit_length() == {22: 160, 23: 224, 24: 256}[number]
        assert miller_rabin(q, (2, 3, 5, 7))
        assert (p - 1) % q == 0
        assert g != 1 and pow(g, q, p) == 1


# -- what a responder refuses -------------------------------------------------

@pytest.mark.parametrize("number", [2, 14, 22])
def test_bad_modp_value(number):
    p, _, _ = dh.modp_parameters(number)
    size = dh.group(number).public_size
    key, _ = dh.generate(number)
    for y in (0, 1, p - 1, p):
        with pytest.raises(ValueError, match="1 < y < p-1"):
            dh.shared_secret(number, key, y.to_bytes(size, "big"))
    for length in (size - 1, size + 1):
        with pytest.raises(ValueError, match="%d bytes, not %d" % (length, size)):
            dh.shared_secret(number, key, bytes(length - 1) + b"\x02")


@pytest.mark.parametrize("number", [22, 23, 24])
def test_modp_outside_subgroup(number):
    key, _ = dh.generate(number)
    with pytest.raises(ValueError, match="order-q subgroup"):
        dh.shared_secret(number, key, (2).to_bytes(dh.group(number).public_size, "big"))


@pytest.mark.parametrize("number", [19, 21, 28])
def test_bad_ecp_point(number):
    key, public = dh.generate(number)
    off_curve = public[:-1] + bytes([public[-1] ^ 1])
    for bad in (off_curve, bytes(len(public))):
        with pytest.raises(ValueError, match="not a point on the curve"):
            dh.shared_secret(number, key, bad)
    with pytest.raises(ValueError, match="bytes, not %d" % len(public)):
        dh.shared_secret(number, key, b"\x04" + public)


@pytest.mark.parametrize("number", [31, 32])
def test_bad_curve_value(number):
    key, public = dh.generate(number)
    with pytest.raises(ValueError, match="all zeros"):
        dh.shared_secret(number, key, bytes(len(public)))
    with pytest.raises(ValueError, match="bytes, not %d" % len(public)):
        dh.shared_secret(number, key, public[1:])


def test_bad_private():
    _, _, q = dh.modp_parameters(22)
    for number, x in ((14, 1), (14, "secret"), (22, q)):
        with pytest.raises(ValueError, match="private value"):
            dh.generate(number, private=x)
    with pytest.raises(ValueError):
        dh.generate(19, private=0)


# -- cryptography's FFDH deprecation stays inside the module ------------------

def test_no_deprecation_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for number in SUPPORTED:
            key, public = dh.generate(number)
            dh.shared_secret(number, key, public)
        key, public = dh.generate(2, private=MODP_KNOWN[2][0])
        dh.shared_secret(2, key, public)
    assert [w for w in caught
            if issubclass(w.category, (DeprecationWarning, CryptographyDeprecationWarning))] == []


def test_no_warning_on_import():
    code = ("from scapy_ike.crypto import dh\n"
            "key, public = dh.generate(14)\n"
            "assert len(dh.shared_secret(14, key, public)) == 256\n")
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)
