"""Keys from charon's own debug log: a strongSwan log at ``ike`` and
``chd`` level 4 (and ``mgr`` 2, for the SPIs of each IKE SA), as
strongSwan users have it, e.g. from a ``filelog`` section of
strongswan.conf.

charon logs each secret as ``NAME => N bytes @ ADDRESS`` followed by hex
dump lines of 16 bytes, every line behind the time, the thread and group
(``11[IKE]``) and the SA's ``<name|unique id>``: g^xy ("shared
Diffie Hellman secret"), SKEYID, SKEYID_d/a/e and Ka for each IKE SA
(RFC 2409 5), each Quick Mode's own g^xy with PFS ("DH secret", 5.5),
and each CHILD_SA's keys ("encryption/integrity initiator/responder
key") with the KEYMAT seeds that name their SPIs.  The SPIs of an IKE SA
come from the ``with SPIs I_i R_r`` lines of the manager.
"""

import re

from scapy_ike.decode.keylog import IkeKey, KeyFileError, Keys, logged_esp_key

LINE = re.compile(r"(?:\S+ )?\d+\[[A-Z]+\] (?:<(?:[^>|]*\|)?(\w*)> )?(.*)$")
"""[time] thread[GROUP] [<name|unique id>] text."""
CHARON_LINE = re.compile(r"(?:\d\d:\d\d:\d\d\S* )?\d\d\[[A-Z]{3}\] ")
DUMP_START = re.compile(r"(.+) => (\d+) bytes @ \S+$")
DUMP_LINE = re.compile(r"\s*\d+: ((?:[0-9A-F]{2} ){0,15}[0-9A-F]{2})")
IKE_SPIS = re.compile(r"SA \S*\[(\d+)\] with SPIs ([0-9a-f]{16})_i ([0-9a-f]{16})_r")
ESP_PROPOSAL = re.compile(r"selected proposal: ESP:(\S+)")
ESP_SA = re.compile(r"SPI 0x([0-9a-f]+), src (\S+) dst (\S+)")
INTEGRITY = re.compile(r"(HMAC|AES_XCBC|AES_CMAC|AES_\d*_?GMAC)")
IKE_NAMES = {"shared Diffie Hellman secret": "gxy", "SKEYID": "skeyid", "SKEYID_d": "skeyid_d",
             "SKEYID_a": "skeyid_a", "SKEYID_e": "skeyid_e", "encryption key Ka": "ka"}
CHILD_NAMES = {"initiator SA seed": "seed_i", "responder SA seed": "seed_r",
               "encryption initiator key": "enc_i", "encryption responder key": "enc_r",
               "integrity initiator key": "int_i", "integrity responder key": "int_r"}


def is_charon_log(line):
    """Whether *line* (the first one of a file) is a charon log line."""
    return bool(CHARON_LINE.match(line))


def parse_charon_log(text: str) -> Keys:
    """The IKE SAs' secrets, the Quick Modes' g^xy and the ESP SAs' keys
    that a charon log holds."""
    secrets, spis, child = {}, {}, {}
    qm_gxy, esp = [], []
    dumps = {}                 # thread -> [name, unique id, bytes wanted, hex so far]
    proposal, adding = {}, {}
    for number, raw in enumerate(text.splitlines(), 1):
        match = LINE.match(raw)
        if match is None:
            continue
        thread = raw.split("[", 1)[0].split()[-1]
        uid, rest = match.group(1) or "", match.group(2)
        dump = dumps.get(thread)
        hexdump = DUMP_LINE.match(rest) if dump is not None else None
        if hexdump is not None:
            dump[3] += hexdump.group(1).replace(" ", "")
            if len(dump[3]) >= 2 * dump[2]:
                _finish(dumps.pop(thread), secrets, child, qm_gxy)
            continue
        dumps.pop(thread, None)
        started = DUMP_START.match(rest)
        if started is not None:
            dumps[thread] = [started.group(1), uid, int(started.group(2)), ""]
            if not dumps[thread][2]:
                _finish(dumps.pop(thread), secrets, child, qm_gxy)
            continue
        found = IKE_SPIS.search(rest)
        if found is not None and found.group(3) != "0" * 16:
            spis[found.group(1)] = (found.group(2), found.group(3))
            continue
        found = ESP_PROPOSAL.search(rest)
        if found is not None:
            proposal[uid] = found.group(1).split("/")
            continue
        if rest.startswith(("adding inbound ESP SA", "adding outbound ESP SA")):
            adding[thread] = True
            continue
        found = ESP_SA.search(rest) if adding.pop(thread, False) else None
        if found is not None:
            key = _esp(number, uid, found.groups(), proposal.get(uid), child.get(uid, {}))
            if key is not None:
                esp.append(key)
    ike = [IkeKey(bytes.fromhex(spis[uid][0]), bytes.fromhex(spis[uid][1]),
                  **{name: bytes.fromhex(value) for name, value in values.items()})
           for uid, values in secrets.items() if uid in spis]
    return Keys(ike, esp, qm_gxy)


def _finish(dump, secrets, child, qm_gxy):
    name, uid, _, value = dump
    value = value.lower()
    if name in IKE_NAMES:
        secrets.setdefault(uid, {})[IKE_NAMES[name]] = value
    elif name == "DH secret":
        qm_gxy.append(bytes.fromhex(value))
    elif name in CHILD_NAMES:
        child.setdefault(uid, {})[CHILD_NAMES[name]] = value


def _esp(number, uid, found, proposal, keys):
    """The key of the ESP SA *found* (SPI, source, destination): the
    initiator's or responder's, as its KEYMAT seed names the SPI (RFC 2409
    5.5: protocol 3, then the SPI); None when the log lacks them."""
    spi, src, dst = found
    side = next((s for s in ("i", "r") if ("03" + spi.zfill(8)) in keys.get("seed_" + s, "")),
                None)
    if side is None or not proposal or "enc_" + side not in keys:
        return None
    integrity = next((p for p in proposal[1:] if INTEGRITY.match(p)), "none")
    fields = {"spi": spi, "src": src, "dst": dst, "enc": proposal[0],
              "encr_key": keys["enc_" + side], "integ": integrity,
              "integ_key": keys.get("int_" + side, "")}
    try:
        return logged_esp_key(number, fields)
    except (KeyError, ValueError) as error:
        raise KeyFileError(number, "ESP SA 0x%s: %s" % (spi, error)) from None
