//! A real `serve`-equivalent server on 127.0.0.1:0 with a temporary data directory.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;

use chrono::Utc;
use linkplane_api::{AppState, Config};
use linkplane_model::{Name, Organization, ResourceKind, Role};
use linkplane_store::{NewToken, Store, TokenKind, hash_token};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub struct Server {
    pub base: String,
    pub token: String,
    pub org: String,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
    /// Assert an RFC 9457 problem with this status; return its `errors[].field`s.
    pub fn problem(&self, status: u16) -> Vec<String> {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        assert_eq!(self.body["status"], status, "{}", self.text);
        assert!(self.body["type"].is_string() && self.body["title"].is_string());
        assert!(self.body["detail"].is_string());
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["field"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        &self.body
    }
}

impl Server {
    pub async fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let (state, boot) = linkplane_api::open(dir.path(), Config::default())
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = linkplane_api::router(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base: format!("http://{addr}"),
            token: boot.new_admin_token.unwrap(),
            org: boot.organization_id.to_string(),
            state,
            dir,
            task,
            http: reqwest::Client::new(),
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.state.store.clone()
    }

    pub fn org_path(&self, rest: &str) -> String {
        format!("/v1/organizations/{}{rest}", self.org)
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.body(b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
        let hdrs: &[(&str, &str)] = if body.is_some() {
            &[("content-type", "application/json")]
        } else {
            &[]
        };
        self.raw(
            method,
            path,
            Some(token),
            hdrs,
            body.map(|b| serde_json::to_vec(&b).unwrap()),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, &self.token.clone(), None)
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, &self.token.clone(), Some(body))
            .await
    }

    /// Create a cluster and return its id.
    pub async fn cluster(&self, cluster_type: &str, cidr: &str) -> String {
        let r = self
            .post(
                &self.org_path("/clusters"),
                json!({"name": "c", "cloudProvider": "AWS", "type": cluster_type,
                       "region": "us-east-1", "vpcSubnetRange": cidr}),
            )
            .await;
        r.ok(201)["id"].as_str().unwrap().to_owned()
    }

    /// A token of a new role in this organization, created over the API.
    pub async fn token_with_role(&self, role: &str) -> String {
        let r = self
            .post(
                &self.org_path("/api-tokens"),
                json!({"name": "t", "role": role}),
            )
            .await;
        r.ok(201)["token"].as_str().unwrap().to_owned()
    }

    /// A second organization with an owner token, made directly in the store.
    pub async fn other_org(&self) -> (String, String) {
        let org = linkplane_api::new_id(ResourceKind::Organization);
        self.store()
            .create_organization(&Organization {
                id: org.clone(),
                name: Name::parse("other").unwrap(),
                created_at: Utc::now(),
            })
            .await
            .unwrap();
        let secret = linkplane_api::new_token_secret("lpat");
        self.store()
            .create_token(
                &NewToken {
                    id: linkplane_api::new_id(ResourceKind::ApiToken),
                    kind: TokenKind::Api,
                    org_id: org.clone(),
                    scope_id: None,
                    name: "other-owner".into(),
                    role: Some(Role::OrganizationOwner),
                    token_hash: hash_token(&secret),
                    created_at: Utc::now(),
                },
                None,
                None,
            )
            .await
            .unwrap();
        (org.to_string(), secret)
    }

    /// How many documents of every kind and tokens exist (for "nothing was stored").
    pub async fn census(&self) -> Vec<(ResourceKind, usize)> {
        let mut out = vec![];
        for k in ResourceKind::ALL {
            out.push((k, self.store().list_kind(k).await.unwrap().len()));
        }
        out
    }
}

pub fn peering_body(cidr: &str) -> Value {
    json!({"name": "analytics", "peerAccountId": "123456789012", "peerVpcId": "vpc-0a1b2c3d",
           "peerRegion": "us-east-1", "peerCidr": cidr})
}
