//! One policy for every path at a cluster's ingress gateway, with real packets: every path
//! form (`/v1/agents/…`, `/<deploymentId>/v1/agents/…`, `/<deploymentId>/…` proxied) × every
//! arrival (public inside the deployment's `allowedIpAddressRanges`, public outside them,
//! through an accepted endpoint of the deployment's cluster, through an endpoint of another
//! cluster, the other cluster's public path, a PROXY header from an untrusted source) for a
//! deployment on a public cluster A and one on a `privateOnly` cluster B, asserting the exact
//! status and body. Needs root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use linkplane_localcloud::types::{CreateEndpoint, CreateSecurityGroup, CreateSecurityGroupRule};
use serde_json::{Value, json};

const MIN: Duration = Duration::from_secs(60);

const ECHO: &str = r#"
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s %s auth=%s" % (self.command, self.path, self.headers.get("Authorization"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_POST = do_GET
http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()
"#;

/// Sends a PROXY v2 header claiming `endpoint id` (argv[4]) straight to the gateway's public
/// address, then TLS and one request; prints the raw answer (nothing when the gateway ends
/// the connection).
const UNTRUSTED_PROXY: &str = r#"
import socket, ssl, struct, sys
ip, host, method, path, eid, ca, auth, body = sys.argv[1:9]
s = socket.create_connection((ip, 443), timeout=5)
val = b"\x01" + eid.encode()
tlv = bytes([0xEA]) + struct.pack("!H", len(val)) + val
addrs = socket.inet_aton("10.86.1.10") + socket.inet_aton(ip) + struct.pack("!HH", 40000, 443)
s.sendall(b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(addrs) + len(tlv)) + addrs + tlv)
out = b""
try:
    t = ssl.create_default_context(cafile=ca).wrap_socket(s, server_hostname=host)
    req = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (method, path, host, len(body))
    if auth:
        req += "Authorization: Bearer %s\r\n" % auth
    t.sendall((req + "\r\n" + body).encode())
    while True:
        c = t.recv(65536)
        if not c:
            break
        out += c
except (OSError, ssl.SSLError) as e:
    sys.stderr.write("ended: %r\n" % e)
sys.stdout.write(out.decode(errors="replace"))
"#;

/// `curl` from a customer instance (or the internet namespace when `instance` is None),
/// retrying while the load balancer is not yet passing connections.
async fn curl(
    h: &Harness,
    instance: Option<&str>,
    host: &str,
    ip: &str,
    path: &str,
    extra: &[String],
) -> (u16, String) {
    let ca = h.dir.path().join("ca.pem");
    let mut cmd: Vec<String> = vec![
        "curl".into(),
        "-sS".into(),
        "--max-time".into(),
        "10".into(),
        "--cacert".into(),
        ca.display().to_string(),
        "--resolve".into(),
        format!("{host}:443:{ip}"),
        "-w".into(),
        "\n%{http_code}".into(),
    ];
    cmd.extend(extra.iter().cloned());
    cmd.push(format!("https://{host}{path}"));
    for _ in 0..80 {
        let out = match instance {
            Some(i) => h
                .engine()
                .exec(&customer(), i, &cmd, b"", Duration::from_secs(20))
                .await
                .unwrap(),
            None => h
                .engine()
                .internet_exec(&cmd, b"", Duration::from_secs(20))
                .await
                .unwrap(),
        };
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if matches!(out.exit_code, 7 | 35 | 52 | 56) {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        assert_eq!(
            out.exit_code,
            0,
            "curl {path}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (body, code) = text.rsplit_once('\n').unwrap();
        return (code.trim().parse().unwrap(), body.to_owned());
    }
    panic!("curl {path} via {ip}: no connection for 20 s");
}

async fn public_ip_of(h: &Harness, host: &str) -> String {
    let recs = h.engine().list_public_records().await.unwrap();
    recs.iter()
        .find(|r| r.name.trim_end_matches('.') == host)
        .unwrap_or_else(|| panic!("{host} is not published: {recs:?}"))
        .values[0]
        .clone()
}

/// A created LOCAL cluster with an auto-accepting endpoint service for the customer;
/// returns (cluster id, service name).
async fn cluster_with_service(h: &Harness, name: &str, cidr: &str) -> (String, String) {
    let c = h
        .post(
            "/clusters",
            json!({"name": name, "cloudProvider": "LOCAL", "type": "DEDICATED",
                   "region": "us-east-1", "vpcSubnetRange": cidr}),
        )
        .await;
    let cid = s(&c, "id");
    h.wait_status(&format!("/clusters/{cid}"), "CREATED", MIN)
        .await;
    let (st, v) = h
        .call(
            reqwest::Method::PUT,
            &format!("/clusters/{cid}/private-link"),
            Some(json!({"allowedPrincipals": [CUSTOMER], "regions": [], "autoAccept": true})),
        )
        .await;
    assert!(st == 200 || st == 201, "{st} {v}");
    let pl = h
        .wait_status(&format!("/clusters/{cid}/private-link"), "AVAILABLE", MIN)
        .await;
    (cid, s(&pl, "serviceName"))
}

/// An echo backend in the cluster's private subnet; returns its `airflowApiUrl`.
async fn echo_backend(h: &Harness, cid: &str, cidr: &str) -> String {
    let backend = h.cluster_instance(cid).await;
    h.engine()
        .add_security_group_rule(
            &platform(),
            &backend.security_group_ids[0],
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(8080),
                to_port: Some(8080),
                cidr_ip: Some(cidr.into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
    h.engine()
        .run_process(
            &platform(),
            &backend.instance_id,
            &["python3".into(), "-c".into(), ECHO.into()],
        )
        .await
        .unwrap();
    format!("http://{}:8080/api", backend.private_ip_address)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Arrival {
    /// From the internet to the deployment's cluster, inside its ranges.
    PublicInside,
    /// From the internet to the deployment's cluster, outside its ranges.
    PublicOutside,
    /// Through an accepted endpoint of the deployment's cluster.
    OwnEndpoint,
    /// Through an (accepted) endpoint of the other cluster.
    OtherEndpoint,
    /// From the internet to the other cluster's public address.
    OtherPublic,
    /// A PROXY v2 header claiming the own endpoint, sent from the internet (not a load
    /// balancer) to the deployment's cluster.
    UntrustedProxy,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum PathForm {
    /// `POST /v1/agents/register` with the deployment's agent token.
    Agents,
    /// `POST /<deploymentId>/v1/agents/register` with the deployment's agent token.
    DeploymentAgents,
    /// `GET /<deploymentId>/echo`, proxied to the deployment's `airflowApiUrl`.
    Proxied,
}

/// What a row must answer.
#[derive(Clone, Debug, PartialEq)]
enum Want {
    /// 201 with the agent registered for this deployment.
    Registered,
    /// Exactly this status and body.
    Exactly(u16, String),
    /// The gateway ended the connection: no HTTP answer.
    Closed,
}

struct Side {
    cid: String,
    host: String,
    public_ip: String,
    endpoint_id: String,
    endpoint_ip: String,
    deployment: String,
    token: String,
    private_only: bool,
}

const PRIVATE_PUBLIC: &str = "403 forbidden: this cluster is privateOnly and accepts requests only \
    through an accepted PrivateLink endpoint of its endpoint service; this request came over the \
    public path; connect through your interface endpoint\n";
const OUTSIDE_RANGES: &str = "403 forbidden: 203.0.113.1 is not in the deployment's \
    remoteExecution.allowedIpAddressRanges; add the address's range to the deployment or connect \
    through the cluster's PrivateLink endpoint\n";
const OTHER_CLUSTER: &str = "403 forbidden: this agent token belongs to a deployment this cluster \
    does not serve; use that deployment's apiUrl (linkplane deployment get)\n";
const NOT_FOUND: &str = "404 page not found";

/// The policy, written out: what `form` × `arrival` answers for the deployment of `me`
/// (`other` is the other cluster's side).
fn expected(me: &Side, other: &Side, form: PathForm, arrival: Arrival, backend: &str) -> Want {
    let ok = match form {
        PathForm::Agents | PathForm::DeploymentAgents => Want::Registered,
        PathForm::Proxied => Want::Exactly(200, format!("GET {backend}/echo auth=None")),
    };
    let private = || Want::Exactly(403, PRIVATE_PUBLIC.into());
    match arrival {
        Arrival::UntrustedProxy => Want::Closed,
        Arrival::PublicInside if me.private_only => private(),
        Arrival::PublicOutside if me.private_only => private(),
        Arrival::PublicInside | Arrival::OwnEndpoint => ok,
        Arrival::PublicOutside => Want::Exactly(403, OUTSIDE_RANGES.into()),
        Arrival::OtherPublic if other.private_only => private(),
        Arrival::OtherEndpoint | Arrival::OtherPublic => match form {
            PathForm::Agents => Want::Exactly(403, OTHER_CLUSTER.into()),
            _ => Want::Exactly(404, NOT_FOUND.into()),
        },
    }
}

/// Send one row's request; returns what came back.
async fn send(
    h: &Harness,
    me: &Side,
    other: &Side,
    agent_vm: &str,
    form: PathForm,
    arrival: Arrival,
    agent_name: &str,
) -> Want {
    let path = match form {
        PathForm::Agents => "/v1/agents/register".to_owned(),
        PathForm::DeploymentAgents => format!("/{}/v1/agents/register", me.deployment),
        PathForm::Proxied => format!("/{}/echo", me.deployment),
    };
    let body = json!({"name": agent_name, "hostname": "h", "version": "1.0"}).to_string();
    let agent = form != PathForm::Proxied;
    if arrival == Arrival::UntrustedProxy {
        let ca = h.dir.path().join("ca.pem").display().to_string();
        let (method, auth, body) = if agent {
            ("POST", me.token.as_str(), body.as_str())
        } else {
            ("GET", "", "")
        };
        let args: Vec<String> = [
            "python3",
            "-c",
            UNTRUSTED_PROXY,
            &me.public_ip,
            &me.host,
            method,
            &path,
            &me.endpoint_id,
            &ca,
            auth,
            body,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = h
            .engine()
            .internet_exec(&args, b"", Duration::from_secs(20))
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.is_empty() {
            return Want::Closed;
        }
        let code = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        return Want::Exactly(code, text);
    }
    let mut extra: Vec<String> = vec![];
    if agent {
        extra.extend([
            "-H".into(),
            format!("Authorization: Bearer {}", me.token),
            "-H".into(),
            "Content-Type: application/json".into(),
            "-d".into(),
            body,
        ]);
    }
    let (instance, side, via) = match arrival {
        Arrival::PublicInside | Arrival::PublicOutside => (None, me, &me.public_ip),
        Arrival::OwnEndpoint => (Some(agent_vm), me, &me.endpoint_ip),
        Arrival::OtherEndpoint => (Some(agent_vm), other, &other.endpoint_ip),
        Arrival::OtherPublic => (None, other, &other.public_ip),
        Arrival::UntrustedProxy => unreachable!(),
    };
    let (code, text) = curl(h, instance, &side.host, via, &path, &extra).await;
    if code == 201 && agent {
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        if v["deploymentId"] == me.deployment.as_str()
            && v["agentId"].as_str().is_some_and(|a| !a.is_empty())
        {
            return Want::Registered;
        }
    }
    Want::Exactly(code, text)
}

async fn set_ranges(h: &Harness, deployment: &str, ranges: &[&str]) {
    let (st, v) = h
        .call(
            reqwest::Method::PATCH,
            &format!("/deployments/{deployment}"),
            Some(json!({"remoteExecution": {"enabled": true, "allowedIpAddressRanges": ranges}})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_form_and_every_arrival_meet_one_policy() {
    if !linkplane_netns::testing::require_root("gateway-policy") {
        return;
    }
    let h = Harness::start(fast_config(Duration::from_secs(300))).await;
    let (a_cid, a_service) = cluster_with_service(&h, "public-a", "10.37.0.0/16").await;
    let (b_cid, b_service) = cluster_with_service(&h, "private-b", "10.38.0.0/16").await;

    // The customer: one VPC, an instance, an endpoint to each cluster's service.
    let net = customer_net(h.engine(), "10.86.0.0/16", "10.86.0.0/16").await;
    let agent_vm = net.instances[0].instance_id.clone();
    let sg = h
        .engine()
        .create_security_group(
            &customer(),
            CreateSecurityGroup {
                vpc_id: net.vpc_id.clone(),
                group_name: "agents-to-endpoints".into(),
                description: String::new(),
            },
        )
        .await
        .unwrap();
    h.engine()
        .add_security_group_rule(
            &customer(),
            &sg.group_id,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(443),
                to_port: Some(443),
                cidr_ip: Some("10.86.0.0/16".into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
    let mut endpoints = vec![];
    for service in [&a_service, &b_service] {
        let ep = h
            .engine()
            .create_endpoint(
                &customer(),
                CreateEndpoint {
                    vpc_id: net.vpc_id.clone(),
                    service_name: service.clone(),
                    subnet_ids: vec![net.subnets[0].clone()],
                    security_group_ids: vec![sg.group_id.clone()],
                    private_dns_enabled: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(ep.state, "available", "{ep:?}");
        endpoints.push((
            ep.vpc_endpoint_id.clone(),
            ep.network_interfaces[0].private_ip_address.clone(),
        ));
    }

    let mut sides = vec![];
    for ((cid, cidr), (endpoint_id, endpoint_ip)) in [
        (a_cid.clone(), "10.37.0.0/16"),
        (b_cid.clone(), "10.38.0.0/16"),
    ]
    .into_iter()
    .zip(endpoints)
    {
        let url = echo_backend(&h, &cid, cidr).await;
        let dep = h
            .post(
                "/deployments",
                json!({"name": format!("etl-{}", &cid[cid.len() - 4..]), "clusterId": cid,
                       "airflowApiUrl": url,
                       "remoteExecution": {"enabled": true,
                                           "allowedIpAddressRanges": ["203.0.113.0/24"]}}),
            )
            .await;
        let deployment = s(&dep, "id");
        let tok = h
            .post(
                &format!("/deployments/{deployment}/agent-tokens"),
                json!({"name": "a"}),
            )
            .await;
        let host = format!("{cid}.external.linkplane.test");
        sides.push(Side {
            public_ip: public_ip_of(&h, &host).await,
            host,
            cid,
            endpoint_id,
            endpoint_ip,
            deployment,
            token: s(&tok, "token"),
            private_only: false,
        });
    }
    // B is privateOnly.
    let (st, v) = h
        .call(
            reqwest::Method::PATCH,
            &format!("/clusters/{b_cid}"),
            Some(json!({"privateOnly": true})),
        )
        .await;
    assert!(st == 200 || st == 202, "{st} {v}");
    sides[1].private_only = true;

    // Each backend answers through its own endpoint before the table runs.
    for side in &sides {
        let path = format!("/{}/echo", side.deployment);
        let mut last = (0, String::new());
        for _ in 0..50 {
            last = curl(
                &h,
                Some(&agent_vm),
                &side.host,
                &side.endpoint_ip,
                &path,
                &[],
            )
            .await;
            if last.0 == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(last.0, 200, "{} backend: {last:?}", side.cid);
    }

    let backend_path = "/api";
    let forms = [
        PathForm::Agents,
        PathForm::DeploymentAgents,
        PathForm::Proxied,
    ];
    let mut rows: Vec<(usize, PathForm, Arrival, Want, Want)> = vec![];
    let mut n = 0;
    for (phase, arrivals) in [
        (
            ["203.0.113.0/24"],
            &[
                Arrival::PublicInside,
                Arrival::OwnEndpoint,
                Arrival::OtherEndpoint,
                Arrival::OtherPublic,
                Arrival::UntrustedProxy,
            ][..],
        ),
        (
            ["192.0.2.0/24"],
            &[Arrival::PublicOutside, Arrival::OwnEndpoint][..],
        ),
    ] {
        for side in &sides {
            set_ranges(&h, &side.deployment, &phase).await;
        }
        for me in 0..2 {
            let (mine, other) = (&sides[me], &sides[1 - me]);
            for &arrival in arrivals {
                for form in forms {
                    n += 1;
                    let want = expected(mine, other, form, arrival, backend_path);
                    let got =
                        send(&h, mine, other, &agent_vm, form, arrival, &format!("a{n}")).await;
                    rows.push((me, form, arrival, want, got));
                }
            }
        }
    }
    let failures: Vec<String> = rows
        .iter()
        .filter(|r| r.3 != r.4)
        .map(|(me, form, arrival, want, got)| {
            format!(
                "deployment on {} ({}): {form:?} × {arrival:?}: wanted {want:?}, got {got:?}",
                ["A", "B"][*me],
                if sides[*me].private_only {
                    "privateOnly"
                } else {
                    "public"
                }
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows differ:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    assert_eq!(rows.len(), 2 * 3 * 7);
}
