# Sourced by the project's commands: Debian packages (when run as root)
# and the project's own virtual environment in .venv.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}

# What the interop tests run: tshark, tcpdump, ike-scan, vpnc (a Cisco-style
# remote-access client), and strongSwan's charon with swanctl, the openssl
# plugin, userspace ESP (kernel-libipsec) and XAuth; iproute2/iptables build
# the test namespaces.
TEST_DEBS="tshark tcpdump ike-scan iputils-ping iproute2 iptables procps vpnc
  strongswan-charon strongswan-swanctl libstrongswan-standard-plugins
  libcharon-extra-plugins libcharon-extauth-plugins"

# What builds crack's compiled loop (scapy_ike/probe/_crackloop.c, linked with
# OpenSSL's libcrypto); without them the package installs without it.
BUILD_DEBS="gcc libc6-dev libssl-dev"

install_debs() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "not root: not installing ${missing[*]}; tests that need them skip" >&2
        return 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

make_venv() {
    local include
    include=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    install_debs $BUILD_DEBS $([ -e "$include/Python.h" ] || echo python3-dev)
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV" 2>/dev/null || {
            install_debs python3-venv python3-pip
            python3 -m venv "$VENV"
        }
    fi
    # SCAPY_SPEC pins another Scapy of the supported range (CI tests the oldest too)
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[test]" ${SCAPY_SPEC:+"$SCAPY_SPEC"}
}
