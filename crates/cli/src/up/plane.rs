//! The steps on the control plane (`/v1`): cluster, deployment, agent token, PrivateLink
//! service, accepting the endpoint, the agent's health.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::bail;
use linkplane_client::Method;
use serde_json::{Value, json};

use super::*;

pub(super) async fn cluster(
    plane: &Api,
    s: &mut State,
    timeout: Duration,
) -> anyhow::Result<((), String)> {
    let existing = plane.list("/clusters").await?;
    let (id, created) = match find_by(&existing, "name", CLUSTER_NAME) {
        Some(c) => (text(c, "id")?, false),
        None => {
            let c = plane
                .post(
                    "/clusters",
                    json!({"name": CLUSTER_NAME, "cloudProvider": "LOCAL", "type": "DEDICATED",
                           "region": "us-east-1", "vpcSubnetRange": CLUSTER_CIDR}),
                )
                .await?;
            (text(&c, "id")?, true)
        }
    };
    let path = format!("/clusters/{id}");
    let c = until("cluster CREATED", timeout, || async {
        let c = plane.get(&path).await?;
        match c.get("status").and_then(Value::as_str) {
            Some("CREATED") => Ok(Some(c)),
            Some("CREATE_FAILED") => bail!(
                "cluster {id} CREATE_FAILED: {}",
                c.get("statusReason")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given")
            ),
            _ => Ok(None),
        }
    })
    .await?;
    s.external_ips = c
        .get("externalIps")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    s.cluster_id = id;
    Ok(((), format!("{} {} CREATED", s.cluster_id, made(created))))
}

pub(super) async fn deployment(plane: &Api, s: &mut State) -> anyhow::Result<((), String)> {
    let existing = plane.list("/deployments").await?;
    let found = existing
        .iter()
        .find(|d| field_is(d, "name", DEPLOYMENT_NAME) && field_is(d, "clusterId", &s.cluster_id));
    let (d, created) = match found {
        Some(d) => (d.clone(), false),
        None => (
            plane
                .post(
                    "/deployments",
                    json!({"name": DEPLOYMENT_NAME, "clusterId": s.cluster_id, "remoteExecution": {"enabled": true}}),
                )
                .await?,
            true,
        ),
    };
    s.deployment_id = text(&d, "id")?;
    s.api_url = text(&d, "apiUrl")?;
    s.host = s
        .api_url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_owned();
    Ok((
        (),
        format!("{} {}, {}", s.deployment_id, made(created), s.api_url),
    ))
}

/// The token is shown once: reuse the file while its token is live, else revoke and renew.
pub(super) async fn agent_token(
    plane: &Api,
    s: &State,
    file: &Path,
) -> anyhow::Result<((), String)> {
    let path = format!("/deployments/{}/agent-tokens", s.deployment_id);
    let tokens = plane.list(&path).await?;
    let live = tokens.iter().find(|t| {
        field_is(t, "name", AGENT_TOKEN_NAME) && t.get("revokedAt").is_none_or(Value::is_null)
    });
    if let Some(t) = live {
        let id = text(t, "id")?;
        if file.exists() {
            return Ok(((), format!("{id} exists ({})", file.display())));
        }
        plane
            .call(Method::DELETE, &format!("{path}/{id}"), None)
            .await?;
    }
    let created = plane.post(&path, json!({"name": AGENT_TOKEN_NAME})).await?;
    let token = text(&created, "token")?;
    let id = created
        .get("agentToken")
        .and_then(|t| t.get("id"))
        .or_else(|| created.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    write_private(file, &token)?;
    Ok((
        (),
        format!("{id} created, written to {} (0600)", file.display()),
    ))
}

pub(super) fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    writeln!(f, "{content}")?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

pub(super) async fn private_link(
    plane: &Api,
    s: &mut State,
    timeout: Duration,
) -> anyhow::Result<((), String)> {
    let path = format!("/clusters/{}/private-link", s.cluster_id);
    let current = plane.get(&path).await.ok();
    let has_customer = current
        .as_ref()
        .and_then(|c| c.get("allowedPrincipals"))
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|p| p.as_str() == Some(CUSTOMER_PRINCIPAL)));
    if !has_customer {
        plane
            .call(
                Method::PUT,
                &path,
                Some(json!({"allowedPrincipals": [CUSTOMER_PRINCIPAL]})),
            )
            .await?;
    }
    let plane_last = std::sync::Mutex::new(Value::Null);
    let pl = until("PrivateLink service AVAILABLE", timeout, || async {
        let pl = plane.get(&path).await?;
        if let Ok(mut last) = plane_last.lock() {
            *last = pl.clone();
        }
        match pl.get("status").and_then(Value::as_str) {
            Some("AVAILABLE") => Ok(Some(pl)),
            Some("FAILED") => bail!(
                "the PrivateLink service FAILED: {}",
                pl.get("statusReason")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given")
            ),
            _ => Ok(None),
        }
    })
    .await
    .map_err(|e| match last_status(&plane_last) {
        Some(st) => e.context(format!("the control plane reports it {st}")),
        None => e,
    })?;
    s.service_name = text(&pl, "serviceName")?;
    s.zones = pl
        .get("availabilityZones")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if s.zones.len() < 2 {
        bail!(
            "the service supports fewer than two availability zones: {:?}",
            s.zones
        );
    }
    Ok((
        (),
        format!(
            "{} in {} ({})",
            s.service_name,
            s.zones.join(", "),
            made(!has_customer)
        ),
    ))
}

pub(super) async fn accept(
    plane: &Api,
    cloud: &Api,
    s: &mut State,
    timeout: Duration,
) -> anyhow::Result<((), String)> {
    let path = format!("/clusters/{}/private-link/connections", s.cluster_id);
    let endpoint_id = s.endpoint_id.clone();
    let conn = until(
        "the endpoint's connection on the control plane",
        timeout,
        || async {
            let conns = plane.list(&path).await?;
            Ok(find_by(&conns, "cloudEndpointId", &endpoint_id).cloned())
        },
    )
    .await?;
    let id = text(&conn, "id")?;
    let accepted = if field_is(&conn, "status", "PENDING_ACCEPTANCE") {
        plane
            .post(&format!("{path}/{id}/accept"), json!({}))
            .await?;
        true
    } else {
        false
    };
    let e = until("the endpoint available", timeout, || async {
        let e = cloud.get(&format!("/vpc-endpoints/{endpoint_id}")).await?;
        match e.get("state").and_then(Value::as_str) {
            Some("available") => Ok(Some(e)),
            Some(st @ ("rejected" | "failed" | "deleted")) => {
                bail!("endpoint {endpoint_id} is {st}")
            }
            _ => Ok(None),
        }
    })
    .await?;
    endpoint_facts(s, &e)?;
    Ok((
        (),
        format!(
            "{id} {}, endpoint available",
            if accepted {
                "accepted"
            } else {
                "already accepted"
            }
        ),
    ))
}

pub(super) async fn agent_healthy(
    plane: &Api,
    s: &State,
    timeout: Duration,
) -> anyhow::Result<((), String)> {
    let path = format!("/deployments/{}/agents", s.deployment_id);
    let agent = until("agent HEALTHY", timeout, || async {
        let agents = plane.list(&path).await?;
        Ok(agents
            .into_iter()
            .find(|a| field_is(a, "name", AGENT_NAME) && field_is(a, "status", "HEALTHY")))
    })
    .await?;
    Ok(((), format!("{} HEALTHY", text(&agent, "id")?)))
}
