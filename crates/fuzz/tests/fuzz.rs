//! Each fuzz target over its committed corpus and mutations of it, without a crash: 60 s
//! per target in CI (`CI=true`), 5 s otherwise; `LINKPLANE_FUZZ_SECONDS` overrides.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use linkplane_fuzz::{TARGETS, run};

fn seconds() -> u64 {
    std::env::var("LINKPLANE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if std::env::var("CI").as_deref() == Ok("true") {
            60
        } else {
            5
        })
}

fn fuzz(name: &str) {
    let t = TARGETS.iter().find(|t| t.name == name).unwrap();
    let dir = linkplane_fuzz::targets::corpus_dir(name);
    let artifacts =
        std::env::temp_dir().join(format!("linkplane-fuzz-{name}-{}", std::process::id()));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let f = t.run;
    let r = run(
        t.name,
        &dir,
        &artifacts,
        t.dict,
        Duration::from_secs(seconds()),
        seed,
        &f,
    );
    eprintln!(
        "fuzz {name}: {} executions, corpus {}, seed {seed}, crashes {:?}",
        r.executions, r.corpus, r.crashes
    );
    assert!(
        r.corpus > 0,
        "the corpus of {name} is committed in {}",
        dir.display()
    );
    assert!(r.crashes.is_empty(), "{name} crashed on {:?}", r.crashes);
}

#[test]
fn proxy_v2() {
    fuzz("proxy_v2");
}

#[test]
fn dns_udp() {
    fuzz("dns_udp");
}

#[test]
fn bodies() {
    fuzz("bodies");
}

#[test]
fn fields() {
    fuzz("fields");
}
