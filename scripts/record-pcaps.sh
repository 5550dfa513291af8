#!/usr/bin/env bash
# record-pcaps.sh - re-record the strongSwan IKEv1 captures in pcaps/.
#
# Usage:  scripts/record-pcaps.sh [OUTDIR [NAME...]]
#   OUTDIR  where the files go (default: the project's pcaps/ directory)
#   NAME    only these captures (default: all of them, see ALL below)
#
# For every capture two strongSwan charons (5.9.8 from Debian 12) talk IKEv1
# to each other, each in its own network namespace: the responder in <ns>-p
# on 192.0.2.1 (inner 198.51.100.1), the initiator in <ns>-t on 192.0.2.2
# (inner 198.51.100.2).  The initiator brings up Phase 1 + Quick Mode (in
# Aggressive Mode: Phase 1, a 0.2 s pause, Quick Mode), pings the
# responder's inner address 3 times through the tunnel, and is stopped (it
# sends the DELETEs).  In the retransmission capture an iptables rule in
# the responder's namespace drops the responder's first MM6 once: the
# initiator resends MM5 byte for byte after charon's 2 s retransmission
# timeout, and the responder answers the copy with MM6 again.  ESP is done
# in userspace (kernel-libipsec), so every exchange floats to UDP 4500 and
# all ESP is ESP-in-UDP.  tcpdump runs on the responder's veth.  Written
# per capture NAME:
#   NAME.pcap                      the capture
#   NAME.ikev1_decryption_table    Wireshark UAT: initiator cookie,Ka
#   NAME.esp_sa                    Wireshark 4.0 UAT esp_sa rows
#   NAME.keys                      every secret charon logged (responder),
#                                  with one "qm" line per Quick Mode DH
#                                  secret (PFS)
#   NAME.tshark.txt                tshark's summary, decrypted with those keys
# A capture is written only if both charons logged the same keys, tshark
# decrypts every ISAKMP message and every ESP packet with a good ICV (a
# retransmitted copy need only be byte-identical to its original, which
# tshark decrypts), encr_key|integ_key of every ESP SA is the RFC 2409 KEYMAT
# of the Quick Mode nonces in the capture (with the "qm" g^xy under PFS),
# and the frames are exactly the expected exchange (otherwise it is
# recorded again, at most 3 times).  Cookies, nonces, DH values and SPIs
# are random, so every run gives different bytes.
#
# Needs root and the Debian packages strongswan-charon strongswan-swanctl
# libstrongswan-standard-plugins libcharon-extra-plugins
# libcharon-extauth-plugins tcpdump tshark iputils-ping iptables, and
# python3 (standard library only) for the KEYMAT check.
set -euo pipefail

PEER=${SWP_SCRIPT:-$(dirname "$0")/../../shared/peers/strongswan-peer.sh}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRIES=3
ALL="mm-psk-aes128-sha1-modp2048 am-psk-aes256-sha256-ecp256 mm-psk-3des-md5-modp1024-pfs
     mm-psk-aes128-sha256-modp2048-retransmit"
CAPTURES=$ALL

die() { echo "record-pcaps: $*" >&2; exit 1; }
log() { echo "record-pcaps: $*" >&2; }

case "${1:-}" in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0;; esac
OUT=${1:-$ROOT/pcaps}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && CAPTURES="$*"

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, port 500)"
[ -r "$PEER" ] || die "peer script not found: $PEER (set SWP_SCRIPT)"
for tool in tshark tcpdump ping swanctl timeout ip iptables python3; do
    command -v "$tool" >/dev/null || die "$tool missing"
done
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# only the settings below may reach the peer script
for v in $(compgen -e); do
    case "$v" in SWP_*) unset "$v";; esac
done

WORK=$(mktemp -d /tmp/record-pcaps.XXXXXX)
STARTED=()     # DIRs of charons started and not yet stopped
RULE_NS=""     # namespace holding our iptables DROP rule, if any

peer() { timeout 60 bash "$PEER" "$@"; }

stop_dir() {   # stop DIR: the peer script's stop, then forget DIR
    local d=$1 keep=() x
    bash "$PEER" stop "$d" >/dev/null 2>&1 || log "stopping $d failed"
    for x in "${STARTED[@]}"; do [ "$x" = "$d" ] || keep+=("$x"); done
    STARTED=("${keep[@]}")
}

cleanup() {
    local rc=$? d i
    trap - EXIT INT TERM
    unblock
    # initiators first (they were started last)
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
        d=${STARTED[$i]}
        bash "$PEER" stop "$d" >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# settings NAME: sets PSK, MODE, IKE, ESP, R_ID, I_ID (empty = addresses),
# EXPECT, the expected frames as "exchange-type@udp-dstport" (E = ESP),
# DROP_MM6 (1 = drop the responder's first MM6 once) and RTX, the
# retransmissions as "COPY:ORIGINAL" frame numbers
settings() {
    R_ID="" I_ID="" MODE=main DROP_MM6=0 RTX=""
    local qm="32@4500 32@4500 32@4500" esp="E@4500 E@4500 E@4500 E@4500 E@4500 E@4500"
    local del="5@4500 5@4500"
    local mm="2@500 2@500 2@500 2@500 2@4500 2@4500"
    case "$1" in
    mm-psk-aes128-sha1-modp2048)
        PSK=scapy-ike-mm IKE=aes128-sha1-modp2048 ESP=aes128-sha1
        EXPECT="$mm $qm $esp $del" ;;
    am-psk-aes256-sha256-ecp256)
        MODE=aggressive PSK=scapy-ike-am IKE=aes256-sha256-ecp256 ESP=aes256gcm16
        R_ID=responder.example.org I_ID=initiator@example.org
        EXPECT="4@500 4@500 4@4500 $qm $esp $del" ;;
    mm-psk-3des-md5-modp1024-pfs)
        PSK=scapy-ike-pfs IKE=3des-md5-modp1024 ESP=aes128-sha256-modp1024
        EXPECT="$mm $qm $esp $del" ;;
    mm-psk-aes128-sha256-modp2048-retransmit)
        PSK=scapy-ike-rtx IKE=aes128-sha256-modp2048 ESP=aes128-sha256
        DROP_MM6=1 RTX="6:5"     # MM5 twice (the dropped MM6 is not captured)
        EXPECT="$mm 2@4500 $qm $esp $del" ;;
    *) die "unknown capture $1 (known: $(echo $ALL))" ;;
    esac
}

# tshark_keys PREFIX ARGS: tshark with the UAT files PREFIX.ikev1_decryption_table
# and PREFIX.esp_sa in a private WIRESHARK_CONFIG_DIR (as `strongswan-peer.sh
# decode` does)
tshark_keys() {
    local keys=$1; shift
    local cfg="$WORK/cfg"
    rm -rf "$cfg"; mkdir -p "$cfg"
    cp "$keys.ikev1_decryption_table" "$cfg/ikev1_decryption_table"
    cp "$keys.esp_sa" "$cfg/esp_sa"
    WIRESHARK_CONFIG_DIR=$cfg timeout 60 tshark -o esp.enable_encryption_decode:TRUE \
        -o esp.enable_authentication_check:TRUE "$@" 2> >(grep -v 'Running as user' >&2)
}

# The DROP rule of the retransmission capture: in the responder's OUTPUT
# chain, the first ISAKMP Main Mode message (exchange type 2 behind the
# non-ESP marker) that charon sends from UDP 4500 to 4500, i.e. MM6; the
# nth statistic (a counter starting at the first packet) matches only once
MM6_RULE=(OUTPUT -p udp --sport 4500 --dport 4500
    -m u32 --u32 "0>>22&0x3C@8=0 && 0>>22&0x3C@28&0xFF00=0x0200"
    -m statistic --mode nth --every 1000000 --packet 0 -j DROP)

ipt() { timeout 10 ip netns exec "$RULE_NS" iptables -w 5 "$@"; }

unblock() {    # delete our DROP rule (if any) from RULE_NS
    [ -n "$RULE_NS" ] || return 0
    if [ -e "/run/netns/$RULE_NS" ]; then
        ipt -D "${MM6_RULE[@]}" 2>/dev/null || log "deleting the DROP rule in $RULE_NS failed"
    fi
    RULE_NS=""
}

# qm_keys LOG: one line "qm ike_sa=N msgid=0x... g_xy=..." per Quick Mode
# DH secret (PFS) in charon's log.  charon (chd level 4) logs it as
# "[CHD] <conn|N> DH secret => LEN bytes @ ADDR" plus hex dump lines, in
# the worker thread that installs the CHILD_SA right after it parsed that
# exchange's QM2 (initiator) or QM3 (responder); the message ID is the one
# of that thread's last "parsed/generating QUICK_MODE ... ID" line.
qm_keys() {
    awk '
    {
        th = $2; sub(/\[.*/, "", th)               # worker thread number
        rest = $0; sub(/^[^ ]+ [^ ]+ /, "", rest)  # drop time and thread[GROUP]
        u = ""
        if (substr(rest, 1, 1) == "<") {           # <conn|uid> or <uid>
            u = substr(rest, 2, index(rest, ">") - 2); sub(/.*\|/, "", u)
            rest = substr(rest, index(rest, ">") + 2)
        }
        if (want[th] > 0 && rest ~ /^ *[0-9]+: /) {  # hex dump line
            h = rest; sub(/^ *[0-9]+: /, "", h); h = substr(h, 1, 48); gsub(/ /, "", h)
            buf[th] = buf[th] h
            if (length(buf[th]) >= 2 * want[th]) {
                printf "qm ike_sa=%s msgid=%s g_xy=%s\n", uid[th], mid[th], \
                    tolower(substr(buf[th], 1, 2 * want[th]))
                want[th] = 0
            }
            next
        }
        want[th] = 0
        if (match(rest, /^(parsed|generating) QUICK_MODE (request|response) [0-9]+ /)) {
            split(rest, w, " "); mid[th] = sprintf("0x%08x", w[4] + 0)
        } else if ($2 ~ /\[CHD\]$/ && rest ~ /^DH secret => [0-9]+ bytes /) {
            split(rest, w, " "); want[th] = w[4] + 0; buf[th] = ""; uid[th] = u
            if (!(th in mid)) mid[th] = "unknown"
        }
    }' "$1"
}

# check_keymat KEYS FIELDS PFS PCAP RTX: encr_key|integ_key of every esp
# line is the KEYMAT of one Quick Mode of the capture (RFC 2409 5.5:
# K1 = prf(SKEYID_d, [g^xy(qm)] | 3 | SPI | Ni_b | Nr_b), Kn = prf(SKEYID_d,
# Kn-1 | same), prf = HMAC with the IKE SA's hash); g^xy(qm) from the qm
# line is used iff PFS=1.  FIELDS: tshark's frame, ip.src, isakmp.ispi,
# exchange type, message ID, nonce of the ISAKMP frames.  RTX "A:B ...":
# frame A is a copy of frame B (same UDP datagram, same IPv4 header apart
# from Identification and checksum).  Prints one line per checked item.
check_keymat() {
    timeout 60 python3 - "$@" <<'PY'
import hashlib, hmac, struct, sys

keys, fields, pfs, pcap = sys.argv[1:5]
rtx = sys.argv[5].split() if len(sys.argv) > 5 else []
pfs = pfs == "1"
HASHES = {"PRF_HMAC_MD5": hashlib.md5, "PRF_HMAC_SHA1": hashlib.sha1,
          "PRF_HMAC_SHA2_256": hashlib.sha256, "PRF_HMAC_SHA2_384": hashlib.sha384,
          "PRF_HMAC_SHA2_512": hashlib.sha512}


def fail(msg):
    sys.exit("KEYMAT check: " + msg)


lines = {"ike": [], "esp": [], "qm": []}
for line in open(keys):
    words = line.split()
    if words and words[0] in lines:
        lines[words[0]].append(dict(w.split("=", 1) for w in words[1:]))
ike = {d["ike_sa"]: d for d in lines["ike"]}
qm = {(d["ike_sa"], d["msgid"]): d for d in lines["qm"]}


def prf_of(sa):
    for part in sa["proposal"].split(":", 1)[1].split("/"):
        if part in HASHES:
            return HASHES[part]
    fail("no known PRF in " + sa["proposal"])


def keymat(h, skeyid_d, seed, n):
    out, k = b"", b""
    while len(out) < n:
        k = hmac.new(skeyid_d, k + seed, h).digest()
        out += k
    return out[:n]


# Quick Modes of the capture: (icookie, msgid) -> [Ni_b, Nr_b]
initiator, exchanges = None, {}
for row in open(fields):
    num, src, ispi, xtype, msgid, nonce = (row.rstrip("\n").split("\t") + [""] * 6)[:6]
    if initiator is None:
        initiator = src                    # frame 1: MM1/AM1
    if xtype == "32" and nonce:
        slot = exchanges.setdefault((ispi, msgid), [None, None])
        i = 0 if src == initiator else 1
        if slot[i] is None:                # a retransmission has the same nonce
            slot[i] = bytes.fromhex(nonce)
for key, (ni, nr) in exchanges.items():
    if ni is None or nr is None:
        fail("Quick Mode %s %s: a nonce is missing" % key)

used = set()
for e in lines["esp"]:
    sa = ike.get(e["ike_sa"]) or fail("esp line without its ike line")
    h, skd = prf_of(sa), bytes.fromhex(sa["skeyid_d"])
    want = bytes.fromhex(e["encr_key"])
    if e["integ_key"] != "none":
        want += bytes.fromhex(e["integ_key"])
    spi = bytes.fromhex(e["spi"][2:])
    hits = []
    for (ispi, msgid), (ni, nr) in exchanges.items():
        q = qm.get((e["ike_sa"], msgid))
        gxy = bytes.fromhex(q["g_xy"]) if q else b""
        if ispi == sa["icookie"] and keymat(h, skd, gxy + b"\x03" + spi + ni + nr, len(want)) == want:
            hits.append((msgid, q is not None))
    if len(hits) != 1:
        fail("esp spi=%s: %d Quick Modes give its keys" % (e["spi"], len(hits)))
    msgid, with_gxy = hits[0]
    if with_gxy != pfs:
        fail("esp spi=%s: its keys %s the qm g_xy" % (e["spi"], "need" if with_gxy else "do not need"))
    used.add((e["ike_sa"], msgid))
    print("esp spi=%s: encr_key|integ_key (%d bytes) = KEYMAT of Quick Mode %s%s"
          % (e["spi"], len(want), msgid, " with its g_xy" if with_gxy else ""))
if set(qm) - used:
    fail("qm lines without an ESP SA: %s" % sorted(set(qm) - used))
if pfs and len(qm) != len(exchanges):
    fail("%d Quick Modes, %d qm lines" % (len(exchanges), len(qm)))

data, frames, off = open(pcap, "rb").read(), [], 24
if data[:4] not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
    fail("not a little-endian libpcap file")
while off + 16 <= len(data):
    incl = struct.unpack_from("<I", data, off + 8)[0]
    frames.append(data[off + 16:off + 16 + incl])
    off += 16 + incl
for pair in rtx:
    a, b = (int(x) for x in pair.split(":"))
    if max(a, b) > len(frames):
        fail("frame %d or %d missing" % (a, b))
    fa, fb = frames[a - 1], frames[b - 1]
    ip = 14 + 4 * (fa[14] & 15)            # Ethernet, IPv4, then UDP
    same = (len(fa) == len(fb) and fa[:18] == fb[:18] and fa[20:24] == fb[20:24]
            and fa[26:] == fb[26:])
    if not same:
        fail("frame %d is not a copy of frame %d" % (a, b))
    print("frame %d: UDP datagram (%d bytes) byte-identical to frame %d's%s"
          % (a, len(fa) - ip, b, "" if fa == fb else " (IPv4 Identification differs)"))
PY
}

# record NAME DIR: one attempt; leaves the verified files in DIR/out
record() {
    local name=$1 d=$2 r="$2/r" i="$2/i" ns
    local common
    settings "$name"
    common=(SWP_MODE="$MODE" SWP_PSK="$PSK" SWP_IKE_PROPOSALS="$IKE"
            SWP_ESP_PROPOSALS="$ESP" SWP_LIFETIME=120)
    rm -rf "$d"; mkdir -p "$d/out"

    STARTED+=("$r")
    env "${common[@]}" SWP_CAPTURE=1 ${R_ID:+SWP_LOCAL_ID=$R_ID} ${I_ID:+SWP_REMOTE_ID=$I_ID} \
        timeout 60 bash "$PEER" start "$r" > "$d/r.env" || { log "$name: responder start failed"; return 1; }
    ns=$(sed -n 's/^SWP_TEST_NS=//p' "$d/r.env")
    [ -n "$ns" ] || { log "$name: no test namespace"; return 1; }
    if [ "$DROP_MM6" = 1 ]; then
        # only in the responder's namespace, which its stop deletes
        RULE_NS=$(sed -n 's/^SWP_NS=//p' "$d/r.env")
        [ -n "$RULE_NS" ] && [ -e "/run/netns/$RULE_NS" ] \
            || { RULE_NS=""; log "$name: no responder namespace"; return 1; }
        ipt -I "${MM6_RULE[@]}" || { RULE_NS=""; log "$name: iptables failed"; return 1; }
    fi

    STARTED+=("$i")
    env "${common[@]}" SWP_ROLE=initiator SWP_NETNS="join:$ns" \
        SWP_LOCAL_ADDR=192.0.2.2 SWP_REMOTE_ADDR=192.0.2.1 \
        SWP_LOCAL_TS=198.51.100.2/32 SWP_REMOTE_TS=198.51.100.1/32 \
        ${I_ID:+SWP_LOCAL_ID=$I_ID} ${R_ID:+SWP_REMOTE_ID=$R_ID} \
        timeout 60 bash "$PEER" start "$i" > "$d/i.env" || { log "$name: initiator start failed"; return 1; }

    if [ "$MODE" = aggressive ]; then
        # Phase 1 first, Quick Mode after a pause: a charon initiator sends
        # AM3 and QM1 back to back, and the responder sometimes handles QM1
        # before AM3 ("ignoring QUICK_MODE request while phase 1 is
        # incomplete"); QM1 is then retransmitted 2 s later
        SWP_CHILD=none peer initiate "$i" 20 > "$d/initiate.out" 2>&1 \
            || { cat "$d/initiate.out" >&2; log "$name: Phase 1 failed"; return 1; }
        sleep 0.2
    fi
    peer initiate "$i" 20 >> "$d/initiate.out" 2>&1 \
        || { cat "$d/initiate.out" >&2; log "$name: initiate failed"; return 1; }
    if [ "$DROP_MM6" = 1 ]; then
        # initiate returned, so Phase 1 and Quick Mode are done: the rule
        # must have dropped exactly one packet (the first MM6); remove it
        local drops
        drops=$(ipt -L OUTPUT -n -v -x | awk '$3 == "DROP" { print $1 }')
        unblock
        [ "$drops" = 1 ] || { log "$name: the DROP rule matched ${drops:-no} packet(s), not 1"; return 1; }
    fi
    timeout 20 bash "$PEER" exec "$r" ping -n -c 3 -i 0.2 -W 2 -I 198.51.100.2 198.51.100.1 \
        > "$d/ping.out" 2>&1 || { cat "$d/ping.out" >&2; log "$name: ping failed"; return 1; }

    # the initiator sends the DELETEs; the responder's stop ends tcpdump;
    # both stops write the key files
    stop_dir "$i"
    stop_dir "$r"

    # both charons must have logged the same keys
    local f
    for f in ikev1_decryption_table esp_sa ikev1_keys.txt; do
        [ -s "$r/$f" ] && [ -s "$i/$f" ] || { log "$name: $f missing"; return 1; }
        if ! diff <(grep -v '^#' "$r/$f" | sed 's/ike_sa=[0-9]* //' | sort) \
                  <(grep -v '^#' "$i/$f" | sed 's/ike_sa=[0-9]* //' | sort) >&2; then
            log "$name: responder and initiator disagree on $f"; return 1
        fi
    done
    # Quick Mode DH secrets (PFS), likewise from both logs
    qm_keys "$r/charon.log" > "$d/r.qm"
    qm_keys "$i/charon.log" > "$d/i.qm"
    if ! diff <(sed 's/ike_sa=[0-9]* //' "$d/r.qm" | sort) <(sed 's/ike_sa=[0-9]* //' "$d/i.qm" | sort) >&2; then
        log "$name: responder and initiator disagree on the Quick Mode DH secrets"; return 1
    fi
    ! grep -q 'msgid=unknown' "$d/r.qm" || { log "$name: a Quick Mode DH secret without message ID"; return 1; }
    [ "$(grep -c '^ike ' "$r/ikev1_keys.txt")" = 1 ] || { log "$name: not exactly one IKE_SA"; return 1; }
    [ "$(grep -c '^esp ' "$r/ikev1_keys.txt")" = 2 ] || { log "$name: not exactly two ESP SAs"; return 1; }

    cp "$r/capture.pcap" "$d/out/$name.pcap"
    cp "$r/ikev1_decryption_table" "$d/out/$name.ikev1_decryption_table"
    cp "$r/esp_sa" "$d/out/$name.esp_sa"
    cat "$r/ikev1_keys.txt" "$d/r.qm" > "$d/out/$name.keys"
    chmod 644 "$d/out/"*

    # decrypt with the files as written (not with charon's log)
    tshark_keys "$d/out/$name" -r "$d/out/$name.pcap" -T fields -E separator=/t \
        -e frame.number -e isakmp.exchangetype -e isakmp.flags -e isakmp.typepayload \
        -e isakmp.hash -e esp.spi -e esp.icv_good -e icmp.type -e udp.dstport -e _ws.malformed \
        > "$d/fields.tsv" || { log "$name: tshark failed"; return 1; }
    local got bad copies="" pair
    for pair in $RTX; do copies="$copies ${pair%%:*}"; done
    # per frame: ISAKMP "type@port" or "E@port"; "!" marks a frame that
    # did not decrypt (encrypted ISAKMP without HASH payload, ESP without
    # ICMP inside or with a bad ICV) or is malformed.  A retransmitted copy
    # (RTX) is exempt: tshark chains the CBC IV through the copy and so
    # garbles its first block; check_keymat below compares it with its
    # original instead.  Those frames go to DIR/copies.txt.
    : > "$d/copies.txt"
    got=$(awk -F'\t' -v copies="$copies" -v note="$d/copies.txt" '
    BEGIN { n = split(copies, c, " "); for (k = 1; k <= n; k++) copy[c[k]] = 1 }
    {
        t = "?"; ok = ($10 == "")
        if ($2 != "") {
            t = $2
            if ($3 ~ /1$/ && ($4 == "" || $5 == "")) ok = 0
        } else if ($6 != "") {
            t = "E"
            if ($7 != "1" || $8 == "") ok = 0
        }
        if ($1 in copy) { print $1, (ok ? "decrypts" : "does not decrypt") > note; ok = 1 }
        printf "%s%s@%s ", (ok ? "" : "!"), t, $9
    }' "$d/fields.tsv")
    got=${got% }
    if [ "$got" != "$EXPECT" ]; then
        log "$name: unexpected frames"
        log "  expected: $EXPECT"
        log "  got:      $got"
        return 1
    fi

    # the KEYMAT of the ESP SAs from the key file and the capture's Quick
    # Mode nonces; the retransmitted copies against their originals
    tshark_keys "$d/out/$name" -r "$d/out/$name.pcap" -Y isakmp -T fields -E separator=/t \
        -e frame.number -e ip.src -e isakmp.ispi -e isakmp.exchangetype -e isakmp.messageid \
        -e isakmp.nonce > "$d/nonces.tsv" || { log "$name: tshark failed"; return 1; }
    local pfs=0
    case "$ESP" in *modp*|*ecp*|*curve*) pfs=1;; esac
    check_keymat "$d/out/$name.keys" "$d/nonces.tsv" "$pfs" "$d/out/$name.pcap" "$RTX" \
        > "$d/keymat.txt" || { log "$name: KEYMAT check failed"; return 1; }

    # the one-line-per-frame summary, made from the directory of the files
    ( cd "$d/out" && tshark_keys "$d/out/$name" -r "$name.pcap" ) > "$d/out/$name.tshark.txt" \
        || { log "$name: tshark summary failed"; return 1; }
    [ "$(wc -l < "$d/out/$name.tshark.txt")" = "$(wc -w <<< "$EXPECT")" ] \
        || { log "$name: tshark summary has the wrong number of lines"; return 1; }
    bad=$(awk -v copies="$copies" 'BEGIN { n = split(copies, c, " "); for (k = 1; k <= n; k++) copy[c[k]] = 1 }
        !($1 in copy) && tolower($0) ~ /malformed/' "$d/out/$name.tshark.txt" | wc -l)
    [ "$bad" = 0 ] || { log "$name: malformed frames in the summary"; return 1; }
    return 0
}

n=0
for name in $CAPTURES; do
    settings "$name"    # rejects unknown names before anything starts
done
for name in $CAPTURES; do
    ok=0
    for try in $(seq 1 "$TRIES"); do
        n=$((n + 1)); d="$WORK/$n"
        if record "$name" "$d"; then ok=1; break; fi
        # stop whatever this attempt left running before the next one
        unblock
        stop_dir "$d/i"
        stop_dir "$d/r"
        log "$name: attempt $try of $TRIES failed"
    done
    [ $ok = 1 ] || die "$name: giving up after $TRIES attempts"
    for ext in pcap ikev1_decryption_table esp_sa keys tshark.txt; do
        cp "$d/out/$name.$ext" "$OUT/$name.$ext"
    done
    ic=$(sed -n 's/^ike .*icookie=\([0-9a-f]*\) rcookie=\([0-9a-f]*\).*/\1 \2/p' "$OUT/$name.keys")
    what="all decrypted"
    [ -s "$d/copies.txt" ] && what="all decrypted (by tshark, or as a copy of a decrypted frame)"
    echo "$name: $(wc -l < "$OUT/$name.tshark.txt") frames, cookies $ic, $what, ICVs good -> $OUT"
    sed "s/^/  /" "$d/keymat.txt"
    while read -r frame what; do
        echo "  frame $frame, a retransmitted copy: tshark $what it"
    done < "$d/copies.txt"
done
