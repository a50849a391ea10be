//! Every example id in the CLI's help and the docs is a well-formed linkplane id (its kind's
//! prefix and 16 base32 characters, `a-z2-7`): the CLI takes a name where an id does not
//! parse, so an example with a `9` in it would be looked up as a cluster *name*.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use linkplane_model::{ResourceId, ResourceKind};

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
}

#[test]
fn example_ids_in_help_and_docs_parse_as_ids() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = vec![root.join("README.md")];
    for dir in ["crates/cli/src/client", "crates/cli/src", "docs"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "rs" || x == "md") {
                files.push(p);
            }
        }
    }
    let mut bad = vec![];
    let mut seen = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for w in words(&text) {
            // Shaped like an id of some kind: the prefix and 16 lowercase letters or digits.
            let Some(kind) = ResourceKind::ALL.into_iter().find(|k| {
                w.len() == k.prefix().len() + 16
                    && w.starts_with(k.prefix())
                    && w[k.prefix().len()..]
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                    && w[k.prefix().len()..].bytes().any(|b| b.is_ascii_digit())
            }) else {
                continue;
            };
            seen += 1;
            if ResourceId::parse_kind(w, kind).is_err() {
                bad.push(format!("{}: {w}", f.display()));
            }
        }
    }
    assert!(
        seen > 20,
        "found only {seen} example ids: is the scan looking in the right place?"
    );
    assert!(
        bad.is_empty(),
        "example ids that are not ids:\n{}",
        bad.join("\n")
    );
}
