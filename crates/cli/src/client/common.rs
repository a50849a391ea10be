//! Small pieces shared by the resource modules: paging flags, request bodies, enum values.

use std::path::Path;

use anyhow::Context as _;
use clap::ValueEnum;
use serde_json::{Map, Value};

/// `--limit` / `--cursor` for list commands.
#[derive(Debug, Clone, clap::Args)]
pub struct PageArgs {
    /// Return at most N results (the server's default page size when absent).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Continue a previous list: the cursor it printed ("more results: … --cursor C").
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<String>,
}

impl PageArgs {
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(limit) = self.limit {
            q.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            q.push(("cursor", cursor.clone()));
        }
        q
    }
}

/// `--idempotency-key` for create commands.
#[derive(Debug, Clone, clap::Args)]
pub struct IdempotencyArgs {
    /// Any unique string (e.g. a UUID). Running the same create again with the same key
    /// returns the first result instead of creating a second resource. Without it the
    /// command uses a random key of its own, so its automatic retries are safe too.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

/// A JSON object built field by field; absent options are left out, so the server's
/// defaults and its validation apply.
#[derive(Debug, Default)]
pub struct Body(Map<String, Value>);

impl Body {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    pub fn opt(self, key: &str, value: Option<impl Into<Value>>) -> Self {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }

    /// Sets a list only when it is not empty.
    pub fn list(self, key: &str, values: &[String]) -> Self {
        if values.is_empty() {
            self
        } else {
            self.set(key, values.to_vec())
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn build(self) -> Value {
        Value::Object(self.0)
    }
}

/// The wire name of a clap value enum (its first possible value, e.g. `DEDICATED`).
pub fn wire<E: ValueEnum>(value: &E) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

/// Reads a secret from a file, or from stdin when the path is `-`; trailing newlines are
/// dropped. Never logs the content.
pub fn read_secret(path: &Path, what: &str) -> anyhow::Result<String> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .with_context(|| format!("cannot read the {what} from stdin"))?;
        s
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the {what} from {}", path.display()))?
    };
    let secret = text.trim_end_matches(['\n', '\r']).to_owned();
    if secret.is_empty() {
        anyhow::bail!("the {what} is empty");
    }
    Ok(secret)
}

/// Prints the one-time notice that goes with a newly created token.
pub fn token_shown_once_notice() {
    eprintln!(
        "This token is shown only once: store it now (for example in a secrets manager). \
         It cannot be shown again; if it is lost, create a new one and revoke this one."
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Clone, clap::ValueEnum)]
    #[value(rename_all = "SCREAMING_SNAKE_CASE")]
    enum Kind {
        ResolverRule,
    }

    #[test]
    fn bodies_leave_out_absent_fields() {
        let body = Body::new()
            .set("name", "a")
            .opt("region", None::<String>)
            .list("cidrs", &[])
            .list("ips", &["1.2.3.4".to_owned()])
            .build();
        assert_eq!(body, json!({"name": "a", "ips": ["1.2.3.4"]}));
    }

    #[test]
    fn enum_values_use_the_wire_spelling() {
        assert_eq!(wire(&Kind::ResolverRule), "RESOLVER_RULE");
    }

    #[test]
    fn secrets_are_read_from_files_without_the_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("psk");
        std::fs::write(&path, "abc.DEF_123\n").unwrap();
        assert_eq!(read_secret(&path, "key").unwrap(), "abc.DEF_123");
        std::fs::write(&path, "\n").unwrap();
        assert!(read_secret(&path, "key").is_err());
        let err = read_secret(&dir.path().join("nope"), "pre-shared key").unwrap_err();
        assert!(format!("{err:#}").contains("pre-shared key"));
    }

    #[test]
    fn paging_flags_become_query_parameters() {
        let page = PageArgs {
            limit: Some(5),
            cursor: Some("c1".into()),
        };
        assert_eq!(
            page.query(),
            vec![("limit", "5".to_owned()), ("cursor", "c1".to_owned())]
        );
    }
}
