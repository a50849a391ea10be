//! Client behaviour that needs no server: help texts, an unreachable server, bad options.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{free_port, linkplane, run};

fn lp(args: &[&str]) -> support::Run {
    let mut cmd = linkplane();
    cmd.args(args);
    run(cmd, None)
}

const FAMILIES: &[&str] = &[
    "organization",
    "cluster",
    "deployment",
    "agent-token",
    "agent",
    "private-link",
    "peering",
    "route",
    "tgw",
    "outbound-endpoint",
    "vpn",
    "dns",
    "api-token",
];

#[test]
fn top_level_help_lists_every_client_command() {
    let out = lp(&["--help"]).ok();
    for family in FAMILIES {
        assert!(
            out.stdout.contains(&format!("\n  {family} ")),
            "`linkplane --help` does not list {family}:\n{}",
            out.stdout
        );
    }
}

#[test]
fn every_family_and_subcommand_has_a_summary_and_an_example() {
    for family in FAMILIES {
        let out = lp(&[family, "--help"]).ok();
        assert!(
            out.stdout.contains("Example"),
            "`{family} --help` has no example:\n{}",
            out.stdout
        );
        // Every subcommand listed under Commands: has a one-line summary and an example.
        let subcommands: Vec<String> = out
            .stdout
            .split("Commands:")
            .nth(1)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            // Wrapped summaries continue on deeper-indented lines.
            .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                let name = words.next()?;
                let summary: Vec<&str> = words.collect();
                assert!(
                    !summary.is_empty(),
                    "{family} {name} has no summary: {}",
                    out.stdout
                );
                (name != "help").then(|| name.to_owned())
            })
            .collect();
        assert!(!subcommands.is_empty(), "{family}: no subcommands");
        for sub in subcommands {
            let help = lp(&[family, &sub, "--help"]).ok();
            assert!(
                help.stdout.contains("Example:\n  linkplane "),
                "`{family} {sub} --help` has no example:\n{}",
                help.stdout
            );
            // A one-line summary, then a longer description, before the usage line.
            let intro = help.stdout.split("Usage:").next().unwrap_or_default();
            assert!(
                intro.trim().contains("\n\n"),
                "`{family} {sub} --help` has no description beyond its summary:\n{}",
                help.stdout
            );
            // Every client command offers both output formats (`agent run` is the agent
            // itself, not a client of /v1).
            if (*family, sub.as_str()) != ("agent", "run") {
                assert!(
                    help.stdout.contains("--output"),
                    "{family} {sub}: {}",
                    help.stdout
                );
            }
        }
    }
}

#[test]
fn flags_say_their_format() {
    let out = lp(&["cluster", "create", "--help"]).ok();
    assert!(out.stdout.contains("RFC 1918"), "{}", out.stdout);
    assert!(out.stdout.contains("10.20.0.0/16"), "{}", out.stdout);
    assert!(out.stdout.contains("DEDICATED"), "{}", out.stdout);
    let out = lp(&["peering", "create", "--help"]).ok();
    for needle in ["12 digits", "vpc-", "RFC 1918", "PENDING_ACTIVATION"] {
        assert!(out.stdout.contains(needle), "{needle}: {}", out.stdout);
    }
    let out = lp(&["vpn", "create", "--help"]).ok();
    for needle in ["--pre-shared-key-file", "stdin", "169.254.0.0/16", "7224"] {
        assert!(out.stdout.contains(needle), "{needle}: {}", out.stdout);
    }
}

#[test]
fn an_unreachable_server_gives_a_clear_message() {
    let port = free_port(); // nothing listens there any more
    let url = format!("http://127.0.0.1:{port}");
    let out = lp(&[
        "cluster", "list", "--url", &url, "--token", "x", "--org", "o",
    ])
    .failed();
    assert!(
        out.stderr
            .contains("cannot reach the linkplane control plane"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&url), "{}", out.stderr);
    assert!(out.stderr.contains("linkplane serve"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn the_organization_lookup_also_reports_an_unreachable_server() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = linkplane();
    cmd.args(["cluster", "list"])
        .env("LINKPLANE_URL", &url)
        .env("LINKPLANE_DATA_DIR", dir.path());
    let out = run(cmd, None).failed();
    assert!(out.stderr.contains(&url), "{}", out.stderr);
    assert!(out.stderr.contains("LINKPLANE_URL"), "{}", out.stderr);
}

#[test]
fn a_malformed_url_is_refused_before_any_request() {
    let out = lp(&["organization", "list", "--url", "127.0.0.1:8080"]).failed();
    assert!(out.stderr.contains("http://"), "{}", out.stderr);
    let out = lp(&["organization", "list", "--url", "ftp://example.invalid"]).failed();
    assert!(out.stderr.contains("http:// or https://"), "{}", out.stderr);
}

#[test]
fn an_empty_token_file_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "\n").unwrap();
    let out = lp(&[
        "organization",
        "list",
        "--token-file",
        file.to_str().unwrap(),
    ])
    .failed();
    assert!(out.stderr.contains("token"), "{}", out.stderr);
    assert!(
        out.stderr.contains(file.to_str().unwrap()),
        "{}",
        out.stderr
    );
}

#[test]
fn a_bad_ca_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate").unwrap();
    let out = lp(&[
        "organization",
        "list",
        "--url",
        "https://127.0.0.1:1",
        "--ca-file",
        ca.to_str().unwrap(),
    ])
    .failed();
    assert!(out.stderr.contains("--ca-file"), "{}", out.stderr);
}

#[test]
fn malformed_arguments_are_rejected_by_the_parser() {
    // Bad enum value, with the accepted values listed.
    let out = lp(&[
        "cluster",
        "create",
        "--name",
        "a",
        "--type",
        "HUGE",
        "--region",
        "us-east-1",
        "--vpc-subnet-range",
        "10.0.0.0/16",
    ])
    .failed();
    assert!(out.stderr.contains("DEDICATED"), "{}", out.stderr);
    // A DNS record without its type.
    let out = lp(&[
        "dns",
        "create",
        "--cluster",
        "cl1",
        "--name",
        "z",
        "--kind",
        "PRIVATE_ZONE",
        "--domain",
        "db.internal",
        "--record",
        "primary:10.0.0.1",
    ])
    .failed();
    assert!(out.stderr.contains("NAME:TYPE:VALUE"), "{}", out.stderr);
    // VPN: needs a key and BGP or static prefixes.
    let out = lp(&[
        "vpn",
        "create",
        "--cluster",
        "cl1",
        "--name",
        "v",
        "--gateway-ip",
        "203.0.113.10",
    ])
    .failed();
    assert!(out.stderr.contains("pre-shared-key"), "{}", out.stderr);
}
