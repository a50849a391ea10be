//! The `/cloud/v1` calls of `linkplane cloud` through `linkplane-client`: the operator token
//! as the credential, `--as` as the principal, answers as JSON values, errors worded as
//! `Title (status): detail`.

use std::io::{IsTerminal, Read};
use std::time::Duration;

use anyhow::{Context as _, bail};
use linkplane_client::{Client, Error, Method};
use linkplane_localcloud::api::{decode_bytes, encode_bytes};
use serde_json::{Value, json};

use super::Outcome;
use super::args::CloudArgs;

/// localcloud's API as one principal.
pub struct CloudApi {
    client: Client,
    /// The base URL as given, for messages.
    base: String,
}

/// The operator token: --cloud-token / LINKPLANE_CLOUD_TOKEN, else the first of
/// --cloud-token-file, `$LINKPLANE_DATA_DIR/cloud.token`, `./.linkplane/cloud.token`.
pub fn operator_token(args: &CloudArgs) -> anyhow::Result<String> {
    if let Some(t) = &args.cloud_token {
        let t = t.trim();
        if t.is_empty() {
            bail!("--cloud-token / LINKPLANE_CLOUD_TOKEN is empty");
        }
        return Ok(t.to_string());
    }
    let path = match &args.cloud_token_file {
        Some(p) => p.clone(),
        None => std::env::var_os("LINKPLANE_DATA_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::PathBuf::from("./.linkplane"))
            .join(linkplane_localcloud::TOKEN_FILE),
    };
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read the localcloud operator token from {}: `linkplane serve` writes it to \
             <data-dir>/cloud.token; pass --cloud-token-file PATH (or LINKPLANE_CLOUD_TOKEN)",
            path.display()
        )
    })?;
    let t = text.trim();
    if t.is_empty() {
        bail!(
            "{} is empty: it should hold the localcloud operator token",
            path.display()
        );
    }
    Ok(t.to_string())
}

/// The owning account named by localcloud's refusal (`… it belongs to account 111122223333`).
pub fn owner_in(detail: &str) -> Option<&str> {
    let (_, rest) = detail.rsplit_once("belongs to account ")?;
    let owner = rest.get(..12)?;
    owner.bytes().all(|b| b.is_ascii_digit()).then_some(owner)
}

impl CloudApi {
    pub fn new(url: &str, principal: &str, token: String) -> anyhow::Result<Self> {
        linkplane_localcloud::Principal::parse(principal)
            .map_err(|e| anyhow::anyhow!("--as: {e}"))?;
        let client = Client::builder(url)
            .token(token)
            .principal(principal)
            // `exec` and `instance run` may take up to an hour (their --timeout).
            .timeout(Duration::from_secs(3700))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| anyhow::anyhow!("--url {e}"))?;
        Ok(Self {
            client,
            base: url.trim_end_matches('/').to_string(),
        })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut call = self.client.cloud().call(method.clone(), path);
        if let Some(b) = body {
            call = call.json(b);
        }
        match call.send().await {
            Ok(reply) => Ok(reply.body),
            Err(e) => Err(self.error(&method, path, e)),
        }
    }

    /// The error as `linkplane cloud` words it.
    fn error(&self, method: &Method, path: &str, e: Error) -> anyhow::Error {
        let url = format!("{}/cloud/v1{path}", self.base);
        match &e {
            Error::Status { status, .. } => match e.problem().and_then(|p| p.detail.as_deref()) {
                Some(detail) => {
                    let hint = match owner_in(detail) {
                        Some(owner) if status.as_u16() == 403 => format!(
                            "\nhint: act as its owner: linkplane cloud --as arn:aws:iam::{owner}:root … \
                             (or export LINKPLANE_CLOUD_PRINCIPAL=arn:aws:iam::{owner}:root)"
                        ),
                        _ => String::new(),
                    };
                    anyhow::anyhow!(
                        "{} ({}): {detail}{hint}",
                        e.problem()
                            .and_then(|p| p.title.as_deref())
                            .unwrap_or("error"),
                        status.as_u16()
                    )
                }
                None => anyhow::anyhow!(
                    "{method} {url}: HTTP {}: {}",
                    status.as_u16(),
                    e.detail().unwrap_or_default().trim()
                ),
            },
            Error::Unreachable { .. } => anyhow::Error::new(e).context(format!(
                "cannot reach localcloud at {}: is `linkplane serve` running there? (set --url or LINKPLANE_URL)",
                self.base
            )),
            _ => anyhow::Error::new(e).context(format!("{method} {url}: not JSON")),
        }
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Outcome> {
        Ok(Outcome::Value(self.call(Method::GET, path, None).await?))
    }
    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Outcome> {
        Ok(Outcome::Value(
            self.call(Method::POST, path, Some(body)).await?,
        ))
    }
    pub async fn patch(&self, path: &str, body: Value) -> anyhow::Result<Outcome> {
        Ok(Outcome::Value(
            self.call(Method::PATCH, path, Some(body)).await?,
        ))
    }
    /// A DELETE with a body that names what goes (a VPC, a record set): the answer shown.
    pub async fn delete_with(&self, path: &str, body: Option<Value>) -> anyhow::Result<Outcome> {
        Ok(Outcome::Value(self.call(Method::DELETE, path, body).await?))
    }
    pub async fn delete(&self, path: &str, what: &str) -> anyhow::Result<Outcome> {
        let v = self.call(Method::DELETE, path, None).await?;
        Ok(if v.is_null() {
            Outcome::Done(format!("deleted {what}"))
        } else {
            Outcome::Value(v)
        })
    }

    pub async fn exec(
        &self,
        path: &str,
        command: &[String],
        timeout: u64,
    ) -> anyhow::Result<Outcome> {
        let mut stdin = Vec::new();
        if !std::io::stdin().is_terminal() {
            std::io::stdin()
                .read_to_end(&mut stdin)
                .context("read standard input")?;
        }
        let v = self
            .call(
                Method::POST,
                path,
                Some(json!({"command": command, "stdin": encode_bytes(&stdin), "timeoutSeconds": timeout})),
            )
            .await?;
        let field = |k: &str| -> Vec<u8> {
            v.get(k)
                .and_then(Value::as_str)
                .and_then(decode_bytes)
                .unwrap_or_default()
        };
        Ok(Outcome::Exec {
            code: v.get("exitCode").and_then(Value::as_i64).unwrap_or(1) as i32,
            stdout: field("stdout"),
            stderr: field("stderr"),
        })
    }
}
