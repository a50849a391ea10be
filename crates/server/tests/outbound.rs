//! Outbound PrivateLink endpoints, end to end (documents 002 and 003).
//!
//! Custom endpoint (document 002, "Custom VPC Endpoint"): the customer runs an endpoint
//! service (an NLB in their VPC) and must "add arn:aws:iam::<AWS account ID>:role/
//! astronomer-remote-management into a list of the Allowed principals" — here
//! `arn:aws:iam::100000000000:role/linkplane-remote-management`. Until they do, the endpoint
//! is `FAILED` naming that principal and the command; then `PENDING_ACCEPTANCE` with the
//! owner's accept command; then `AVAILABLE` with its private IPs and DNS names, the optional
//! Route 53 alias resolves to those IPs in the cluster VPC, and a cluster instance reaches
//! the customer's service through it by that name. An unknown service is `FAILED` with the
//! reason; a service in another region and a STANDARD cluster are refused (422). Deleting
//! removes the endpoint, its ENIs and the alias.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use linkplane_localcloud::types::{
    CreateEndpointService, CreateListener, CreateLoadBalancer, CreateTargetGroup, HealthCheck,
    TargetRef, Targets,
};
use serde_json::{Value, json};

const MIN: Duration = Duration::from_secs(60);
const ROLE: &str = "arn:aws:iam::100000000000:role/linkplane-remote-management";

/// Run a service owner's `linkplane cloud --as ARN service …` command against `/cloud/v1`,
/// the way the CLI sends it.
async fn run_service_step(h: &Harness, step: &str) {
    let words: Vec<&str> = step.split_whitespace().collect();
    assert_eq!(&words[..3], ["linkplane", "cloud", "--as"], "{step}");
    let who = words[3];
    let rest = &words[4..];
    let (code, v) = match rest[..2] {
        ["service", "permissions"] => {
            assert_eq!(rest[3], "--add", "{step}");
            h.cloud(
                who,
                reqwest::Method::POST,
                &format!("/endpoint-services/{}/permissions", rest[2]),
                Some(json!({"addAllowedPrincipals": [rest[4]]})),
            )
            .await
        }
        ["service", "accept"] => {
            h.cloud(
                who,
                reqwest::Method::POST,
                &format!("/endpoint-services/{}/connections/accept", rest[2]),
                Some(json!({"vpcEndpointIds": rest[3..]})),
            )
            .await
        }
        _ => panic!("unexpected instruction {step}"),
    };
    assert!((200..300).contains(&code), "{step}: {code} {v}");
}

/// The customer's endpoint service: an NLB on 443 in front of their two instances' 8080.
async fn customer_service(h: &Harness, cust: &CustomerNet) -> String {
    let e = h.engine();
    let p = customer();
    let tg = e
        .create_target_group(
            &p,
            CreateTargetGroup {
                vpc_id: cust.vpc_id.clone(),
                port: 8080,
                name: Some("db".into()),
                health_check: Some(HealthCheck {
                    interval_millis: 200,
                    timeout_millis: 150,
                    healthy_threshold: 2,
                    unhealthy_threshold: 2,
                    ..Default::default()
                }),
            },
        )
        .await
        .unwrap();
    e.register_targets(
        &p,
        &tg.target_group_id,
        Targets {
            targets: cust
                .instances
                .iter()
                .map(|i| TargetRef {
                    instance_id: i.instance_id.clone(),
                    port: None,
                })
                .collect(),
        },
    )
    .await
    .unwrap();
    let lb = e
        .create_load_balancer(
            &p,
            CreateLoadBalancer {
                subnet_ids: cust.subnets.clone(),
                name: Some("db".into()),
            },
        )
        .await
        .unwrap();
    e.create_listener(
        &p,
        &lb.load_balancer_id,
        CreateListener {
            port: 443,
            target_group_id: tg.target_group_id.clone(),
        },
    )
    .await
    .unwrap();
    e.create_endpoint_service(
        &p,
        CreateEndpointService {
            load_balancer_id: lb.load_balancer_id.clone(),
            acceptance_required: true,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .service_id
}

fn strs(v: &Value, k: &str) -> Vec<String> {
    v[k].as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_endpoint_to_a_customer_service_after_allow_and_acceptance() {
    if !linkplane_netns::testing::require_root("outbound_custom") {
        return;
    }
    let h = Harness::start(fast_config(MIN)).await;
    let c = h
        .post(
            "/clusters",
            json!({"name": "aws", "cloudProvider": "AWS", "type": "DEDICATED",
                   "region": "us-east-1", "vpcSubnetRange": "10.72.0.0/16"}),
        )
        .await;
    let cid = s(&c, "id");
    h.wait_status(&format!("/clusters/{cid}"), "CREATED", MIN)
        .await;

    let cust = customer_net(h.engine(), "10.97.0.0/16", "10.97.0.0/16").await;
    let svc = customer_service(&h, &cust).await;
    // The name as AWS spells it; localcloud's com.linkplane.vpce.… names the same service.
    let name = format!("com.amazonaws.vpce.us-east-1.{svc}");

    // Validation before anything is stored: another region (document 003: inter-Region VPC
    // peering), a STANDARD cluster.
    let (st, v) = h
        .call(
            reqwest::Method::POST,
            &format!("/clusters/{cid}/outbound-endpoints"),
            Some(json!({"name": "far", "serviceName": "com.amazonaws.vpce.eu-west-1.vpce-svc-0a1b2c3d"})),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    assert!(v.to_string().contains("inter-Region VPC peering"), "{v}");
    let std = h
        .post(
            "/clusters",
            json!({"name": "std", "cloudProvider": "AWS", "type": "STANDARD",
                   "region": "us-east-1", "vpcSubnetRange": "10.73.0.0/16"}),
        )
        .await;
    let (st, v) = h
        .call(
            reqwest::Method::POST,
            &format!("/clusters/{}/outbound-endpoints", s(&std, "id")),
            Some(json!({"name": "db", "serviceName": name})),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    assert!(
        v.to_string()
            .contains("only available for dedicated clusters"),
        "{v}"
    );

    // An unknown service: FAILED with the reason.
    let unknown = h
        .post(
            &format!("/clusters/{cid}/outbound-endpoints"),
            json!({"name": "nope", "serviceName": "com.amazonaws.vpce.us-east-1.vpce-svc-00000000"}),
        )
        .await;
    let unknown_path = format!("/clusters/{cid}/outbound-endpoints/{}", s(&unknown, "id"));
    let failed = h.wait_status(&unknown_path, "FAILED", MIN).await;
    assert!(
        s(&failed, "statusReason").contains("does not exist"),
        "{failed}"
    );

    // The customer's service does not allow the platform's role yet: FAILED, naming it.
    let ep = h
        .post(
            &format!("/clusters/{cid}/outbound-endpoints"),
            json!({"name": "customer-db", "serviceName": name,
                   "dnsName": "db.customer.internal"}),
        )
        .await;
    let path = format!("/clusters/{cid}/outbound-endpoints/{}", s(&ep, "id"));
    let refused = h.wait_status(&path, "FAILED", MIN).await;
    let reason = s(&refused, "statusReason");
    assert!(
        reason.starts_with(&format!(
            "{ROLE} is not an allowed principal of endpoint service {name}"
        )),
        "{refused}"
    );
    let allow = &reason[reason.find("linkplane cloud --as").expect("a command")..];
    assert_eq!(
        allow,
        format!(
            "linkplane cloud --as arn:aws:iam::{CUSTOMER_ACCOUNT}:root service permissions {svc} --add {ROLE}"
        )
    );
    run_service_step(&h, allow).await;

    // Allowed: the endpoint waits for the owner's acceptance, with the command.
    let waiting = h.wait_status(&path, "PENDING_ACCEPTANCE", MIN).await;
    let steps = strs(&waiting, "instructions");
    assert_eq!(steps.len(), 1, "{waiting}");
    let vpce = s(&waiting, "cloudResourceId");
    assert_eq!(
        steps[0],
        format!(
            "linkplane cloud --as arn:aws:iam::{CUSTOMER_ACCOUNT}:root service accept {svc} {vpce}"
        )
    );
    assert!(
        s(&waiting, "statusReason")
            .starts_with("waiting for the endpoint service's owner to accept the endpoint"),
        "{waiting}"
    );
    run_service_step(&h, &steps[0]).await;
    let up = h.wait_status(&path, "AVAILABLE", MIN).await;
    let ips = strs(&up, "privateIps");
    assert_eq!(ips.len(), 2, "one ENI per private subnet: {up}");
    assert!(ips.iter().all(|i| i.starts_with("10.72.")), "{up}");
    let names = strs(&up, "dnsNames");
    assert!(names.iter().any(|n| n.starts_with(&vpce)), "{up}");
    assert!(names.contains(&"db.customer.internal".to_string()), "{up}");

    // One endpoint in the cluster VPC, created as the role.
    let vpc = h.cluster_vpc(&cid).await;
    let mine: Vec<_> = h
        .engine()
        .list_endpoints(&platform())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.vpc_id == vpc.vpc_id && e.state != "deleted" && e.service_name.ends_with(&svc)
        })
        .collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].vpc_endpoint_id, vpce);

    // Real traffic from a cluster instance, by the alias: DNS answers the endpoint's IPs,
    // and the customer's targets answer through it.
    let worker = h.cluster_instance(&cid).await;
    let mut got: Vec<String> = h
        .dig(&worker, "db.customer.internal")
        .await
        .lines()
        .map(str::to_owned)
        .collect();
    got.sort();
    let mut want = ips.clone();
    want.sort();
    assert_eq!(got, want);
    let out = h
        .exec_out(
            &worker,
            &[
                "socat",
                "-T2",
                "-",
                "TCP:db.customer.internal:443,connect-timeout=2",
            ],
            Duration::from_secs(6),
        )
        .await;
    assert!(out.contains("hello-"), "{out:?}");

    // Deleting removes the endpoint (ENIs released) and the alias.
    let (st, _) = h.delete(&path).await;
    assert!(st == 202 || st == 204, "{st}");
    h.wait_for(&path, MIN, |st, _| st == 404).await;
    let e = h.engine().get_endpoint(&platform(), &vpce).await.unwrap();
    assert_eq!(e.state, "deleted");
    assert!(e.network_interfaces.is_empty(), "{e:?}");
    assert_eq!(h.dig(&worker, "db.customer.internal").await, "");
    h.stop().await;
}

/// The live endpoints of the cluster VPC, by service name.
async fn live_endpoints(h: &Harness, cid: &str) -> Vec<(String, String)> {
    let vpc = h.cluster_vpc(cid).await;
    let mut v: Vec<(String, String)> = h
        .engine()
        .list_endpoints(&platform())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.vpc_id == vpc.vpc_id && e.state != "deleted")
        .map(|e| (e.service_name, e.vpc_endpoint_id))
        .collect();
    v.sort();
    v
}

/// `curl` the STS stand-in by its public name from a cluster instance; the JSON it answers.
async fn sts_from(h: &Harness, worker: &linkplane_localcloud::types::Instance) -> Value {
    let out = h
        .exec_out(
            worker,
            &[
                "curl",
                "-s",
                "--max-time",
                "3",
                "http://sts.us-east-1.amazonaws.linkplane.test/?Action=GetCallerIdentity",
            ],
            Duration::from_secs(6),
        )
        .await;
    serde_json::from_str(&out).unwrap_or(Value::String(out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preconfigured_aws_service_endpoints_carry_traffic_and_survive_restarts() {
    if !linkplane_netns::testing::require_root("outbound_preconfigured") {
        return;
    }
    let h = Harness::start(fast_config(MIN)).await;
    // A LOCAL cluster gets the preconfigured set too (localcloud is AWS-shaped).
    let c = h.created_cluster("10.74.0.0/16").await;
    let cid = s(&c, "id");
    let (_, list) = h.get(&format!("/clusters/{cid}/outbound-endpoints")).await;
    let items = list["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 6, "{list}");
    let mut by_service = std::collections::BTreeMap::new();
    for e in &items {
        let path = format!("/clusters/{cid}/outbound-endpoints/{}", s(e, "id"));
        let svc = s(e, "serviceName");
        let want = if svc == "com.amazonaws.us-east-1.s3" {
            "FAILED"
        } else {
            "AVAILABLE"
        };
        let v = h.wait_status(&path, want, MIN).await;
        assert_eq!(v["preconfigured"], true, "{v}");
        by_service.insert(svc, v);
    }
    // "Amazon S3 - Gateway Endpoint": not implemented by the local provider, said so.
    let s3 = &by_service["com.amazonaws.us-east-1.s3"];
    assert!(
        s(s3, "statusReason").contains("gateway endpoint")
            && s(s3, "statusReason").contains("does not implement"),
        "{s3}"
    );
    // The interface endpoints: an ENI in each private subnet, and the service's public
    // name among their DNS names ("Enable DNS Name").
    for (svc, host) in [
        ("autoscaling", "autoscaling"),
        ("ecr.api", "api.ecr"),
        ("ecr.dkr", "dkr.ecr"),
        ("elasticloadbalancing", "elasticloadbalancing"),
        ("sts", "sts"),
    ] {
        let v = &by_service[&format!("com.amazonaws.us-east-1.{svc}")];
        assert_eq!(strs(v, "privateIps").len(), 2, "{v}");
        assert!(
            strs(v, "dnsNames").contains(&format!("{host}.us-east-1.amazonaws.linkplane.test")),
            "{v}"
        );
        assert!(s(v, "cloudResourceId").starts_with("vpce-"), "{v}");
    }
    let before = live_endpoints(&h, &cid).await;
    assert_eq!(before.len(), 5, "{before:?}");

    // Real traffic: the public name resolves to the endpoint's private IPs inside the
    // cluster VPC, and STS sees the instance's own address and the endpoint (PROXY v2),
    // not the NAT gateway's public IP.
    let sts = &by_service["com.amazonaws.us-east-1.sts"];
    let worker = h.cluster_instance(&cid).await;
    let mut got: Vec<String> = h
        .dig(&worker, "sts.us-east-1.amazonaws.linkplane.test")
        .await
        .lines()
        .map(str::to_owned)
        .collect();
    got.sort();
    let mut ips = strs(sts, "privateIps");
    ips.sort();
    assert_eq!(got, ips);
    let who = sts_from(&h, &worker).await;
    assert_eq!(who["service"], "sts", "{who}");
    assert_eq!(who["action"], "GetCallerIdentity", "{who}");
    assert_eq!(who["sourceIp"], worker.private_ip_address, "{who}");
    assert_eq!(who["vpcEndpointId"], s(sts, "cloudResourceId"), "{who}");
    assert_eq!(who["Account"], "100000000000", "{who}");
    let external: Vec<String> = strs(&c, "externalIps");
    assert!(!external.contains(&s(&who, "sourceIp")), "{who} {c}");

    // A preconfigured endpoint cannot be deleted.
    let (st, v) = h
        .delete(&format!(
            "/clusters/{cid}/outbound-endpoints/{}",
            s(sts, "id")
        ))
        .await;
    assert_eq!(st, 409, "{v}");

    // Restart serve, then crash it (kill -9): the same endpoints, no duplicates, traffic
    // flows again through the restarted listeners and forwarders.
    let ids: Vec<(String, Value)> = items
        .iter()
        .map(|e| {
            (
                s(e, "id"),
                by_service[&s(e, "serviceName")]["cloudResourceId"].clone(),
            )
        })
        .collect();
    let (gc, dir) = h.stop().await;
    let h = Harness::start_in(gc, dir, fast_config(MIN)).await;
    converged(&h, &cid, &worker, &before, &ids).await;
    let (gc, dir) = h.crash();
    let h = Harness::start_in(gc, dir, fast_config(MIN)).await;
    converged(&h, &cid, &worker, &before, &ids).await;
    h.stop().await;
}

/// After a start: STS answers through the endpoint again, and after a resync the cluster
/// VPC has the same endpoints (no duplicates) with the same cloud ids on the resources.
async fn converged(
    h: &Harness,
    cid: &str,
    worker: &linkplane_localcloud::types::Instance,
    before: &[(String, String)],
    ids: &[(String, Value)],
) {
    let start = std::time::Instant::now();
    loop {
        let who = sts_from(h, worker).await;
        if who["sourceIp"] == worker.private_ip_address {
            break;
        }
        assert!(start.elapsed() < MIN, "after the start: {who}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // fast_config resyncs every 5 s: every endpoint has been reconciled again.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(live_endpoints(h, cid).await, before);
    for (id, cloud) in ids {
        let (_, v) = h
            .get(&format!("/clusters/{cid}/outbound-endpoints/{id}"))
            .await;
        assert_eq!(&v["cloudResourceId"], cloud, "{v}");
    }
}
