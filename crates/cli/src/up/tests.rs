//! Unit tests of `up`'s pure parts.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::json;

use super::*;

#[test]
fn verification_report_parses() {
    let v: Verification = serde_json::from_str(
        r#"{"passed":false,"checks":[{"name":"dns","passed":false,"detail":"NXDOMAIN"}]}"#,
    )
    .unwrap();
    assert!(!v.passed);
    assert_eq!(v.checks[0].name, "dns");
    assert!(serde_json::from_str::<Verification>("not json").is_err());
}

#[test]
fn polling_starts_at_100_ms_and_grows_to_one_second() {
    let mut pauses = vec![POLL_FIRST];
    for _ in 0..10 {
        pauses.push(next_poll(*pauses.last().unwrap()));
    }
    let ms: Vec<u128> = pauses.iter().map(Duration::as_millis).collect();
    assert_eq!(ms[..7], [100, 150, 225, 337, 506, 759, 1000]);
    assert!(ms[7..].iter().all(|m| *m == 1000), "capped at 1 s: {ms:?}");
}

#[test]
fn lookups_by_field() {
    let items = vec![
        json!({"name": "a", "id": "1"}),
        json!({"name": "b", "id": "2"}),
    ];
    assert_eq!(
        find_by(&items, "name", "b").map(|v| v["id"].clone()),
        Some(json!("2"))
    );
    assert!(find_by(&items, "name", "c").is_none());
    assert!(text(&items[0], "missing").is_err());
}

#[test]
fn private_files_are_0600() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t");
    write_private(&f, "secret").unwrap();
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "secret\n");
}
