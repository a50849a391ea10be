//! Deployments, their agent tokens and their agents. Members may manage deployments and
//! agent tokens; network changes stay with owners.

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use linkplane_model::*;
use linkplane_store::{NewToken, StoreError, TokenKind, TokenRecord, hash_token};

use super::*;
use crate::extract::{IfMatchHeader, JsonBody, Pagination, PathIds};
use crate::problem::Problem;
use crate::state::new_token_secret;
use crate::views;

fn deployment_view(
    state: &AppState,
) -> impl Fn(&Document) -> linkplane_store::Result<views::Deployment> + '_ {
    move |d| views::Deployment::of(d, &state.config.base_domain)
}

#[utoipa::path(get, path = "/v1/organizations/{organizationId}/deployments", tag = "deployments",
    params(("organizationId" = String, Path), crate::extract::ListParams),
    responses((status = 200, body = views::DeploymentList),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_deployments(
    State(state): State<AppState>,
    p: Principal,
    PathIds(org): PathIds<String>,
    Pagination(page): Pagination,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let page = state
        .store
        .list_documents(ResourceKind::Deployment, &org, None, &page)
        .await?;
    let view = deployment_view(&state);
    ok_json(&views::DeploymentList {
        items: page.items.iter().map(view).collect::<Result<_, _>>()?,
        next_cursor: page.next_cursor,
    })
}

#[utoipa::path(post, path = "/v1/organizations/{organizationId}/deployments", tag = "deployments",
    params(("organizationId" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateDeploymentRequest,
    responses((status = 201, body = views::Deployment),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_deployment(
    State(state): State<AppState>,
    p: Principal,
    PathIds(org): PathIds<String>,
    OriginalUri(uri): OriginalUri,
    key: IdempotencyKey,
    body: JsonBody<CreateDeploymentRequest>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let req = CreateRequest::new(org.clone(), &uri, &key, &body.body_hash);
    if let Some(r) = req.replay(&state).await? {
        return Ok(r);
    }
    let spec = body.value.validate()?;
    let cluster = state
        .store
        .get_document(ResourceKind::Cluster, &org, &spec.cluster_id)
        .await?
        .ok_or_else(|| {
            ApiError::invalid(
                "clusterId",
                format!(
                    "there is no cluster {} in this organization",
                    spec.cluster_id
                ),
            )
        })?;
    let new = new_document(
        Draft {
            kind: ResourceKind::Deployment,
            spec: to_value(&spec)?,
            status: to_value(&DeploymentObserved::default())?,
            secret: None,
            unique_key: None,
        },
        &org,
        Some(&cluster.id),
    );
    let doc = Document::initial(&new);
    let body = to_json(&deployment_view(&state)(&doc)?)?;
    let guard = ParentGuard {
        kind: ResourceKind::Cluster,
        id: cluster.id.clone(),
        child_version: None,
    };
    let rec = req.record(StatusCode::CREATED, &body);
    match state
        .store
        .create_documents(std::slice::from_ref(&new), Some(&guard), rec.as_ref())
        .await
    {
        Ok(_) => Ok(json_response(
            StatusCode::CREATED,
            body,
            Some(doc.etag()),
            Some(format!("{}/{}", uri.path(), doc.id)),
        )),
        Err(StoreError::IdempotencyKeyTaken) => req.replay_after_race(&state).await,
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/v1/organizations/{organizationId}/deployments/{deploymentId}", tag = "deployments",
    params(("organizationId" = String, Path), ("deploymentId" = String, Path)),
    responses((status = 200, body = views::Deployment, headers(("ETag" = String))),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_deployment(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, id)): PathIds<(String, String)>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let d = load(&state, ResourceKind::Deployment, &org, &id).await?;
    ok_doc(&deployment_view(&state)(&d)?, &d)
}

#[utoipa::path(patch, path = "/v1/organizations/{organizationId}/deployments/{deploymentId}", tag = "deployments",
    params(("organizationId" = String, Path), ("deploymentId" = String, Path),
           ("If-Match" = Option<String>, Header)),
    request_body = UpdateDeploymentRequest,
    responses((status = 200, body = views::Deployment),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn update_deployment(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, id)): PathIds<(String, String)>,
    if_match: IfMatchHeader,
    body: JsonBody<UpdateDeploymentRequest>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let mut tries = 0;
    loop {
        tries += 1;
        let d = load(&state, ResourceKind::Deployment, &org, &id).await?;
        let expected = if_match.generation(&d.id)?;
        if expected.is_some_and(|g| g != d.generation) {
            return Err(StoreError::PreconditionFailed {
                current: d.generation,
            }
            .into());
        }
        let spec: DeploymentSpec = d.spec_as()?;
        let new_spec = body.value.apply(&spec)?;
        let r = state
            .store
            .update_document(
                ResourceKind::Deployment,
                &org,
                &d.id,
                Some(d.generation),
                &to_value(&new_spec)?,
                None,
                Utc::now(),
            )
            .await;
        match r {
            Err(StoreError::PreconditionFailed { .. }) if expected.is_none() && tries < 5 => {}
            r => {
                let u = r?;
                return ok_doc(&deployment_view(&state)(&u)?, &u);
            }
        }
    }
}

/// Delete a deployment with its agents and agent tokens.
#[utoipa::path(delete, path = "/v1/organizations/{organizationId}/deployments/{deploymentId}", tag = "deployments",
    params(("organizationId" = String, Path), ("deploymentId" = String, Path),
           ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted"),
              (status = 202, body = views::Deployment, description = "Deletion in progress"),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn delete_deployment(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, id)): PathIds<(String, String)>,
    if_match: IfMatchHeader,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let d = load(&state, ResourceKind::Deployment, &org, &id).await?;
    let out = state
        .store
        .delete_document(
            ResourceKind::Deployment,
            &org,
            &d.id,
            if_match.generation(&d.id)?,
            &[],
            Utc::now(),
        )
        .await?;
    deleted(out, deployment_view(&state))
}

// ------------------------------------------------------------------------ agent tokens

#[utoipa::path(get, path = "/v1/organizations/{organizationId}/deployments/{deploymentId}/agent-tokens", tag = "agents",
    params(("organizationId" = String, Path), ("deploymentId" = String, Path), crate::extract::ListParams),
    responses((status = 200, body = views::AgentTokenList),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_agent_tokens(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, dep)): PathIds<(String, String)>,
    Pagination(page): Pagination,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let d = load(&state, ResourceKind::Deployment, &org, &dep).await?;
    let page = state
        .store
        .list_tokens(&org, TokenKind::Agent, Some(&d.id), &page)
        .await?;
    ok_json(&views::AgentTokenList {
        items: page
            .items
            .iter()
            .map(views::AgentToken::of)
            .collect::<Result<_, _>>()?,
        next_cursor: page.next_cursor,
    })
}

/// Create an agent token for the deployment (shown once; at most 50 unrevoked).
#[utoipa::path(post, path = "/v1/organizations/{organizationId}/deployments/{deploymentId}/agent-tokens", tag = "agents",
    params(("organizationId" = String, Path), ("deploymentId" = String, Path),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateAgentTokenRequest,
    responses((status = 201, body = views::CreatedAgentToken),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_agent_token(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, dep)): PathIds<(String, String)>,
    OriginalUri(uri): OriginalUri,
    key: IdempotencyKey,
    body: JsonBody<CreateAgentTokenRequest>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let req = CreateRequest::new(org.clone(), &uri, &key, &body.body_hash);
    if let Some(r) = req.replay(&state).await? {
        return Ok(r);
    }
    let name = body.value.validate()?;
    let d = load(&state, ResourceKind::Deployment, &org, &dep).await?;
    let secret = new_token_secret("lpag");
    let new = NewToken {
        id: new_id(ResourceKind::AgentToken),
        kind: TokenKind::Agent,
        org_id: org,
        scope_id: Some(d.id.clone()),
        name: name.as_str().to_owned(),
        role: None,
        token_hash: hash_token(&secret),
        created_at: Utc::now(),
    };
    let view = views::AgentToken::of(&TokenRecord::initial(&new))?;
    let stored = to_json(&views::CreatedAgentToken {
        agent_token: view.clone(),
        token: None,
    })?;
    let rec = req.record(StatusCode::CREATED, &stored);
    match state
        .store
        .create_token(&new, Some(MAX_AGENT_TOKENS_PER_DEPLOYMENT), rec.as_ref())
        .await
    {
        Ok(_) => {}
        Err(StoreError::IdempotencyKeyTaken) => return req.replay_after_race(&state).await,
        Err(StoreError::LimitReached(_)) => {
            return Err(ApiError::Conflict(format!(
                "deployment {dep} already has {MAX_AGENT_TOKENS_PER_DEPLOYMENT} unrevoked agent tokens; revoke one first"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(json_response(
        StatusCode::CREATED,
        to_json(&views::CreatedAgentToken {
            agent_token: view,
            token: Some(secret),
        })?,
        None,
        Some(format!("{}/{}", uri.path(), new.id)),
    ))
}

async fn load_agent_token(
    state: &AppState,
    org: &ResourceId,
    dep: &str,
    id: &str,
) -> ApiResult<TokenRecord> {
    let d = load(state, ResourceKind::Deployment, org, dep).await?;
    let tid = path_id(id, ResourceKind::AgentToken)?;
    state
        .store
        .get_token(org, TokenKind::Agent, &tid)
        .await?
        .filter(|t| t.scope_id.as_ref() == Some(&d.id))
        .ok_or_else(|| ApiError::not_found(format!("agent token {id}")))
}

#[utoipa::path(get, path = "/v1/organizations/{organizationId}/deployments/{deploymentId}/agent-tokens/{tokenId}", tag = "agents",
    params(("organizationId" = String, Path), ("deploymentId" = String, Path), ("tokenId" = String, Path)),
    responses((status = 200, body = views::AgentToken),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_agent_token(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, dep, id)): PathIds<(String, String, String)>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let t = load_agent_token(&state, &org, &dep, &id).await?;
    ok_json(&views::AgentToken::of(&t)?)
}

/// Revoke an agent token: the agent's next call fails with 401.
#[utoipa::path(delete, path = "/v1/organizations/{organizationId}/deployments/{deploymentId}/agent-tokens/{tokenId}", tag = "agents",
    params(("organizationId" = String, Path), ("deploymentId" = String, Path), ("tokenId" = String, Path)),
    responses((status = 200, body = views::AgentToken, description = "Revoked"),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn revoke_agent_token(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, dep, id)): PathIds<(String, String, String)>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let t = load_agent_token(&state, &org, &dep, &id).await?;
    let r = state
        .store
        .revoke_token(&org, TokenKind::Agent, &t.id, Utc::now())
        .await?;
    ok_json(&views::AgentToken::of(&r)?)
}

#[utoipa::path(get, path = "/v1/organizations/{organizationId}/deployments/{deploymentId}/agents", tag = "agents",
    params(("organizationId" = String, Path), ("deploymentId" = String, Path), crate::extract::ListParams),
    responses((status = 200, body = views::AgentList),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_agents(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, dep)): PathIds<(String, String)>,
    Pagination(page): Pagination,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let d = load(&state, ResourceKind::Deployment, &org, &dep).await?;
    let page = state
        .store
        .list_documents(ResourceKind::Agent, &org, Some(&d.id), &page)
        .await?;
    let now = Utc::now();
    let every = state.heartbeat_interval();
    ok_json(&views::AgentList {
        items: page
            .items
            .iter()
            .map(|a| views::Agent::of(a, now, every))
            .collect::<Result<_, _>>()?,
        next_cursor: page.next_cursor,
    })
}
