#!/usr/bin/env bash
# Transit gateway measurements (issue 16 item 6), in one run between the same two VPCs:
# bulk TCP (iperf3) and ICMP round trips through a transit gateway vs a direct VPC peering,
# the same with 10,000 more static routes in the gateway's table, and the create time of the
# n-th attachment on one gateway (10 … BENCH_ATTACHMENTS).
#
#   bench/tgw.sh [--seconds N] [--runs N] [--attachments N] [--release]
#
# Runs the ignored test `crates/localcloud/tests/bench_tgw.rs` as root: everything lives in
# namespaces under a fresh prefix, each load run is bounded (iperf3 -t, ping -c 200), and the
# prefix is garbage-collected when the test ends, even on failure. Prints markdown tables
# for docs/PERFORMANCE.md. The forwarding is the kernel's, so a debug build measures the
# same paths; --release matters for the attachment create times.
set -euo pipefail

SECONDS_PER_RUN=3
RUNS=3
ATTACHMENTS=100
PROFILE=()
while (($#)); do
  case "$1" in
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --attachments) ATTACHMENTS=$2; shift 2 ;;
    --release) PROFILE=(--release); shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
((SECONDS_PER_RUN >= 1 && SECONDS_PER_RUN <= 30)) || { echo "--seconds must be 1..30" >&2; exit 2; }
((RUNS >= 1 && RUNS <= 5)) || { echo "--runs must be 1..5" >&2; exit 2; }
((ATTACHMENTS >= 10 && ATTACHMENTS <= 200)) || { echo "--attachments must be 10..200" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "needs root (namespaces, nftables)" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "needs iperf3 (apt-get install iperf3)" >&2; exit 1; }

cd "$(dirname "$0")/.."
. scripts/env.sh
BENCH_SECONDS=$SECONDS_PER_RUN BENCH_RUNS=$RUNS BENCH_ATTACHMENTS=$ATTACHMENTS \
  cargo test "${PROFILE[@]}" -p linkplane-localcloud --test bench_tgw -- --ignored --nocapture \
    bench_tgw_vs_peering_routes_and_attachments 2>/dev/null | grep '^|'
