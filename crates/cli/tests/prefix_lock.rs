//! One installation per prefix and per data dir, with real processes: a second
//! `linkplane serve` with the first one's `--prefix` (or `--data-dir`) refuses to start,
//! naming the other's pid and data dir, and the first installation's cluster, namespaces
//! and API are untouched. Needs root (the prefix lock guards localcloud's namespaces).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Server, free_port, linkplane};

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

/// Runs a second `serve` to its exit (killed after 20 s if it does not exit: then it did
/// not refuse); returns (exit code, stderr+stdout).
fn second_serve(prefix: &str, data_dir: &std::path::Path) -> (Option<i32>, String) {
    let mut child = linkplane()
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--prefix", prefix])
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ),
    )
}

#[test]
fn a_second_serve_with_the_same_prefix_or_data_dir_refuses_and_leaves_the_first_alone() {
    if !linkplane_netns::testing::require_root("prefix_lock") {
        return;
    }
    let first = Server::start();
    let id = first.create_cluster("prod", "DEDICATED", "10.78.0.0/22");
    let start = Instant::now();
    loop {
        let out = first.lp(&["cluster", "get", &id, "-o", "json"]).ok();
        if out.json()["status"] == "CREATED" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(90), "{}", out.stdout);
        std::thread::sleep(Duration::from_millis(300));
    }
    let before = namespaces(&first.prefix);
    assert!(!before.is_empty());
    let first_dir = std::fs::canonicalize(first.data_path()).unwrap();
    let pid = std::fs::read_to_string(first_dir.join("serve.lock")).unwrap();
    let pid = pid
        .lines()
        .find_map(|l| l.strip_prefix("pid="))
        .unwrap()
        .to_owned();

    // Same prefix, its own data dir.
    let other_dir = tempfile::tempdir().unwrap();
    let (code, out) = second_serve(&first.prefix, other_dir.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "another linkplane installation already uses --prefix {}: pid {pid}, data dir {}",
            first.prefix,
            first_dir.display()
        )),
        "{out}"
    );

    // Same data dir, another prefix.
    let (code, out) = second_serve("tzzz9", first.data_path());
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "the data dir {} is in use by another linkplane serve: pid {pid}, prefix {}",
            first_dir.display(),
            first.prefix
        )),
        "{out}"
    );
    assert!(namespaces("tzzz9").is_empty());

    // The first installation is untouched.
    assert_eq!(namespaces(&first.prefix), before);
    let out = first.lp(&["cluster", "get", &id, "-o", "json"]).ok();
    assert_eq!(out.json()["status"], "CREATED", "{}", out.stdout);
}
