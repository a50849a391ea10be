//! Site-to-site VPN self-service, end to end (document 002): a DEDICATED cluster's
//! `VpnConnection` is provisioned by its controller on localcloud (a VPN gateway on the
//! cluster's VPC, a customer gateway per gateway IP, a connection with two IKEv2 tunnels,
//! each its own strongSwan charon, the pre-shared key read through the store's secret API);
//! it is `PENDING` ("0 of 2 tunnels up") with the customer's instructions until the
//! customer's site applies the downloaded configuration, then `AVAILABLE`; a cluster instance
//! reaches the on-premises host through the tunnels; the key never appears in a response;
//! deleting the connection stops every daemon and removes the tunnels' namespaces.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use linkplane_localcloud::types::{ApplyVpnConfig, ConfigFormat, CreateOnpremSite};
use serde_json::json;

const MIN: Duration = Duration::from_secs(60);
const PSK: &str = "cluster.vpn_key42";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vpn_connection_becomes_available_and_carries_traffic() {
    if !linkplane_netns::testing::require_root("vpn") {
        return;
    }
    let h = Harness::start(fast_config(Duration::from_secs(60))).await;
    let c = h.created_cluster("10.72.0.0/16").await;
    let cid = s(&c, "id");
    let engine = h.engine().clone();

    // The customer's on-premises network: a gateway on the internet and a host behind it.
    let site = engine
        .create_onprem_site(
            &customer(),
            CreateOnpremSite {
                name: Some("hq".into()),
                lan_cidr: Some("172.16.9.0/24".into()),
            },
        )
        .await
        .unwrap();

    // Document 002's rules are checked before anything is stored.
    let (code, bad) = h
        .call(
            reqwest::Method::POST,
            &format!("/clusters/{cid}/vpn-connections"),
            Some(json!({"name": "hq", "gatewayIps": [site.public_ip],
                        "preSharedKey": "0starts.with.zero", "staticPrefixes": ["172.16.9.0/24"]})),
        )
        .await;
    assert_eq!(code, 422, "{bad}");
    assert!(bad.to_string().contains("preSharedKey"), "{bad}");

    let vpn = h
        .post(
            &format!("/clusters/{cid}/vpn-connections"),
            json!({"name": "hq", "gatewayIps": [site.public_ip], "preSharedKey": PSK,
                   "staticPrefixes": ["172.16.9.0/24"]}),
        )
        .await;
    assert!(!vpn.to_string().contains(PSK), "the key is never returned");
    let path = format!("/clusters/{cid}/vpn-connections/{}", s(&vpn, "id"));

    // Provisioned but no tunnel up until the customer's side is configured.
    let pending = h
        .wait_for(&path, MIN, |st, v| {
            st == 200 && v["status"] == "PENDING" && v["cloudResourceId"].is_string()
        })
        .await;
    assert_eq!(pending["statusReason"], "0 of 2 tunnels up", "{pending}");
    let instructions = pending["instructions"].to_string();
    assert!(instructions.contains(&site.public_ip), "{pending}");
    assert!(
        instructions.contains("tunnel 2: peer 198.51.100."),
        "{pending}"
    );
    assert!(!pending.to_string().contains(PSK), "{pending}");
    let vpn_id = s(&pending, "cloudResourceId");

    // The customer's engineer applies the downloaded strongSwan configuration on the site.
    let conf = engine
        .vpn_connection_configuration(&platform(), &vpn_id, ConfigFormat::Strongswan)
        .await
        .unwrap();
    assert!(conf.contains(PSK), "the key reached charon's configuration");
    engine
        .apply_onprem_vpn_config(
            &customer(),
            &site.site_id,
            ApplyVpnConfig { swanctl_conf: conf },
        )
        .await
        .unwrap();
    let available = h.wait_status(&path, "AVAILABLE", MIN).await;
    assert!(!available.to_string().contains(PSK));

    // A cluster instance reaches the on-premises host through the tunnels.
    let worker = h.cluster_instance(&cid).await;
    let out = engine
        .exec(
            &platform(),
            &worker.instance_id,
            &[
                "ping".into(),
                "-c1".into(),
                "-W2".into(),
                site.host_ip.clone(),
            ],
            b"",
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0, "{}", String::from_utf8_lossy(&out.stdout));

    // Delete: every daemon stops, the tunnels' namespaces go.
    let ns = [
        engine.vpn_tunnel_namespace(&vpn_id, 1),
        engine.vpn_tunnel_namespace(&vpn_id, 2),
    ];
    let (code, _) = h.delete(&path).await;
    assert!((200..300).contains(&code), "{code}");
    h.wait_for(&path, MIN, |st, _| st == 404).await;
    for n in &ns {
        assert!(
            !std::path::Path::new(&format!("/run/netns/{n}")).exists(),
            "{n} is left"
        );
    }
    assert!(engine.vpn_tunnel_charon_pid(&vpn_id, 1).is_none());
    assert!(engine.vpn_tunnel_charon_pid(&vpn_id, 2).is_none());
    h.stop().await;
}
