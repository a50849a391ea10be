//! Organizations and API tokens.

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use linkplane_model::{CreateApiTokenRequest, ResourceKind};
use linkplane_store::{NewToken, StoreError, TokenKind, TokenRecord, hash_token};

use super::*;
use crate::extract::{JsonBody, Pagination, PathIds};
use crate::problem::Problem;
use crate::state::new_token_secret;
use crate::views;

/// Organizations visible to the token (its own).
#[utoipa::path(get, path = "/v1/organizations", tag = "organizations",
    params(crate::extract::ListParams),
    responses((status = 200, body = views::OrganizationList),
              (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_organizations(
    State(state): State<AppState>,
    p: Principal,
    Pagination(_page): Pagination,
) -> ApiResult<Response> {
    let org = state
        .store
        .get_organization(&p.org_id)
        .await?
        .ok_or_else(|| {
            ApiError::Unauthorized("the token's organization no longer exists".into())
        })?;
    ok_json(&views::OrganizationList {
        items: vec![org],
        next_cursor: None,
    })
}

#[utoipa::path(get, path = "/v1/organizations/{organizationId}", tag = "organizations",
    params(("organizationId" = String, Path)),
    responses((status = 200, body = linkplane_model::Organization),
              (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_organization(
    State(state): State<AppState>,
    p: Principal,
    PathIds(org): PathIds<String>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let o = state
        .store
        .get_organization(&org)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("organization {org}")))?;
    ok_json(&o)
}

#[utoipa::path(get, path = "/v1/organizations/{organizationId}/api-tokens", tag = "api-tokens",
    params(("organizationId" = String, Path), crate::extract::ListParams),
    responses((status = 200, body = views::ApiTokenList),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_api_tokens(
    State(state): State<AppState>,
    p: Principal,
    PathIds(org): PathIds<String>,
    Pagination(page): Pagination,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let page = state
        .store
        .list_tokens(&org, TokenKind::Api, None, &page)
        .await?;
    ok_json(&views::ApiTokenList {
        items: page.items.iter().map(views::ApiToken::of).collect(),
        next_cursor: page.next_cursor,
    })
}

#[utoipa::path(post, path = "/v1/organizations/{organizationId}/api-tokens", tag = "api-tokens",
    params(("organizationId" = String, Path),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe creation")),
    request_body = CreateApiTokenRequest,
    responses((status = 201, body = views::CreatedApiToken, description = "The token, shown once"),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_api_token(
    State(state): State<AppState>,
    p: Principal,
    PathIds(org): PathIds<String>,
    OriginalUri(uri): OriginalUri,
    key: IdempotencyKey,
    body: JsonBody<CreateApiTokenRequest>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    p.require_owner()?;
    let req = CreateRequest::new(org.clone(), &uri, &key, &body.body_hash);
    if let Some(r) = req.replay(&state).await? {
        return Ok(r);
    }
    let (name, role) = body.value.validate()?;
    let secret = new_token_secret("lpat");
    let new = NewToken {
        id: new_id(ResourceKind::ApiToken),
        kind: TokenKind::Api,
        org_id: org,
        scope_id: None,
        name: name.as_str().to_owned(),
        role: Some(role),
        token_hash: hash_token(&secret),
        created_at: Utc::now(),
    };
    let view = views::ApiToken::of(&TokenRecord::initial(&new));
    // The replay copy never holds the secret.
    let stored = to_json(&views::CreatedApiToken {
        api_token: view.clone(),
        token: None,
    })?;
    let rec = req.record(StatusCode::CREATED, &stored);
    match state.store.create_token(&new, None, rec.as_ref()).await {
        Ok(_) => {}
        Err(StoreError::IdempotencyKeyTaken) => return req.replay_after_race(&state).await,
        Err(e) => return Err(e.into()),
    }
    let body = to_json(&views::CreatedApiToken {
        api_token: view,
        token: Some(secret),
    })?;
    Ok(json_response(
        StatusCode::CREATED,
        body,
        None,
        Some(format!("{}/{}", uri.path(), new.id)),
    ))
}

#[utoipa::path(get, path = "/v1/organizations/{organizationId}/api-tokens/{tokenId}", tag = "api-tokens",
    params(("organizationId" = String, Path), ("tokenId" = String, Path)),
    responses((status = 200, body = views::ApiToken),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_api_token(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, id)): PathIds<(String, String)>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let tid = path_id(&id, ResourceKind::ApiToken)?;
    let t = state
        .store
        .get_token(&org, TokenKind::Api, &tid)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("API token {id}")))?;
    ok_json(&views::ApiToken::of(&t))
}

/// Revoke an API token (it stays listed with `revokedAt`).
#[utoipa::path(delete, path = "/v1/organizations/{organizationId}/api-tokens/{tokenId}", tag = "api-tokens",
    params(("organizationId" = String, Path), ("tokenId" = String, Path)),
    responses((status = 200, body = views::ApiToken, description = "Revoked"),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn revoke_api_token(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, id)): PathIds<(String, String)>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    p.require_owner()?;
    let tid = path_id(&id, ResourceKind::ApiToken)?;
    let t = state
        .store
        .revoke_token(&org, TokenKind::Api, &tid, Utc::now())
        .await?;
    ok_json(&views::ApiToken::of(&t))
}
