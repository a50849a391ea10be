#!/usr/bin/env bash
# Issue 8 items 4 and 5: control-plane throughput and latency, validation cost at 5 000
# transit-gateway attachments, routes at scale, and the resident memory of `linkplane serve`.
#
#   bench/controlplane.sh [--per-level N] [--attachments N] [--routes N] [--skip-build] [--debug]
#
# Runs `linkplane serve` on 127.0.0.1:<free port> with a fresh data dir (removed on exit),
# first with --no-localcloud for the API load (bench/controlplane.py: a bounded number of
# requests per phase), then — when root — briefly with localcloud (own --prefix) to read its
# idle memory. Nothing leaves loopback; a trap stops every process this script started.
set -euo pipefail

PER_LEVEL=300
ATTACHMENTS=5000
ROUTES=2000
BUILD=1
PROFILE=release
while (($#)); do
  case "$1" in
    --per-level) PER_LEVEL=$2; shift 2 ;;
    --attachments) ATTACHMENTS=$2; shift 2 ;;
    --routes) ROUTES=$2; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    --debug) PROFILE=debug; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
((PER_LEVEL >= 10 && PER_LEVEL <= 5000)) || { echo "--per-level must be 10..5000" >&2; exit 2; }
((ATTACHMENTS >= 1 && ATTACHMENTS <= 20000)) || { echo "--attachments must be 1..20000" >&2; exit 2; }
((ROUTES >= 1 && ROUTES <= 100000)) || { echo "--routes must be 1..100000" >&2; exit 2; }
for tool in python3 curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/target/$PROFILE/linkplane
if ((BUILD)); then
  flags=(); [ "$PROFILE" = release ] && flags=(--release)
  (cd "$ROOT" && cargo build "${flags[@]}" -q -p linkplane --bin linkplane)
fi
[ -x "$BIN" ] || { echo "missing $BIN (build it or drop --skip-build)" >&2; exit 1; }

WORK=$(mktemp -d)
SERVE=""
LCPREFIX=b$(printf '%03x' $((RANDOM % 4096)))
stop_serve() {
  if [ -n "$SERVE" ]; then
    kill -TERM "$SERVE" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SERVE" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVE" 2>/dev/null || true
    wait "$SERVE" 2>/dev/null || true
    SERVE=""
  fi
}
cleanup() {
  stop_serve
  # localcloud objects of this run's own prefix, if serve left any
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$LCPREFIX" || true); do
    ip netns del "$n" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_serve() { # data-dir extra-args...
  local dir=$1; shift
  PORT=$(free_port)
  mkdir -p "$dir"
  timeout 1800 "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$dir" "$@" >"$dir.log" 2>&1 &
  SERVE=$!
  for _ in $(seq 300); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$SERVE" 2>/dev/null || { echo "serve exited: $(tail -5 "$dir.log")" >&2; exit 1; }
    sleep 0.1
  done
  echo "serve did not answer /healthz: $(tail -5 "$dir.log")" >&2; exit 1
}
# `timeout` forks: the real serve is its child
serve_pid() { pgrep -P "$SERVE" | head -1; }
rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$(serve_pid)/status"; }

echo
echo "### linkplane serve ($PROFILE build): API load and memory"
echo
echo "load before: $(uptime | sed 's/.*load average/load average/')"

start_serve "$WORK/api" --no-localcloud
sleep 2
IDLE_NOLC=$(rss_mib)
python3 "$ROOT/bench/controlplane.py" "http://127.0.0.1:$PORT" "$(cat "$WORK/api/admin.token")" \
  "$(cat "$WORK/api/organization-id")" --per-level "$PER_LEVEL" --attachments "$ATTACHMENTS" \
  --routes "$ROUTES"
AFTER_NOLC=$(rss_mib)
DB=$(du -sk "$WORK/api" | awk '{printf "%.1f", $1 / 1024}')
stop_serve

IDLE_LC="not measured (needs root)"
if [ "$(id -u)" = 0 ]; then
  start_serve "$WORK/lc" --prefix "$LCPREFIX"
  sleep 3
  IDLE_LC="$(rss_mib) MiB"
  stop_serve
fi

echo
echo "### Resident memory of serve"
echo
echo "| state | RSS |"
echo "|---|---:|"
echo "| idle, fresh data dir, --no-localcloud | $IDLE_NOLC MiB |"
echo "| idle, fresh data dir, with localcloud (no clusters) | $IDLE_LC |"
echo "| --no-localcloud after the load above (data dir $DB MiB) | $AFTER_NOLC MiB |"
echo
echo "machine: $(nproc) CPUs, kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(uptime | sed 's/.*load average/load average/')"
