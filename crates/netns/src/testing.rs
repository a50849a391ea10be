//! The project-wide policy for tests that need root and network namespaces.
//!
//! - As root: the test runs.
//! - Not root and `CI=true`: the test **fails** (CI must never skip namespace tests).
//! - Not root outside CI: the test prints why it skips and returns.
//!
//! Every test makes its kernel objects under its own short prefix ([`unique_prefix`]) and
//! removes them on drop, even when it panics ([`TestNs`]). Prefixes look like `t1k3z`:
//! `t` + 4 base-36 characters, so names such as `t1k3z-v0a1b2c3` fit the 15-byte interface
//! limit and `shared/hooks/before-stop` recognises leftovers (`^t[0-9a-z]*-`).

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// True when the test may touch namespaces. See the module docs for the policy.
pub fn require_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: needs root and network namespaces, and CI=true forbids skipping");
    }
    eprintln!(
        "skipping {test}: needs root and network namespaces (run as root; with CI=true this is a failure)"
    );
    false
}

/// A short, process-unique prefix for kernel object names: `t` + 4 base-36 characters.
pub fn unique_prefix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = std::process::id()
        .wrapping_mul(2_654_435_761)
        .wrapping_add(n.wrapping_mul(40_503))
        .wrapping_add(nanos);
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut s = String::from("t");
    for _ in 0..4 {
        s.push(ALPHABET[(x % 36) as usize] as char);
        x /= 36;
    }
    s
}

/// A named network namespace for a test, with `lo` up, deleted on drop.
pub struct TestNs {
    name: String,
}

impl TestNs {
    /// Create `<unique prefix>-<tag>`.
    pub fn new(tag: &str) -> std::io::Result<Self> {
        let name = format!("{}-{tag}", unique_prefix());
        run("ip", &["netns", "add", &name])?;
        let ns = Self { name };
        run("ip", &["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "del", &self.name]);
    }
}

fn run(cmd: &str, args: &[&str]) -> std::io::Result<()> {
    let out = Command::new(cmd).args(args).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_short_distinct_and_match_the_leftover_pattern() {
        let a = unique_prefix();
        let b = unique_prefix();
        assert_ne!(a, b);
        for p in [&a, &b] {
            assert_eq!(p.len(), 5, "{p}");
            assert!(p.starts_with('t'));
            assert!(
                p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            );
        }
    }
}
