"""Keys from charon's own debug log: a strongSwan log at ``ike`` and
``chd`` level 4 (and ``mgr`` 2, for the SPIs of each IKE SA), as
strongSwan users have it from a ``filelog`` section of strongswan.conf,
with or without its time stamps.

charon logs each secret as ``NAME => N bytes @ ADDRESS`` followed by hex
dump rows, every line behind the thread and group (``11[IKE]``) and the
SA's ``<name|unique id>``: g^xy ("shared Diffie Hellman secret"), SKEYID,
SKEYID_d/a/e and Ka for each IKE SA (RFC 2409 5), each Quick Mode's own
g^xy with PFS ("DH secret", 5.5), and each CHILD_SA's keys with the
KEYMAT seeds that name their SPIs.  The SPIs of an IKE SA come from the
manager's ``with SPIs I_i R_r`` lines.  :func:`charon_keys` turns a log
into key log lines (:mod:`~scapy_ike.decode.keylog`).
"""

import re

from scapy_ike.decode.keylog import Keys, parse_key_log

CHARON_LINE = re.compile(r"(?:\d\d:\d\d:\d\d\S* )?\d\d\[[A-Z]{3}\] ")


def is_charon_log(line):
    """Whether *line* (the first of a file) is a line of a charon log."""
    return bool(CHARON_LINE.match(line))


def parse_charon_log(text: str) -> Keys:
    """The IKE SAs' secrets, the Quick Modes' g^xy and the ESP SAs' keys
    that a charon log holds."""
    return parse_key_log(charon_keys(text))


_LOG_LINE = re.compile(r"(?:\S+ )?(?P<thread>\d+)\[(?P<group>[A-Z]+)\] "
                       r"(?:<(?:[^>]*\|)?(?P<uid>\d+)> )?(?P<text>.*)")
_DUMP_HEAD = re.compile(r"(?P<name>\S.*?) => (?P<size>\d+) bytes @ ")
_DUMP_ROW = re.compile(r"\s*\d+: (?P<hex>(?:[0-9A-F]{2} )+)")
_IKE_SPIS = re.compile(r"\[(?P<uid>\d+)\] with SPIs (?P<i>[0-9a-f]{16})_i (?P<r>[0-9a-f]{16})_r")
_PROPOSAL = re.compile(r"selected proposal: (?P<proto>IKE|ESP):(?P<algorithms>\S+)")
_QUICK_MODE = re.compile(r"(?:parsed|generating) QUICK_MODE (?:request|response) (?P<msgid>\d+) ")
_ADDING_SA = re.compile(r"adding (?:inbound|outbound) ESP SA")
_SA_SPI = re.compile(r"\s*SPI 0x(?P<spi>[0-9a-f]+), src (?P<src>\S+) dst (?P<dst>\S+)")
# the hex dumps worth reading, by log group and charon's label
_SECRETS = {
    "IKE": {"shared Diffie Hellman secret": "g_xy", "SKEYID": "skeyid", "SKEYID_d": "skeyid_d",
            "SKEYID_a": "skeyid_a", "SKEYID_e": "skeyid_e", "encryption key Ka": "ka",
            "initial IV": "iv"},
    "CHD": {"DH secret": "g_xy", "initiator SA seed": "seed_i", "responder SA seed": "seed_r",
            "encryption initiator key": "encr_i", "encryption responder key": "encr_r",
            "integrity initiator key": "integ_i", "integrity responder key": "integ_r"},
}
_IKE_FIELDS = ("icookie", "rcookie", "proposal", "g_xy", "skeyid", "skeyid_d", "skeyid_a",
               "skeyid_e", "ka", "iv")
_INTEGRITY = ("HMAC_", "AES_XCBC", "AES_CMAC")


def charon_keys(log: str) -> str:
    """The secrets in a charon log (ike/chd level 4, mgr 2, ``ike_name``),
    one line per SA, as ``scapy_ike.decode.keylog.parse_key_log`` reads them:

    - ``ike ike_sa= icookie= rcookie= proposal= g_xy= skeyid= skeyid_d=
      skeyid_a= skeyid_e= ka= iv=`` for each IKE SA that got its Ka;
    - ``esp ike_sa= spi=0x src= dst= enc= encr_key= integ= integ_key=`` for
      each ESP SA charon installed (GCM: the key ends with the salt;
      ``none`` without integrity);
    - ``qm ike_sa= msgid=0x g_xy=`` for each Quick Mode with PFS.

    ``ike_sa`` is charon's number of the IKE SA, the same on every line of
    one SA; values are lower-case hex.  An ESP SA's keys are the ones whose
    KEYMAT seed (RFC 2409 5.5: [g^xy(qm)] | protocol 3 | SPI | Ni_b | Nr_b)
    holds its SPI.
    """
    reader = _KeyLog()
    for line in log.splitlines():
        reader.feed(line)
    return "".join(line + "\n" for line in reader.lines())


class _KeyLog:
    """Reads a charon log line by line; hex dumps are followed per thread."""

    def __init__(self):
        self.ike = {}           # IKE SA number -> field -> hex
        self.child = {}         # IKE SA number -> the last Quick Mode's secrets and algorithms
        self.sa_lines = []      # esp and qm lines, in log order
        self.dumps = {}         # thread -> [group, label, size, IKE SA number, bytes so far]
        self.msgids = {}        # thread -> its last Quick Mode message ID
        self.adding = set()     # threads between "adding ... ESP SA" and its SPI line

    def lines(self):
        ike = ["ike ike_sa=%s %s" % (uid, " ".join("%s=%s" % (f, sa.get(f, "")) for f in _IKE_FIELDS))
               for uid, sa in sorted(self.ike.items(), key=lambda item: int(item[0]))
               if "ka" in sa and "icookie" in sa]
        return ike + self.sa_lines

    def feed(self, line):
        match = _LOG_LINE.match(line)
        if match is None:
            return
        thread, group, uid, text = match.group("thread", "group", "uid", "text")
        if thread in self.dumps and self._dump_row(thread, text):
            return
        self.dumps.pop(thread, None)
        head = _DUMP_HEAD.match(text)
        spi = _SA_SPI.match(text) if thread in self.adding else None
        if head and head["name"] in _SECRETS.get(group, {}):
            self.dumps[thread] = [group, head["name"], int(head["size"]), uid, bytearray()]
            self._dump_row(thread, None)
        elif spi:
            self.adding.discard(thread)
            self._esp_sa(uid, **spi.groupdict())
        else:
            self._event(thread, uid, text)

    def _dump_row(self, thread, text):
        """Takes one hex row (None: none, for a zero-length dump); False if
        *text* is not a row."""
        group, name, size, uid, data = self.dumps[thread]
        if text is not None:
            row = _DUMP_ROW.match(text)
            if row is None:
                return False
            data += bytes.fromhex(row["hex"])
        if len(data) >= size:
            del self.dumps[thread]
            self._secret(thread, group, name, uid, bytes(data[:size]))
        return True

    def _secret(self, thread, group, name, uid, value):
        field = _SECRETS[group][name]
        if group == "IKE":
            self.ike.setdefault(uid, {})[field] = value.hex()
            return
        self.child.setdefault(uid, {})[field] = value
        if field == "g_xy":
            self.sa_lines.append("qm ike_sa=%s msgid=%s g_xy=%s"
                                 % (uid, self.msgids.get(thread, "unknown"), value.hex()))

    def _event(self, thread, uid, text):
        spis = _IKE_SPIS.search(text)
        proposal = _PROPOSAL.search(text)
        quick_mode = _QUICK_MODE.search(text)
        if spis and spis["r"] != "0" * 16:
            self.ike.setdefault(spis["uid"], {}).update(icookie=spis["i"], rcookie=spis["r"])
        elif proposal and proposal["proto"] == "IKE":
            self.ike.setdefault(uid, {})["proposal"] = "IKE:" + proposal["algorithms"]
        elif proposal:
            algorithms = proposal["algorithms"].split("/")
            child = self.child.setdefault(uid, {})
            child["enc"] = algorithms[0]
            child["integ"] = next((a for a in algorithms[1:] if a.startswith(_INTEGRITY)), None)
        elif quick_mode:
            self.msgids[thread] = "0x%08x" % int(quick_mode["msgid"])
        elif _ADDING_SA.match(text):
            self.adding.add(thread)

    def _esp_sa(self, uid, spi, src, dst):
        child = self.child.get(uid, {})
        spi = bytes.fromhex(spi.rjust(8, "0"))
        for side in ("i", "r"):
            if _seed_holds(child.get("seed_" + side, b""), child.get("g_xy", b""), spi):
                break
        else:
            return
        integ = child.get("integ")
        line = "esp ike_sa=%s spi=0x%s src=%s dst=%s enc=%s encr_key=%s integ=%s integ_key=%s" % (
            uid, spi.hex(), src, dst, child.get("enc"), child["encr_" + side].hex(),
            integ or "none", child["integ_" + side].hex() if integ else "none")
        if line not in self.sa_lines:
            self.sa_lines.append(line)


def _seed_holds(seed, qm_gxy, spi):
    """Whether a KEYMAT seed ([g^xy(qm)] | 3 | SPI | Ni_b | Nr_b) is that of *spi*."""
    offset = len(qm_gxy) if qm_gxy and seed.startswith(qm_gxy) else 0
    return seed[offset:offset + 5] == b"\x03" + spi
