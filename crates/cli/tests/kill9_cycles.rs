//! kill -9 at random points, many times: a real `linkplane serve` (as root, with
//! localcloud) is SIGKILLed a random 0-500 ms after each of N create/update/delete requests
//! on clusters, VPC peerings, private links and DNS resolutions, and restarted on the same
//! data directory. After every cycle it must converge (every resource settled at its
//! generation, or gone when deleted) and the provider objects are *counted*: one VPC per
//! live cluster and none for a deleted one, one endpoint service per private link, one
//! live peering per API peering, one hosted zone per private-zone resolution. At the end
//! everything is deleted: 0 namespaces, nft tables or processes left under the prefix.
//!
//! `LINKPLANE_KILL9_CYCLES` (default 10, what CI runs; the long run is 50+, see
//! docs/RELIABILITY.md) and `LINKPLANE_KILL9_SEED` (printed) reproduce a run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Server;

const PLATFORM: &str = "arn:aws:iam::100000000000:root";
const CUSTOMER: &str = "arn:aws:iam::222222222222:root";

/// xorshift64*: enough randomness for kill points, reproducible from the seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn api(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    call(
        &server.url(),
        &server.admin_token(),
        &org_of(server),
        method,
        path,
        body,
        "",
    )
}

fn platform_list(server: &Server, what: &[&str]) -> Vec<Value> {
    let mut args = vec!["cloud", "--as", PLATFORM];
    args.extend_from_slice(what);
    args.extend_from_slice(&["-o", "json"]);
    let out = server.lp(&args).ok();
    serde_json::from_str::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn namespaces(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// Host nft tables (localcloud's live inside its namespaces; none may appear here).
fn host_nft_tables() -> Vec<String> {
    let out = Command::new("nft")
        .args(["list", "tables"])
        .output()
        .unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// Processes (other than the server) whose command line names the prefix or data dir.
fn stray_processes(server: &Server) -> Vec<String> {
    let dir = server.data_path().display().to_string();
    let me = std::process::id().to_string();
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) || pid == me {
            continue;
        }
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let serve = cmd.contains(" serve ");
        if !serve && (cmd.contains(&dir) || cmd.contains(&format!("{}-", server.prefix))) {
            v.push(format!("{pid}: {cmd}"));
        }
    }
    v
}

/// What a change does to what the API should hold.
enum Effect {
    Create(Kind, String),
    Put(Kind, String),
    Delete(String),
    None,
}

fn org_of(server: &Server) -> String {
    std::fs::read_to_string(server.data_path().join("organization-id"))
        .unwrap()
        .trim()
        .to_owned()
}

/// One API call with curl; status 0 when no answer came (the server was killed).
fn call(
    base: &str,
    token: &str,
    org: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    key: &str,
) -> (u16, Value) {
    let url = format!("{base}/v1/organizations/{org}{path}");
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "20",
        "-X",
        method,
        "-w",
        "\n%{http_code}",
    ])
    .arg("-H")
    .arg(format!("Authorization: Bearer {token}"));
    if method == "POST" && !key.is_empty() {
        cmd.arg("-H").arg(format!("Idempotency-Key: {key}"));
    }
    if let Some(b) = body {
        cmd.args(["-H", "content-type: application/json", "-d", &b.to_string()]);
    }
    let out = cmd.arg(&url).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Cluster,
    Peering,
    PrivateLink,
    Dns,
}

/// What the API should hold: path → kind.
type Want = BTreeMap<String, Kind>;

fn settled(kind: Kind, v: &Value) -> bool {
    let at_generation = v["observedGeneration"] == v["generation"];
    let st = v["status"].as_str().unwrap_or("");
    at_generation
        && match kind {
            Kind::Cluster => st == "CREATED",
            Kind::PrivateLink => st == "AVAILABLE",
            Kind::Peering | Kind::Dns => !matches!(st, "" | "CREATING" | "DELETING"),
        }
}

/// Wait until every wanted resource is settled and every deleted one is gone.
fn converge(server: &Server, want: &Want, gone: &[String]) -> Duration {
    let start = Instant::now();
    loop {
        let mut waiting = Vec::new();
        for (path, kind) in want {
            let (s, v) = api(server, "GET", path, None);
            if s != 200 || !settled(*kind, &v) {
                waiting.push(format!(
                    "{path}: {s} {} gen {} obs {}",
                    v["status"], v["generation"], v["observedGeneration"]
                ));
            }
        }
        for path in gone {
            let (s, v) = api(server, "GET", path, None);
            if s != 404 {
                waiting.push(format!("{path} still {s} {}", v["status"]));
            }
        }
        if waiting.is_empty() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "not converged after 120 s: {waiting:#?}\nlog tail:\n{}",
            tail(&server.log())
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

fn id_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap()
}

/// Count the provider's objects against what the API holds; panics on a duplicate or leak.
fn count(server: &Server, want: &Want, deleted_clusters: &[String], a_vpc: &str) -> String {
    let vpcs = platform_list(server, &["vpc", "list"]);
    let named = |id: &str| {
        let n = format!("linkplane/{id}");
        vpcs.iter().filter(|v| v["name"] == n.as_str()).count()
    };
    let live: Vec<&str> = want
        .iter()
        .filter(|(_, k)| **k == Kind::Cluster)
        .map(|(p, _)| id_of(p))
        .collect();
    for c in &live {
        assert_eq!(named(c), 1, "cluster {c}: VPCs {vpcs:#?}");
    }
    for c in deleted_clusters {
        assert_eq!(named(c), 0, "deleted cluster {c} left its VPC");
    }
    let services = platform_list(server, &["service", "list"]);
    let links = want.values().filter(|k| **k == Kind::PrivateLink).count();
    assert_eq!(services.len(), links, "endpoint services {services:#?}");
    let peerings: Vec<Value> = platform_list(server, &["peering", "list"])
        .into_iter()
        .filter(|p| p["requesterVpcInfo"]["vpcId"] == a_vpc)
        .filter(|p| {
            !matches!(
                p["status"]["code"].as_str(),
                Some("deleted" | "rejected" | "failed" | "expired")
            )
        })
        .collect();
    let api_peerings = want.values().filter(|k| **k == Kind::Peering).count();
    assert_eq!(peerings.len(), api_peerings, "peerings {peerings:#?}");
    let zones: Vec<Value> = platform_list(server, &["zone", "list"])
        .into_iter()
        .filter(|z| z["name"].as_str().is_some_and(|n| n.starts_with("k9-")))
        .collect();
    let api_zones = want.values().filter(|k| **k == Kind::Dns).count();
    assert_eq!(zones.len(), api_zones, "zones {zones:#?}");
    format!(
        "vpcs {} for {} clusters, services {}, peerings {}, zones {}, namespaces {}",
        vpcs.len(),
        live.len(),
        services.len(),
        peerings.len(),
        zones.len(),
        namespaces(&server.prefix).len()
    )
}

#[test]
fn kill_9_at_random_points_over_many_cycles_converges_without_duplicates_or_leaks() {
    if !linkplane_netns::testing::require_root("kill_9_cycles") {
        return;
    }
    let cycles: u64 = std::env::var("LINKPLANE_KILL9_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("LINKPLANE_KILL9_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("kill9 cycles: {cycles}, seed {seed} (LINKPLANE_KILL9_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    let mut server = Server::start();
    let ns_before = namespaces(&server.prefix);
    let nft_before = host_nft_tables();
    let customer_vpc = {
        let out = server
            .lp(&[
                "cloud",
                "--as",
                CUSTOMER,
                "vpc",
                "create",
                "--cidr",
                "10.90.0.0/16",
                "-o",
                "json",
            ])
            .ok();
        out.json()["vpcId"].as_str().unwrap().to_owned()
    };
    // One peering at a time: a second to the same peer CIDR overlaps (a 422 by design).
    let cluster_body = |name: &str, cidr: &str| {
        json!({"name": name, "cloudProvider": "AWS", "type": "DEDICATED",
               "region": "us-east-1", "vpcSubnetRange": cidr})
    };
    let (s, a) = api(
        &server,
        "POST",
        "/clusters",
        Some(cluster_body("k9-a", "10.60.0.0/20")),
    );
    assert_eq!(s, 201, "{a}");
    let a = format!("/clusters/{}", a["id"].as_str().unwrap());
    let mut want: Want = BTreeMap::from([(a.clone(), Kind::Cluster)]);
    converge(&server, &want, &[]);
    let a_vpc = {
        let n = format!("linkplane/{}", id_of(&a));
        platform_list(&server, &["vpc", "list"])
            .into_iter()
            .find(|v| v["name"] == n.as_str())
            .unwrap()["vpcId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut deleted_clusters: Vec<String> = Vec::new();
    let mut private_only = false;
    let started = Instant::now();
    let mut in_flight_kills = 0u32;
    let mut retried = 0u32;
    for i in 0..cycles {
        let of = |want: &Want, k: Kind| -> Vec<String> {
            want.iter()
                .filter(|(_, x)| **x == k)
                .map(|(p, _)| p.clone())
                .collect()
        };
        // Pick a change that applies now (a create where there is room, else a delete).
        let pick = rng.below(5);
        let (what, method, path, body, effect): (String, &str, String, Option<Value>, Effect) =
            match pick {
                0 => {
                    let bs: Vec<String> = of(&want, Kind::Cluster)
                        .into_iter()
                        .filter(|p| *p != a)
                        .collect();
                    if bs.len() < 2 && (bs.is_empty() || rng.below(2) == 0) {
                        let cidr = format!("10.{}.0.0/22", 100 + i % 100);
                        (
                            "create cluster".into(),
                            "POST",
                            "/clusters".into(),
                            Some(cluster_body(&format!("k9-b{i}"), &cidr)),
                            Effect::Create(Kind::Cluster, "/clusters".into()),
                        )
                    } else {
                        let b = bs[0].clone();
                        (
                            "delete cluster".into(),
                            "DELETE",
                            b.clone(),
                            None,
                            Effect::Delete(b),
                        )
                    }
                }
                1 => {
                    private_only = !private_only;
                    (
                        "update cluster".into(),
                        "PATCH",
                        a.clone(),
                        Some(json!({"privateOnly": private_only})),
                        Effect::None,
                    )
                }
                2 => {
                    let ps = of(&want, Kind::Peering);
                    let coll = format!("{a}/vpc-peering-connections");
                    if ps.is_empty() {
                        (
                            "create peering".into(),
                            "POST",
                            coll.clone(),
                            Some(json!({
                                "name": format!("k9-p{i}"), "peerAccountId": "222222222222",
                                "peerVpcId": customer_vpc, "peerRegion": "us-east-1",
                                "peerCidr": "10.90.0.0/16"})),
                            Effect::Create(Kind::Peering, coll),
                        )
                    } else {
                        let p = ps[0].clone();
                        (
                            "delete peering".into(),
                            "DELETE",
                            p.clone(),
                            None,
                            Effect::Delete(p),
                        )
                    }
                }
                3 => {
                    let pl = format!("{a}/private-link");
                    if want.contains_key(&pl) && rng.below(2) == 0 {
                        (
                            "delete private link".into(),
                            "DELETE",
                            pl.clone(),
                            None,
                            Effect::Delete(pl),
                        )
                    } else {
                        let auto = rng.below(2) == 0;
                        (
                            "put private link".into(),
                            "PUT",
                            pl.clone(),
                            Some(json!({"allowedPrincipals": [CUSTOMER], "regions": [],
                                        "autoAccept": auto})),
                            Effect::Put(Kind::PrivateLink, pl),
                        )
                    }
                }
                _ => {
                    let ds = of(&want, Kind::Dns);
                    let coll = format!("{a}/dns-resolutions");
                    if ds.len() < 2 && (ds.is_empty() || rng.below(2) == 0) {
                        (
                            "create dns resolution".into(),
                            "POST",
                            coll.clone(),
                            Some(json!({
                                "name": format!("k9-z{i}"), "kind": "PRIVATE_ZONE",
                                "domain": format!("k9-{i}.internal"),
                                "records": [{"name": "db", "type": "A", "value": "10.60.0.9"}]})),
                            Effect::Create(Kind::Dns, coll),
                        )
                    } else {
                        let d = ds[0].clone();
                        (
                            "delete dns resolution".into(),
                            "DELETE",
                            d.clone(),
                            None,
                            Effect::Delete(d),
                        )
                    }
                }
            };
        // The request runs while the kill comes: before it is read, while it is handled, or
        // while the controllers act on it (most provisioning takes well under 150 ms).
        let key = format!("k9-{seed}-{i}");
        let kill_after = if rng.below(4) == 0 {
            rng.below(500)
        } else {
            rng.below(60)
        };
        let (url, token) = (server.url(), server.admin_token());
        let org = org_of(&server);
        let req = {
            let (m, p, b, k) = (method.to_owned(), path.clone(), body.clone(), key.clone());
            std::thread::spawn(move || call(&url, &token, &org, &m, &p, b, &k))
        };
        std::thread::sleep(Duration::from_millis(kill_after));
        server.kill_and_restart();
        let (mut code, mut v) = req.join().unwrap();
        let retried_now = code == 0;
        if retried_now {
            // Killed before it answered: the client retries with the same Idempotency-Key.
            in_flight_kills += 1;
            retried += 1;
            (code, v) = call(
                &server.url(),
                &server.admin_token(),
                &org_of(&server),
                method,
                &path,
                body,
                &key,
            );
        }
        let ok = matches!(code, 200 | 201 | 202 | 204)
            || (code == 404 && matches!(effect, Effect::Delete(_)));
        assert!(ok, "cycle {i}: {what} {path}: {code} {v}");
        let mut gone = Vec::new();
        match effect {
            Effect::Create(kind, coll) => {
                let id = v["id"].as_str().unwrap_or_else(|| panic!("{what}: {v}"));
                want.insert(format!("{coll}/{id}"), kind);
            }
            Effect::Put(kind, p) => {
                want.insert(p, kind);
            }
            Effect::Delete(p) => {
                if want.remove(&p) == Some(Kind::Cluster) {
                    deleted_clusters.push(id_of(&p).to_owned());
                }
                gone.push(p);
            }
            Effect::None => {}
        }
        let took = converge(&server, &want, &gone);
        let counted = count(&server, &want, &deleted_clusters, &a_vpc);
        eprintln!(
            "cycle {i}: {what}, kill -9 after {kill_after} ms{}, converged in {:.1} s; {counted}",
            if retried_now {
                " (before the answer: retried)"
            } else {
                ""
            },
            took.as_secs_f64()
        );
    }
    eprintln!(
        "kill9: {in_flight_kills} kills landed before the answer ({retried} requests retried with their Idempotency-Key)"
    );
    eprintln!(
        "kill9: {cycles} cycles in {:.0} s, every one converged, 0 duplicates",
        started.elapsed().as_secs_f64()
    );
    // Delete everything (children first), then the clusters: back to the start.
    let children: Vec<String> = want
        .iter()
        .filter(|(_, k)| **k != Kind::Cluster)
        .map(|(p, _)| p.clone())
        .collect();
    for p in &children {
        let (s, v) = api(&server, "DELETE", p, None);
        assert!(s == 202 || s == 204 || s == 200, "{p}: {s} {v}");
    }
    converge(&server, &Want::new(), &children);
    let clusters: Vec<String> = want
        .iter()
        .filter(|(_, k)| **k == Kind::Cluster)
        .map(|(p, _)| p.clone())
        .collect();
    for p in &clusters {
        let (s, v) = api(&server, "DELETE", p, None);
        assert!(s == 202 || s == 204 || s == 200, "{p}: {s} {v}");
    }
    converge(&server, &Want::new(), &clusters);
    assert_eq!(
        namespaces(&server.prefix).len(),
        ns_before.len() + 1,
        "the customer VPC only"
    );
    server
        .lp(&["cloud", "--as", CUSTOMER, "vpc", "delete", &customer_vpc])
        .ok();
    assert_eq!(namespaces(&server.prefix), ns_before, "namespaces left");
    assert_eq!(host_nft_tables(), nft_before, "host nft tables changed");
    assert_eq!(
        stray_processes(&server),
        Vec::<String>::new(),
        "processes left"
    );
    eprintln!(
        "kill9: after deleting everything: 0 namespaces, 0 host nft tables, 0 processes left"
    );
}
