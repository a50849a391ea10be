//! An agent token whose deployment is deleted: while the deletion is in progress (a
//! finalizer holds it) register and heartbeat answer 410 Gone, which the agent treats as the
//! end (exit 2), not 403, which it retries for ever; once the deployment is purged its
//! tokens are gone with it and the answer is 401.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use linkplane_model::ResourceId;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_deleted_deployment_is_410_to_its_agents_then_401() {
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let dep = s
        .post(
            &s.org_path("/deployments"),
            json!({"name":"etl","clusterId": cl}),
        )
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tp = s.org_path(&format!("/deployments/{dep}/agent-tokens"));
    let token = s.post(&tp, json!({"name": "agent"})).await.ok(201)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let report = json!({"name":"a1","hostname":"h","version":"0.1.0","queues":["default"]});
    let agent = s
        .call(
            Method::POST,
            "/v1/agents/register",
            &token,
            Some(report.clone()),
        )
        .await
        .ok(201)["agentId"]
        .as_str()
        .unwrap()
        .to_owned();
    // A finalizer (as a provider's would) keeps the deployment DELETING after the DELETE.
    let dep_id = ResourceId::parse(&dep).unwrap();
    s.store()
        .add_finalizer(&dep_id, "linkplane.dev/test-hold")
        .await
        .unwrap();
    let del = s
        .call(
            Method::DELETE,
            &s.org_path(&format!("/deployments/{dep}")),
            &s.token.clone(),
            None,
        )
        .await;
    assert_eq!(del.status.as_u16(), 202, "{}", del.text);
    for path in [
        "/v1/agents/register".to_owned(),
        format!("/v1/agents/{agent}/heartbeat"),
    ] {
        let r = s
            .call(Method::POST, &path, &token, Some(report.clone()))
            .await;
        assert!(r.problem(410).is_empty());
        assert_eq!(r.body["type"], "urn:linkplane:problem:gone", "{}", r.text);
        assert_eq!(
            r.body["detail"],
            format!("deployment {dep} of this agent token was deleted; stop this agent")
        );
    }
    // Purged: the token went with it.
    s.store()
        .remove_finalizer(&dep_id, "linkplane.dev/test-hold")
        .await
        .unwrap();
    s.call(Method::POST, "/v1/agents/register", &token, Some(report))
        .await
        .problem(401);
}
