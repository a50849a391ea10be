//! The agent protocol (docs/AGENTS.md): Remote Execution Agents register and heartbeat with
//! a deployment-scoped agent token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use linkplane_model::*;
use linkplane_store::NewDocument;

use super::*;
use crate::extract::{AgentPrincipal, JsonBody, PathIds};
use crate::problem::Problem;
use crate::views::{self, AgentReport};

fn agent_spec(report: &AgentReport, token: &ResourceId) -> ApiResult<AgentSpec> {
    let mut v = Validator::new();
    let name = v.check("name", Name::parse(&report.name));
    let text = |field: &str, s: &str, v: &mut Validator| {
        if s.chars().count() > 255 || s.chars().any(char::is_control) {
            v.push(
                field,
                "must be at most 255 characters without control characters",
            );
        }
    };
    text("hostname", &report.hostname, &mut v);
    text("version", &report.version, &mut v);
    if report.queues.len() > 100 {
        v.push("queues", "at most 100 queues");
    }
    for (i, q) in report.queues.iter().enumerate() {
        text(&format!("queues[{i}]"), q, &mut v);
    }
    Ok(v.finish(|| {
        Some(AgentSpec {
            name: name?,
            hostname: report.hostname.clone(),
            version: report.version.clone(),
            queues: report.queues.clone(),
            agent_token_id: token.clone(),
        })
    })?)
}

/// The agent token's deployment; 410 once it is deleted or being deleted (the agent stops:
/// no retry can succeed).
async fn live_deployment(state: &AppState, a: &AgentPrincipal) -> ApiResult<Document> {
    state
        .store
        .get_document(ResourceKind::Deployment, &a.org_id, &a.deployment_id)
        .await?
        .filter(|d| d.deletion_requested_at.is_none())
        .ok_or_else(|| {
            ApiError::Gone(format!(
                "deployment {} of this agent token was deleted; stop this agent",
                a.deployment_id
            ))
        })
}

fn interval_secs(state: &AppState) -> u64 {
    state.config.heartbeat_interval.as_secs().max(1)
}

/// Register an agent (an agent with the same name in the deployment is re-used).
#[utoipa::path(post, path = "/v1/agents/register", tag = "agent-protocol",
    request_body = AgentReport,
    responses((status = 201, body = views::AgentRegistered),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn register(
    State(state): State<AppState>,
    a: AgentPrincipal,
    body: JsonBody<AgentReport>,
) -> ApiResult<Response> {
    let dep = live_deployment(&state, &a).await?;
    let spec = agent_spec(&body.value, &a.token_id)?;
    let existing = state
        .store
        .list_children(&a.org_id, &dep.id)
        .await?
        .into_iter()
        .find(|d| {
            d.kind == ResourceKind::Agent
                && d.spec_as::<AgentSpec>().is_ok_and(|s| s.name == spec.name)
        });
    let agent_id = match existing {
        Some(d) => {
            state
                .store
                .update_document(
                    ResourceKind::Agent,
                    &a.org_id,
                    &d.id,
                    None,
                    &to_value(&spec)?,
                    None,
                    Utc::now(),
                )
                .await?;
            d.id
        }
        None => {
            let new = NewDocument {
                unique_key: Some(format!("{}/{}", dep.id, spec.name)),
                ..new_document(
                    Draft {
                        kind: ResourceKind::Agent,
                        spec: to_value(&spec)?,
                        status: to_value(&AgentObserved::default())?,
                        secret: None,
                        unique_key: None,
                    },
                    &a.org_id,
                    Some(&dep.id),
                )
            };
            state
                .store
                .create_documents(std::slice::from_ref(&new), None, None)
                .await?;
            new.id
        }
    };
    Ok(json_response(
        StatusCode::CREATED,
        to_json(&views::AgentRegistered {
            agent_id,
            deployment_id: dep.id,
            heartbeat_interval_seconds: interval_secs(&state),
        })?,
        None,
        None,
    ))
}

#[utoipa::path(post, path = "/v1/agents/{agentId}/heartbeat", tag = "agent-protocol",
    params(("agentId" = String, Path)),
    request_body = AgentReport,
    responses((status = 200, body = views::HeartbeatAck),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn heartbeat(
    State(state): State<AppState>,
    a: AgentPrincipal,
    PathIds(agent_id): PathIds<String>,
    body: JsonBody<AgentReport>,
) -> ApiResult<Response> {
    let dep = live_deployment(&state, &a).await?;
    let d = load(&state, ResourceKind::Agent, &a.org_id, &agent_id).await?;
    if d.parent_id.as_ref() != Some(&dep.id) {
        return Err(ApiError::not_found(format!("agent {agent_id}")));
    }
    let spec = agent_spec(&body.value, &a.token_id)?;
    let mut d = d;
    // Two heartbeats of one agent at once may race (a status is written only for the
    // generation read): the loser reads again.
    for attempt in 0.. {
        match beat(&state, &a, d.clone(), &spec).await {
            Err(ApiError::Conflict(_)) if attempt < 3 => {
                d = load(&state, ResourceKind::Agent, &a.org_id, &agent_id).await?;
            }
            r => {
                r?;
                break;
            }
        }
    }
    ok_json(&views::HeartbeatAck {
        heartbeat_interval_seconds: interval_secs(&state),
    })
}

/// Record one heartbeat: the agent's report if it changed, then the time.
async fn beat(
    state: &AppState,
    a: &AgentPrincipal,
    mut d: Document,
    spec: &AgentSpec,
) -> ApiResult<()> {
    let current: AgentSpec = d.spec_as()?;
    if &current != spec {
        d = state
            .store
            .update_document(
                ResourceKind::Agent,
                &a.org_id,
                &d.id,
                None,
                &to_value(spec)?,
                None,
                Utc::now(),
            )
            .await?;
    }
    let observed = AgentObserved {
        last_heartbeat_at: Some(Utc::now()),
    };
    state
        .store
        .write_status(&d.id, &to_value(&observed)?, d.generation, Utc::now())
        .await?;
    Ok(())
}
