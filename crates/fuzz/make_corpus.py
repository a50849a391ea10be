#!/usr/bin/env python3
"""Writes crates/fuzz/corpus/<target>/ seed files: valid shapes of each input."""
import json, os, struct

here = os.path.dirname(os.path.abspath(__file__))
def put(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

SIG = b"\r\n\r\n\x00\r\nQUIT\n"
def tlv(kind, value):
    return bytes([kind]) + struct.pack(">H", len(value)) + value
def v2(cmd, fam, addrs, tlvs=b""):
    body = addrs + tlvs
    return SIG + bytes([cmd, fam]) + struct.pack(">H", len(body)) + body
v4 = bytes([10, 0, 1, 7, 10, 9, 0, 10]) + struct.pack(">HH", 50000, 443)
v6 = bytes(15) + b"\x01" + bytes(15) + b"\x02" + struct.pack(">HH", 50000, 443)
put("proxy_v2", "ipv4-endpoint", v2(0x21, 0x11, v4, tlv(0xEA, b"\x01vpce-0a1b2c3d")))
put("proxy_v2", "ipv4-plain", v2(0x21, 0x11, v4))
put("proxy_v2", "ipv6-endpoint", v2(0x21, 0x21, v6, tlv(0xEA, b"\x01vpce-6")))
put("proxy_v2", "local", v2(0x20, 0x00, b""))
put("proxy_v2", "two-tlvs", v2(0x21, 0x11, v4, tlv(0x04, b"\x00\x00") + tlv(0xEA, b"\x01vpce-x")))
put("proxy_v2", "other-aws-subtype", v2(0x21, 0x11, v4, tlv(0xEA, b"\x02abc")))
put("proxy_v2", "unix", v2(0x21, 0x31, bytes(216)))

def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\x00"
def query(qid, n, qtype, edns=False, rd=True):
    flags = 0x0100 if rd else 0
    head = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 1 if edns else 0)
    q = name(n) + struct.pack(">HH", qtype, 1)
    opt = b"\x00" + struct.pack(">HHIH", 41, 1232, 0, 0) if edns else b""
    return head + q + opt
put("dns_udp", "a", query(0x1234, "db.fuzz.internal", 1))
put("dns_udp", "a-edns", query(0x4321, "db.fuzz.internal", 1, edns=True))
put("dns_udp", "a-case", query(0x0001, "DB.Fuzz.Internal", 1))
put("dns_udp", "cname", query(0x0002, "www.fuzz.internal", 1))
put("dns_udp", "nxdomain", query(0x0003, "nope.fuzz.internal", 1))
put("dns_udp", "aaaa", query(0x0004, "db.fuzz.internal", 28))
put("dns_udp", "no-rd", query(0x0005, "db.fuzz.internal", 1, rd=False))

bodies = [
    {"name": "prod", "cloudProvider": "AWS", "type": "DEDICATED", "region": "us-east-1", "vpcSubnetRange": "10.0.0.0/16", "privateOnly": False},
    {"name": "renamed", "privateOnly": True},
    {"name": "etl", "clusterId": "cl0000000000000000", "remoteExecution": {"enabled": True, "allowedIpAddressRanges": ["203.0.113.0/24"]}, "airflowApiUrl": "https://airflow.example.com"},
    {"name": "ci", "role": "ORGANIZATION_MEMBER"},
    {"name": "worker"},
    {"allowedPrincipals": ["arn:aws:iam::222222222222:root"], "regions": ["us-east-2"], "autoAccept": False},
    {"name": "p1", "peerAccountId": "222222222222", "peerVpcId": "vpc-0a1b2c3d", "peerRegion": "us-east-1", "peerCidr": "10.90.0.0/16"},
    {"name": "r1", "destinationCidr": "10.90.0.0/16", "targetId": "pcx0000000000000000"},
    {"name": "t1", "transitGatewayId": "tgw-0a1b2c3d", "cidrs": ["10.91.0.0/16"], "accountId": "222222222222"},
    {"name": "s3", "serviceName": "com.amazonaws.us-east-1.s3", "type": "GATEWAY"},
    {"name": "v1", "gatewayIps": ["198.51.100.7"], "bgpAsn": 65000, "staticPrefixes": ["10.92.0.0/16"], "preSharedKey": "abcdefgh12345678", "insideCidr": "169.254.10.0/30"},
    {"name": "z1", "kind": "PRIVATE_ZONE", "domain": "corp.internal", "records": [{"name": "db", "type": "A", "value": "10.0.0.5", "ttl": 60}]},
    [1, "two", None, {"three": 3.5e10}],
]
for i, b in enumerate(bodies):
    put("bodies", f"{i:02d}", bytes([i]) + json.dumps(b).encode())
put("bodies", "11-forwarding", bytes([11]) + json.dumps({"name": "f", "kind": "FORWARDING", "domain": "corp.example", "targets": ["10.0.0.2:53", "10.0.0.3"]}).encode())
put("bodies", "11-rule", bytes([11]) + json.dumps({"name": "r", "kind": "RESOLVER_RULE", "domain": "corp.example", "resolverRuleId": "rslvr-rr-0a1b2c3d4e5f60718"}).encode())

fields = ["10.0.0.0/16", "10.0.0.0/16", "arn:aws:iam::222222222222:root", "222222222222", "vpc-0a1b2c3d",
          "cl0000000000000000", "db.corp.internal", "us-east-1", "us-east-1", "tgw-0a1b2c3d4e5f60718",
          "rslvr-rr-0a1b2c3d4e5f60718", "hz-0a1b2c3d", "198.51.100.7", "169.254.10.0/30",
          "https://airflow.example.com/api", "com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d", "prod-cluster", "10.0.0.2:53"]
for i, f in enumerate(fields):
    put("fields", f"{i:02d}", bytes([i]) + f.encode())
