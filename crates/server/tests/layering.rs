//! The crate graph's invariants (ARCHITECTURE.md, "Crates and their invariants"), checked
//! from every crate's Cargo.toml so a new dependency that breaks one fails here, not in
//! review. Needs no root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

/// Every workspace crate and the `linkplane-*` crates in its `[dependencies]`.
fn graph() -> BTreeMap<String, Vec<String>> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|r| r.strip_suffix('"'))
            .unwrap()
            .to_owned();
        let mut section = "";
        let mut deps = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                section = line;
            } else if section == "[dependencies]"
                && let Some(dep) = line.split([' ', '=']).next()
                && dep.starts_with("linkplane-")
            {
                deps.push(dep.to_owned());
            }
        }
        out.insert(name, deps);
    }
    out
}

/// `krate` depends on none of `never` (directly).
fn never(g: &BTreeMap<String, Vec<String>>, krate: &str, never: &[&str]) -> Vec<String> {
    let deps = g
        .get(krate)
        .unwrap_or_else(|| panic!("no crate {krate}: {g:?}"));
    deps.iter()
        .filter(|d| never.contains(&d.as_str()))
        .map(|d| format!("{krate} must never depend on {d}"))
        .collect()
}

#[test]
fn crates_depend_only_on_what_their_invariant_allows() {
    let g = graph();
    let control_plane = [
        "linkplane-store",
        "linkplane-api",
        "linkplane-controllers",
        "linkplane-provider",
        "linkplane-provider-local",
        "linkplane-server",
    ];
    let mut broken = Vec::new();
    // The model is pure: no linkplane crate at all.
    broken.extend(never(
        &g,
        "linkplane-model",
        &g.keys().map(String::as_str).collect::<Vec<_>>(),
    ));
    // The seam knows the model and nothing else.
    for (k, deps) in &g {
        if k == "linkplane-provider" {
            for d in deps.iter().filter(|d| *d != "linkplane-model") {
                broken.push(format!("linkplane-provider must never depend on {d}"));
            }
        }
    }
    // Controllers never name a cloud, nor the API or the HTTP edge.
    broken.extend(never(
        &g,
        "linkplane-controllers",
        &[
            "linkplane-localcloud",
            "linkplane-provider-local",
            "linkplane-api",
            "linkplane-ingress",
            "linkplane-server",
            "linkplane-dataplane",
            "linkplane-netns",
            "linkplane-client",
        ],
    ));
    // Only the local provider and the composition root (server, and the binary that
    // runs it) know localcloud.
    for (k, deps) in &g {
        if deps.iter().any(|d| d == "linkplane-localcloud")
            && !["linkplane-provider-local", "linkplane-server", "linkplane"].contains(&k.as_str())
        {
            broken.push(format!("{k} must never depend on linkplane-localcloud"));
        }
    }
    // The API crate does not know how resources are provisioned.
    broken.extend(never(
        &g,
        "linkplane-api",
        &[
            "linkplane-controllers",
            "linkplane-provider",
            "linkplane-provider-local",
            "linkplane-localcloud",
            "linkplane-server",
            "linkplane-ingress",
        ],
    ));
    // Protocol crates never see policy or the control plane; localcloud is the cloud and
    // never knows the control plane that drives it; the client and the agent ship alone.
    for protocol in [
        "linkplane-dataplane",
        "linkplane-ingress",
        "linkplane-netns",
        "linkplane-localcloud",
        "linkplane-client",
        "linkplane-agent",
        "linkplane-reconciler",
    ] {
        broken.extend(never(&g, protocol, &control_plane));
    }
    broken.extend(never(
        &g,
        "linkplane-agent",
        &[
            "linkplane-localcloud",
            "linkplane-dataplane",
            "linkplane-verify",
        ],
    ));
    assert!(broken.is_empty(), "{broken:#?}");
}

#[test]
fn the_check_sees_every_crate() {
    let g = graph();
    for k in [
        "linkplane-model",
        "linkplane-provider",
        "linkplane-controllers",
        "linkplane-server",
        "linkplane",
    ] {
        assert!(g.contains_key(k), "{k} missing from {g:?}");
    }
    assert!(
        g["linkplane-server"].contains(&"linkplane-provider-local".to_owned()),
        "the parser reads dependencies: {g:?}"
    );
}
