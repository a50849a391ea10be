#!/usr/bin/env python3
"""Control-plane load driver for bench/controlplane.sh (issue 8 item 4). Standard library only.

    controlplane.py URL TOKEN ORG [--per-level N] [--attachments N] [--routes N]

Every phase sends a fixed number of requests (bounded); each request has a 30 s timeout.
Prints markdown tables. The client is Python threads (one keep-alive connection each), so
at high concurrency the numbers are a lower bound of what the server can do.
"""

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse


class Api:
    def __init__(self, url, token):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn = None

    def call(self, method, path, body=None):
        """-> (status, parsed body or None, seconds)"""
        data = json.dumps(body) if body is not None else None
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            t0 = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=self.headers)
                r = self.conn.getresponse()
                raw = r.read()
                dt = time.perf_counter() - t0
                return r.status, (json.loads(raw) if raw else None), dt
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def run(url, token, n, conc, make):
    """Send n requests from conc threads; make(i) -> (method, path, body). -> stats dict."""
    lat, errors, retries, lock = [], [], [0], threading.Lock()
    nxt = iter(range(n))

    def worker():
        api = Api(url, token)
        while True:
            with lock:
                i = next(nxt, None)
            if i is None:
                return
            m, p, b = make(i)
            dt = 0.0
            # 409 "changed while this request was validated; retry": the server's optimistic
            # concurrency on the cluster; a client retries, so do we (latency includes it)
            for _ in range(50):
                st, body, d = api.call(m, p, b)
                dt += d
                if st != 409 or "retry" not in str((body or {}).get("detail", "")):
                    break
                with lock:
                    retries[0] += 1
            with lock:
                lat.append(dt)
                if st >= 300:
                    errors.append((st, body))

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(conc)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    pick = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] * 1000 if lat else 0.0  # noqa: E731
    return {
        "n": len(lat), "rps": len(lat) / wall if wall > 0 else 0.0, "p50": pick(0.5), "p99": pick(0.99),
        "wall": wall, "errors": errors, "retries": retries[0],
    }


def err_text(s):
    if not s["errors"]:
        return "0"
    st, body = s["errors"][0]
    detail = (body or {}).get("detail", "") if isinstance(body, dict) else ""
    return f"{len(s['errors'])} (first: {st} {str(detail)[:80]})"


def tgw_cidr(i):
    # distinct /28s in 172.16.0.0/12, far from the cluster's 10.80.0.0/16
    n = 0xAC100000 + i * 16
    return f"{n >> 24}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}/28"


def route_cidr(i):
    # distinct /32s in 100.64.0.0/10
    n = 0x64400000 + i
    return f"{n >> 24}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}/32"


def list_all(api, path):
    """-> (items, pages, seconds)"""
    items, cursor, pages, t0 = 0, None, 0, time.perf_counter()
    while True:
        q = f"{path}?limit=500" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        st, body, _ = api.call("GET", q)
        if st != 200:
            sys.exit(f"list {path} failed: {st} {body}")
        items += len(body["items"])
        pages += 1
        cursor = body.get("nextCursor")
        if not cursor:
            return items, pages, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("token")
    ap.add_argument("org")
    ap.add_argument("--per-level", type=int, default=300)
    ap.add_argument("--attachments", type=int, default=5000)
    ap.add_argument("--routes", type=int, default=2000)
    a = ap.parse_args()
    org = f"/v1/organizations/{a.org}"
    api = Api(a.url, a.token)

    st, cl, dt = api.call("POST", f"{org}/clusters", {
        "name": "bench", "cloudProvider": "AWS", "type": "DEDICATED",
        "region": "us-east-1", "vpcSubnetRange": "10.80.0.0/16"})
    if st != 201:
        sys.exit(f"creating the cluster failed: {st} {cl}")
    cpath = f"{org}/clusters/{cl['id']}"
    tgw = f"{cpath}/transit-gateway-attachments"
    print(f"\ndedicated cluster {cl['id']} created in {dt * 1000:.1f} ms (status {cl['status']})")

    made = [0]

    counter = iter(range(10**9))
    clock = threading.Lock()

    def next_att(_i):
        with clock:
            k = next(counter)
        return "POST", tgw, {"name": f"a{k}", "transitGatewayId": "tgw-0123456789abcdef0",
                             "peerAccountId": "123456789012", "cidrs": [tgw_cidr(k)]}

    print("\n### Control plane: create and list at rising concurrency\n")
    print("| operation | concurrency | requests | requests/s | p50 ms | p99 ms | 409 retries | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for c in (1, 8, 32):
        s = run(a.url, a.token, a.per_level, c, next_att)
        made[0] += s["n"] - len(s["errors"])
        print(f"| create transit-gateway attachment | {c} | {s['n']} | {s['rps']:.0f} | "
              f"{s['p50']:.2f} | {s['p99']:.2f} | {s['retries']} | {err_text(s)} |")
    for c in (1, 8, 32):
        s = run(a.url, a.token, a.per_level * 2, c, lambda _i: ("GET", f"{tgw}?limit=100", None))
        print(f"| list attachments (first page of 100, {made[0]} exist) | {c} | {s['n']} | "
              f"{s['rps']:.0f} | {s['p50']:.2f} | {s['p99']:.2f} | {s['retries']} | {err_text(s)} |")
    s = run(a.url, a.token, a.per_level * 2, 8, lambda _i: ("GET", cpath, None))
    print(f"| get cluster | 8 | {s['n']} | {s['rps']:.0f} | {s['p50']:.2f} | {s['p99']:.2f} | "
          f"{s['retries']} | {err_text(s)} |")

    # fill up to the target count, then time the next creates and the full listing
    fill = max(0, a.attachments - made[0])
    s = run(a.url, a.token, fill, 1, next_att)
    made[0] += s["n"] - len(s["errors"])
    print(f"\n### Transit-gateway attachments: {made[0]} on one dedicated cluster\n")
    print(f"filling {fill} more one at a time: {s['wall']:.1f} s, {s['rps']:.0f} creates/s, "
          f"p50 {s['p50']:.2f} ms, p99 {s['p99']:.2f} ms, errors {err_text(s)}\n")
    nxt_lat = []
    for _ in range(5):
        st, body, dt = api.call(*next_att(0))
        if st != 201:
            sys.exit(f"create #{made[0] + 1} failed: {st} {body}")
        made[0] += 1
        nxt_lat.append(dt * 1000)
    st, body, dt_bad = api.call("POST", tgw, {
        "name": "overlap", "transitGatewayId": "tgw-0123456789abcdef0",
        "peerAccountId": "123456789012", "cidrs": [tgw_cidr(0)]})
    items, pages, secs = list_all(api, tgw)
    print("| measurement | value |")
    print("|---|---:|")
    print(f"| create #{made[0] - 4}..#{made[0]} (one at a time), median / max ms | "
          f"{statistics.median(nxt_lat):.2f} / {max(nxt_lat):.2f} |")
    print(f"| create overlapping an existing attachment's CIDR: status, ms | {st}, "
          f"{dt_bad * 1000:.2f} |")
    print(f"| list all {items} attachments ({pages} pages of ≤500) | {secs * 1000:.0f} ms |")

    # routes: all through the first attachment, distinct destinations
    st, body, _ = api.call("GET", f"{tgw}?limit=1")
    target = body["items"][0]["id"]
    rpath = f"{cpath}/routes"
    print(f"\n### Routes: {a.routes} in one organization (one cluster, {made[0]} attachments), one at a time\n")
    print("| routes existing before the batch | batch | creates/s | p50 ms | p99 ms | errors |")
    print("|---:|---:|---:|---:|---:|---|")
    chunks = 10 if a.routes >= 10 else 1
    size = a.routes // chunks
    done, wall, errors = 0, 0.0, 0
    for k in range(chunks):
        n = size if k < chunks - 1 else a.routes - done
        base = done
        s = run(a.url, a.token, n, 1, lambda i, base=base: ("POST", rpath, {
            "name": f"r{base + i}", "destinationCidr": route_cidr(base + i), "targetId": target}))
        print(f"| {done} | {n} | {s['rps']:.0f} | {s['p50']:.2f} | {s['p99']:.2f} | {err_text(s)} |")
        done += n
        wall += s["wall"]
        errors += len(s["errors"])
    items, pages, secs = list_all(api, rpath)
    print()
    print("| measurement | value |")
    print("|---|---:|")
    print(f"| create {done} routes | {wall:.1f} s ({done / max(wall, 1e-9):.0f}/s), errors {errors} |")
    print(f"| list all {items} routes ({pages} pages of ≤500) | {secs * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
