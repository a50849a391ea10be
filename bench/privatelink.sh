#!/usr/bin/env bash
# localcloud end-to-end measurements (issue 4 item 8, issue 8 items 1-3): bulk TCP from a
# consumer instance to a provider instance through an interface endpoint vs the direct
# routed path (a VPC peering between the same two VPCs), small HTTP requests (wrk against
# nginx in the provider instance) over the same two paths, and dnsperf against a VPC
# resolver (base+2).
#
#   bench/privatelink.sh [--seconds N] [--runs N] [--debug]
#
# Runs the ignored test `crates/localcloud/tests/bench.rs` as root: everything lives in
# namespaces under a fresh prefix, each load run is bounded (iperf3 -t, wrk -d, dnsperf -l), and
# the prefix is garbage-collected when the test ends, even on failure. Prints markdown
# tables for docs/PERFORMANCE.md.
set -euo pipefail

SECONDS_PER_RUN=4
RUNS=3
PROFILE=(--release)
while (($#)); do
  case "$1" in
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --debug) PROFILE=(); shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
((SECONDS_PER_RUN >= 1 && SECONDS_PER_RUN <= 30)) || { echo "--seconds must be 1..30" >&2; exit 2; }
((RUNS >= 1 && RUNS <= 5)) || { echo "--runs must be 1..5" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "needs root (namespaces, nftables)" >&2; exit 1; }
for tool in iperf3 dnsperf wrk nginx; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
    { echo "needs $tool (apt-get install iperf3 dnsperf wrk nginx-light)" >&2; exit 1; }
done

cd "$(dirname "$0")/.."
BENCH_SECONDS=$SECONDS_PER_RUN BENCH_RUNS=$RUNS \
  cargo test "${PROFILE[@]}" -p linkplane-localcloud --test bench -- --ignored --nocapture \
    bench_endpoint_vs_routed_and_resolver_qps 2>/dev/null | grep '^|'
