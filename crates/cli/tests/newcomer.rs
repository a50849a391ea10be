//! What a newcomer following the README meets outside the walkthrough itself (issue 14):
//! `serve`'s log is plain text when it goes to a file, and `linkplane down` stops the
//! `linkplane serve &` a walkthrough started by hand (found by its data directory).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{free_port, linkplane, run};

/// A `serve` started the way the README's walkthrough starts it (`serve > serve.log 2>&1 &`,
/// no pid file), killed on drop if still running.
struct HandServe {
    child: Child,
    dir: tempfile::TempDir,
    prefix: String,
}

impl HandServe {
    fn start(localcloud: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
        let prefix = linkplane_netns::testing::unique_prefix();
        let mut cmd = linkplane();
        cmd.current_dir(dir.path())
            .args(["serve", "--data-dir", "./.linkplane", "--prefix", &prefix])
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            // What a shell gives it: no NO_COLOR, a file for stdout and stderr.
            .env_remove("NO_COLOR")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if !localcloud {
            cmd.arg("--no-localcloud");
        }
        let child = cmd.spawn().unwrap();
        let mut s = Self { child, dir, prefix };
        let start = Instant::now();
        while !s.log().contains("listening on") {
            assert!(
                s.child.try_wait().unwrap().is_none(),
                "serve exited:\n{}",
                s.log()
            );
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "serve did not start:\n{}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }
}

impl Drop for HandServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = linkplane()
            .args(["local", "gc", "--prefix", &self.prefix])
            .output();
    }
}

#[test]
fn serve_log_in_a_file_has_no_colour_codes() {
    let s = HandServe::start(false);
    let log = s.log();
    assert!(log.contains("INFO"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "serve.log holds ANSI escape codes:\n{log:?}"
    );
}

#[test]
fn down_stops_a_serve_the_walkthrough_started() {
    if !linkplane_netns::testing::require_root("down_stops_a_serve_the_walkthrough_started") {
        return;
    }
    let mut s = HandServe::start(true);
    let pid = s.child.id();
    // As the walkthrough's shell has it: LINKPLANE_DATA_DIR set, no --prefix, no pid file.
    let mut cmd = linkplane();
    cmd.current_dir(s.dir.path())
        .arg("down")
        .env_remove("LINKPLANE_PREFIX")
        .env("LINKPLANE_DATA_DIR", s.dir.path().join(".linkplane"));
    let down = run(cmd, None);
    assert_eq!(down.code, Some(0), "{down:#?}");
    assert!(
        down.stderr
            .contains(&format!("stopped linkplane serve (pid {pid})")),
        "{down:#?}"
    );
    // The prefix came from the lock the serve held.
    assert!(
        down.stderr.contains(&format!("prefix {}", s.prefix)),
        "{down:#?}"
    );
    let start = Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "serve (pid {pid}) still runs after down:\n{down:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Stopped gracefully (SIGTERM), not killed.
    assert!(status.success(), "{status}\n{}", s.log());
    // A directory `up` did not make is kept.
    assert!(s.dir.path().join(".linkplane/admin.token").exists());

    // Again: nothing runs, and it says how it looked.
    let mut cmd = linkplane();
    cmd.current_dir(s.dir.path())
        .args(["down", "--data-dir", ".linkplane", "--prefix", &s.prefix]);
    let again = run(cmd, None);
    assert_eq!(again.code, Some(0), "{again:#?}");
    assert!(
        again.stderr.contains("no linkplane serve of") && again.stderr.contains("serve.lock"),
        "{again:#?}"
    );
}
