//! The two APIs `up` drives, through `linkplane-client`, and waiting for a state.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use linkplane_client::{Client, Method};
use serde_json::Value;

/// One API of the server through `linkplane-client`: `/v1/organizations/{org}` with an API
/// token, or `/cloud/v1` with the operator token as the customer's principal. Paths are
/// relative to it; answers are JSON values.
#[derive(Clone)]
pub(super) struct Api {
    pub(super) client: Client,
    /// `/v1/organizations/{org}`, or `None` for `/cloud/v1`.
    pub(super) prefix: Option<String>,
}

impl Api {
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut call = match &self.prefix {
            Some(prefix) => self
                .client
                .call_path(method.clone(), &format!("{prefix}{path}")),
            None => self.client.cloud().call(method.clone(), path),
        };
        if let Some(b) = body {
            call = call.json(b);
        }
        match call.send().await {
            Ok(reply) => Ok(reply.body),
            Err(e @ linkplane_client::Error::Status { .. }) => {
                let code = e.status().map_or(0, |s| s.as_u16());
                bail!(
                    "{method} {path} answered {code}: {}",
                    e.detail().unwrap_or_default().trim()
                )
            }
            Err(e @ linkplane_client::Error::Unreachable { .. }) => Err(anyhow::Error::new(e)
                .context(format!(
                    "{method} {}{path}: cannot reach the control plane",
                    self.client.base_url()
                ))),
            Err(e) => Err(anyhow::Error::new(e).context(format!("{method} {path}: not JSON"))),
        }
    }

    pub(super) async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None).await
    }

    pub(super) async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Items of a list: `{"items":[…]}` on `/v1`, a bare array on `/cloud/v1`.
    pub(super) async fn list(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let v = self.get(path).await?;
        let items = v.get("items").cloned().unwrap_or(v);
        match items {
            Value::Array(a) => Ok(a),
            other => bail!("GET {path}: expected a list, got {other}"),
        }
    }
}

pub(super) fn text(v: &Value, key: &str) -> anyhow::Result<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the answer has no {key:?}: {v}"))
}

pub(super) fn field_is(v: &Value, key: &str, want: &str) -> bool {
    v.get(key).and_then(Value::as_str) == Some(want)
}

pub(super) fn find_by<'a>(items: &'a [Value], key: &str, want: &str) -> Option<&'a Value> {
    items.iter().find(|i| field_is(i, key, want))
}

/// First and longest pause between two probes of [`until`].
pub(super) const POLL_FIRST: Duration = Duration::from_millis(100);

pub(super) const POLL_MAX: Duration = Duration::from_secs(1);

/// The pause after `previous`: half as long again, up to [`POLL_MAX`].
pub(super) fn next_poll(previous: Duration) -> Duration {
    previous.saturating_add(previous / 2).min(POLL_MAX)
}

/// Polls `probe` until it returns `Some`, or fails after `timeout`: at once, then after
/// 100 ms, each pause half as long again as the last, up to 1 s. A state that is about to
/// change is seen within ~100 ms; a long wait costs about one request a second.
pub(super) async fn until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    mut probe: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let start = Instant::now();
    let mut pause = POLL_FIRST;
    loop {
        if let Some(t) = probe().await? {
            return Ok(t);
        }
        if start.elapsed() > timeout {
            bail!("{what}: still not there after {}s", timeout.as_secs());
        }
        tokio::time::sleep(pause).await;
        pause = next_poll(pause);
    }
}
