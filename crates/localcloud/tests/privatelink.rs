//! PrivateLink with real traffic between instances: a network load balancer in a provider
//! VPC, an endpoint service with acceptance and allowed principals, an interface endpoint
//! in a consumer VPC whose CIDR overlaps the provider's, security groups on the endpoint,
//! PROXY v2 with the endpoint id, health checks, deletion and restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Cloud, principal};
use linkplane_localcloud::types::*;
use linkplane_localcloud::{Error, Principal};

const PROVIDER: &str = "111111111111";
const CONSUMER: &str = "222222222222";
const OUTSIDER: &str = "333333333333";

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
        .expect("create subnet")
}

/// A security group allowing TCP `ports` from `cidr`; returns (group id, rule id).
async fn open_group(
    c: &Cloud,
    p: &Principal,
    vpc: &Vpc,
    name: &str,
    port: i32,
    cidr: &str,
) -> (String, String) {
    let g = c
        .engine
        .create_security_group(
            p,
            CreateSecurityGroup {
                vpc_id: vpc.vpc_id.clone(),
                group_name: name.into(),
                description: String::new(),
            },
        )
        .await
        .unwrap();
    let r = c
        .engine
        .add_security_group_rule(
            p,
            &g.group_id,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(port),
                to_port: Some(port),
                cidr_ip: Some(cidr.into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
    (g.group_id, r.rule_id)
}

/// A server answering each connection with `text`.
async fn serve_text(c: &Cloud, p: &Principal, inst: &Instance, port: u16, text: &str) {
    c.engine
        .run_process(
            p,
            &inst.instance_id,
            &[
                "socat".into(),
                format!("TCP-LISTEN:{port},fork,reuseaddr"),
                format!("SYSTEM:echo {text} peer=$SOCAT_PEERADDR"),
            ],
        )
        .await
        .unwrap();
    c.wait_listening(p, inst, port).await;
}

async fn wait_health(c: &Cloud, p: &Principal, tg: &str, want: &[(&str, &str)]) {
    let start = Instant::now();
    loop {
        let h = c.engine.target_health(p, tg).await.unwrap();
        let ok = want
            .iter()
            .all(|(i, s)| h.iter().any(|t| t.instance_id == *i && t.state == *s));
        if ok {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "target health {h:?}, wanted {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn fast_tcp_check() -> HealthCheck {
    HealthCheck {
        interval_millis: 200,
        timeout_millis: 150,
        healthy_threshold: 2,
        unhealthy_threshold: 2,
        ..Default::default()
    }
}

struct Provider {
    vpc: Vpc,
    targets: Vec<Instance>,
    tg: TargetGroup,
    lb: LoadBalancer,
    service: EndpointService,
}

/// Provider VPC 10.0.0.0/16 with subnets in us-east-1a and us-east-1b, one target in each
/// (port 8080 answers `target-<n>`; the second target serves only when `both`), an NLB
/// listening on 443, and an endpoint service.
async fn provider(c: &Cloud, both: bool, svc: CreateEndpointService) -> Provider {
    let p = principal(PROVIDER);
    let vpc = c.vpc(&p, "10.0.0.0/16").await;
    let a = subnet_az(c, &p, &vpc, "10.0.1.0/24", "us-east-1a").await;
    let b = subnet_az(c, &p, &vpc, "10.0.2.0/24", "us-east-1b").await;
    let (sg, _) = open_group(c, &p, &vpc, "targets", 8080, "10.0.0.0/16").await;
    let t0 = c.instance(&p, &a, &[&sg]).await;
    let t1 = c.instance(&p, &b, &[&sg]).await;
    serve_text(c, &p, &t0, 8080, "target-0").await;
    if both {
        serve_text(c, &p, &t1, 8080, "target-1").await;
    }
    let tg = c
        .engine
        .create_target_group(
            &p,
            CreateTargetGroup {
                vpc_id: vpc.vpc_id.clone(),
                port: 8080,
                health_check: Some(fast_tcp_check()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    c.engine
        .register_targets(
            &p,
            &tg.target_group_id,
            Targets {
                targets: vec![
                    TargetRef {
                        instance_id: t0.instance_id.clone(),
                        port: None,
                    },
                    TargetRef {
                        instance_id: t1.instance_id.clone(),
                        port: None,
                    },
                ],
            },
        )
        .await
        .unwrap();
    let lb = c
        .engine
        .create_load_balancer(
            &p,
            CreateLoadBalancer {
                subnet_ids: vec![a.subnet_id.clone(), b.subnet_id.clone()],
                name: Some("agents".into()),
            },
        )
        .await
        .unwrap();
    let lb = c
        .engine
        .create_listener(
            &p,
            &lb.load_balancer_id,
            CreateListener {
                port: 443,
                target_group_id: tg.target_group_id.clone(),
            },
        )
        .await
        .unwrap();
    let service = c
        .engine
        .create_endpoint_service(
            &p,
            CreateEndpointService {
                load_balancer_id: lb.load_balancer_id.clone(),
                ..svc
            },
        )
        .await
        .unwrap();
    Provider {
        vpc,
        targets: vec![t0, t1],
        tg,
        lb,
        service,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_acceptance_security_groups_dns_overlap_and_delete() {
    let Some(c) = Cloud::new("endpoint_acceptance_security_groups_dns_overlap_and_delete").await
    else {
        return;
    };
    let pp = principal(PROVIDER);
    let cp = principal(CONSUMER);
    let op = principal(OUTSIDER);
    let prov = provider(
        &c,
        true,
        CreateEndpointService {
            acceptance_required: true,
            allowed_principals: vec![format!("arn:aws:iam::{CONSUMER}:root")],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        prov.service.availability_zones,
        vec!["us-east-1a", "us-east-1b"]
    );
    assert!(
        prov.service
            .service_name
            .starts_with("com.linkplane.vpce.us-east-1.vpce-svc-")
    );
    wait_health(
        &c,
        &pp,
        &prov.tg.target_group_id,
        &[
            (&prov.targets[0].instance_id, "healthy"),
            (&prov.targets[1].instance_id, "healthy"),
        ],
    )
    .await;

    // Consumer VPC with the SAME CIDR as the provider's (no route joins them).
    let vpc = c.vpc(&cp, "10.0.0.0/16").await;
    let sa = subnet_az(&c, &cp, &vpc, "10.0.1.0/24", "us-east-1a").await;
    let sc = subnet_az(&c, &cp, &vpc, "10.0.3.0/24", "us-east-1c").await;
    let agent = c.instance(&cp, &sa, &[]).await;
    let (epsg, rule443) = open_group(&c, &cp, &vpc, "endpoint", 443, "10.0.0.0/16").await;
    let req = |subnets: Vec<String>| CreateEndpoint {
        vpc_id: vpc.vpc_id.clone(),
        service_name: prov.service.service_name.clone(),
        subnet_ids: subnets,
        security_group_ids: vec![epsg.clone()],
        private_dns_enabled: None,
    };

    // Not an allowed principal.
    let ovpc = c.vpc(&op, "10.9.0.0/16").await;
    let osub = subnet_az(&c, &op, &ovpc, "10.9.1.0/24", "us-east-1a").await;
    let e = c
        .engine
        .create_endpoint(
            &op,
            CreateEndpoint {
                vpc_id: ovpc.vpc_id.clone(),
                service_name: prov.service.service_name.clone(),
                subnet_ids: vec![osub.subnet_id.clone()],
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden { .. }), "{e}");
    assert!(e.to_string().contains("allowed principals"), "{e}");
    // A subnet in an AZ the service does not support: the message lists the supported ones.
    let e = c
        .engine
        .create_endpoint(&cp, req(vec![sc.subnet_id.clone()]))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("us-east-1c") && e.to_string().contains("us-east-1a, us-east-1b"),
        "{e}"
    );
    // An unknown service name.
    let e = c
        .engine
        .create_endpoint(
            &cp,
            CreateEndpoint {
                service_name: "com.linkplane.vpce.us-east-1.vpce-svc-00000000".into(),
                ..req(vec![sa.subnet_id.clone()])
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");

    let ep = c
        .engine
        .create_endpoint(&cp, req(vec![sa.subnet_id.clone()]))
        .await
        .unwrap();
    assert_eq!(ep.state, "pendingAcceptance");
    let ip = ep.network_interfaces[0].private_ip_address.clone();
    assert!(ip.starts_with("10.0.1."), "{ip}");
    // Pending: connections fail at once (reset), not after a timeout.
    assert_reset(&c, &cp, &agent, &ip, 443).await;

    // The owner sees the connection with the consumer account; only the owner decides.
    let conns = c
        .engine
        .list_endpoint_connections(&pp, &prov.service.service_id)
        .await
        .unwrap();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].vpc_endpoint_owner, CONSUMER);
    assert!(
        c.engine
            .decide_endpoint_connections(
                &cp,
                &prov.service.service_id,
                std::slice::from_ref(&ep.vpc_endpoint_id),
                true
            )
            .await
            .is_err()
    );
    c.engine
        .decide_endpoint_connections(
            &pp,
            &prov.service.service_id,
            std::slice::from_ref(&ep.vpc_endpoint_id),
            true,
        )
        .await
        .unwrap();
    assert_eq!(
        c.engine
            .get_endpoint(&cp, &ep.vpc_endpoint_id)
            .await
            .unwrap()
            .state,
        "available"
    );

    // Through the endpoint: the target sees the load balancer's address in its own VPC.
    let lb_ips: Vec<String> = prov
        .lb
        .addresses
        .iter()
        .map(|a| a.private_ip_address.clone())
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let out = c
            .connect(&cp, &agent, &ip, 443)
            .await
            .expect("through the endpoint");
        let peer = out.split("peer=").nth(1).unwrap().to_string();
        assert!(lb_ips.contains(&peer), "{out} vs {lb_ips:?}");
        seen.insert(out.split(' ').next().unwrap().to_string());
    }
    assert_eq!(
        seen.len(),
        2,
        "spread across both healthy targets: {seen:?}"
    );

    // DNS: the regional and per-AZ names resolve to the endpoint's address in the VPC.
    let ep = c
        .engine
        .get_endpoint(&cp, &ep.vpc_endpoint_id)
        .await
        .unwrap();
    assert_eq!(ep.dns_entries.len(), 2, "{:?}", ep.dns_entries);
    for d in &ep.dns_entries {
        let (_, out, err) = c
            .sh(
                &cp,
                &agent,
                &format!("dig +short +time=2 +tries=1 {}", d.dns_name),
            )
            .await;
        assert_eq!(out.trim(), ip, "{} -> {out} {err}", d.dns_name);
    }

    // Security group without inbound 443 from the agents: refused; back with the rule.
    c.engine
        .revoke_security_group_rule(&cp, &epsg, &rule443)
        .await
        .unwrap();
    assert_eq!(c.connect(&cp, &agent, &ip, 443).await, None);
    c.engine
        .add_security_group_rule(
            &cp,
            &epsg,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(443),
                to_port: Some(443),
                cidr_ip: Some("10.0.1.0/24".into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
    assert!(c.connect(&cp, &agent, &ip, 443).await.is_some());

    // A group in use by an endpoint cannot be deleted.
    let e = c
        .engine
        .delete_security_group(&cp, &epsg)
        .await
        .unwrap_err();
    assert!(e.to_string().contains(&ep.vpc_endpoint_id), "{e}");

    // The provider VPC is not reachable from the consumer: no route joins them (the
    // overlapping 10.0.1.x of the target is a different, non-existent host here).
    let target_ip = &prov.targets[0].private_ip_address;
    assert_eq!(c.connect(&cp, &agent, target_ip, 8080).await, None);

    // Endpoints and load balancers block deletion of what they live in.
    let e = c.engine.delete_vpc(&cp, &vpc.vpc_id).await.unwrap_err();
    assert!(e.to_string().contains(&ep.vpc_endpoint_id), "{e}");
    let e = c
        .engine
        .delete_subnet(&cp, &sa.subnet_id)
        .await
        .unwrap_err();
    assert!(e.to_string().contains(&ep.vpc_endpoint_id), "{e}");
    let e = c
        .engine
        .delete_load_balancer(&pp, &prov.lb.load_balancer_id)
        .await
        .unwrap_err();
    assert!(e.to_string().contains(&prov.service.service_id), "{e}");
    let e = c
        .engine
        .delete_endpoint_service(&pp, &prov.service.service_id)
        .await
        .unwrap_err();
    assert!(e.to_string().contains(&ep.vpc_endpoint_id), "{e}");

    // A listener added while the endpoint exists (port 7000, targets that never answer, so
    // connections stay open) is forwarded at once.
    let tsg = prov.targets[0].security_group_ids[0].clone();
    open_rule(&c, &pp, &tsg, 7000, "10.0.0.0/16").await;
    open_rule(&c, &cp, &epsg, 7000, "10.0.1.0/24").await;
    for t in &prov.targets {
        c.engine
            .run_process(
                &pp,
                &t.instance_id,
                &[
                    "socat".into(),
                    "TCP-LISTEN:7000,fork,reuseaddr".into(),
                    "SYSTEM:sleep 60".into(),
                ],
            )
            .await
            .unwrap();
        c.wait_listening(&pp, t, 7000).await;
    }
    let tg7 = c
        .engine
        .create_target_group(
            &pp,
            CreateTargetGroup {
                vpc_id: prov.vpc.vpc_id.clone(),
                port: 7000,
                health_check: Some(fast_tcp_check()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    c.engine
        .register_targets(
            &pp,
            &tg7.target_group_id,
            Targets {
                targets: prov
                    .targets
                    .iter()
                    .map(|t| TargetRef {
                        instance_id: t.instance_id.clone(),
                        port: None,
                    })
                    .collect(),
            },
        )
        .await
        .unwrap();
    c.engine
        .create_listener(
            &pp,
            &prov.lb.load_balancer_id,
            CreateListener {
                port: 7000,
                target_group_id: tg7.target_group_id.clone(),
            },
        )
        .await
        .unwrap();
    wait_health(
        &c,
        &pp,
        &tg7.target_group_id,
        &[
            (&prov.targets[0].instance_id, "healthy"),
            (&prov.targets[1].instance_id, "healthy"),
        ],
    )
    .await;
    assert_eq!(c.engine.endpoint_forwarders(&ep.vpc_endpoint_id).len(), 2);

    // Delete: a live connection is closed, the address and names go away.
    let hold = c
        .engine
        .run_process(
            &cp,
            &agent.instance_id,
            &[
                "socat".into(),
                "-u".into(),
                format!("TCP:{ip}:7000"),
                "SYSTEM:sleep 60".into(),
            ],
        )
        .await
        .unwrap();
    let start = Instant::now();
    while c
        .engine
        .endpoint_forwarders(&ep.vpc_endpoint_id)
        .iter()
        .map(|f| f.2.active)
        .sum::<u64>()
        == 0
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "held connection never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let gone = c
        .engine
        .delete_endpoint(&cp, &ep.vpc_endpoint_id)
        .await
        .unwrap();
    assert_eq!(gone.state, "deleted");
    // The held connection was reset: its client exits long before its 60 s.
    let start = Instant::now();
    while c
        .engine
        .list_processes(&cp, &agent.instance_id)
        .await
        .unwrap()
        .iter()
        .any(|p| p.process_id == hold.process_id && p.running)
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "held connection survived the delete"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(c.engine.endpoint_forwarders(&ep.vpc_endpoint_id).is_empty());
    assert_eq!(c.connect(&cp, &agent, &ip, 443).await, None);
    let (_, out, _) = c
        .sh(
            &cp,
            &agent,
            &format!("ip -n {} -br addr show lo 2>/dev/null; true", vpc.namespace),
        )
        .await;
    assert!(!out.contains(&ip), "{out}");
    let (_, out, _) = c
        .sh(
            &cp,
            &agent,
            &format!("dig +short +time=2 +tries=1 {}", ep.dns_entries[0].dns_name),
        )
        .await;
    assert!(out.trim().is_empty(), "{out}");
    // Now the service and the VPC can go.
    c.engine
        .delete_endpoint_service(&pp, &prov.service.service_id)
        .await
        .unwrap();
    let _ = prov.vpc;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_target_no_traffic_proxy_v2_and_restart() {
    let Some(mut c) = Cloud::new("unhealthy_target_no_traffic_proxy_v2_and_restart").await else {
        return;
    };
    let pp = principal(PROVIDER);
    let cp = principal(CONSUMER);
    // Only target-0 serves: target-1 goes unhealthy and must get nothing.
    let prov = provider(
        &c,
        false,
        CreateEndpointService {
            acceptance_required: false,
            allowed_principals: vec!["*".into()],
            proxy_protocol: false,
            ..Default::default()
        },
    )
    .await;
    wait_health(
        &c,
        &pp,
        &prov.tg.target_group_id,
        &[
            (&prov.targets[0].instance_id, "healthy"),
            (&prov.targets[1].instance_id, "unhealthy"),
        ],
    )
    .await;
    let vpc = c.vpc(&cp, "10.7.0.0/16").await;
    let sa = subnet_az(&c, &cp, &vpc, "10.7.1.0/24", "us-east-1b").await;
    let agent = c.instance(&cp, &sa, &[]).await;
    // Default group of the VPC on the endpoint: members only (the agent is one).
    let ep = c
        .engine
        .create_endpoint(
            &cp,
            CreateEndpoint {
                vpc_id: vpc.vpc_id.clone(),
                service_name: prov.service.service_name.clone(),
                subnet_ids: vec![sa.subnet_id.clone()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ep.state, "available", "no acceptance required");
    let ip = ep.network_interfaces[0].private_ip_address.clone();
    for _ in 0..5 {
        let out = c.connect(&cp, &agent, &ip, 443).await;
        assert!(
            out.as_deref().is_some_and(|o| o.starts_with("target-0")),
            "{out:?}"
        );
    }
    let h = c
        .engine
        .target_health(&pp, &prov.tg.target_group_id)
        .await
        .unwrap();
    let t1 = h
        .iter()
        .find(|t| t.instance_id == prov.targets[1].instance_id)
        .unwrap();
    assert_eq!((t1.state.as_str(), t1.active_connections), ("unhealthy", 0));

    // PROXY v2: a target on 9000 that prints the first 45 bytes it receives, in hex.
    let t0 = &prov.targets[0];
    let (g, _) = open_group(&c, &pp, &prov.vpc, "ppv2", 9000, "10.0.0.0/16").await;
    c.engine
        .set_instance_security_groups(
            &pp,
            &t0.instance_id,
            &[g.clone(), t0.security_group_ids[0].clone()],
        )
        .await
        .unwrap();
    c.engine
        .run_process(
            &pp,
            &t0.instance_id,
            &[
                "socat".into(),
                "TCP-LISTEN:9000,fork,reuseaddr".into(),
                "SYSTEM:head -c 45 | od -An -tx1 -w64".into(),
            ],
        )
        .await
        .unwrap();
    c.wait_listening(&pp, t0, 9000).await;
    let tg2 = c
        .engine
        .create_target_group(
            &pp,
            CreateTargetGroup {
                vpc_id: prov.vpc.vpc_id.clone(),
                port: 9000,
                health_check: Some(fast_tcp_check()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    c.engine
        .register_targets(
            &pp,
            &tg2.target_group_id,
            Targets {
                targets: vec![TargetRef {
                    instance_id: t0.instance_id.clone(),
                    port: None,
                }],
            },
        )
        .await
        .unwrap();
    // A second LB + service with PROXY v2 on.
    let lb2 = c
        .engine
        .create_load_balancer(
            &pp,
            CreateLoadBalancer {
                subnet_ids: vec![prov.lb.addresses[0].subnet_id.clone()],
                name: None,
            },
        )
        .await
        .unwrap();
    c.engine
        .create_listener(
            &pp,
            &lb2.load_balancer_id,
            CreateListener {
                port: 443,
                target_group_id: tg2.target_group_id.clone(),
            },
        )
        .await
        .unwrap();
    wait_health(
        &c,
        &pp,
        &tg2.target_group_id,
        &[(&t0.instance_id, "healthy")],
    )
    .await;
    let svc2 = c
        .engine
        .create_endpoint_service(
            &pp,
            CreateEndpointService {
                load_balancer_id: lb2.load_balancer_id.clone(),
                acceptance_required: false,
                proxy_protocol: true,
                allowed_principals: vec![format!("arn:aws:iam::{CONSUMER}:root")],
                supported_regions: vec![],
                private_dns_name: None,
            },
        )
        .await
        .unwrap();
    // lb2 lives in us-east-1a only: the consumer's 1b subnet is refused, a 1a one works.
    let sa2 = subnet_az(&c, &cp, &vpc, "10.7.2.0/24", "us-east-1a").await;
    let ep2 = c
        .engine
        .create_endpoint(
            &cp,
            CreateEndpoint {
                vpc_id: vpc.vpc_id.clone(),
                service_name: svc2.service_name.clone(),
                subnet_ids: vec![sa2.subnet_id.clone()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let ip2 = ep2.network_interfaces[0].private_ip_address.clone();
    let hex = c
        .connect(&cp, &agent, &ip2, 443)
        .await
        .expect("ppv2 target answers")
        .replace(' ', "");
    let sig = "0d0a0d0a000d0a515549540a";
    assert!(hex.starts_with(&format!("{sig}2111")), "{hex}");
    let id_hex: String = ep2
        .vpc_endpoint_id
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        hex.contains(&format!("ea000e01{id_hex}")),
        "TLV 0xEA/0x01 with {}: {hex}",
        ep2.vpc_endpoint_id
    );
    // Source in the header: the agent's own address.
    let agent_hex: String = agent
        .private_ip_address
        .split('.')
        .map(|o| format!("{:02x}", o.parse::<u8>().unwrap()))
        .collect();
    assert_eq!(&hex[32..40], agent_hex, "{hex}");

    // Restart: forwarders, health checks and resolvers come back from the database.
    c.reopen().await;
    let start = Instant::now();
    loop {
        let out = c.connect(&cp, &agent, &ip, 443).await;
        if out.as_deref().is_some_and(|o| o.starts_with("target-0")) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "endpoint not back after restart: {out:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, out, _) = c
        .sh(
            &cp,
            &agent,
            &format!("dig +short +time=2 +tries=1 {}", ep.dns_entries[0].dns_name),
        )
        .await;
    assert_eq!(out.trim(), ip, "endpoint name after restart");
    assert!(c.connect(&cp, &agent, &ip2, 443).await.is_some());

    // The owner rejects an available endpoint: connections fail at once from then on.
    c.engine
        .decide_endpoint_connections(
            &pp,
            &svc2.service_id,
            std::slice::from_ref(&ep2.vpc_endpoint_id),
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        c.engine
            .get_endpoint(&cp, &ep2.vpc_endpoint_id)
            .await
            .unwrap()
            .state,
        "rejected"
    );
    assert_reset(&c, &cp, &agent, &ip2, 443).await;
    assert!(
        c.engine
            .endpoint_forwarders(&ep2.vpc_endpoint_id)
            .iter()
            .all(|f| !f.1),
        "gate closed"
    );
    // A rejected connection cannot be accepted again.
    assert!(
        c.engine
            .decide_endpoint_connections(
                &pp,
                &svc2.service_id,
                std::slice::from_ref(&ep2.vpc_endpoint_id),
                true,
            )
            .await
            .is_err()
    );
}

/// A script file (instances share the host's file system).
fn script(dir: &std::path::Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_through_private_dns_name_with_http_health_matcher() {
    let Some(c) = Cloud::new("https_through_private_dns_name_with_http_health_matcher").await
    else {
        return;
    };
    let pp = principal(PROVIDER);
    let cp = principal(CONSUMER);
    let vpc = c.vpc(&pp, "10.50.0.0/16").await;
    let a = subnet_az(&c, &pp, &vpc, "10.50.1.0/24", "us-east-1a").await;
    let (sg, _) = open_group(&c, &pp, &vpc, "web", 8443, "10.50.0.0/16").await;
    rule_tcp(&c, &pp, &sg, 8081).await;
    let dir = c.dir.path().to_path_buf();
    let mut targets = Vec::new();
    for (n, status) in [(0, "302 Found"), (1, "500 Internal Server Error")] {
        let t = c.instance(&pp, &a, &[&sg]).await;
        // Health endpoint on 8081 answering `status`; TLS on 8443 with CN=target-<n>.
        let health = script(
            &dir,
            &format!("health{n}.sh"),
            &format!(
                "read -r line\nprintf 'HTTP/1.1 {status}\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n'\n"
            ),
        );
        c.engine
            .run_process(
                &pp,
                &t.instance_id,
                &[
                    "socat".into(),
                    "TCP-LISTEN:8081,fork,reuseaddr".into(),
                    format!("SYSTEM:bash {health}"),
                ],
            )
            .await
            .unwrap();
        let (key, cert) = (dir.join(format!("k{n}.pem")), dir.join(format!("c{n}.pem")));
        let (code, _, err) = c
            .sh(
                &pp,
                &t,
                &format!(
                    "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=target-{n} -addext subjectAltName=DNS:svc.example.internal -keyout {} -out {} 2>&1",
                    key.display(),
                    cert.display()
                ),
            )
            .await;
        assert_eq!(code, 0, "{err}");
        c.engine
            .run_process(
                &pp,
                &t.instance_id,
                &[
                    "openssl".into(),
                    "s_server".into(),
                    "-quiet".into(),
                    "-accept".into(),
                    "8443".into(),
                    "-cert".into(),
                    cert.display().to_string(),
                    "-key".into(),
                    key.display().to_string(),
                    "-www".into(),
                ],
            )
            .await
            .unwrap();
        c.wait_listening(&pp, &t, 8443).await;
        c.wait_listening(&pp, &t, 8081).await;
        targets.push(t);
    }
    let tg = c
        .engine
        .create_target_group(
            &pp,
            CreateTargetGroup {
                vpc_id: vpc.vpc_id.clone(),
                port: 8443,
                name: Some("web".into()),
                health_check: Some(HealthCheck {
                    protocol: "HTTP".into(),
                    path: Some("/healthz".into()),
                    matcher: Some("200,302".into()),
                    port: Some(8081),
                    ..fast_tcp_check()
                }),
            },
        )
        .await
        .unwrap();
    c.engine
        .register_targets(
            &pp,
            &tg.target_group_id,
            Targets {
                targets: targets
                    .iter()
                    .map(|t| TargetRef {
                        instance_id: t.instance_id.clone(),
                        port: None,
                    })
                    .collect(),
            },
        )
        .await
        .unwrap();
    let h = c
        .engine
        .target_health(&pp, &tg.target_group_id)
        .await
        .unwrap();
    assert!(
        h.iter().all(|t| t.state == "unused"),
        "no listener yet: {h:?}"
    );
    let lb = c
        .engine
        .create_load_balancer(
            &pp,
            CreateLoadBalancer {
                subnet_ids: vec![a.subnet_id.clone()],
                name: None,
            },
        )
        .await
        .unwrap();
    c.engine
        .create_listener(
            &pp,
            &lb.load_balancer_id,
            CreateListener {
                port: 443,
                target_group_id: tg.target_group_id.clone(),
            },
        )
        .await
        .unwrap();
    wait_health(
        &c,
        &pp,
        &tg.target_group_id,
        &[
            (&targets[0].instance_id, "healthy"),
            (&targets[1].instance_id, "unhealthy"),
        ],
    )
    .await;
    let svc = c
        .engine
        .create_endpoint_service(
            &pp,
            CreateEndpointService {
                load_balancer_id: lb.load_balancer_id.clone(),
                acceptance_required: false,
                private_dns_name: Some("svc.example.internal".into()),
                allowed_principals: vec![format!("arn:aws:iam::{CONSUMER}:role/agents")],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // The account root is not the allowed role.
    let cvpc = c.vpc(&cp, "10.50.0.0/16").await;
    let cs = subnet_az(&c, &cp, &cvpc, "10.50.1.0/24", "us-east-1a").await;
    let agent = c.instance(&cp, &cs, &[]).await;
    let req = CreateEndpoint {
        vpc_id: cvpc.vpc_id.clone(),
        service_name: svc.service_name.clone(),
        subnet_ids: vec![cs.subnet_id.clone()],
        ..Default::default()
    };
    assert!(c.engine.create_endpoint(&cp, req.clone()).await.is_err());
    let role = Principal::parse(&format!("arn:aws:iam::{CONSUMER}:role/agents")).unwrap();
    let ep = c.engine.create_endpoint(&role, req).await.unwrap();
    assert!(ep.private_dns_enabled);
    assert!(
        ep.dns_entries
            .iter()
            .any(|d| d.dns_name == "svc.example.internal")
    );
    // HTTPS by the private DNS name, certificate verified against the target's CA.
    for _ in 0..4 {
        let (code, out, err) = c
            .sh(
                &cp,
                &agent,
                &format!(
                    "curl -sS --max-time 5 --cacert {} -o /dev/null -w '%{{http_code}}' https://svc.example.internal/",
                    dir.join("c0.pem").display()
                ),
            )
            .await;
        assert_eq!((code, out.as_str()), (0, "200"), "{err}");
    }
}

async fn rule_tcp(c: &Cloud, p: &Principal, group: &str, port: i32) {
    c.engine
        .add_security_group_rule(
            p,
            group,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(port),
                to_port: Some(port),
                cidr_ip: Some("10.50.0.0/16".into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_region_needs_a_supported_region_and_validation() {
    let Some(c) = Cloud::new("cross_region_needs_a_supported_region_and_validation").await else {
        return;
    };
    let pp = principal(PROVIDER);
    let cp = principal(CONSUMER);
    let pv = c.vpc(&pp, "10.80.0.0/16").await;
    let ps = subnet_az(&c, &pp, &pv, "10.80.1.0/24", "us-east-1a").await;
    let lb = |name: &str| CreateLoadBalancer {
        subnet_ids: vec![ps.subnet_id.clone()],
        name: Some(name.into()),
    };
    let lb1 = c.engine.create_load_balancer(&pp, lb("one")).await.unwrap();
    let lb2 = c.engine.create_load_balancer(&pp, lb("two")).await.unwrap();
    assert_ne!(
        lb1.addresses[0].private_ip_address,
        lb2.addresses[0].private_ip_address
    );
    let svc = |lb: &LoadBalancer, regions: Vec<String>| CreateEndpointService {
        load_balancer_id: lb.load_balancer_id.clone(),
        acceptance_required: false,
        allowed_principals: vec!["*".into()],
        supported_regions: regions,
        ..Default::default()
    };
    let local_only = c
        .engine
        .create_endpoint_service(&pp, svc(&lb1, vec![]))
        .await
        .unwrap();
    let west = c
        .engine
        .create_endpoint_service(&pp, svc(&lb2, vec!["us-west-2".into()]))
        .await
        .unwrap();
    assert_eq!(west.supported_regions, vec!["us-west-2"]);
    // Bad inputs.
    let e = c
        .engine
        .create_endpoint_service(&pp, svc(&lb1, vec![]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already fronts"), "{e}");
    let e = c
        .engine
        .create_endpoint_service(&pp, svc(&lb1, vec!["mars-1".into()]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a region"), "{e}");
    let e = c
        .engine
        .modify_service_permissions(
            &pp,
            &west.service_id,
            ModifyPermissions {
                add_allowed_principals: vec!["bob".into()],
                remove_allowed_principals: vec![],
            },
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("allowedPrincipals"), "{e}");
    assert!(
        c.engine
            .create_load_balancer(
                &pp,
                CreateLoadBalancer {
                    subnet_ids: vec![],
                    name: None,
                }
            )
            .await
            .is_err()
    );

    // A consumer VPC in us-west-2.
    let cv = c
        .engine
        .create_vpc(
            &cp,
            CreateVpc {
                cidr_block: "10.80.0.0/16".into(),
                region: Some("us-west-2".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let cs = subnet_az(&c, &cp, &cv, "10.80.1.0/24", "us-west-2a").await;
    let req = |name: &str| CreateEndpoint {
        vpc_id: cv.vpc_id.clone(),
        service_name: name.into(),
        subnet_ids: vec![cs.subnet_id.clone()],
        ..Default::default()
    };
    let e = c
        .engine
        .create_endpoint(&cp, req(&local_only.service_name))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("us-west-2") && e.to_string().contains("supported regions"),
        "{e}"
    );
    let ep = c
        .engine
        .create_endpoint(&cp, req(&west.service_name))
        .await
        .unwrap();
    assert_eq!(ep.state, "available");
    // The owner lists us-west-2 and turns acceptance on: new endpoints wait for it.
    let m = c
        .engine
        .modify_endpoint_service(
            &pp,
            &local_only.service_id,
            ModifyEndpointService {
                acceptance_required: Some(true),
                supported_regions: Some(vec!["us-west-2".into(), "us-east-1".into()]),
                private_dns_name: Some("api.example.internal".into()),
                remove_private_dns_name: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            m.acceptance_required,
            m.supported_regions.clone(),
            m.private_dns_name.clone()
        ),
        (
            true,
            vec!["us-west-2".to_string()],
            Some("api.example.internal".to_string())
        )
    );
    assert!(
        c.engine
            .modify_endpoint_service(
                &cp,
                &local_only.service_id,
                ModifyEndpointService::default()
            )
            .await
            .is_err(),
        "only the owner modifies"
    );
    let pending = c
        .engine
        .create_endpoint(&cp, req(&local_only.service_name))
        .await
        .unwrap();
    assert_eq!(pending.state, "pendingAcceptance");
    assert!(pending.private_dns_enabled);
    c.engine
        .delete_endpoint(&cp, &pending.vpc_endpoint_id)
        .await
        .unwrap();
    // Removing the allowed principals does not cut existing endpoints, but new ones fail.
    c.engine
        .modify_service_permissions(
            &pp,
            &west.service_id,
            ModifyPermissions {
                add_allowed_principals: vec![],
                remove_allowed_principals: vec!["*".into()],
            },
        )
        .await
        .unwrap();
    let e = c
        .engine
        .create_endpoint(&cp, req(&west.service_name))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden { .. }), "{e}");
    // Another account cannot see or delete the endpoint.
    assert!(
        c.engine
            .get_endpoint(&pp, &ep.vpc_endpoint_id)
            .await
            .is_err()
    );
    assert!(
        c.engine
            .delete_endpoint(&pp, &ep.vpc_endpoint_id)
            .await
            .is_err()
    );
    c.engine
        .delete_endpoint(&cp, &ep.vpc_endpoint_id)
        .await
        .unwrap();
    c.engine
        .delete_endpoint_service(&pp, &west.service_id)
        .await
        .unwrap();
    c.engine
        .delete_load_balancer(&pp, &lb2.load_balancer_id)
        .await
        .unwrap();
}

async fn open_rule(c: &Cloud, p: &Principal, group: &str, port: i32, cidr: &str) {
    c.engine
        .add_security_group_rule(
            p,
            group,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(port),
                to_port: Some(port),
                cidr_ip: Some(cidr.into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
}

/// The connection is reset by the endpoint (not timed out, not served). socat is no judge
/// here (it may treat a reset as a clean end), so bash's /dev/tcp and cat report it.
async fn assert_reset(c: &Cloud, p: &Principal, inst: &Instance, ip: &str, port: u16) {
    let (code, out, err) = c
        .sh(
            p,
            inst,
            &format!("timeout 8 bash -c 'exec 3<>/dev/tcp/{ip}/{port} && cat <&3'"),
        )
        .await;
    assert!(
        code == 1 && (err.contains("reset") || err.contains("refused")) && out.is_empty(),
        "wanted a reset at once: code {code}, out {out:?}, err {err:?}"
    );
}
