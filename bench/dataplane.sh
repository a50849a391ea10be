#!/usr/bin/env bash
# First dataplane measurements (issue 4 item 8; the full comparison is issue 8).
#
#   bench/dataplane.sh [--seconds N] [--runs N] [--streams "1 8 64"] [--skip-build]
#
# Namespaces only; nothing touches the host's interfaces or routes. Every load run is
# bounded in time; a trap removes every namespace and process this script made.
#
# Topology (one prefix per run, `tb` + 3 random chars):
#
#   client 10.1.0.10/24 ──veth── router 10.1.0.1, 10.1.0.5 (ENI), 10.1.0.2 (resolver)
#                                router 10.2.0.1 ──veth── target 10.2.0.20/24, 10.2.0.53 (DNS)
#
#   (a) direct:    client → kernel forwarding in `router` → target:5201
#   (b) forwarder: client → 10.1.0.5:5201, dp-bench forward in `router` → target:5201 (splice)
#   (c) HAProxy:   client → 10.1.0.6:5201, haproxy (Debian, TCP mode, splice-auto, 2 threads)
#                  in `router`, exactly where the forwarder sits → target:5201
#   DNS: dnsperf in `client` → dp-bench dns at 10.1.0.2:53 (private zone, and a forwarding
#        rule to a second dp-bench dns at 10.2.0.53:53 in `target`, whose records have
#        TTL 0 so every forwarded query really leaves the VPC: no cache hits)
#
# Prints one markdown table per part; paste them into docs/PERFORMANCE.md.
set -euo pipefail

SECONDS_PER_RUN=4
RUNS=3
STREAMS="1 8 64"
BUILD=1
while (($#)); do
  case "$1" in
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --streams) STREAMS=$2; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
((SECONDS_PER_RUN >= 1 && SECONDS_PER_RUN <= 30)) || { echo "--seconds must be 1..30" >&2; exit 2; }
((RUNS >= 1 && RUNS <= 5)) || { echo "--runs must be 1..5" >&2; exit 2; }

[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
for tool in ip iperf3 python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install iproute2 iperf3 python3)" >&2; exit 1; }
done
for pkg in dnsperf haproxy; do
  if ! command -v "$pkg" >/dev/null && ! [ -x "/usr/sbin/$pkg" ]; then
    echo "installing $pkg (Debian package)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null || true
  fi
done
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/target/release/examples/dp-bench
if ((BUILD)); then
  (cd "$ROOT" && cargo build --release -q -p linkplane-dataplane --example dp-bench)
fi
[ -x "$BIN" ] || { echo "missing $BIN (build it or drop --skip-build)" >&2; exit 1; }

P=tb$(printf '%03x' $((RANDOM % 4096)))
C=$P-cl R=$P-rt T=$P-tg
PIDS=()
WORK=$(mktemp -d)

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for n in "$C" "$R" "$T"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

for n in "$C" "$R" "$T"; do ip netns add "$n"; ip -n "$n" link set lo up; done
# veth pairs created directly inside the namespaces
ip link add "$P-c" netns "$C" type veth peer name "$P-rc" netns "$R"
ip link add "$P-t" netns "$T" type veth peer name "$P-rt" netns "$R"
ip -n "$C" addr add 10.1.0.10/24 dev "$P-c"
ip -n "$R" addr add 10.1.0.1/24 dev "$P-rc"
ip -n "$R" addr add 10.1.0.5/24 dev "$P-rc"
ip -n "$R" addr add 10.1.0.2/24 dev "$P-rc"
ip -n "$R" addr add 10.1.0.6/24 dev "$P-rc"
ip -n "$R" addr add 10.2.0.1/24 dev "$P-rt"
ip -n "$T" addr add 10.2.0.20/24 dev "$P-t"
ip -n "$T" addr add 10.2.0.53/24 dev "$P-t"
for l in "$C:$P-c" "$R:$P-rc" "$R:$P-rt" "$T:$P-t"; do ip -n "${l%%:*}" link set "${l#*:}" up; done
ip -n "$C" route add default via 10.1.0.1
ip -n "$T" route add default via 10.2.0.1
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1

bg() { "$@" & PIDS+=($!); }
wait_ready() { # file
  for _ in $(seq 100); do grep -q ready "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "component did not start: $(cat "$1")" >&2; exit 1
}

# ---------- bulk TCP ----------
BOUND=$(( (SECONDS_PER_RUN + 3) * RUNS * 2 * $(wc -w <<<"$STREAMS") + 30 ))
bg ip netns exec "$T" iperf3 -s -p 5201 -B 10.2.0.20 >/dev/null 2>&1
bg "$BIN" --seconds "$BOUND" forward --listen-ns "$R" --listen 10.1.0.5:5201 \
  --connect-ns "$R" --source 10.2.0.1 --target 10.2.0.20:5201 >"$WORK/fwd.out"
wait_ready "$WORK/fwd.out"
HAVE_HAPROXY=0
if [ -x "$HAPROXY" ]; then
  printf '%s\n' "global" "  nbthread 2" "  maxconn 4000" \
    "defaults" "  mode tcp" "  option splice-auto" "  timeout connect 5s" \
    "  timeout client 60s" "  timeout server 60s" \
    "listen fwd" "  bind 10.1.0.6:5201" "  server t 10.2.0.20:5201 source 10.2.0.1" \
    >"$WORK/haproxy.cfg"
  bg ip netns exec "$R" timeout "$BOUND" "$HAPROXY" -db -f "$WORK/haproxy.cfg"
  for _ in $(seq 50); do
    ip netns exec "$R" ss -ltn | grep -q '10.1.0.6:5201' && { HAVE_HAPROXY=1; break; }
    sleep 0.1
  done
fi
sleep 0.3

gbps() { # dest streams
  ip netns exec "$C" timeout $((SECONDS_PER_RUN + 15)) \
    iperf3 -c "$1" -p 5201 -t "$SECONDS_PER_RUN" -P "$2" -J 2>/dev/null |
    python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}
median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo
echo "### Bulk TCP (iperf3, ${SECONDS_PER_RUN}s per run, median of $RUNS)"
echo
echo "| streams | (a) direct kernel route | (b) linkplane forwarder | b/a | (c) HAProxy | c/a |"
echo "|---:|---:|---:|---:|---:|---:|"
for s in $STREAMS; do
  da=() fa=() ha=()
  for _ in $(seq "$RUNS"); do
    da+=("$(gbps 10.2.0.20 "$s")")
    fa+=("$(gbps 10.1.0.5 "$s")")
    if ((HAVE_HAPROXY)); then ha+=("$(gbps 10.1.0.6 "$s")"); else ha+=(0); fi
  done
  d=$(echo "${da[*]}" | median) f=$(echo "${fa[*]}" | median) h=$(echo "${ha[*]}" | median)
  r=$(python3 -c "print('%.2f' % ($f/$d if $d else 0))")
  rh=$(python3 -c "print('%.2f' % ($h/$d if $d else 0))")
  echo "| $s | $d (${da[*]}) | $f (${fa[*]}) | $r | $h (${ha[*]}) | $rh |"
done
echo
echo "Gbit/s received by iperf3, median (every run in brackets)."
echo
kill -TERM "${PIDS[1]}" 2>/dev/null || true
wait "${PIDS[1]}" 2>/dev/null || true
echo "forwarder counters: $(tail -1 "$WORK/fwd.out")"

# ---------- DNS ----------
if command -v dnsperf >/dev/null; then
  DNS_SECONDS=$((SECONDS_PER_RUN + 1))
  bg "$BIN" --seconds 120 --workers 1 dns --ns "$T" --listen 10.2.0.53:53 --zone onprem.corp \
    --records 1000 --ttl 0 >"$WORK/dns2.out"
  bg "$BIN" --seconds 120 --workers 1 dns --ns "$R" --listen 10.1.0.2:53 --zone corp.internal \
    --records 1000 --forward onprem.corp=10.2.0.53:53 >"$WORK/dns1.out"
  wait_ready "$WORK/dns2.out"
  wait_ready "$WORK/dns1.out"
  for i in $(seq 0 999); do echo "host$i.corp.internal A"; done >"$WORK/private.q"
  for i in $(seq 0 999); do echo "host$i.onprem.corp A"; done >"$WORK/forward.q"
  perf() { # queryfile clients max-outstanding
    ip netns exec "$C" timeout $((DNS_SECONDS + 15)) dnsperf -s 10.1.0.2 -d "$1" \
      -l "$DNS_SECONDS" -c "$2" -q "$3" -t 2 2>/dev/null |
      awk '/Queries per second/ {q=$4} /Average Latency/ {l=$4; mx=$8} /Latency StdDev/ {sd=$4}
           /Queries lost/ {lost=$3" "$4}
           END {gsub(/[(),]/, "", mx); printf "%d | %.3f | %.3f | %.3f | %s |\n", q, l*1000, sd*1000, mx*1000, lost}'
  }
  echo
  echo "### DNS (dnsperf, ${DNS_SECONDS}s per row, resolver on 1 worker thread)"
  echo
  echo "| queries | load | queries/s | avg latency ms | stddev ms | max ms | lost |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  echo "| private zone (1000 names) | -c 8 -q 200 (throughput) | $(perf "$WORK/private.q" 8 200)"
  echo "| private zone (1000 names) | -c 1 -q 1 (latency) | $(perf "$WORK/private.q" 1 1)"
  echo "| forwarding rule → 2nd server | -c 8 -q 200 (throughput) | $(perf "$WORK/forward.q" 8 200)"
  echo "| forwarding rule → 2nd server | -c 1 -q 1 (latency) | $(perf "$WORK/forward.q" 1 1)"
else
  echo
  echo "dnsperf not installable here: DNS part skipped"
fi
echo
echo "machine: $(nproc) CPUs, kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
