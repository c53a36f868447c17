#!/bin/sh
# Installs what building and testing sluice needs on Debian 12, when it is missing.
# As root it runs apt-get; otherwise it prints the exact command to run and fails.
#   usage: scripts/deps.sh [build|test|bench]
set -eu
what=${1:-build}
pkgs="build-essential cmake pkg-config libyaml-dev libpcre2-dev libssl-dev librelp-dev"
case $what in
test|bench)
    pkgs="$pkgs libcmocka-dev python3-pytest clang libclang-rt-14-dev util-linux socat spin"
    # The allocators of the stress matrix (tests/stress/alloc_matrix.sh), preloaded at run time.
    pkgs="$pkgs libjemalloc2 libmimalloc2.0"
    # rsyslog is the peer of the differential test. Its package would start a system service;
    # policy-rc.d keeps it from starting (we run private instances only).
    pkgs="$pkgs rsyslog"
    # The TLS and RELP interoperability tests run rsyslog's TLS driver and RELP modules.
    pkgs="$pkgs rsyslog-relp rsyslog-openssl openssl" ;;
esac
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages:$missing" >&2
    echo "run: sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "installing:$missing" >&2
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq -o DPkg::Lock::Timeout=600 $missing >/dev/null
