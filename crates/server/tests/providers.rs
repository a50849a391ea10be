//! The provider registry end to end: an AWS cluster is served by the `local` provider
//! (`--provider aws=local`, the default) and keeps its cloud; what the provider does not
//! implement yet says so in the resource's status instead of sitting in PENDING (a transit
//! gateway attachment, which it implements, waits for the share with its command); an AZURE
//! cluster the local provider cannot emulate is CREATE_FAILED with the reason.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

const MIN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_clusters_run_on_the_local_provider_and_unimplemented_capabilities_say_so() {
    if !linkplane_netns::testing::require_root("providers") {
        return;
    }
    let h = Harness::start(fast_config(Duration::from_secs(60))).await;

    let c = h
        .post(
            "/clusters",
            json!({"name": "aws", "cloudProvider": "AWS", "type": "DEDICATED",
                   "region": "us-east-1", "vpcSubnetRange": "10.61.0.0/16"}),
        )
        .await;
    let cid = s(&c, "id");
    let c = h
        .wait_status(&format!("/clusters/{cid}"), "CREATED", MIN)
        .await;
    assert_eq!(
        c["cloudProvider"], "AWS",
        "the cluster keeps its cloud: {c}"
    );
    assert_eq!(c["provider"], "local", "{c}");
    assert_eq!(c["externalIps"].as_array().unwrap().len(), 2, "{c}");
    let vpc = h.cluster_vpc(&cid).await;
    assert_eq!(vpc.cidr_block, "10.61.0.0/16");

    // "All Astro clusters are pre-configured with the following AWS PrivateLink endpoint
    // services": the local provider has no outbound endpoints yet, and each one says so.
    let (_, list) = h.get(&format!("/clusters/{cid}/outbound-endpoints")).await;
    let ids: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| s(e, "id"))
        .collect();
    assert_eq!(ids.len(), 6, "{list}");
    for id in &ids {
        let e = h
            .wait_status(
                &format!("/clusters/{cid}/outbound-endpoints/{id}"),
                "FAILED",
                MIN,
            )
            .await;
        assert_eq!(
            s(&e, "statusReason"),
            "the local provider does not implement outbound endpoints yet",
            "{e}"
        );
    }

    let tgw = h
        .post(
            &format!("/clusters/{cid}/transit-gateway-attachments"),
            json!({"name": "tgw", "transitGatewayId": "tgw-0123abcd",
                   "peerAccountId": CUSTOMER_ACCOUNT, "cidrs": ["10.96.0.0/16"]}),
        )
        .await;
    let tgw = h
        .wait_for(
            &format!(
                "/clusters/{cid}/transit-gateway-attachments/{}",
                s(&tgw, "id")
            ),
            MIN,
            |st, v| st == 200 && v["status"] == "PENDING_SHARE",
        )
        .await;
    // The local provider implements transit gateways: one nobody shared waits for the
    // owner's RAM share, with the command that shares it with the platform's account.
    assert!(
        s(&tgw, "statusReason")
            .contains("tgw-0123abcd is not shared with the platform's account 100000000000"),
        "{tgw}"
    );
    assert_eq!(
        tgw["instructions"],
        json!([format!(
            "linkplane cloud --as arn:aws:iam::{CUSTOMER_ACCOUNT}:root ram create-resource-share --resource-id tgw-0123abcd --principals 100000000000"
        )]),
        "{tgw}"
    );

    let vpn = h
        .post(
            &format!("/clusters/{cid}/vpn-connections"),
            json!({"name": "vpn", "gatewayIps": ["203.0.113.10"], "preSharedKey": "TopSecret_42",
                   "staticPrefixes": ["172.31.0.0/16"], "insideCidr": "169.254.10.0/30"}),
        )
        .await;
    let vpn = h
        .wait_status(
            &format!("/clusters/{cid}/vpn-connections/{}", s(&vpn, "id")),
            "FAILED",
            MIN,
        )
        .await;
    assert_eq!(
        s(&vpn, "statusReason"),
        "the local provider does not implement VPN connections yet"
    );
    assert!(!vpn.to_string().contains("TopSecret_42"), "{vpn}");

    // Azure-shaped clusters map to the local provider too, which cannot build a VNet yet.
    let az = h
        .post(
            "/clusters",
            json!({"name": "az", "cloudProvider": "AZURE", "type": "DEDICATED",
                   "region": "eastus", "vpcSubnetRange": "10.62.0.0/16"}),
        )
        .await;
    let az = h
        .wait_status(&format!("/clusters/{}", s(&az, "id")), "CREATE_FAILED", MIN)
        .await;
    assert_eq!(az["provider"], "local");
    assert!(
        s(&az, "statusReason").contains("cannot emulate an AZURE cluster"),
        "{az}"
    );

    // Nothing was made for the VPN, so it goes at once; the attachment holds the local
    // provider's finalizer and goes once it is released (nothing was attached); then the
    // cluster goes with its network.
    let (code, body) = h
        .delete(&format!(
            "/clusters/{cid}/vpn-connections/{}",
            s(&vpn, "id")
        ))
        .await;
    assert_eq!(code, 204, "DELETE vpn: {body}");
    let tgw_path = format!(
        "/clusters/{cid}/transit-gateway-attachments/{}",
        s(&tgw, "id")
    );
    let (code, body) = h.delete(&tgw_path).await;
    assert_eq!(code, 202, "DELETE {tgw_path}: {body}");
    h.wait_for(&tgw_path, MIN, |code, _| code == 404).await;
    let (code, body) = h.delete(&format!("/clusters/{cid}")).await;
    assert!((200..300).contains(&code), "{code} {body}");
    h.wait_for(&format!("/clusters/{cid}"), MIN, |code, _| code == 404)
        .await;
    let name = format!("linkplane/{cid}");
    let left = h.engine().list_vpcs(&platform()).await.unwrap();
    assert!(
        !left
            .iter()
            .any(|v| v.name.as_deref() == Some(name.as_str())),
        "the cluster's VPC is gone"
    );
    h.stop().await;
}
