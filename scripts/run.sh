#!/bin/sh
# Builds sluice (release) and runs sluiced in the foreground on its built-in configuration:
# TCP and UDP on 127.0.0.1:5514, the unix socket ./run/log.sock, written to ./var/log/messages
# (`build/sluiced --print-default` shows it). Extra arguments go to sluiced, e.g.
#   scripts/run.sh -f my.yaml
# Stop it with Ctrl-C: it drains its queues and exits.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target sluiced sluicectl >/dev/null
echo "sluiced: listening on 127.0.0.1:5514 (tcp, udp) and ./run/log.sock; writing ./var/log/messages" >&2
echo "try:     logger -n 127.0.0.1 -P 5514 -T hello   then   tail var/log/messages" >&2
exec build/sluiced -n "$@"
