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
# sends the DELETEs).  ESP is done in userspace (kernel-libipsec), so
# every exchange floats to UDP 4500 and all ESP is ESP-in-UDP.  tcpdump runs
# on the responder's veth.  Written per capture NAME:
#   NAME.pcap                      the capture
#   NAME.ikev1_decryption_table    Wireshark UAT: initiator cookie,Ka
#   NAME.esp_sa                    Wireshark 4.0 UAT esp_sa rows
#   NAME.keys                      every secret charon logged (responder)
#   NAME.tshark.txt                tshark's summary, decrypted with those keys
# A capture is written only if both charons logged the same keys, tshark
# decrypts every ISAKMP message and every ESP packet with a good ICV, and
# the frames are exactly the expected exchange (otherwise it is recorded
# again, at most 3 times).  Cookies, nonces, DH values and SPIs are random,
# so every run gives different bytes.
#
# Needs root and the Debian packages strongswan-charon strongswan-swanctl
# libstrongswan-standard-plugins libcharon-extra-plugins
# libcharon-extauth-plugins tcpdump tshark iputils-ping.
set -euo pipefail

PEER=${SWP_SCRIPT:-$(dirname "$0")/../../shared/peers/strongswan-peer.sh}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRIES=3
ALL="mm-psk-aes128-sha1-modp2048 am-psk-aes256-sha256-ecp256 mm-psk-3des-md5-modp1024-pfs"
CAPTURES=$ALL

die() { echo "record-pcaps: $*" >&2; exit 1; }
log() { echo "record-pcaps: $*" >&2; }

case "${1:-}" in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0;; esac
OUT=${1:-$ROOT/pcaps}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && CAPTURES="$*"

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, port 500)"
[ -r "$PEER" ] || die "peer script not found: $PEER (set SWP_SCRIPT)"
for tool in tshark tcpdump ping swanctl timeout; do
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

# settings NAME: sets PSK, MODE, IKE, ESP, R_ID, I_ID (empty = addresses)
# and EXPECT, the expected frames as "exchange-type@udp-dstport" (E = ESP)
settings() {
    R_ID="" I_ID="" MODE=main
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
    *) die "unknown capture $1 (known: $ALL)" ;;
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
    [ "$(grep -c '^ike ' "$r/ikev1_keys.txt")" = 1 ] || { log "$name: not exactly one IKE_SA"; return 1; }
    [ "$(grep -c '^esp ' "$r/ikev1_keys.txt")" = 2 ] || { log "$name: not exactly two ESP SAs"; return 1; }

    cp "$r/capture.pcap" "$d/out/$name.pcap"
    cp "$r/ikev1_decryption_table" "$d/out/$name.ikev1_decryption_table"
    cp "$r/esp_sa" "$d/out/$name.esp_sa"
    cp "$r/ikev1_keys.txt" "$d/out/$name.keys"
    chmod 644 "$d/out/"*

    # decrypt with the files as written (not with charon's log)
    tshark_keys "$d/out/$name" -r "$d/out/$name.pcap" -T fields -E separator=/t \
        -e frame.number -e isakmp.exchangetype -e isakmp.flags -e isakmp.typepayload \
        -e isakmp.hash -e esp.spi -e esp.icv_good -e icmp.type -e udp.dstport -e _ws.malformed \
        > "$d/fields.tsv" || { log "$name: tshark failed"; return 1; }
    local got bad
    # per frame: ISAKMP "type@port" or "E@port"; "!" marks a frame that
    # did not decrypt (encrypted ISAKMP without HASH payload, ESP without
    # ICMP inside or with a bad ICV) or is malformed
    got=$(awk -F'\t' '{
        t = "?"; ok = ($10 == "")
        if ($2 != "") {
            t = $2
            if ($3 ~ /1$/ && ($4 == "" || $5 == "")) ok = 0
        } else if ($6 != "") {
            t = "E"
            if ($7 != "1" || $8 == "") ok = 0
        }
        printf "%s%s@%s ", (ok ? "" : "!"), t, $9
    }' "$d/fields.tsv")
    got=${got% }
    if [ "$got" != "$EXPECT" ]; then
        log "$name: unexpected frames"
        log "  expected: $EXPECT"
        log "  got:      $got"
        return 1
    fi

    # the one-line-per-frame summary, made from the directory of the files
    ( cd "$d/out" && tshark_keys "$d/out/$name" -r "$name.pcap" ) > "$d/out/$name.tshark.txt" \
        || { log "$name: tshark summary failed"; return 1; }
    [ "$(wc -l < "$d/out/$name.tshark.txt")" = "$(wc -w <<< "$EXPECT")" ] \
        || { log "$name: tshark summary has the wrong number of lines"; return 1; }
    bad=$(grep -c -i 'malformed' "$d/out/$name.tshark.txt" || true)
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
        stop_dir "$d/i"
        stop_dir "$d/r"
        log "$name: attempt $try of $TRIES failed"
    done
    [ $ok = 1 ] || die "$name: giving up after $TRIES attempts"
    for ext in pcap ikev1_decryption_table esp_sa keys tshark.txt; do
        cp "$d/out/$name.$ext" "$OUT/$name.$ext"
    done
    ic=$(sed -n 's/^ike .*icookie=\([0-9a-f]*\) rcookie=\([0-9a-f]*\).*/\1 \2/p' "$OUT/$name.keys")
    echo "$name: $(wc -l < "$OUT/$name.tshark.txt") frames, cookies $ic, all decrypted, ICVs good -> $OUT"
done
