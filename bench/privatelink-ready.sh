#!/usr/bin/env bash
# Issue 8 item 4, precisely: the timeline from `PUT private-link` to a verified endpoint,
# observed every 50 ms.
#
#   bench/privatelink-ready.sh [--skip-build] [--debug] [--runs N] [--settle SECONDS]
#
# --settle: pause between the cluster becoming CREATED and the PUT (default 1 s; 0 is what
# `linkplane up` does, and shows whether the cluster's gateway target is healthy yet).
# Starts `linkplane serve` as root with its own prefix, data dir and loopback port. Before
# the clock starts (preconditions, as in document 000: the cluster exists, the customer's
# VPC and agent host exist): a LOCAL DEDICATED cluster per run and a deployment on it; once,
# the customer's VPC with two subnets, the endpoint security group (443 from the agents'
# subnet), the agent host instance and the private hosted zone `external.<baseDomain>`.
# Then, per run, the clock starts at `PUT private-link` and the driver does what `linkplane
# up` does (wait for the service, create the endpoint, point the zone's record at it, wait
# for the connection on /v1, accept it, wait for `available`) while a poller records the
# first time each status is seen, every 50 ms, and probes run from the agent host: the DNS
# answer (dig through the VPC resolver), HTTPS `GET /` through the endpoint, and finally
# `linkplane verify` (every check but agents-healthy: no agent runs here). KEEP_SERVE_LOG=FILE
# keeps serve's log. `linkplane local gc` removes everything on exit (trap, also on Ctrl-C).
set -euo pipefail

BUILD=1
PROFILE=release
RUNS=3
SETTLE=1
while (($#)); do
  case "$1" in
    --skip-build) BUILD=0; shift ;;
    --debug) PROFILE=debug; shift ;;
    --runs) RUNS=$2; shift 2 ;;
    --settle) SETTLE=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ "$RUNS" =~ ^[1-9]$ ]] || { echo "--runs: 1 to 9" >&2; exit 2; }
[[ "$SETTLE" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "--settle: seconds, e.g. 0 or 1.5" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root (localcloud: namespaces, nftables)" >&2; exit 1; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/target/$PROFILE/linkplane
if ((BUILD)); then
  flags=(); [ "$PROFILE" = release ] && flags=(--release)
  (cd "$ROOT" && cargo build "${flags[@]}" -q -p linkplane --bin linkplane)
fi
[ -x "$BIN" ] || { echo "missing $BIN (build it or drop --skip-build)" >&2; exit 1; }

PFX=r$(printf '%03x' $((RANDOM % 4096)))
WORK=$(mktemp -d)
DATA=$WORK/data
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SERVE_PID=
cleanup() {
  if [ -n "$SERVE_PID" ]; then
    kill "$SERVE_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVE_PID" 2>/dev/null || true
  fi
  timeout 120 "$BIN" local gc --prefix "$PFX" >"$WORK/gc.log" 2>&1 ||
    echo "linkplane local gc failed: $(tail -3 "$WORK/gc.log")" >&2
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PFX" || true); do
    ip netns del "$n" 2>/dev/null || true
  done
  [ -n "${KEEP_SERVE_LOG:-}" ] && cp "$DATA/serve.log" "$KEEP_SERVE_LOG" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

mkdir -p "$DATA"
"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" --prefix "$PFX" \
  >"$DATA/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVE_PID" 2>/dev/null || { tail -5 "$DATA/serve.log" >&2; exit 1; }
  sleep 0.2
done

echo
echo "### PUT private-link → verified endpoint, timeline ($PROFILE build, polled every 50 ms)"
echo
echo "load before: $(uptime | sed 's/.*load average/load average/')"
timeout 600 python3 - "http://127.0.0.1:$PORT" "$DATA" "$BIN" "$RUNS" "$SETTLE" <<'PY'
import json, os, subprocess, sys, threading, time, urllib.error, urllib.request

URL, DATA, BIN, RUNS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
SETTLE = float(sys.argv[5])
CUSTOMER = "arn:aws:iam::111122223333:root"
POLL = 0.05
rd = lambda f: open(os.path.join(DATA, f)).read().strip()
ORG, TOKEN, CLOUD_TOKEN = rd("organization-id"), rd("admin.token"), rd("cloud.token")
PLANE = f"{URL}/v1/organizations/{ORG}"
CLOUD = f"{URL}/cloud/v1"


def call(method, url, body=None, principal=None):
    token = CLOUD_TOKEN if url.startswith(CLOUD) else TOKEN
    req = urllib.request.Request(url, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    if principal:
        req.add_header("X-Cloud-Principal", principal)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {url}: {e.code} {e.read().decode(errors='replace')}")
    return json.loads(text) if text.strip() else None


cloud = lambda m, p, b=None: call(m, CLOUD + p, b, CUSTOMER)
plane = lambda m, p, b=None: call(m, PLANE + p, b)
items = lambda v: v.get("items", v) if isinstance(v, dict) else v


def wait(what, probe, timeout=120, every=POLL):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        v = probe()
        if v:
            return v
        time.sleep(every)
    raise SystemExit(f"{what}: not there after {timeout}s")


def in_ns(ns, *cmd, timeout=5):
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True,
                          text=True, timeout=timeout)


# ---- preconditions shared by every run: the customer's VPC and agent host
vpc = cloud("POST", "/vpcs", {"cidrBlock": "10.1.0.0/16", "region": "us-east-1", "name": "customer"})
subnets = [cloud("POST", "/subnets", {"vpcId": vpc["vpcId"], "cidrBlock": f"10.1.{i + 1}.0/24",
                                      "availabilityZone": az, "name": f"customer-{i}"})
           for i, az in enumerate(["us-east-1a", "us-east-1b"])]
sg = cloud("POST", "/security-groups", {"vpcId": vpc["vpcId"], "groupName": "privatelink-endpoint",
                                        "description": "HTTPS from the agents' subnet"})
cloud("POST", f"/security-groups/{sg['groupId']}/rules",
      {"direction": "ingress", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443,
       "cidrIp": "10.1.1.0/24"})
inst = cloud("POST", "/instances", {"subnetId": subnets[0]["subnetId"], "name": "agent-host"})
NS = inst["namespace"]
zone = None
results = []

for run in range(RUNS):
    c = plane("POST", "/clusters", {"name": f"ready-{run}", "cloudProvider": "LOCAL",
                                    "type": "DEDICATED", "region": "us-east-1",
                                    "vpcSubnetRange": f"10.{30 + run}.0.0/16"})
    cid = c["id"]
    wait("cluster CREATED",
         lambda: plane("GET", f"/clusters/{cid}").get("status") == "CREATED", every=0.2)
    d = plane("POST", "/deployments", {"name": f"etl-{run}", "clusterId": cid,
                                       "remoteExecution": {"enabled": True}})
    host = d["apiUrl"].split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
    base = host.split(".external.", 1)[1]
    if zone is None:
        zone = cloud("POST", "/hosted-zones", {"name": f"external.{base}", "vpcIds": [vpc["vpcId"]]})
    time.sleep(SETTLE)  # --settle: time between the cluster CREATED and the PUT

    events = {}  # name -> ms after PUT (first time seen)
    lock = threading.Lock()
    T0 = None
    stop = threading.Event()
    shared = {"endpoint": None, "ips": None}

    def mark(name, at=None):
        with lock:
            if name not in events:
                events[name] = round(((at or time.monotonic()) - T0) * 1000)

    def poller():
        while not stop.is_set():
            pl = plane("GET", f"/clusters/{cid}/private-link")
            mark(f"/v1 private link {pl.get('status')}")
            eid = shared["endpoint"]
            if eid:
                for cn in items(plane("GET", f"/clusters/{cid}/private-link/connections")):
                    if cn.get("cloudEndpointId") == eid:
                        mark(f"/v1 connection {cn.get('status')}")
                e = cloud("GET", f"/vpc-endpoints/{eid}")
                mark(f"/cloud/v1 endpoint {e.get('state')}")
            time.sleep(POLL)

    def dns_probe():
        while not stop.is_set() and shared["ips"] is None:
            time.sleep(POLL)
        while not stop.is_set():
            r = in_ns(NS, "dig", "+short", "+time=1", "+tries=1", host)
            got = sorted(l for l in r.stdout.split() if l[:1].isdigit())
            if got and got == sorted(shared["ips"]):
                mark("DNS answer = endpoint IPs (dig from the agent host)")
                return
            time.sleep(POLL)

    def https_probe():
        while not stop.is_set() and shared["ips"] is None:
            time.sleep(POLL)
        while not stop.is_set():
            r = in_ns(NS, "curl", "-sS", "--max-time", "2", "--cacert",
                      os.path.join(DATA, "ca.pem"), f"https://{host}/")
            if r.returncode == 0 and "404 page not found" in r.stdout:
                mark("HTTPS GET / through the endpoint: 404 page not found")
                return
            time.sleep(POLL)

    T0 = time.monotonic()
    plane("PUT", f"/clusters/{cid}/private-link", {"allowedPrincipals": [CUSTOMER]})
    mark("PUT private-link answered")
    threads = [threading.Thread(target=f, daemon=True) for f in (poller, dns_probe, https_probe)]
    for t in threads:
        t.start()
    pl = wait("private link AVAILABLE",
              lambda: (lambda p: p if p.get("status") == "AVAILABLE" else None)(
                  plane("GET", f"/clusters/{cid}/private-link")))
    mark("driver: service AVAILABLE seen")
    e = cloud("POST", "/vpc-endpoints",
              {"vpcId": vpc["vpcId"], "serviceName": pl["serviceName"],
               "subnetIds": [s["subnetId"] for s in subnets], "securityGroupIds": [sg["groupId"]],
               "privateDnsEnabled": False})
    mark(f"driver: endpoint created ({e['state']})")
    dns_name = e["dnsEntries"][0]["dnsName"]
    cloud("POST", f"/hosted-zones/{zone['hostedZoneId']}/records",
          {"name": host, "type": "ALIAS", "ttl": 60, "values": [dns_name]})
    mark("driver: zone record created")
    shared["ips"] = [n["privateIpAddress"] for n in e["networkInterfaces"]]
    shared["endpoint"] = e["vpcEndpointId"]
    path = f"/clusters/{cid}/private-link/connections"
    conn = wait("connection on /v1", lambda: next(
        (x for x in items(plane("GET", path)) if x.get("cloudEndpointId") == e["vpcEndpointId"]), None))
    mark("driver: connection seen on /v1")
    if conn["status"] == "PENDING_ACCEPTANCE":
        plane("POST", f"{path}/{conn['id']}/accept", {})
        mark("driver: accept answered")
    wait("endpoint available",
         lambda: cloud("GET", f"/vpc-endpoints/{e['vpcEndpointId']}").get("state") == "available")
    mark("driver: endpoint available seen")
    env = dict(os.environ, LINKPLANE_URL=URL, LINKPLANE_DATA_DIR=DATA,
               LINKPLANE_TOKEN_FILE=os.path.join(DATA, "admin.token"), LINKPLANE_ORG=ORG,
               LINKPLANE_CLOUD_PRINCIPAL=CUSTOMER)
    verified = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        t = time.monotonic()
        r = subprocess.run([BIN, "verify", "--deployment", d["id"], "--from", inst["instanceId"],
                            "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
        try:
            # Every check but the agent's (no agent runs here: it heartbeats every 30 s).
            checks = json.loads(r.stdout)["checks"]
            failing = [c["name"] for c in checks if not c["passed"] and c["name"] != "agents-healthy"]
            passed = bool(checks) and not failing
            if failing:
                mark(f"linkplane verify failed: {', '.join(failing)}", t)
        except (ValueError, KeyError, TypeError):
            passed = False
        if passed:
            mark("linkplane verify passed, all but agents-healthy (completed)")
            verified = round((t - T0) * 1000)
            break
        time.sleep(POLL)
    for t in threads[1:]:
        t.join(timeout=10)
    stop.set()
    threads[0].join(timeout=5)
    if verified is None:
        raise SystemExit(f"run {run}: linkplane verify never passed; last answer:\n{r.stdout}\n{r.stderr}")
    print()
    print(f"run {run + 1} (cluster {cid}, endpoint {e['vpcEndpointId']}):")
    print()
    print("| ms after PUT | first seen |")
    print("|---:|---|")
    for name, ms in sorted(events.items(), key=lambda kv: kv[1]):
        print(f"| {ms} | {name} |")
    results.append((events.get("/cloud/v1 endpoint available", events.get("driver: endpoint available seen")),
                    events.get("HTTPS GET / through the endpoint: 404 page not found"),
                    events["linkplane verify passed, all but agents-healthy (completed)"]))

print()
print("| run | PUT → endpoint available (ms) | PUT → HTTPS through the endpoint (ms) | PUT → `linkplane verify` passed (ms) |")
print("|---:|---:|---:|---:|")
for i, (a, h, v) in enumerate(results):
    print(f"| {i + 1} | {a} | {h} | {v} |")
PY
echo
echo "machine: $(nproc) CPUs, kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(uptime | sed 's/.*load average/load average/')"
