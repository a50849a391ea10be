#!/usr/bin/env bash
# Issue 8 items 2 and 5: small HTTP requests through the direct kernel path, the linkplane
# forwarder and HAProxy; then resident memory with N concurrent idle connections held
# through one forwarder (and through HAProxy for comparison; N = 8 500 by default because
# the file limit here is 20 000 and cannot be raised without CAP_SYS_RESOURCE).
#
#   bench/http.sh [--seconds N] [--idle N] [--skip-build]
#
# Same topology and rules as bench/dataplane.sh: namespaces only (veth pairs created inside
# them), nothing in the host namespace, every load run bounded (`wrk -d`, `timeout`, and every
# server started with a time limit), a trap removes every namespace and process on exit/Ctrl-C.
#
#   client 10.1.0.10 ──veth── router 10.1.0.1 / .5 (forwarder) / .6 (HAProxy)
#                             router 10.2.0.1 ──veth── target 10.2.0.20 (nginx :80, idle holder :9000)
#
#   (a) direct:    wrk in client → kernel forwarding in router → nginx
#   (b) forwarder: → 10.1.0.5:80, dp-bench forward (the dataplane crate's forwarder, splice,
#                  2 tokio workers) in router, connecting from 10.2.0.1 → nginx
#   (c) HAProxy:   → 10.1.0.6:80, haproxy (Debian, mode tcp, splice-auto, nbthread 2) in router
#
# nginx: 1 worker, a 128-byte static file, access log off, keep-alive 10 000 requests.
# Prints markdown tables; paste them into docs/PERFORMANCE.md.
set -euo pipefail

SECONDS_PER_RUN=5
IDLE=8500
BUILD=1
while (($#)); do
  case "$1" in
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --idle) IDLE=$2; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
((SECONDS_PER_RUN >= 1 && SECONDS_PER_RUN <= 30)) || { echo "--seconds must be 1..30" >&2; exit 2; }
((IDLE >= 0 && IDLE <= 20000)) || { echo "--idle must be 0..20000" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
for tool in ip python3 wrk nginx; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
    { echo "missing $tool (apt-get install iproute2 python3 wrk nginx-light)" >&2; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$HAPROXY" ] || { echo "missing haproxy (apt-get install haproxy)" >&2; exit 1; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/target/release/examples/dp-bench
if ((BUILD)); then
  (cd "$ROOT" && cargo build --release -q -p linkplane-dataplane --example dp-bench)
fi
[ -x "$BIN" ] || { echo "missing $BIN (build it or drop --skip-build)" >&2; exit 1; }

# Every idle connection costs 1 fd in the client and in the holder and 2 in the proxy. Raise
# the soft limit to the hard one (root without CAP_SYS_RESOURCE cannot go higher); the idle
# count must leave the proxy ~2 x IDLE fds.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if ((2 * IDLE + 400 > $(ulimit -n))); then
  echo "--idle $IDLE needs ~$((2 * IDLE + 400)) fds per proxy, the limit is $(ulimit -n): lower --idle" >&2; exit 2
fi

P=th$(printf '%03x' $((RANDOM % 4096)))
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
ip link add "$P-c" netns "$C" type veth peer name "$P-rc" netns "$R"
ip link add "$P-t" netns "$T" type veth peer name "$P-rt" netns "$R"
ip -n "$C" addr add 10.1.0.10/24 dev "$P-c"
for a in 10.1.0.1 10.1.0.5 10.1.0.6; do ip -n "$R" addr add "$a/24" dev "$P-rc"; done
ip -n "$R" addr add 10.2.0.1/24 dev "$P-rt"
ip -n "$T" addr add 10.2.0.20/24 dev "$P-t"
for l in "$C:$P-c" "$R:$P-rc" "$R:$P-rt" "$T:$P-t"; do ip -n "${l%%:*}" link set "${l#*:}" up; done
ip -n "$C" route add default via 10.1.0.1
ip -n "$T" route add default via 10.2.0.1
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
# many short connections from one client address: allow reuse of TIME_WAIT ports
ip netns exec "$C" sysctl -qw net.ipv4.tcp_tw_reuse=1
ip netns exec "$C" sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
ip netns exec "$R" sysctl -qw net.ipv4.ip_local_port_range="1024 65000"

bg() { "$@" & PIDS+=($!); }
wait_listen() { # ns addr:port
  for _ in $(seq 100); do
    ip netns exec "$1" ss -ltn | grep -q " $2 " && return 0
    sleep 0.1
  done
  echo "nothing listens on $2 in $1" >&2; exit 1
}

BOUND=$((SECONDS_PER_RUN * 12 + 300))

# ---------- nginx in target ----------
mkdir -p "$WORK/www" "$WORK/ngx"
chmod 755 "$WORK" "$WORK/www" # nginx's worker runs as www-data
head -c 128 /dev/zero | tr '\0' x >"$WORK/www/small.txt"
cat >"$WORK/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/ngx/nginx.pid;
error_log $WORK/ngx/error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 10000;
  client_body_temp_path $WORK/ngx/body;
  proxy_temp_path $WORK/ngx/proxy;
  fastcgi_temp_path $WORK/ngx/fcgi;
  uwsgi_temp_path $WORK/ngx/uwsgi;
  scgi_temp_path $WORK/ngx/scgi;
  server { listen 10.2.0.20:80 backlog=4096; root $WORK/www; }
}
EOF
bg ip netns exec "$T" timeout "$BOUND" "$NGINX" -c "$WORK/nginx.conf" -p "$WORK/ngx"
wait_listen "$T" 10.2.0.20:80

# ---------- forwarder and HAProxy in router ----------
bg "$BIN" --seconds "$BOUND" forward --listen-ns "$R" --listen 10.1.0.5:80 \
  --connect-ns "$R" --source 10.2.0.1 --target 10.2.0.20:80 >"$WORK/fwd.out"
FWD_PID=${PIDS[-1]}
printf '%s\n' "global" "  nbthread 2" "  maxconn $((IDLE + 300))" "  maxpipes 500" \
  "defaults" "  mode tcp" "  option splice-auto" "  timeout connect 5s" \
  "  timeout client 300s" "  timeout server 300s" \
  "listen web" "  bind 10.1.0.6:80" "  server t 10.2.0.20:80 source 10.2.0.1" \
  "listen idle" "  bind 10.1.0.6:9000" "  server t 10.2.0.20:9000 source 10.2.0.1" \
  >"$WORK/haproxy.cfg"
bg ip netns exec "$R" timeout "$BOUND" "$HAPROXY" -db -f "$WORK/haproxy.cfg"
HAP_PID=${PIDS[-1]}
wait_listen "$R" 10.1.0.5:80
wait_listen "$R" 10.1.0.6:80

# ---------- small requests ----------
# wrk --latency prints "50%  123.00us" lines; convert to microseconds.
us() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
  f = (u == "us") ? 1 : (u == "ms") ? 1000 : (u == "s") ? 1000000 : 0; printf "%.0f", n * f }'; }
run_wrk() { # dest conns close(0/1) -> "rps p50us p99us errors"
  local hdr=()
  (($3)) && hdr=(-H "Connection: close")
  ip netns exec "$C" timeout $((SECONDS_PER_RUN + 20)) wrk -t 1 -c "$2" -d "${SECONDS_PER_RUN}s" \
    --latency "${hdr[@]}" "http://$1/small.txt" >"$WORK/wrk.out" 2>&1 || true
  local rps p50 p99 err
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/wrk.out")
  p50=$(us "$(awk '$1 == "50%" {print $2}' "$WORK/wrk.out")")
  p99=$(us "$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")")
  err=$(awk '/Socket errors|Non-2xx/ {e = e $0 "; "} END {print (e == "" ? "0" : e)}' "$WORK/wrk.out")
  echo "${rps:-0} ${p50:-0} ${p99:-0} $err"
}
declare -A NAME=([10.2.0.20]="(a) direct kernel route" [10.1.0.5]="(b) linkplane forwarder"
  [10.1.0.6]="(c) HAProxy tcp")

echo
echo "### Small HTTP requests (wrk, 1 thread, ${SECONDS_PER_RUN}s per row, 128-byte file from nginx)"
echo
echo "load: $(uptime | sed 's/.*load average/load average/')"
echo
echo "| path | load | requests/s | p50 µs | p99 µs | p50 added over (a) µs | p99 added over (a) µs | errors |"
echo "|---|---|---:|---:|---:|---:|---:|---|"
for load in "1 0 keep-alive, 1 connection" "64 0 keep-alive, 64 connections" \
  "16 1 Connection: close, 16 concurrent (= new connections/s)"; do
  read -r conns close label <<<"$load"
  base50=0 base99=0
  for dest in 10.2.0.20 10.1.0.5 10.1.0.6; do
    read -r rps p50 p99 err <<<"$(run_wrk "$dest" "$conns" "$close")"
    if [ "$dest" = 10.2.0.20 ]; then base50=$p50 base99=$p99; add50="—" add99="—"
    else add50=$((p50 - base50)) add99=$((p99 - base99)); fi
    echo "| ${NAME[$dest]} | $label | $rps | $p50 | $p99 | $add50 | $add99 | $err |"
  done
done
kill -TERM "$FWD_PID" 2>/dev/null || true
wait "$FWD_PID" 2>/dev/null || true
echo
echo "forwarder counters: $(tail -1 "$WORK/fwd.out")"

# ---------- memory with idle connections ----------
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# `ip netns exec` execs `timeout`, whose child is haproxy (-db: no master process)
HAP_REAL=$(pgrep -P "$HAP_PID" | head -1)
if ((IDLE > 0)); then
  cat >"$WORK/holder.py" <<'EOF'
import socket, sys, time, selectors
# server: accept and hold every connection until the deadline
addr, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port)); s.listen(4096); s.settimeout(0.5)
held, end = [], time.time() + secs
while time.time() < end:
    try:
        c, _ = s.accept(); held.append(c)
    except socket.timeout:
        pass
EOF
  cat >"$WORK/opener.py" <<'EOF'
import socket, sys, time
# client: open N connections, report, hold them until stdin closes or the deadline
addr, port, n, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
socks, t0 = [], time.time()
for _ in range(n):
    c = socket.create_connection((addr, port), timeout=5); socks.append(c)
print("open %d %.2f" % (len(socks), time.time() - t0), flush=True)
time.sleep(secs)
EOF
  bg ip netns exec "$T" timeout 200 python3 "$WORK/holder.py" 10.2.0.20 9000 190
  bg "$BIN" --seconds 200 forward --listen-ns "$R" --listen 10.1.0.5:9000 \
    --connect-ns "$R" --source 10.2.0.1 --target 10.2.0.20:9000 >"$WORK/fwd2.out"
  FWD2_PID=${PIDS[-1]}
  wait_listen "$T" 10.2.0.20:9000
  wait_listen "$R" 10.1.0.5:9000
  echo
  echo "### Memory with $IDLE concurrent idle connections held through one proxy"
  echo
  echo "| process | RSS idle (MiB) | RSS with $IDLE connections (MiB) | per connection (KiB) | fds with connections | time to open them (s) |"
  echo "|---|---:|---:|---:|---:|---:|"
  for pair in "10.1.0.5 $FWD2_PID dp-bench forward (linkplane forwarder, 2 workers)" \
    "10.1.0.6 $HAP_REAL haproxy 2 threads (mode tcp)"; do
    read -r dest pid label <<<"$pair"
    before=$(rss_kb "$pid")
    mkfifo "$WORK/open.$dest"
    ip netns exec "$C" timeout 60 python3 "$WORK/opener.py" "$dest" 9000 "$IDLE" 30 >"$WORK/open.$dest" &
    OPENER=$!
    PIDS+=($OPENER)
    read -r _ opened took <"$WORK/open.$dest" || { opened=0; took=0; }
    sleep 2 # let the proxy finish connecting to the holder
    after=$(rss_kb "$pid") nfd=$(fds "$pid")
    kill "$OPENER" 2>/dev/null || true
    wait "$OPENER" 2>/dev/null || true
    per=$(python3 -c "print('%.1f' % (($after - $before) / max(1, $opened)))")
    echo "| $label | $(python3 -c "print('%.1f' % ($before/1024))") | $(python3 -c "print('%.1f' % ($after/1024))") | $per | $nfd | $took (opened $opened) |"
    sleep 3 # connections drain before the next proxy
  done
fi
echo
echo "machine: $(nproc) CPUs, kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(uptime | sed 's/.*load average/load average/')"
