//! How the CLI words the client's errors: the same facts as `linkplane_client::Error`,
//! plus what to do about them in terms of this program's flags and files.

use linkplane_client::{Advice, BuildError, Error};

/// The CLI's words for why a client cannot be built (naming `--url` and `--ca-file`).
pub fn build_error(e: BuildError) -> anyhow::Error {
    match e {
        BuildError::NotAUrl { .. } | BuildError::Scheme { .. } | BuildError::NoHost { .. } => {
            anyhow::anyhow!("--url {e}")
        }
        BuildError::NotPem(reason) => {
            anyhow::anyhow!("--ca-file is not a PEM certificate bundle: {reason}")
        }
        BuildError::NoCertificate => anyhow::anyhow!("--ca-file holds no PEM certificate"),
        BuildError::Http(_) => anyhow::anyhow!("{e}"),
    }
}

/// What to suggest for an error whose root cause is a client error, appended to its text.
fn suffix(e: &Error) -> &'static str {
    match e.advice() {
        Some(Advice::NotRunning) => {
            "\nIs `linkplane serve` running there? Point --url or LINKPLANE_URL at it."
        }
        Some(Advice::TrustCa) => {
            "\nThe TLS handshake failed: if the server's certificate comes from your own CA \
             (such as the one `linkplane serve` creates), trust it with --ca-file PATH or \
             LINKPLANE_CA_FILE."
        }
        Some(Advice::Timeout) => {
            "\nThe server did not answer in time; raise --request-timeout, or check that --url \
             points at a linkplane control plane."
        }
        Some(Advice::Token) => {
            "\nhint: give a valid token with --token, LINKPLANE_TOKEN or --token-file (a local \
             `linkplane serve` writes one to <data-dir>/admin.token)"
        }
        Some(Advice::Role) => "\nhint: this needs a token with the ORGANIZATION_OWNER role",
        Some(Advice::Reread) => {
            "\nhint: the resource changed since you read it; get it again and retry"
        }
        Some(Advice::CheckUrl) => "; is --url pointing at a linkplane control plane?",
        None => "",
    }
}

/// Adds the CLI's advice to an error whose root cause is a client error.
pub fn explain(e: anyhow::Error) -> anyhow::Error {
    match e.root_cause().downcast_ref::<Error>().map(suffix) {
        Some(s) if !s.is_empty() => anyhow::anyhow!("{e:#}{s}"),
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linkplane_client::{StatusCode, Transport};

    fn shown(e: Error) -> String {
        format!("{:#}", explain(e.into()))
    }

    #[test]
    fn unauthorized_and_forbidden_give_hints() {
        let e401 = shown(Error::from_answer(StatusCode::UNAUTHORIZED, ""));
        assert!(e401.contains("LINKPLANE_TOKEN"), "{e401}");
        let e403 = shown(Error::from_answer(
            StatusCode::FORBIDDEN,
            r#"{"title":"Forbidden","detail":"role too low"}"#,
        ));
        assert!(e403.contains("ORGANIZATION_OWNER"), "{e403}");
        assert!(
            e403.starts_with("Forbidden (HTTP 403): role too low\nhint:"),
            "{e403}"
        );
    }

    #[test]
    fn transport_failures_suggest_the_matching_fix() {
        let unreachable = |kind| {
            shown(Error::Unreachable {
                url: "https://cp:8443".into(),
                reason: "why".into(),
                chain: "why".into(),
                kind,
            })
        };
        assert!(unreachable(Transport::Connect).contains("linkplane serve"));
        assert!(unreachable(Transport::Tls).contains("--ca-file"));
        assert!(unreachable(Transport::Timeout).contains("--request-timeout"));
        assert!(
            unreachable(Transport::Tls)
                .starts_with("cannot reach the linkplane control plane at https://cp:8443: why.\n")
        );
    }

    #[test]
    fn advice_follows_the_context() {
        let e = anyhow::Error::from(Error::from_answer(StatusCode::PRECONDITION_FAILED, ""))
            .context("updating the cluster");
        let text = format!("{:#}", explain(e));
        assert!(
            text.starts_with("updating the cluster: Precondition Failed (HTTP 412)"),
            "{text}"
        );
        assert!(text.ends_with("get it again and retry"), "{text}");
    }

    #[test]
    fn bad_urls_and_ca_files_name_the_flag() {
        let e = linkplane_client::Client::builder("ftp://x").build().err();
        let text = build_error(e.expect("refused")).to_string();
        assert!(
            text.starts_with("--url \"ftp://x\" must start with http:// or https://"),
            "{text}"
        );
        let e = linkplane_client::Client::builder("https://127.0.0.1:9")
            .ca_pem(b"not pem".to_vec())
            .build()
            .err();
        let text = build_error(e.expect("refused")).to_string();
        assert!(text.contains("--ca-file"), "{text}");
    }
}
