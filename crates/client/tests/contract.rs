//! The client's typed `/v1` answers against the real API (`linkplane-api`'s router on
//! 127.0.0.1 with a temporary store): every typed call decodes what the server sends, so the
//! client's response types cannot drift from the served ones unnoticed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use linkplane_client::v1::{AgentReport, CreatedAgentToken, Optional as _};
use linkplane_client::{Client, Method};
use linkplane_model::{AgentStatus, ClusterStatus};
use serde_json::json;

struct Api {
    client: Client,
    base: String,
    org: String,
    _dir: tempfile::TempDir,
    _task: tokio::task::JoinHandle<()>,
}

async fn start() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let (state, boot) = linkplane_api::open(dir.path(), linkplane_api::Config::default())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = linkplane_api::router(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let client = Client::builder(&base)
        .token(boot.new_admin_token.unwrap())
        .build()
        .unwrap();
    Api {
        client,
        base,
        org: boot.organization_id.to_string(),
        _dir: dir,
        _task: task,
    }
}

#[tokio::test]
async fn typed_answers_decode_what_the_api_serves() {
    let api = start().await;
    let (c, org) = (&api.client, api.org.as_str());

    assert!(c.healthy().await);
    let orgs = c.organizations().await.unwrap();
    assert_eq!(orgs.items.len(), 1);
    assert_eq!(orgs.items[0].id.as_str(), org);

    let created = c
        .call(Method::POST, &["v1", "organizations", org, "clusters"])
        .json(
            json!({"name": "prod", "cloudProvider": "AWS", "type": "DEDICATED",
                     "region": "us-east-1", "vpcSubnetRange": "10.20.0.0/16"}),
        )
        .idempotency_key(None)
        .send()
        .await
        .unwrap();
    let cluster_id = created.body["id"].as_str().unwrap().to_owned();
    let cluster = c.cluster(org, &cluster_id).await.unwrap();
    assert_eq!(cluster.meta.id.as_str(), cluster_id);
    assert_eq!(cluster.spec.name.to_string(), "prod");
    assert_eq!(cluster.observed.status, ClusterStatus::Creating);
    assert!(cluster.host_name.starts_with(&cluster_id));
    assert_eq!(c.clusters(org).await.unwrap().items.len(), 1);

    let dep = c
        .call(Method::POST, &["v1", "organizations", org, "deployments"])
        .json(json!({"name": "etl", "clusterId": cluster_id}))
        .send()
        .await
        .unwrap();
    let dep_id = dep.body["id"].as_str().unwrap().to_owned();
    let deployment = c.deployment(org, &dep_id).await.unwrap();
    assert_eq!(deployment.spec.cluster_id.as_str(), cluster_id);
    assert!(deployment.api_url.ends_with(&dep_id));
    assert_eq!(c.deployments(org).await.unwrap().items.len(), 1);

    // No endpoint service yet: a 404, which `optional` makes `None`.
    assert!(
        c.private_link(org, &cluster_id)
            .await
            .optional()
            .unwrap()
            .is_none()
    );
    c.call(
        Method::PUT,
        &[
            "v1",
            "organizations",
            org,
            "clusters",
            &cluster_id,
            "private-link",
        ],
    )
    .json(json!({"allowedPrincipals": ["*"]}))
    .send()
    .await
    .unwrap();
    let pl = c.private_link(org, &cluster_id).await.unwrap();
    assert_eq!(pl.cluster_id.as_str(), cluster_id);
    // No provider runs here: no name yet, and the reason decodes.
    assert_eq!(pl.service_name, None);
    assert!(
        pl.service_name_reason
            .unwrap()
            .contains("not provisioned yet")
    );
    assert!(!pl.availability_zones.is_empty());
    assert!(
        c.endpoint_connections(org, &cluster_id)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let token: CreatedAgentToken = c
        .call(
            Method::POST,
            &[
                "v1",
                "organizations",
                org,
                "deployments",
                &dep_id,
                "agent-tokens",
            ],
        )
        .json(json!({"name": "agents"}))
        .send_json()
        .await
        .unwrap();
    assert_eq!(token.agent_token.deployment_id.as_str(), dep_id);
    assert_eq!(c.agent_tokens(org, &dep_id).await.unwrap().items.len(), 1);

    let agent = Client::builder(&api.base)
        .token(token.token.unwrap())
        .build()
        .unwrap();
    let report = AgentReport {
        name: "etl-agent-1".into(),
        hostname: "host-1".into(),
        version: "0.1.0".into(),
        queues: vec!["default".into()],
    };
    let registered = agent.register_agent(&report).await.unwrap();
    assert_eq!(registered.deployment_id.as_str(), dep_id);
    assert!(registered.heartbeat_interval_seconds > 0);
    let ack = agent
        .heartbeat(registered.agent_id.as_str(), &report)
        .await
        .unwrap();
    assert_eq!(
        ack.heartbeat_interval_seconds,
        registered.heartbeat_interval_seconds
    );
    let agents = c.agents(org, &dep_id).await.unwrap();
    assert_eq!(agents.items.len(), 1);
    assert_eq!(agents.items[0].meta.id, registered.agent_id);
    assert_eq!(agents.items[0].status, AgentStatus::Healthy);

    // A refused token is a typed 401 with the problem document.
    let stranger = Client::builder(&api.base)
        .token("lp_not-a-token")
        .build()
        .unwrap();
    let err = stranger.organizations().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert!(err.problem().is_some_and(|p| p.status == Some(401)));
}
