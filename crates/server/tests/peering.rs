//! Document 002's VPC peering flow on LOCAL dedicated clusters, end to end with real packets:
//! the real control plane (`Plane`, what `linkplane serve` runs), localcloud namespaces, a TCP
//! service in the customer's VPC and a client in the cluster's VPC.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

const MIN: Duration = Duration::from_secs(60);

/// Routes of every subnet of the cluster's VPC, as (destination, target).
async fn cluster_routes(h: &Harness, cluster_id: &str) -> Vec<(String, String)> {
    let vpc = h.cluster_vpc(cluster_id).await;
    let mut out = vec![];
    for sn in h
        .engine()
        .list_subnets(&platform(), Some(&vpc.vpc_id))
        .await
        .unwrap()
    {
        for r in h
            .engine()
            .list_routes(&platform(), &sn.subnet_id)
            .await
            .unwrap()
        {
            out.push((r.destination_cidr_block, r.target_id));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peering_activation_routes_and_deletion_carry_real_traffic() {
    if !linkplane_netns::testing::require_root("peering_activation_routes_and_deletion") {
        return;
    }
    let h = Harness::start(fast_config(Duration::from_secs(300))).await;
    let cluster = h.created_cluster("10.70.0.0/22").await;
    let cid = s(&cluster, "id");
    let cust = customer_net(h.engine(), "10.80.0.0/16", "10.70.0.0/22").await;
    let (ip_a, ip_b) = (
        cust.instances[0].private_ip_address.clone(),
        cust.instances[1].private_ip_address.clone(),
    );
    let worker = h.cluster_instance(&cid).await;

    // Nothing crosses before a connection exists.
    assert!(!h.reaches(&worker, &ip_a, "hello-1").await);

    // "Click Create Connection. The connection appears as Pending."
    let p = h
        .post(
            &format!("/clusters/{cid}/vpc-peering-connections"),
            json!({"name": "analytics", "peerAccountId": CUSTOMER_ACCOUNT,
                   "peerVpcId": cust.vpc_id, "peerRegion": "us-east-1",
                   "peerCidr": "10.80.1.0/24"}),
        )
        .await;
    assert_eq!(p["status"], "PENDING");
    let pid = s(&p, "id");
    let ppath = format!("/clusters/{cid}/vpc-peering-connections/{pid}");

    // "Pending (With Complete Activation): The peering connection request has been created
    // and sent. Click Complete Activation to finish the setup."
    let p = h.wait_status(&ppath, "PENDING_ACTIVATION", MIN).await;
    let pcx = s(&p, "cloudPeeringId");
    assert!(pcx.starts_with("pcx-"), "{p}");
    let ins = &p["activationInstructions"];
    assert_eq!(ins["peeringConnectionId"], pcx.as_str());
    assert_eq!(ins["clusterVpcCidr"], "10.70.0.0/22");
    let steps: Vec<String> = ins["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        steps[0],
        format!("linkplane cloud --as {CUSTOMER} peering accept {pcx}")
    );
    assert!(
        steps.iter().any(|x| x.contains("route add")
            && x.contains("--destination 10.70.0.0/22")
            && x.contains(&format!("--target {pcx}"))),
        "{steps:?}"
    );
    // Still no traffic: the customer has not accepted.
    assert!(!h.reaches(&worker, &ip_a, "hello-1").await);
    // Only the accepter's account may accept (the platform cannot accept for the customer).
    let (st, v) = h
        .cloud(
            linkplane_server::PLATFORM_PRINCIPAL,
            reqwest::Method::POST,
            &format!("/vpc-peering-connections/{pcx}/accept"),
            None,
        )
        .await;
    assert_eq!(st, 403, "{v}");

    // "In the modal that appears, follow the instructions to accept the connection from your
    // external VPC and create routes from the external VPC to Astro."
    // Accepting alone is not enough: the document's modal also has the customer "create
    // routes from the external VPC to Astro". Until then packets go but never come back.
    let t0 = std::time::Instant::now();
    run_instructions(&h, &steps[..1]).await;
    h.wait_status(&ppath, "ACTIVE", MIN).await;
    h.wait_for(&format!("/clusters/{cid}/routes"), MIN, |st, v| {
        st == 200 && v["items"][0]["status"] == "AVAILABLE"
    })
    .await;
    assert!(!h.reaches(&worker, &ip_a, "hello-1").await);
    run_instructions(&h, &steps[1..]).await;

    // "the connection status changes from Pending to Active. A new default route appears in
    // Routes with your configured CIDR block."
    let p = h.wait_status(&ppath, "ACTIVE", MIN).await;
    assert!(p["activationInstructions"].is_null(), "{p}");
    let routes = h
        .wait_for(&format!("/clusters/{cid}/routes"), MIN, |st, v| {
            st == 200
                && v["items"].as_array().is_some_and(|a| {
                    a.iter().any(|r| {
                        r["destinationCidr"] == "10.80.1.0/24"
                            && r["targetId"] == pid.as_str()
                            && r["status"] == "AVAILABLE"
                    })
                })
        })
        .await;
    let default_route = routes["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["destinationCidr"] == "10.80.1.0/24")
        .unwrap()
        .clone();
    assert_eq!(default_route["name"], "default-analytics");
    // In every route table of the cluster's VPC.
    let rt = cluster_routes(&h, &cid).await;
    assert_eq!(
        rt.iter()
            .filter(|(d, t)| d == "10.80.1.0/24" && *t == pcx)
            .count(),
        4,
        "{rt:?}"
    );
    h.wait_reach(&worker, &ip_a, "hello-1", true).await;
    eprintln!(
        "measured: customer accepted and routed back -> ACTIVE, default route AVAILABLE, traffic in {:?}",
        t0.elapsed()
    );
    // The second subnet is not in peerCidr: no route, no traffic.
    assert!(!h.reaches(&worker, &ip_b, "hello-2").await);

    // Issue 7 item 2: a route to another subnet of the external VPC through the connection.
    let r2 = h
        .post(
            &format!("/clusters/{cid}/routes"),
            json!({"name": "warehouse", "destinationCidr": "10.80.2.0/24", "targetId": pid}),
        )
        .await;
    let r2id = s(&r2, "id");
    h.wait_status(&format!("/clusters/{cid}/routes/{r2id}"), "AVAILABLE", MIN)
        .await;
    h.wait_reach(&worker, &ip_b, "hello-2", true).await;

    // (Deleting the connection itself would delete its routes too, issue 7; here the
    // routes go first, one by one.)
    // Deleting the routes takes them out of the route tables: traffic stops.
    for r in [s(&default_route, "id"), r2id] {
        let (st, v) = h.delete(&format!("/clusters/{cid}/routes/{r}")).await;
        assert!(st == 202 || st == 204, "{st} {v}");
        h.wait_for(&format!("/clusters/{cid}/routes/{r}"), MIN, |st, _| {
            st == 404
        })
        .await;
    }
    h.wait_reach(&worker, &ip_a, "hello-1", false).await;
    h.wait_reach(&worker, &ip_b, "hello-2", false).await;
    let rt = cluster_routes(&h, &cid).await;
    assert!(!rt.iter().any(|(_, t)| *t == pcx), "{rt:?}");

    // Deleting the connection deletes the localcloud peering.
    let (st, v) = h.delete(&ppath).await;
    assert!(st == 202 || st == 204, "{st} {v}");
    h.wait_for(&ppath, MIN, |st, _| st == 404).await;
    let gone = h.engine().get_peering(&customer(), &pcx).await.unwrap();
    assert_eq!(gone.status.code, "deleted");

    // Deleting the cluster leaves no namespace of its network behind.
    let vpc = h.cluster_vpc(&cid).await;
    let router_ns = h.engine().router_namespace(&vpc.vpc_id);
    let worker_ns = h.engine().instance_namespace_name(&worker.instance_id);
    assert!(netns_exists(&router_ns) && netns_exists(&worker_ns));
    let (st, v) = h.delete(&format!("/clusters/{cid}")).await;
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["status"], "DELETING");
    h.wait_for(&format!("/clusters/{cid}"), MIN, |st, _| st == 404)
        .await;
    assert!(!netns_exists(&router_ns), "{router_ns} left behind");
    assert!(!netns_exists(&worker_ns), "{worker_ns} left behind");
    assert!(h.engine().list_vpcs(&platform()).await.unwrap().is_empty());
    assert!(
        h.engine()
            .list_elastic_ips(&platform())
            .await
            .unwrap()
            .is_empty()
    );
    // The customer's network is untouched.
    assert!(netns_exists(&h.engine().router_namespace(&cust.vpc_id)));
}

fn netns_exists(name: &str) -> bool {
    std::path::Path::new("/run/netns").join(name).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_request_is_failed_and_retried_when_a_new_connection_is_created() {
    if !linkplane_netns::testing::require_root("rejected_request_is_failed_and_retried") {
        return;
    }
    let h = Harness::start(fast_config(Duration::from_secs(300))).await;
    let cluster = h.created_cluster("10.70.0.0/22").await;
    let cid = s(&cluster, "id");
    let cust = customer_net(h.engine(), "10.80.0.0/16", "10.70.0.0/22").await;
    let p = h
        .post(
            &format!("/clusters/{cid}/vpc-peering-connections"),
            json!({"name": "first", "peerAccountId": CUSTOMER_ACCOUNT,
                   "peerVpcId": cust.vpc_id, "peerRegion": "us-east-1",
                   "peerCidr": "10.80.0.0/16"}),
        )
        .await;
    let ppath = format!("/clusters/{cid}/vpc-peering-connections/{}", s(&p, "id"));
    let p = h.wait_status(&ppath, "PENDING_ACTIVATION", MIN).await;
    let first_pcx = s(&p, "cloudPeeringId");

    // "Failed: The peering connection request was rejected."
    h.engine()
        .reject_peering(&customer(), &first_pcx)
        .await
        .unwrap();
    let p = h.wait_status(&ppath, "FAILED", MIN).await;
    assert!(s(&p, "statusReason").contains("rejected"), "{p}");
    // It stays FAILED (no retry on its own) until deleted …
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, p) = h.get(&ppath).await;
    assert_eq!(p["status"], "FAILED");

    // … "Astro will retry creating the peering request whenever you create a new VPC
    // connection."
    let other = customer_net(h.engine(), "10.81.0.0/16", "10.70.0.0/22").await;
    h.post(
        &format!("/clusters/{cid}/vpc-peering-connections"),
        json!({"name": "second", "peerAccountId": CUSTOMER_ACCOUNT,
               "peerVpcId": other.vpc_id, "peerRegion": "us-east-1",
               "peerCidr": "10.81.0.0/16"}),
    )
    .await;
    let p = h
        .wait_for(&ppath, MIN, |st, v| {
            st == 200
                && v["status"] == "PENDING_ACTIVATION"
                && v["cloudPeeringId"].as_str().is_some_and(|x| x != first_pcx)
        })
        .await;
    let retried = s(&p, "cloudPeeringId");
    let live = h.engine().get_peering(&customer(), &retried).await.unwrap();
    assert_eq!(live.status.code, "pending-acceptance");
    assert_eq!(live.accepter_vpc_info.vpc_id, cust.vpc_id);

    // Deleting a connection that waits for activation withdraws the request.
    let (st, v) = h.delete(&ppath).await;
    assert_eq!(st, 202, "{v}");
    h.wait_for(&ppath, MIN, |st, _| st == 404).await;
    let withdrawn = h.engine().get_peering(&customer(), &retried).await.unwrap();
    assert_eq!(withdrawn.status.code, "deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_that_cannot_be_created_is_not_found_and_retried_after_the_delay() {
    if !linkplane_netns::testing::require_root("request_cannot_be_created_not_found") {
        return;
    }
    let retry = Duration::from_secs(3);
    let h = Harness::start(fast_config(retry)).await;
    let cluster = h.created_cluster("10.70.0.0/22").await;
    let cid = s(&cluster, "id");
    let cust = customer_net(h.engine(), "10.80.0.0/16", "10.70.0.0/22").await;

    // A VPC id that does not exist in that account and region.
    let p = h
        .post(
            &format!("/clusters/{cid}/vpc-peering-connections"),
            json!({"name": "typo", "peerAccountId": CUSTOMER_ACCOUNT,
                   "peerVpcId": "vpc-0badc0de", "peerRegion": "us-east-1",
                   "peerCidr": "10.90.0.0/16"}),
        )
        .await;
    let typo = format!("/clusters/{cid}/vpc-peering-connections/{}", s(&p, "id"));
    // "Not Found: Astro failed to create the peering request."
    let p = h.wait_status(&typo, "NOT_FOUND", MIN).await;
    assert!(s(&p, "statusReason").contains("vpc-0badc0de"), "{p}");
    assert!(p["activationInstructions"].is_null());

    // A route through a connection that is not ACTIVE waits, saying why.
    let r = h
        .post(
            &format!("/clusters/{cid}/routes"),
            json!({"name": "early", "destinationCidr": "10.90.1.0/24", "targetId": s(&p, "id")}),
        )
        .await;
    let r = h
        .wait_for(
            &format!("/clusters/{cid}/routes/{}", s(&r, "id")),
            MIN,
            |st, v| st == 200 && v["statusReason"].is_string(),
        )
        .await;
    assert_eq!(r["status"], "PENDING");
    assert!(
        s(&r, "statusReason").contains("to be ACTIVE (it is NOT_FOUND)"),
        "{r}"
    );

    // A route through a transit gateway attachment waits until the attachment is AVAILABLE
    // (this one waits for a RAM share nobody makes).
    let tgw = h
        .post(
            &format!("/clusters/{cid}/transit-gateway-attachments"),
            json!({"name": "tgw", "transitGatewayId": "tgw-0123abcd",
                   "peerAccountId": CUSTOMER_ACCOUNT, "cidrs": ["10.95.0.0/16"]}),
        )
        .await;
    let r = h
        .post(
            &format!("/clusters/{cid}/routes"),
            json!({"name": "via-tgw", "destinationCidr": "10.95.1.0/24", "targetId": s(&tgw, "id")}),
        )
        .await;
    let r = h
        .wait_for(
            &format!("/clusters/{cid}/routes/{}", s(&r, "id")),
            MIN,
            |st, v| st == 200 && v["statusReason"].is_string(),
        )
        .await;
    assert_eq!(r["status"], "PENDING", "{r}");
    assert!(
        s(&r, "statusReason").contains(&format!("{} to be ACTIVE", s(&tgw, "id"))),
        "{r}"
    );

    // The right VPC id in the wrong account: localcloud refuses the request too.
    let p = h
        .post(
            &format!("/clusters/{cid}/vpc-peering-connections"),
            json!({"name": "wrong-account", "peerAccountId": "333333333333",
                   "peerVpcId": cust.vpc_id, "peerRegion": "us-east-1",
                   "peerCidr": "10.80.0.0/16"}),
        )
        .await;
    let wrong = format!("/clusters/{cid}/vpc-peering-connections/{}", s(&p, "id"));
    let p = h.wait_status(&wrong, "NOT_FOUND", MIN).await;
    assert!(s(&p, "statusReason").contains("333333333333"), "{p}");
    let first_at = s(&p, "statusChangedAt");
    let attempts = || async {
        h.engine()
            .list_peerings(&platform())
            .await
            .unwrap()
            .iter()
            .filter(|c| c.accepter_vpc_info.vpc_id == cust.vpc_id)
            .count()
    };
    let n0 = attempts().await;
    assert!(n0 >= 1);

    // "Wait 5 minutes for Astro to retry" (3 s here): not before …
    tokio::time::sleep(retry / 2).await;
    let (_, p) = h.get(&wrong).await;
    assert_eq!(s(&p, "statusChangedAt"), first_at, "retried too early: {p}");
    assert_eq!(attempts().await, n0);
    // … but after the delay a new request is made, and it is NOT_FOUND again.
    let p = h
        .wait_for(&wrong, MIN, |st, v| {
            st == 200 && v["status"] == "NOT_FOUND" && v["statusChangedAt"] != first_at.as_str()
        })
        .await;
    assert!(s(&p, "statusReason").contains("333333333333"), "{p}");
    assert!(attempts().await > n0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_network_deployment_ips_range_rule_and_restart_readoption() {
    if !linkplane_netns::testing::require_root("cluster_network_and_restart") {
        return;
    }
    let h = Harness::start(fast_config(Duration::from_secs(300))).await;

    // Too small a range: refused at create (422 naming the field and the minimum), not a
    // later CREATE_FAILED.
    let (code, body) = h
        .call(
            reqwest::Method::POST,
            "/clusters",
            Some(
                json!({"name": "tiny", "cloudProvider": "LOCAL", "type": "DEDICATED",
                        "region": "us-east-1", "vpcSubnetRange": "10.60.0.0/27"}),
            ),
        )
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(body.to_string().contains("vpcSubnetRange"), "{body}");
    assert!(body.to_string().contains("at least a /26"), "{body}");
    let (_, list) = h.get("/clusters").await;
    assert_eq!(list["items"], json!([]), "nothing stored: {list}");

    let t0 = std::time::Instant::now();
    let cluster = h.created_cluster("10.70.0.0/22").await;
    eprintln!(
        "measured: LOCAL cluster CREATING -> CREATED in {:?}",
        t0.elapsed()
    );
    let cid = s(&cluster, "id");
    assert_eq!(cluster["observedGeneration"], cluster["generation"]);
    let ips: Vec<String> = cluster["externalIps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ips.len(), 2, "one NAT gateway per zone: {cluster}");

    // What the provider built: four subnets in two zones, an internet gateway, NAT gateways
    // whose elastic IPs are the external IPs, private → NAT and public → IGW.
    let vpc = h.cluster_vpc(&cid).await;
    assert_eq!(vpc.cidr_block, "10.70.0.0/22");
    assert_eq!(vpc.owner_id, linkplane_server::PLATFORM_ACCOUNT);
    let subnets = h
        .engine()
        .list_subnets(&platform(), Some(&vpc.vpc_id))
        .await
        .unwrap();
    let mut layout: Vec<(String, String, bool)> = subnets
        .iter()
        .map(|x| {
            (
                x.cidr_block.clone(),
                x.availability_zone.clone(),
                x.map_public_ip_on_launch,
            )
        })
        .collect();
    layout.sort();
    assert_eq!(
        layout,
        vec![
            ("10.70.0.0/24".into(), "us-east-1a".into(), false),
            ("10.70.1.0/24".into(), "us-east-1b".into(), false),
            ("10.70.2.0/24".into(), "us-east-1a".into(), true),
            ("10.70.3.0/24".into(), "us-east-1b".into(), true),
        ]
    );
    let nats = h.engine().list_nat_gateways(&platform()).await.unwrap();
    let mut nat_ips: Vec<String> = nats.iter().map(|n| n.public_ip.clone()).collect();
    nat_ips.sort();
    let mut sorted_ips = ips.clone();
    sorted_ips.sort();
    assert_eq!(nat_ips, sorted_ips);
    for sn in &subnets {
        let routes = h
            .engine()
            .list_routes(&platform(), &sn.subnet_id)
            .await
            .unwrap();
        let default = routes
            .iter()
            .find(|r| r.destination_cidr_block == "0.0.0.0/0")
            .unwrap();
        let want = if sn.map_public_ip_on_launch {
            "igw-"
        } else {
            "nat-"
        };
        assert!(default.target_id.starts_with(want), "{sn:?} {routes:?}");
        assert_eq!(default.state, "active");
    }

    // A worker in a private subnet leaves through the NAT gateway: the internet sees an
    // external IP as its source.
    let worker = h.cluster_instance(&cid).await;
    let inet = h.engine().internet().await.unwrap();
    h.engine()
        .internet_run(
            &linkplane_localcloud::Principal::default_local(),
            &[
                "socat".into(),
                "TCP-LISTEN:8080,fork,reuseaddr".into(),
                "SYSTEM:echo $SOCAT_PEERADDR".into(),
            ],
        )
        .await
        .unwrap();
    let cmd: Vec<String> = ["socat", "-T2", "-"]
        .iter()
        .map(|x| x.to_string())
        .chain([format!("TCP:{}:8080,connect-timeout=2", inet.host_address)])
        .collect();
    let mut seen = String::new();
    for _ in 0..50 {
        let out = h
            .engine()
            .exec(
                &platform(),
                &worker.instance_id,
                &cmd,
                b"",
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        seen = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        ips.contains(&seen),
        "source seen by the internet {seen:?}, external IPs {ips:?}"
    );

    // Deployments get the cluster's external IPs and the API URL under its host name.
    let d = h
        .post("/deployments", json!({"name": "etl", "clusterId": cid}))
        .await;
    let did = s(&d, "id");
    let d = h
        .wait_for(&format!("/deployments/{did}"), MIN, |st, v| {
            st == 200 && v["externalIps"].as_array().is_some_and(|a| a.len() == 2)
        })
        .await;
    assert!(
        s(&d, "apiUrl").starts_with(&format!("https://{cid}.external.linkplane.test/")),
        "{d}"
    );

    // Drift (or a pass interrupted after allocating an elastic IP): a private subnet lost its
    // default route and a NAT gateway is gone. The next pass rebuilds both, reusing the
    // now unattached elastic IP, so the external IPs do not change.
    let private_a = subnets
        .iter()
        .find(|x| x.name.as_deref().is_some_and(|n| n.ends_with("/private-a")))
        .unwrap();
    let public_a = subnets
        .iter()
        .find(|x| x.name.as_deref().is_some_and(|n| n.ends_with("/public-a")))
        .unwrap();
    let nat_a = nats
        .iter()
        .find(|n| n.subnet_id == public_a.subnet_id)
        .unwrap();
    h.engine()
        .delete_route(&platform(), &private_a.subnet_id, "0.0.0.0/0")
        .await
        .unwrap();
    h.engine()
        .delete_nat_gateway(&platform(), &nat_a.nat_gateway_id)
        .await
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        let nats = h.engine().list_nat_gateways(&platform()).await.unwrap();
        let routes = h
            .engine()
            .list_routes(&platform(), &private_a.subnet_id)
            .await
            .unwrap();
        if nats.len() == 2
            && routes
                .iter()
                .any(|r| r.destination_cidr_block == "0.0.0.0/0")
        {
            break;
        }
        assert!(start.elapsed() < MIN, "not repaired: {nats:?} {routes:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        h.engine()
            .list_elastic_ips(&platform())
            .await
            .unwrap()
            .len(),
        2
    );
    let (_, c) = h.get(&format!("/clusters/{cid}")).await;
    assert_eq!(c["externalIps"], cluster["externalIps"]);

    // Restart on the same data dir and prefix: everything is re-adopted, nothing duplicated.
    let before = (
        h.engine().list_vpcs(&platform()).await.unwrap().len(),
        h.engine()
            .list_subnets(&platform(), None)
            .await
            .unwrap()
            .len(),
        h.engine()
            .list_nat_gateways(&platform())
            .await
            .unwrap()
            .len(),
        h.engine()
            .list_elastic_ips(&platform())
            .await
            .unwrap()
            .len(),
        h.engine()
            .list_internet_gateways(&platform())
            .await
            .unwrap()
            .len(),
    );
    assert_eq!(before, (1, 4, 2, 2, 1));
    let (gc, dir) = h.stop().await;
    let h = Harness::start_in(gc, dir, fast_config(Duration::from_secs(300))).await;
    // Let a few resync passes run.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after = (
        h.engine().list_vpcs(&platform()).await.unwrap().len(),
        h.engine()
            .list_subnets(&platform(), None)
            .await
            .unwrap()
            .len(),
        h.engine()
            .list_nat_gateways(&platform())
            .await
            .unwrap()
            .len(),
        h.engine()
            .list_elastic_ips(&platform())
            .await
            .unwrap()
            .len(),
        h.engine()
            .list_internet_gateways(&platform())
            .await
            .unwrap()
            .len(),
    );
    assert_eq!(after, before);
    let (_, c) = h.get(&format!("/clusters/{cid}")).await;
    assert_eq!(c["status"], "CREATED");
    assert_eq!(c["externalIps"], cluster["externalIps"]);

    // Deleting the cluster waits for its deployment to go (API rule), then tears down. A
    // start without localcloud cannot tear the network down: the deletion waits, saying why,
    // and the next start with localcloud finishes it.
    let (st, _) = h.delete(&format!("/deployments/{did}")).await;
    assert_eq!(st, 204);
    let (gc, dir) = h.stop().await;
    let h = Harness::start_with(gc, dir, fast_config(Duration::from_secs(300)), true).await;
    let (st, v) = h.delete(&format!("/clusters/{cid}")).await;
    assert_eq!(st, 202, "{v}");
    let c = h
        .wait_for(&format!("/clusters/{cid}"), MIN, |st, v| {
            st == 200
                && v["statusReason"]
                    .as_str()
                    .is_some_and(|r| r.contains("cannot tear down"))
        })
        .await;
    assert_eq!(c["status"], "DELETING");
    let (gc, dir) = h.stop().await;
    let h = Harness::start_in(gc, dir, fast_config(Duration::from_secs(300))).await;
    h.wait_for(&format!("/clusters/{cid}"), MIN, |st, _| st == 404)
        .await;
    assert!(h.engine().list_vpcs(&platform()).await.unwrap().is_empty());
    assert!(!netns_exists(&h.engine().router_namespace(&vpc.vpc_id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_provisioning_then_restart_converges_without_duplicates() {
    if !linkplane_netns::testing::require_root("crash_mid_provisioning") {
        return;
    }
    // Interrupt the first pass of three clusters at different points (as kill -9 would):
    // right after its VPC exists, after one subnet, after three subnets; restart each time. The last start must converge all of them exactly once. (Interrupting localcloud
    // while it plumbs an internet gateway: `crash_while_localcloud_plumbs_an_internet_gateway`.)
    crash_test(&[0, 1, 3]).await;
}

/// A crash while localcloud plumbs an internet gateway (row committed, internet side of the
/// veth never configured): the next `Engine::open` removes the lingering half and re-plumbs it,
/// so NAT gateways come up and the cluster converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_while_localcloud_plumbs_an_internet_gateway() {
    if !linkplane_netns::testing::require_root("crash_while_plumbing_igw") {
        return;
    }
    crash_test(&[4, 4, 4]).await;
}

async fn crash_test(stages: &[usize]) {
    let mut h = Harness::start(fast_config(Duration::from_secs(300))).await;
    let mut ids = vec![];
    for (i, stage) in stages.iter().copied().enumerate() {
        let c = h
            .post(
                "/clusters",
                json!({"name": format!("c{i}"), "cloudProvider": "LOCAL", "type": "DEDICATED",
                       "region": "us-east-1", "vpcSubnetRange": format!("10.7{i}.0.0/22")}),
            )
            .await;
        let id = s(&c, "id");
        let name = format!("linkplane/{id}");
        let start = std::time::Instant::now();
        let reached = loop {
            let vpc = h
                .engine()
                .list_vpcs(&platform())
                .await
                .unwrap()
                .into_iter()
                .find(|v| v.name.as_deref() == Some(name.as_str()));
            if let Some(vpc) = vpc {
                let subnets = h
                    .engine()
                    .list_subnets(&platform(), Some(&vpc.vpc_id))
                    .await
                    .unwrap()
                    .len();
                let igw = h
                    .engine()
                    .list_internet_gateways(&platform())
                    .await
                    .unwrap()
                    .iter()
                    .any(|g| g.vpc_id == vpc.vpc_id);
                let progress = subnets + usize::from(igw);
                if progress >= stage {
                    break progress;
                }
            }
            assert!(
                start.elapsed() < MIN,
                "cluster {id} never reached stage {stage}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let (_, now) = h.get(&format!("/clusters/{id}")).await;
        eprintln!("crash at stage {reached} (status {})", now["status"]);
        ids.push(id);
        let (gc, dir) = h.crash();
        // A restarted process comes up after the dead one's last `ip`/`nft` children exited
        // (in-process they could still be running).
        tokio::time::sleep(Duration::from_millis(500)).await;
        h = Harness::start_in(gc, dir, fast_config(Duration::from_secs(300))).await;
    }
    let mut all_ips = vec![];
    for id in &ids {
        let c = h
            .wait_status(&format!("/clusters/{id}"), "CREATED", MIN)
            .await;
        let ips = c["externalIps"].as_array().unwrap().clone();
        assert_eq!(ips.len(), 2, "{c}");
        all_ips.extend(ips);
    }
    // Let resync passes run, then count.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let p = platform();
    let n = ids.len();
    assert_eq!(h.engine().list_vpcs(&p).await.unwrap().len(), n);
    assert_eq!(
        h.engine().list_subnets(&p, None).await.unwrap().len(),
        4 * n
    );
    assert_eq!(
        h.engine().list_internet_gateways(&p).await.unwrap().len(),
        n
    );
    assert_eq!(h.engine().list_nat_gateways(&p).await.unwrap().len(), 2 * n);
    assert_eq!(h.engine().list_elastic_ips(&p).await.unwrap().len(), 2 * n);
    all_ips.sort_by_key(|v| v.to_string());
    all_ips.dedup();
    assert_eq!(
        all_ips.len(),
        2 * n,
        "external IPs are distinct per cluster"
    );

    // A spec change (PATCH) is UPDATING, then CREATED again for the new generation.
    let (st, v) = h
        .call(
            reqwest::Method::PATCH,
            &format!("/clusters/{}", ids[0]),
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let generation = v["generation"].as_i64().unwrap();
    let c = h
        .wait_for(&format!("/clusters/{}", ids[0]), MIN, |st, v| {
            st == 200 && v["status"] == "CREATED" && v["observedGeneration"] == generation
        })
        .await;
    assert_eq!(c["name"], "renamed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepter_dns_resolution_resolves_the_external_vpcs_public_names_from_the_cluster() {
    // Document 002, "DNS considerations for VPC peering": "If your external VPC resolves DNS
    // hostnames using DNS Hostnames and DNS Resolution, you must also enable the Accepter DNS
    // Resolution setting on AWS. This allows Astro clusters and Deployments to resolve the
    // public DNS hostnames of the external VPC to its private IP addresses."
    use linkplane_localcloud::types::{
        CreateInstance, CreateInternetGateway, CreateRoute, CreateSubnet, ModifyVpc,
    };
    if !linkplane_netns::testing::require_root("accepter_dns_resolution_from_the_cluster") {
        return;
    }
    let h = Harness::start(fast_config(Duration::from_secs(300))).await;
    let cluster = h.created_cluster("10.76.0.0/22").await;
    let cid = s(&cluster, "id");
    let worker = h.cluster_instance(&cid).await;

    // The customer's external VPC: DNS host names on, an internet gateway, a public web host.
    let e = h.engine();
    let cust = customer();
    let vpc = e
        .create_vpc(
            &cust,
            linkplane_localcloud::types::CreateVpc {
                cidr_block: "10.86.0.0/16".into(),
                region: Some("us-east-1".into()),
                name: Some("external".into()),
            },
        )
        .await
        .unwrap();
    e.modify_vpc(
        &cust,
        &vpc.vpc_id,
        ModifyVpc {
            enable_dns_hostnames: Some(true),
        },
    )
    .await
    .unwrap();
    let sn = e
        .create_subnet(
            &cust,
            CreateSubnet {
                vpc_id: vpc.vpc_id.clone(),
                cidr_block: "10.86.1.0/24".into(),
                availability_zone: "us-east-1a".into(),
                map_public_ip_on_launch: true,
                name: None,
            },
        )
        .await
        .unwrap();
    let igw = e
        .create_internet_gateway(
            &cust,
            CreateInternetGateway {
                vpc_id: vpc.vpc_id.clone(),
            },
        )
        .await
        .unwrap();
    e.create_route(
        &cust,
        &sn.subnet_id,
        CreateRoute {
            destination_cidr_block: "0.0.0.0/0".into(),
            target_id: igw.internet_gateway_id,
        },
    )
    .await
    .unwrap();
    let web = e
        .create_instance(
            &cust,
            CreateInstance {
                subnet_id: sn.subnet_id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let name = web.public_dns_name.clone().expect("a public DNS name");
    let public = web.public_ip_address.clone().unwrap();
    // Without a peering the cluster gets the public address from public DNS.
    assert_eq!(h.dig(&worker, &name).await, public);

    let p = h
        .post(
            &format!("/clusters/{cid}/vpc-peering-connections"),
            json!({"name": "external", "peerAccountId": CUSTOMER_ACCOUNT,
                   "peerVpcId": vpc.vpc_id, "peerRegion": "us-east-1",
                   "peerCidr": "10.86.0.0/16"}),
        )
        .await;
    let ppath = format!("/clusters/{cid}/vpc-peering-connections/{}", s(&p, "id"));
    let p = h.wait_status(&ppath, "PENDING_ACTIVATION", MIN).await;
    let pcx = s(&p, "cloudPeeringId");
    let steps: Vec<String> = p["activationInstructions"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect();
    // The modal's last step is the DNS option, on the customer's (accepter's) side.
    assert_eq!(
        steps.last().unwrap(),
        &format!(
            "linkplane cloud --as {CUSTOMER} peering modify-options {pcx} --accepter-dns-resolution true"
        )
    );
    let (dns_step, rest) = steps.split_last().unwrap();
    run_instructions(&h, &rest[..1]).await;
    h.wait_status(&ppath, "ACTIVE", MIN).await;
    run_instructions(&h, &rest[1..]).await;
    // Accepted and routed, the option still off: the public address, and the connection
    // says the option is off.
    let p = h
        .wait_for(&ppath, MIN, |st, v| {
            st == 200 && v["accepterDnsResolution"] == json!(false)
        })
        .await;
    assert_eq!(p["status"], "ACTIVE");
    assert_eq!(h.dig(&worker, &name).await, public);

    run_instructions(&h, std::slice::from_ref(dns_step)).await;
    assert_eq!(h.dig(&worker, &name).await, web.private_ip_address);
    // The connection shows it at the next resync.
    h.wait_for(&ppath, MIN, |st, v| {
        st == 200 && v["accepterDnsResolution"] == json!(true)
    })
    .await;

    // Deleting the connection (its default route still there): the route goes with it, in
    // the same store transaction, and leaves the route tables; public answers again.
    let (st, v) = h.get(&format!("/clusters/{cid}/routes")).await;
    assert_eq!((st, v["items"].as_array().unwrap().len()), (200, 1), "{v}");
    let (st, v) = h.delete(&ppath).await;
    assert!(st == 202 || st == 204, "{st} {v}");
    h.wait_for(&ppath, MIN, |st, _| st == 404).await;
    h.wait_for(&format!("/clusters/{cid}/routes"), MIN, |st, v| {
        st == 200 && v["items"].as_array().is_some_and(|a| a.is_empty())
    })
    .await;
    let rt = cluster_routes(&h, &cid).await;
    assert!(!rt.iter().any(|(_, t)| *t == pcx), "{rt:?}");
    assert_eq!(h.dig(&worker, &name).await, public);
}
