#!/usr/bin/env bash
# Issue 8 items 4 and 5: time from `PUT private-link` to a verified endpoint, read from
# `linkplane up`'s own per-step timings, and the resident memory of the `serve` that `up`
# started, once everything is up (one dedicated cluster, endpoint, DNS, agent).
#
#   bench/up.sh [--skip-build] [--debug]
#
# Runs `linkplane up` as root with its own prefix, data dir and loopback port; `linkplane down`
# removes everything on exit (trap, also on Ctrl-C), then the data dir is deleted.
set -euo pipefail

BUILD=1
PROFILE=release
while (($#)); do
  case "$1" in
    --skip-build) BUILD=0; shift ;;
    --debug) PROFILE=debug; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "needs root (localcloud: namespaces, nftables)" >&2; exit 1; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/target/$PROFILE/linkplane
if ((BUILD)); then
  flags=(); [ "$PROFILE" = release ] && flags=(--release)
  (cd "$ROOT" && cargo build "${flags[@]}" -q -p linkplane --bin linkplane)
fi
[ -x "$BIN" ] || { echo "missing $BIN (build it or drop --skip-build)" >&2; exit 1; }

PFX=u$(printf '%03x' $((RANDOM % 4096)))
WORK=$(mktemp -d)
DATA=$WORK/data
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  timeout 120 "$BIN" down --prefix "$PFX" --data-dir "$DATA" >"$WORK/down.log" 2>&1 ||
    echo "linkplane down failed: $(tail -3 "$WORK/down.log")" >&2
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PFX" || true); do
    ip netns del "$n" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo
echo "### linkplane up ($PROFILE build): steps and time to a verified endpoint"
echo
echo "load before: $(uptime | sed 's/.*load average/load average/')"
echo
T0=$(date +%s.%N)
timeout 600 "$BIN" up --prefix "$PFX" --data-dir "$DATA" --listen "127.0.0.1:$PORT" \
  --timeout 120 >"$WORK/up.out" 2>"$WORK/up.err" || { cat "$WORK/up.err" >&2; exit 1; }
T1=$(date +%s.%N)
echo '```'
sed 's/\x1b\[[0-9;]*m//g' "$WORK/up.err"
echo '```'
# step N's own time is the "(1.0s)" at the end of its line
sum_steps() { # list of step numbers
  sed 's/\x1b\[[0-9;]*m//g' "$WORK/up.err" | python3 -c '
import re, sys
want = set(int(x) for x in sys.argv[1:])
tot = 0.0
for line in sys.stdin:
    m = re.match(r"\[\s*(\d+)/\d+\].*\((\d+(?:\.\d+)?)s\)\s*$", line)
    if m and int(m.group(1)) in want:
        tot += float(m.group(2))
print("%.2f" % tot)' "$@"
}
echo
echo "| span | seconds |"
echo "|---|---:|"
echo "| PUT private-link → endpoint available (steps 5–10) | $(sum_steps 5 6 7 8 9 10) |"
echo "| PUT private-link → verified, without the agent (steps 5–10 + 13) | $(sum_steps 5 6 7 8 9 10 13) |"
echo "| PUT private-link → verified, with the agent heartbeating (steps 5–13) | $(sum_steps 5 6 7 8 9 10 11 12 13) |"
echo
echo "whole \`linkplane up\`: $(python3 -c "print('%.2f' % ($T1 - $T0))") s"
SPID=$(cat "$DATA/serve.pid" 2>/dev/null || true)
if [ -n "$SPID" ] && [ -r "/proc/$SPID/status" ]; then
  sleep 2
  echo
  echo "serve after up (pid $SPID): RSS $(awk '/^VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$SPID/status"), $(find "/proc/$SPID/fd" -mindepth 1 -maxdepth 1 | wc -l) fds, $(find "/proc/$SPID/task" -mindepth 1 -maxdepth 1 | wc -l) threads"
fi
echo
echo "machine: $(nproc) CPUs, kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(uptime | sed 's/.*load average/load average/')"
