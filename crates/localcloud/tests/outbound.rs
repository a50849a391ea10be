//! The AWS services localcloud provides to interface endpoints (documents 002 and 003),
//! with real traffic: `ensure_aws_services` builds a region's services once (a second call
//! and a restart find them again), `com.amazonaws.<region>.sts` is an endpoint service any
//! principal may use without acceptance, an endpoint with private DNS makes
//! `sts.<region>.amazonaws.linkplane.test` resolve to its ENIs in the consumer VPC, and the
//! service sees the caller's own address, its endpoint and its account (PROXY v2). A
//! customer's service is found by AWS's `com.amazonaws.vpce.…` spelling and described only
//! to a principal it allows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Cloud, principal};
use linkplane_localcloud::types::*;
use linkplane_localcloud::{AWS_SERVICES_ACCOUNT, Error, Principal};

const CONSUMER: &str = "222222222222";

async fn subnet_az(c: &Cloud, p: &Principal, vpc: &Vpc, cidr: &str, az: &str) -> Subnet {
    c.engine
        .create_subnet(
            p,
            CreateSubnet {
                vpc_id: vpc.vpc_id.clone(),
                cidr_block: cidr.into(),
                availability_zone: az.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
}

/// The services account's endpoint services, by name.
async fn aws_services(c: &Cloud) -> Vec<String> {
    let mut v: Vec<String> = c
        .engine
        .list_endpoint_services(&principal(AWS_SERVICES_ACCOUNT))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.service_name)
        .collect();
    v.sort();
    v
}

async fn sts(c: &Cloud, p: &Principal, inst: &Instance) -> serde_json::Value {
    let (_, out, err) = c
        .sh(
            p,
            inst,
            "curl -s --max-time 3 'http://sts.us-east-1.amazonaws.linkplane.test/?Action=GetCallerIdentity'",
        )
        .await;
    serde_json::from_str(&out).unwrap_or_else(|_| serde_json::json!({"out": out, "err": err}))
}

async fn sts_until_answered(c: &Cloud, p: &Principal, inst: &Instance) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..50 {
        last = sts(c, p, inst).await;
        if last.get("service").is_some() {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("STS never answered: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_service_endpoints_with_private_dns_and_the_callers_identity() {
    let Some(mut c) = Cloud::new("outbound_aws_services").await else {
        return;
    };
    c.engine.ensure_aws_services("us-east-1").await.unwrap();
    c.engine.ensure_aws_services("us-east-1").await.unwrap();
    let names = aws_services(&c).await;
    assert_eq!(
        names,
        [
            "com.amazonaws.us-east-1.autoscaling",
            "com.amazonaws.us-east-1.ecr.api",
            "com.amazonaws.us-east-1.ecr.dkr",
            "com.amazonaws.us-east-1.elasticloadbalancing",
            "com.amazonaws.us-east-1.sts",
        ],
        "one service each, however often ensured"
    );

    // A consumer VPC with a subnet in each zone and an instance; its default group lets
    // the VPC reach the endpoint.
    let p = principal(CONSUMER);
    let vpc = c.vpc(&p, "10.40.0.0/16").await;
    let a = subnet_az(&c, &p, &vpc, "10.40.1.0/24", "us-east-1a").await;
    let b = subnet_az(&c, &p, &vpc, "10.40.2.0/24", "us-east-1b").await;
    c.engine
        .add_security_group_rule(
            &p,
            &vpc.default_security_group_id,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(80),
                to_port: Some(80),
                cidr_ip: Some("10.40.0.0/16".into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
    let inst = c.instance(&p, &a, &[]).await;

    // Without an endpoint the name does not resolve in the VPC.
    let before = sts(&c, &p, &inst).await;
    assert!(before.get("service").is_none(), "{before}");

    let d = c
        .engine
        .describe_service_by_name(&p, "com.amazonaws.us-east-1.sts")
        .await
        .unwrap();
    assert!(!d.acceptance_required);
    assert_eq!(
        d.private_dns_name.as_deref(),
        Some("sts.us-east-1.amazonaws.linkplane.test")
    );
    let e = c
        .engine
        .create_endpoint(
            &p,
            CreateEndpoint {
                vpc_id: vpc.vpc_id.clone(),
                service_name: "com.amazonaws.us-east-1.sts".into(),
                subnet_ids: vec![a.subnet_id.clone(), b.subnet_id.clone()],
                security_group_ids: vec![],
                private_dns_enabled: Some(true),
            },
        )
        .await
        .unwrap();
    assert_eq!(e.state, "available", "no acceptance for AWS services");
    assert_eq!(e.service_name, "com.amazonaws.us-east-1.sts");
    let (_, dig, _) = c
        .sh(
            &p,
            &inst,
            "dig +short sts.us-east-1.amazonaws.linkplane.test",
        )
        .await;
    let mut got: Vec<&str> = dig.lines().collect();
    got.sort();
    let mut ips: Vec<&str> = e
        .network_interfaces
        .iter()
        .map(|n| n.private_ip_address.as_str())
        .collect();
    ips.sort();
    assert_eq!(got, ips);
    // The service's target turns healthy within about a second of the first ensure.
    let who = sts_until_answered(&c, &p, &inst).await;
    assert_eq!(who["service"], "sts", "{who}");
    assert_eq!(who["action"], "GetCallerIdentity", "{who}");
    assert_eq!(who["sourceIp"], inst.private_ip_address, "{who}");
    assert_eq!(who["vpcEndpointId"], e.vpc_endpoint_id, "{who}");
    assert_eq!(who["Account"], CONSUMER, "{who}");

    // A restart: the listeners come back, nothing is created twice.
    c.reopen().await;
    c.engine.ensure_aws_services("us-east-1").await.unwrap();
    assert_eq!(aws_services(&c).await, names);
    let again = sts_until_answered(&c, &p, &inst).await;
    assert_eq!(again["sourceIp"], inst.private_ip_address, "{again}");
    assert_eq!(again["vpcEndpointId"], e.vpc_endpoint_id, "{again}");

    // Deleting the endpoint removes the name from the VPC.
    c.engine
        .delete_endpoint(&p, &e.vpc_endpoint_id)
        .await
        .unwrap();
    let (_, dig, _) = c
        .sh(
            &p,
            &inst,
            "dig +short sts.us-east-1.amazonaws.linkplane.test",
        )
        .await;
    assert_eq!(dig.trim(), "");

    // Unknown AWS services and regions are not found.
    for name in ["com.amazonaws.us-east-1.sqs", "com.amazonaws.eu-west-1.sts"] {
        let err = c
            .engine
            .describe_service_by_name(&p, name)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{name}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_service_by_its_aws_name_is_described_only_to_allowed_principals() {
    let Some(c) = Cloud::new("outbound_describe").await else {
        return;
    };
    let owner = principal("111111111111");
    let vpc = c.vpc(&owner, "10.0.0.0/16").await;
    let a = subnet_az(&c, &owner, &vpc, "10.0.1.0/24", "us-east-1a").await;
    let lb = c
        .engine
        .create_load_balancer(
            &owner,
            CreateLoadBalancer {
                subnet_ids: vec![a.subnet_id.clone()],
                name: Some("db".into()),
            },
        )
        .await
        .unwrap();
    let role =
        Principal::parse("arn:aws:iam::100000000000:role/linkplane-remote-management").unwrap();
    let svc = c
        .engine
        .create_endpoint_service(
            &owner,
            CreateEndpointService {
                load_balancer_id: lb.load_balancer_id.clone(),
                allowed_principals: vec![role.arn().to_string()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let aws_name = format!("com.amazonaws.vpce.us-east-1.{}", svc.service_id);
    let d = c
        .engine
        .describe_service_by_name(&role, &aws_name)
        .await
        .unwrap();
    assert_eq!(d.service_name, svc.service_name);
    assert_eq!(d.owner_id, "111111111111");
    assert!(d.acceptance_required);
    assert_eq!(d.availability_zones, ["us-east-1a"]);
    // The role is allowed; its account's root (another principal) is not.
    let err = c
        .engine
        .describe_service_by_name(&principal("100000000000"), &aws_name)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("not in the service's allowed principals"),
        "{err}"
    );
    let err = c
        .engine
        .describe_service_by_name(&role, "com.amazonaws.vpce.us-west-2.vpce-svc-00000000")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}
