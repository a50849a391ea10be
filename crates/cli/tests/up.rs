//! `linkplane up` / `linkplane down` with the real binary (issue 6): document 000 from
//! nothing to a verified private link, twice (idempotent), then nothing left behind.
//! Each test has its own prefix, data directory and port; `down` runs in a Drop guard so a
//! failing test leaves no namespace, process or directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{Run, free_port, linkplane, run};

const CUSTOMER: &str = "arn:aws:iam::111122223333:root";

/// An installation made by `up`; dropping it runs `down` (and a gc of the prefix).
struct Playground {
    prefix: String,
    dir: tempfile::TempDir,
    data_dir: PathBuf,
    listen: String,
}

impl Playground {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("state");
        Self {
            prefix: linkplane_netns::testing::unique_prefix(),
            dir,
            data_dir,
            listen: format!("127.0.0.1:{}", free_port()),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.listen)
    }

    fn up(&self) -> Run {
        self.up_as("json")
    }

    fn up_as(&self, output: &str) -> Run {
        let mut cmd = linkplane();
        cmd.current_dir(self.dir.path()).args([
            "up",
            "--prefix",
            &self.prefix,
            "--data-dir",
            self.data_dir.to_str().unwrap(),
            "--listen",
            &self.listen,
            "--output",
            output,
            "--timeout",
            "120",
        ]);
        run(cmd, None)
    }

    fn down(&self) -> Run {
        let mut cmd = linkplane();
        cmd.args([
            "down",
            "--prefix",
            &self.prefix,
            "--data-dir",
            self.data_dir.to_str().unwrap(),
        ]);
        run(cmd, None)
    }

    /// `down` with only the data directory: the prefix comes from what `up` recorded there.
    fn down_by_data_dir(&self) -> Run {
        let mut cmd = linkplane();
        cmd.args(["down", "--data-dir", self.data_dir.to_str().unwrap()])
            .env_remove("LINKPLANE_PREFIX");
        run(cmd, None)
    }

    /// A client command against this installation's control plane.
    fn client(&self, args: &[&str]) -> Value {
        let mut cmd = linkplane();
        cmd.args(args)
            .env("LINKPLANE_URL", self.url())
            .env("LINKPLANE_DATA_DIR", &self.data_dir)
            .args(["--output", "json"]);
        serde_json::from_str(&run(cmd, None).ok().stdout).unwrap()
    }

    /// A localcloud command as the customer; its standard output.
    fn cloud_raw(&self, args: &[&str]) -> String {
        let mut cmd = linkplane();
        cmd.args([
            "cloud",
            "--url",
            &self.url(),
            "--as",
            CUSTOMER,
            "-o",
            "json",
        ])
        .arg("--cloud-token-file")
        .arg(self.data_dir.join("cloud.token"))
        .args(args);
        run(cmd, None).ok().stdout
    }

    /// A localcloud command as the customer, its JSON answer.
    fn cloud(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.cloud_raw(args)).unwrap()
    }

    fn namespaces(&self) -> Vec<String> {
        our_namespaces(&self.prefix)
    }
}

impl Drop for Playground {
    fn drop(&mut self) {
        let _ = self.down();
    }
}

fn our_namespaces(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .map(str::to_owned)
        .collect()
}

fn pid_of(data_dir: &Path) -> i32 {
    std::fs::read_to_string(data_dir.join("serve.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn summary(r: &Run) -> Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("up did not print one JSON object ({e}): {r:#?}"))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing: {v}"))
}

#[test]
fn up_verifies_document_000_and_down_leaves_nothing() {
    if !linkplane_netns::testing::require_root("up_verifies_document_000_and_down_leaves_nothing") {
        return;
    }
    let pg = Playground::new();
    let r = pg.up();
    let out = summary(&r);
    assert_eq!(r.code, Some(0), "up failed: {r:#?}");
    // Progress: one line per step with a timing.
    assert!(r.stderr.contains("[ 1/13] control plane"), "{}", r.stderr);
    assert!(r.stderr.contains("[13/13] verify"), "{}", r.stderr);

    // The summary names real objects.
    assert_eq!(s(&out, "controlPlaneUrl"), pg.url());
    let cluster = s(&out, "clusterId");
    assert!(cluster.starts_with("cl"), "{out}");
    assert!(s(&out, "deploymentId").starts_with("dep"), "{out}");
    assert!(
        s(&out, "apiUrl").starts_with(&format!("https://{cluster}.external.")),
        "{out}"
    );
    assert!(s(&out, "customerInstance").starts_with("i-"), "{out}");
    assert!(!s(&out, "organizationId").is_empty());
    let ips: Vec<&str> = out["endpointIps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ips.len(), 2, "one endpoint address per subnet: {out}");
    assert!(ips.iter().all(|ip| ip.starts_with("10.1.")), "{out}");
    assert!(Path::new(s(&out, "caFile")).exists());
    assert!(Path::new(s(&out, "tokenFile")).exists());

    // The verification passed, with real checks.
    assert_eq!(out["verify"]["passed"], Value::Bool(true), "{out}");
    let checks = out["verify"]["checks"].as_array().unwrap();
    assert!(!checks.is_empty());
    assert!(checks.iter().all(|c| c["passed"] == Value::Bool(true)));

    // The agent token file is private.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(s(&out, "agentTokenFile"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // So is everything up and serve keep in the data dir.
    let mode_of = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode_of(&pg.data_dir), 0o700, "the data dir");
    for e in std::fs::read_dir(&pg.data_dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let private = name == "serve.log"
            || name.starts_with("linkplane.db")
            || name.starts_with("localcloud.db")
            || ["secrets.key", "admin.token", "ca.key"].contains(&name.as_str());
        if private {
            assert_eq!(mode_of(&p), 0o600, "{name}");
        }
    }
    assert!(pg.data_dir.join("secrets.key").exists());

    // The agent in the customer's VPC is heartbeating through the endpoint.
    let agents = pg.client(&["agent", "list", "--deployment", s(&out, "deploymentId")]);
    assert!(
        agents["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["status"] == "HEALTHY"),
        "{agents}"
    );

    // The host name resolves to the endpoint's private IPs inside the customer's VPC.
    let host = format!("{cluster}.external.linkplane.test");
    let answer = pg.cloud_raw(&[
        "exec",
        "--via-api",
        s(&out, "customerInstance"),
        "--",
        "dig",
        "+short",
        &host,
    ]);
    for ip in &ips {
        assert!(answer.contains(ip), "dig {host} gave {answer}");
    }

    // The public IP in the summary is the cluster's ingress on the public path.
    let public_ip = s(&out, "publicIp");
    assert!(public_ip.starts_with("198.51.100."), "{out}");
    assert!(!out["externalIps"].as_array().unwrap().is_empty(), "{out}");
    let public = pg.cloud_raw(&[
        "internet",
        "exec",
        "--via-api",
        "--",
        "curl",
        "-sS",
        "--cacert",
        s(&out, "caFile"),
        "--resolve",
        &format!("{host}:443:{public_ip}"),
        &format!("https://{host}/"),
    ]);
    assert!(public.contains("404 page not found"), "{public}");

    // down: nothing of ours is left.
    let pid = pid_of(&pg.data_dir);
    assert!(!pg.namespaces().is_empty());
    let down = pg.down_by_data_dir().ok();
    assert!(
        down.stderr.contains(&format!("prefix {}", pg.prefix)),
        "{down:#?}"
    );
    assert!(pg.namespaces().is_empty(), "{:?}", pg.namespaces());
    assert!(!alive(pid), "serve (pid {pid}) still runs after down");
    assert!(!pg.data_dir.exists(), "down left {}", pg.data_dir.display());
}

#[test]
fn up_twice_changes_nothing() {
    if !linkplane_netns::testing::require_root("up_twice_changes_nothing") {
        return;
    }
    let pg = Playground::new();
    let first = pg.up();
    assert_eq!(first.code, Some(0), "first up failed: {first:#?}");
    let pid = pid_of(&pg.data_dir);
    let second = pg.up();
    assert_eq!(second.code, Some(0), "second up failed: {second:#?}");
    assert!(
        second.stderr.contains("reusing"),
        "the running control plane is reused: {}",
        second.stderr
    );
    assert_eq!(pid_of(&pg.data_dir), pid);
    let (a, b) = (summary(&first), summary(&second));
    for key in [
        "organizationId",
        "clusterId",
        "deploymentId",
        "apiUrl",
        "customerVpc",
        "customerInstance",
        "endpointId",
        "endpointIps",
        "serviceName",
    ] {
        assert_eq!(a[key], b[key], "{key} changed between two runs");
    }
    assert_eq!(b["verify"]["passed"], Value::Bool(true), "{b}");
    let count = |v: Value| v.as_array().map(Vec::len).unwrap_or(usize::MAX);
    assert_eq!(count(pg.client(&["cluster", "list"])["items"].clone()), 1);
    assert_eq!(
        count(pg.client(&["deployment", "list"])["items"].clone()),
        1
    );
    let dep = s(&b, "deploymentId");
    assert_eq!(
        count(pg.client(&["agent-token", "list", "--deployment", dep])["items"].clone()),
        1
    );
    assert_eq!(
        count(pg.client(&["agent", "list", "--deployment", dep])["items"].clone()),
        1
    );
    assert_eq!(count(pg.cloud(&["vpc", "list"])), 1);
    assert_eq!(count(pg.cloud(&["subnet", "list"])), 2);
    assert_eq!(count(pg.cloud(&["instance", "list"])), 1);
    assert_eq!(count(pg.cloud(&["endpoint", "list"])), 1);
    let processes = pg.cloud(&["instance", "processes", s(&b, "customerInstance")]);
    assert_eq!(count(processes), 1, "one agent process");

    // The table summary's paste block makes the README's commands work, as printed: the
    // environment, `customer()` and the ids under the walkthrough's names.
    let third = pg.up_as("table");
    assert_eq!(third.code, Some(0), "third up failed: {third:#?}");
    let block: String = third
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Paste into your shell"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();
    assert!(
        block.contains("customer()"),
        "no paste block: {}",
        third.stdout
    );
    let script = format!(
        "set -euo pipefail\n{block}\
         linkplane agent list --deployment $DEPLOYMENT\n\
         customer exec $INSTANCE -- dig +short $CLUSTER.external.linkplane.test\n\
         customer endpoint show $ENDPOINT -o json | jq -r .vpcId\n"
    );
    let mut bash = Command::new("bash");
    bash.args(["-c", &script]).current_dir(pg.dir.path());
    for var in [
        "LINKPLANE_URL",
        "LINKPLANE_DATA_DIR",
        "LINKPLANE_TOKEN",
        "LINKPLANE_TOKEN_FILE",
        "LINKPLANE_ORG",
        "LINKPLANE_CLOUD_PRINCIPAL",
        "LINKPLANE_CLOUD_TOKEN",
    ] {
        bash.env_remove(var);
    }
    let pasted = run(bash, None);
    assert_eq!(
        pasted.code,
        Some(0),
        "the pasted lines failed:\n{script}\n{pasted:#?}"
    );
    assert!(pasted.stdout.contains("HEALTHY"), "{pasted:#?}");
    for ip in b["endpointIps"].as_array().unwrap() {
        assert!(pasted.stdout.contains(ip.as_str().unwrap()), "{pasted:#?}");
    }
    assert!(pasted.stdout.contains(s(&b, "customerVpc")), "{pasted:#?}");
}

#[test]
fn bad_arguments_fail_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = linkplane();
    cmd.args(["up", "--prefix", "Bad-Prefix", "--data-dir"])
        .arg(dir.path().join("x"));
    let r = run(cmd, None).failed();
    assert!(r.stderr.contains("--prefix"), "{r:#?}");
    assert_eq!(r.stderr.trim().lines().count(), 1, "{r:#?}");
    assert!(!dir.path().join("x").exists(), "nothing is created");
}

#[test]
fn down_keeps_a_directory_up_did_not_make() {
    if !linkplane_netns::testing::require_root("down_keeps_a_directory_up_did_not_make") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious"), "keep me").unwrap();
    let prefix = linkplane_netns::testing::unique_prefix();
    let mut cmd = linkplane();
    cmd.args(["down", "--prefix", &prefix, "--data-dir"])
        .arg(dir.path());
    let r = run(cmd, None).ok();
    assert!(r.stderr.contains("kept"), "{r:#?}");
    assert!(dir.path().join("precious").exists());
}

#[test]
fn up_without_root_says_so_in_one_line() {
    if !linkplane_netns::testing::require_root("up_without_root_says_so_in_one_line") {
        return;
    }
    // Drop to an unprivileged user (nobody) for this one command.
    // A copy of the binary nobody can run, wherever the build directory is.
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("linkplane");
    std::fs::copy(support::BIN, &bin).unwrap();
    let data_dir = dir.path().join("state");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .args(["up", "--prefix", "tzzzz", "--data-dir"])
        .arg(&data_dir)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs root"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!data_dir.exists(), "nothing is created");
}

#[test]
fn up_without_the_network_tools_names_the_package() {
    if !linkplane_netns::testing::require_root("up_without_the_network_tools_names_the_package") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty-path");
    std::fs::create_dir(&empty).unwrap();
    let data_dir = dir.path().join("state");
    let mut cmd = linkplane();
    cmd.env("PATH", &empty)
        .args(["up", "--prefix", "tzzzz", "--data-dir"])
        .arg(&data_dir);
    let r = run(cmd, None).failed();
    assert!(r.stderr.contains("`ip` is missing"), "{r:#?}");
    assert!(r.stderr.contains("iproute2"), "{r:#?}");
    assert_eq!(r.stderr.trim().lines().count(), 1, "{r:#?}");
    assert!(!data_dir.exists(), "nothing is created");
}
