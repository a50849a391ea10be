//! What the API shows of provisioned resources: `DELETING` at once while their finalizers
//! run (issue 13 item 5), and a reconciler's `cloudResourceId` and `instructions` for
//! transit gateway attachments, VPN connections and outbound endpoints. Needs no root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::Method;
use common::Server;
use serde_json::json;

#[tokio::test]
async fn a_finalized_child_shows_deleting_and_a_reconcilers_instructions() {
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let path = s.org_path(&format!("/clusters/{cl}/transit-gateway-attachments"));
    let r = s
        .post(
            &path,
            json!({"name": "tgw", "transitGatewayId": "tgw-0123abcd",
                   "peerAccountId": "222222222222", "cidrs": ["10.95.0.0/16"]}),
        )
        .await;
    let id = r.ok(201)["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["status"], "PENDING");
    assert_eq!(r.body["instructions"], json!([]));
    // A reconciler records where it stands and what the customer has to run.
    let doc = s
        .store()
        .get_document_by_id(&id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let status = json!({
        "status": "PENDING",
        "statusReason": "waiting for the share",
        "cloudResourceId": "tgw-attach-0123abcd",
        "instructions": ["linkplane cloud --as arn:aws:iam::222222222222:root ram create-resource-share"],
    });
    s.store()
        .write_status(&doc.id, &status, doc.generation, chrono::Utc::now())
        .await
        .unwrap();
    s.store()
        .add_finalizer(&doc.id, "linkplane.dev/local-transit-gateway-attachment")
        .await
        .unwrap();
    let got = s.get(&format!("{path}/{id}")).await;
    let got = got.ok(200);
    assert_eq!(got["cloudResourceId"], "tgw-attach-0123abcd");
    assert_eq!(got["instructions"], status["instructions"]);
    // DELETE of a finalized resource only marks it: DELETING while the finalizer runs.
    let token = s.token_with_role("ORGANIZATION_OWNER").await;
    let del = s
        .call(Method::DELETE, &format!("{path}/{id}"), &token, None)
        .await;
    assert_eq!(del.status, 202, "{}", del.text);
    let got = s.get(&format!("{path}/{id}")).await;
    let got = got.ok(200);
    assert_eq!(got["status"], "DELETING", "{got}");
    assert!(got["deletionRequestedAt"].is_string(), "{got}");
}
