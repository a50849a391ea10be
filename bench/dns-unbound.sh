#!/usr/bin/env bash
# Issue 8 item 3: the VPC resolver's private-zone answers vs unbound serving the same records
# as local-data, each pinned to one core, dnsperf pinned to the other.
#
#   bench/dns-unbound.sh [--seconds N] [--records N] [--rounds N] [--rate N] [--skip-build]
#                        [--baseline PATH]
#
# Throughput rows are the median of --rounds runs (default 3), the servers taking turns
# (A B C A B C …) so that a neighbour's burst of load does not land on one server only;
# every run's queries/s is in brackets. CPU time per query is the server's own CPU time
# over the run divided by the queries it answered: on a shared machine it moves far less
# than queries/s, which also depends on how much CPU the server was given. The fixed-rate
# row (--rate, default 30 000 queries/s, 0 skips it) offers every server the same load,
# below what each can answer: CPU per query and latency at equal work.
#
# --baseline PATH: also measure another dp-bench binary (e.g. one built from an older
# commit) at 10.1.0.4, in the same run, for a before/after comparison.
#
# Namespaces only (a veth pair created inside them); every load run bounded (`dnsperf -l`
# inside `timeout`, servers started with a time limit); a trap removes the namespaces and
# processes on exit or Ctrl-C.
#
#   client 10.1.0.10 (dnsperf, CPU 0) ──veth── server 10.1.0.2 dp-bench dns (1 worker, CPU 1)
#                                               server 10.1.0.3 unbound (1 thread, CPU 1)
#                                              [server 10.1.0.4 baseline dp-bench (CPU 1)]
#
# Both serve host0..host{N-1}.corp.internal A 10.0.x.y (TTL 300), the same names and answers.
set -euo pipefail

SECONDS_PER_RUN=5
RECORDS=1000
ROUNDS=3
RATE=30000
BASELINE=
BUILD=1
while (($#)); do
  case "$1" in
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --records) RECORDS=$2; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --baseline) BASELINE=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
((SECONDS_PER_RUN >= 1 && SECONDS_PER_RUN <= 30)) || { echo "--seconds must be 1..30" >&2; exit 2; }
((RECORDS >= 1 && RECORDS <= 100000)) || { echo "--records must be 1..100000" >&2; exit 2; }
((ROUNDS >= 1 && ROUNDS <= 9)) || { echo "--rounds must be 1..9" >&2; exit 2; }
((RATE >= 0 && RATE <= 1000000)) || { echo "--rate must be 0..1000000" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
for tool in ip dnsperf taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install iproute2 dnsperf util-linux)" >&2; exit 1; }
done
UNBOUND=$(command -v unbound || echo /usr/sbin/unbound)
[ -x "$UNBOUND" ] || { echo "missing unbound (apt-get install unbound)" >&2; exit 1; }
(($(nproc) >= 2)) || { echo "needs 2 CPUs (one for dnsperf, one for the server)" >&2; exit 1; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/target/release/examples/dp-bench
if ((BUILD)); then
  (cd "$ROOT" && cargo build --release -q -p linkplane-dataplane --example dp-bench)
fi
[ -x "$BIN" ] || { echo "missing $BIN (build it or drop --skip-build)" >&2; exit 1; }
[ -z "$BASELINE" ] || [ -x "$BASELINE" ] || { echo "--baseline $BASELINE is not an executable" >&2; exit 1; }

P=tu$(printf '%03x' $((RANDOM % 4096)))
C=$P-cl S=$P-sv
PIDS=()
WORK=$(mktemp -d)
chmod 755 "$WORK"
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for n in "$C" "$S"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

for n in "$C" "$S"; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add "$P-c" netns "$C" type veth peer name "$P-s" netns "$S"
ip -n "$C" addr add 10.1.0.10/24 dev "$P-c"
ip -n "$S" addr add 10.1.0.2/24 dev "$P-s"
ip -n "$S" addr add 10.1.0.3/24 dev "$P-s"
ip -n "$S" addr add 10.1.0.4/24 dev "$P-s"
ip -n "$C" link set "$P-c" up
ip -n "$S" link set "$P-s" up

bg() { "$@" & PIDS+=($!); }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime of a process, in clock ticks
HZ=$(getconf CLK_TCK)
wait_udp() { # addr:port
  for _ in $(seq 100); do
    ip netns exec "$S" ss -lun | grep -q " $1 " && return 0
    sleep 0.1
  done
  echo "nothing listens on udp $1" >&2; exit 1
}

BOUND=$((SECONDS_PER_RUN * 8 + 120))
bg taskset -c 1 "$BIN" --seconds "$BOUND" --workers 1 dns --ns "$S" --listen 10.1.0.2:53 \
  --zone corp.internal --records "$RECORDS" --ttl 300 >"$WORK/dp.out"
DP_PID=${PIDS[-1]} # taskset execs dp-bench: same pid
if [ -n "$BASELINE" ]; then
  bg taskset -c 1 "$BASELINE" --seconds "$BOUND" --workers 1 dns --ns "$S" --listen 10.1.0.4:53 \
    --zone corp.internal --records "$RECORDS" --ttl 300 >"$WORK/baseline.out"
  BASE_PID=${PIDS[-1]}
fi

{
  printf '%s\n' "server:" "  chroot: \"\"" "  username: \"\"" "  directory: \"$WORK\"" \
    "  pidfile: \"$WORK/unbound.pid\"" "  use-syslog: no" "  logfile: \"\"" "  verbosity: 0" \
    "  interface: 10.1.0.3" "  port: 53" "  num-threads: 1" "  do-ip6: no" \
    "  access-control: 10.1.0.0/24 allow" "  so-reuseport: no" "  do-daemonize: no" \
    "  local-zone: \"corp.internal.\" static"
  for ((i = 0; i < RECORDS; i++)); do
    n=$((i + 1))
    printf '  local-data: "host%d.corp.internal. 300 IN A 10.%d.%d.%d"\n' \
      "$i" $((n >> 16 & 255)) $((n >> 8 & 255)) $((n & 255))
  done
  printf '%s\n' "remote-control:" "  control-enable: no"
} >"$WORK/unbound.conf"
bg ip netns exec "$S" timeout "$BOUND" taskset -c 1 "$UNBOUND" -d -c "$WORK/unbound.conf"
wait_udp 10.1.0.2:53
wait_udp 10.1.0.3:53
[ -z "$BASELINE" ] || wait_udp 10.1.0.4:53
UB_PID=$(cat "$WORK/unbound.pid")

# same answers from both (spot check; each name twice: the second linkplane answer comes
# from its UDP memo), and the same NXDOMAIN for a missing name
for name in host0 host0 HOST$((RECORDS - 1)) host$((RECORDS - 1)); do
  a=$(ip netns exec "$C" dig +short +time=2 @10.1.0.2 "$name.corp.internal" A)
  b=$(ip netns exec "$C" dig +short +time=2 @10.1.0.3 "$name.corp.internal" A)
  [ -n "$a" ] && [ "$a" = "$b" ] || { echo "answers differ for $name: linkplane '$a' unbound '$b'" >&2; exit 1; }
done
for _ in 1 2; do
  status() { ip netns exec "$C" dig +time=2 @"$1" nohost.corp.internal A | grep -o 'status: [A-Z]*'; }
  a=$(status 10.1.0.2) b=$(status 10.1.0.3)
  [ "$a" = "status: NXDOMAIN" ] && [ "$a" = "$b" ] || { echo "missing name: linkplane '$a' unbound '$b'" >&2; exit 1; }
done

for ((i = 0; i < RECORDS; i++)); do echo "host$i.corp.internal A"; done >"$WORK/q"
perf() { # server server-pid clients max-outstanding [more dnsperf arguments]
  local t0 t1
  t0=$(ticks "$2")
  ip netns exec "$C" timeout $((SECONDS_PER_RUN + 15)) taskset -c 0 dnsperf -s "$1" -d "$WORK/q" \
    -l "$SECONDS_PER_RUN" -c "$3" -q "$4" "${@:5}" -t 2 2>/dev/null >"$WORK/dnsperf.out"
  t1=$(ticks "$2")
  # The server's CPU time over the run (user + system, softirq work done in its context
  # included) per completed query: what one answer costs, whatever else runs on the CPU.
  awk -v cpu=$((t1 - t0)) -v hz="$HZ" -v secs="$SECONDS_PER_RUN" \
    '/Queries completed/ {n=$3} /Queries per second/ {q=$4} /Average Latency/ {l=$4; mx=$8}
     /Latency StdDev/ {sd=$4} /Queries lost/ {lost=$3" "$4}
     END {gsub(/[(),]/, "", mx); us = n ? cpu / hz * 1e6 / n : 0
          printf "%d | %.3f | %.3f | %.3f | %s | %.0f %% | %.1f |\n", q, l*1000, sd*1000, mx*1000, lost,
                 100 * cpu / hz / secs, us}' "$WORK/dnsperf.out"
}
pct() { # server -> "p50 p99" in ms from dnsperf -v per-query lines ("> NOERROR name A 0.000123")
  ip netns exec "$C" timeout $((SECONDS_PER_RUN + 15)) taskset -c 0 dnsperf -s "$1" -d "$WORK/q" \
    -l "$SECONDS_PER_RUN" -c 1 -q 20 -Q 2000 -t 2 -v 2>/dev/null |
    awk '$1 == ">" {print $NF * 1000}' | sort -n |
    awk '{a[NR]=$1} END {if (NR) printf "%.3f | %.3f | %d", a[int(NR*0.5)+1], a[int(NR*0.99)+1], NR; else printf "— | — | 0"}'
}
echo
echo "### DNS: VPC resolver vs unbound, $RECORDS local names (dnsperf ${SECONDS_PER_RUN}s per row; server on CPU 1, dnsperf on CPU 0)"
echo
echo "load before: $(uptime | sed 's/.*load average/load average/')"
echo
echo "| server | load | queries/s | avg latency ms | stddev ms | max ms | lost | server CPU | server CPU µs/query |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
SERVERS=("10.1.0.2 $DP_PID linkplane resolver (dp-bench dns, 1 worker)")
[ -z "$BASELINE" ] || SERVERS+=("10.1.0.4 $BASE_PID baseline resolver ($(basename "$BASELINE"), 1 worker)")
SERVERS+=("10.1.0.3 $UB_PID unbound $("$UNBOUND" -V | awk 'NR==1 {print $2}') (1 thread)")
for ((r = 0; r < ROUNDS; r++)); do
  for i in "${!SERVERS[@]}"; do
    read -r addr pid _ <<<"${SERVERS[$i]}"
    perf "$addr" "$pid" 8 200 >>"$WORK/tput.$i"
  done
done
LAT=()
for i in "${!SERVERS[@]}"; do
  read -r addr pid label <<<"${SERVERS[$i]}"
  # the median run by queries/s, with every run's queries/s in brackets
  all=$(cut -d' ' -f1 "$WORK/tput.$i" | xargs)
  med=$(sort -n "$WORK/tput.$i" | sed -n "$(((ROUNDS + 1) / 2))p")
  echo "| $label | -c 8 -q 200 (throughput, median of $ROUNDS) | ${med%% *} ($all) ${med#* }"
  ((RATE == 0)) || echo "| $label | -c 8 -q 200 -Q $RATE (fixed rate) | $(perf "$addr" "$pid" 8 200 -Q "$RATE")"
  echo "| $label | -c 1 -q 1 (latency) | $(perf "$addr" "$pid" 1 1)"
  LAT+=("| $label | $(pct "$addr") |")
done
echo
echo "| server | p50 ms | p99 ms | queries measured (paced at 2 000 queries/s: -c 1 -q 20 -Q 2000 -v) |"
echo "|---|---:|---:|---:|"
printf '%s\n' "${LAT[@]}"
echo
# dp-bench prints its counters when it stops: memo_hits = answers from the UDP fast path.
kill -TERM "$DP_PID" 2>/dev/null && wait "$DP_PID" 2>/dev/null || true
echo "linkplane resolver counters: $(tail -n 1 "$WORK/dp.out")"
echo "machine: $(nproc) CPUs, kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(uptime | sed 's/.*load average/load average/')"
