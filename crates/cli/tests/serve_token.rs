//! The owner token is shown once, to the person, never into a log file: `serve` whose
//! stdout is a file (as under `up`, or the README's `> serve.log`) names the token file and
//! does not print the token. Needs no root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::Server;

#[test]
fn the_owner_token_is_not_written_to_a_redirected_stdout() {
    let server = Server::start_with(&["--no-localcloud"]);
    let token_file = server.data_dir.path().join("admin.token");
    let token = std::fs::read_to_string(&token_file).unwrap();
    let token = token.trim();
    assert!(token.len() > 20, "{token:?}");
    let log = server.log();
    assert!(
        !log.contains(token),
        "the owner token is in serve's log:\n{log}"
    );
    assert!(
        log.contains(&format!(
            "Owner API token written to {} (mode 0600)",
            token_file.display()
        )),
        "{log}"
    );
}
