//! The README's walkthroughs, and those of docs/*.md, run as written (as root): in each
//! file, every fenced `sh` block preceded by
//! `<!-- ci: walkthrough -->` is taken in order into one bash script (`set -euo pipefail`)
//! and run against the real binary on PATH, in a fresh working directory, with its own
//! localcloud prefix (`LINKPLANE_PREFIX`) and loopback port (`LINKPLANE_LISTEN`; the README's
//! `127.0.0.1:8080` is the only text replaced). It fails on the first command that fails, and when a claim the
//! text makes with `# prints: TEXT` is not in the output (in order). Whatever happens, the
//! script's process group (the `linkplane serve &` it starts) is killed and
//! `linkplane local gc --prefix` removes every namespace and process it made. The `serve`
//! log it leaves must be plain text (no colour codes in a file).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{BIN, free_port, linkplane};

/// The marker in front of a block the walkthrough test runs.
const MARKER: &str = "<!-- ci: walkthrough -->";
/// How long the whole walkthrough may take (it takes well under a minute on 2 cores).
const LIMIT: Duration = Duration::from_secs(300);

/// The marked blocks of `markdown`, each with the line it starts on.
fn marked_blocks(file: &str, markdown: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == MARKER {
            let fence = i + 1;
            assert!(
                lines.get(fence).is_some_and(|l| l.trim() == "```sh"),
                "{file}:{}: {MARKER} must be followed by a ```sh block",
                i + 1
            );
            let mut body = String::new();
            let mut j = fence + 1;
            while j < lines.len() && lines[j].trim() != "```" {
                body.push_str(lines[j]);
                body.push('\n');
                j += 1;
            }
            blocks.push((fence + 2, body));
            i = j;
        }
        i += 1;
    }
    blocks
}

/// The `# prints: TEXT` claims of a script, in order.
fn claims(script: &str) -> Vec<String> {
    script
        .lines()
        .filter_map(|l| l.split_once("# prints: ").map(|(_, t)| t.trim().to_owned()))
        .collect()
}

/// Kills the script's process group and garbage-collects its prefix, even on panic.
struct Cleanup {
    pgid: Option<i32>,
    prefix: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid {
            let group = nix::unistd::Pid::from_raw(-pgid);
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGTERM);
            std::thread::sleep(Duration::from_millis(500));
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        }
        match linkplane()
            .args(["local", "gc", "--prefix", &self.prefix])
            .stdin(Stdio::null())
            .output()
        {
            Ok(out) => eprintln!(
                "local gc --prefix {}: {}{}",
                self.prefix,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => eprintln!("local gc --prefix {} did not run: {e}", self.prefix),
        }
    }
}

#[test]
fn marked_blocks_are_found_and_say_what_they_print() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let blocks = marked_blocks("README.md", &readme);
    assert!(blocks.len() >= 8, "{} marked blocks", blocks.len());
    let script: String = blocks.iter().map(|(_, b)| b.as_str()).collect();
    assert!(claims(&script).len() >= 5, "{:?}", claims(&script));
    for placeholder in [
        "<id", "vpc-…", "subnet-A", "sg-…", "i-…", "pcx-…", "hz-…", "dns…",
    ] {
        assert!(
            !script.contains(placeholder),
            "a walkthrough block still has the placeholder {placeholder:?}: it must run as written"
        );
    }
    for file in docs_with_walkthroughs() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(&file),
        )
        .unwrap();
        let script: String = marked_blocks(&file, &text)
            .iter()
            .map(|(_, b)| b.as_str())
            .collect();
        for placeholder in ["vpc-…", "subnet-…", "i-…", "sg-…", "igw-…", "pcx-…", "<id"]
        {
            assert!(
                !script.contains(placeholder),
                "{file}: a walkthrough block still has the placeholder {placeholder:?}"
            );
        }
    }
}

/// The docs/*.md files (relative to the repository) that have marked blocks.
fn docs_with_walkthroughs() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(dir.join(&name)).ok()?;
            (name.ends_with(".md") && text.lines().any(|l| l.trim() == MARKER))
                .then(|| format!("docs/{name}"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn readme_walkthroughs_run_as_written() {
    if !linkplane_netns::testing::require_root("readme_walkthroughs_run_as_written") {
        return;
    }
    run_walkthrough("README.md");
}

#[test]
fn docs_walkthroughs_run_as_written() {
    if !linkplane_netns::testing::require_root("docs_walkthroughs_run_as_written") {
        return;
    }
    let files = docs_with_walkthroughs();
    assert!(
        files.contains(&"docs/LOCALCLOUD.md".to_owned()),
        "{files:?}"
    );
    for file in files {
        run_walkthrough(&file);
    }
}

/// Runs the marked blocks of `file` (relative to the repository) as one script.
fn run_walkthrough(file: &str) {
    eprintln!("== {file}");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(file),
    )
    .unwrap();
    let blocks = marked_blocks(file, &text);
    assert!(!blocks.is_empty(), "{file} has no {MARKER} block");
    let port = free_port();
    let prefix = linkplane_netns::testing::unique_prefix();
    let dir = tempfile::tempdir().unwrap();
    // A copy of the binary under test: the walkthrough runs it many times, and a rebuild of
    // the target directory meanwhile must not change what it runs.
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    std::fs::copy(BIN, bin_dir.join("linkplane")).unwrap();

    let mut script = String::from(
        "set -euo pipefail\n\
         trap 'echo \"walkthrough: FAILED (exit $?) at FILE line ${README_LINE:-?}: $BASH_COMMAND\" >&2' ERR\n",
    )
    .replace("FILE", file);
    for (line, body) in &blocks {
        script.push_str(&format!("README_LINE={line}; echo \"== {file}:{line}\"\n"));
        for (k, l) in body.lines().enumerate() {
            let l = l.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
            // The line number a failure names (not inside a continued command).
            if k > 0
                && !body
                    .lines()
                    .nth(k - 1)
                    .is_some_and(|p| p.trim_end().ends_with('\\'))
            {
                script.push_str(&format!("README_LINE={}\n", line + k));
            }
            script.push_str(&l);
            script.push('\n');
        }
    }
    script.push_str("echo 'walkthrough: done'\n");
    let script_path = dir.path().join("walkthrough.sh");
    std::fs::write(&script_path, &script).unwrap();
    let log_path = dir.path().join("walkthrough.log");
    let log = std::fs::File::create(&log_path).unwrap();

    let mut cmd = Command::new("bash");
    cmd.arg(&script_path)
        .current_dir(dir.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("LINKPLANE_PREFIX", &prefix)
        // `serve` without --listen listens here (the README's default is 8080).
        .env("LINKPLANE_LISTEN", format!("127.0.0.1:{port}"))
        // What a shell gives it: serve's log goes to a file without NO_COLOR.
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0);
    for (k, _) in std::env::vars() {
        if k.starts_with("LINKPLANE_") && k != "LINKPLANE_PREFIX" && k != "LINKPLANE_LISTEN" {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd.spawn().unwrap();
    let _cleanup = Cleanup {
        pgid: Some(child.id() as i32),
        prefix,
    };
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > LIMIT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    let serve_log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    let tail = |s: &str, n: usize| -> String {
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    };
    let Some(status) = status else {
        panic!(
            "the walkthrough did not finish within {LIMIT:?}:\n{output}\n--- serve.log (tail)\n{}",
            tail(&serve_log, 40)
        );
    };
    assert!(
        status.success() && output.contains("walkthrough: done"),
        "the walkthrough failed ({status}):\n{output}\n--- serve.log (tail)\n{}",
        tail(&serve_log, 40)
    );
    let mut rest = output.as_str();
    for claim in claims(&script) {
        match rest.find(&claim) {
            Some(i) => rest = &rest[i + claim.len()..],
            None => panic!(
                "{file} claims a command prints {claim:?}, but it did not (in order):\n{output}"
            ),
        }
    }
    assert!(
        !serve_log.contains('\u{1b}'),
        "serve.log holds ANSI colour codes:\n{}",
        tail(&serve_log, 5)
    );
    eprintln!("{file}: walkthrough passed in {:?}", start.elapsed());
}
