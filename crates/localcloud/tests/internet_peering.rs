//! Real traffic through the internet namespace (internet gateway, public IPs, NAT gateway)
//! and over VPC peering (EC2 semantics, non-transitive).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Cloud, client_script, principal, server_cmd};
use linkplane_localcloud::types::*;

async fn internet_sh(c: &Cloud, script: &str) -> (i32, String) {
    let out = c
        .engine
        .internet_exec(
            &["bash".into(), "-c".into(), script.into()],
            b"",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    (
        out.exit_code,
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nat_gateway_and_public_ips() {
    let Some(c) = Cloud::new("nat_gateway_and_public_ips").await else {
        return;
    };
    let p = principal("111111111111");
    let vpc = c.vpc(&p, "10.30.0.0/16").await;
    let public = c
        .engine
        .create_subnet(
            &p,
            CreateSubnet {
                vpc_id: vpc.vpc_id.clone(),
                cidr_block: "10.30.0.0/24".into(),
                availability_zone: "us-east-1a".into(),
                map_public_ip_on_launch: true,
                name: Some("public".into()),
            },
        )
        .await
        .unwrap();
    let private = c.subnet(&p, &vpc, "10.30.1.0/24").await;
    let inet = c.engine.internet().await.unwrap();
    let host = inet.host_address.clone();
    assert_eq!(host, "203.0.113.1");

    // A server on the internet that tells each client its source address.
    let srv = c.engine.internet_run(&p, &server_cmd(8000)).await.unwrap();
    for _ in 0..100 {
        if internet_sh(&c, "ss -Hltn 'sport = :8000'")
            .await
            .1
            .contains("8000")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let web = c
        .engine
        .create_security_group(
            &p,
            CreateSecurityGroup {
                vpc_id: vpc.vpc_id.clone(),
                group_name: "web".into(),
                description: String::new(),
            },
        )
        .await
        .unwrap();
    c.engine
        .add_security_group_rule(
            &p,
            &web.group_id,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(80),
                to_port: Some(80),
                cidr_ip: Some("0.0.0.0/0".into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
    let pub_inst = c.instance(&p, &public, &[&web.group_id]).await;
    let priv_inst = c.instance(&p, &private, &[]).await;
    let pub_ip = pub_inst
        .public_ip_address
        .clone()
        .expect("public subnet maps a public IP");
    assert!(pub_ip.starts_with("198.51.100."), "{pub_ip}");
    assert_eq!(priv_inst.public_ip_address, None);

    // No internet gateway yet: nothing leaves.
    assert_eq!(c.connect(&p, &pub_inst, &host, 8000).await, None);

    let igw = c
        .engine
        .create_internet_gateway(
            &p,
            CreateInternetGateway {
                vpc_id: vpc.vpc_id.clone(),
            },
        )
        .await
        .unwrap();
    // Gateway attached but no route: still nothing.
    assert_eq!(
        c.connect(&p, &pub_inst, &host, 8000).await,
        None,
        "no route yet"
    );
    c.engine
        .create_route(
            &p,
            &public.subnet_id,
            CreateRoute {
                destination_cidr_block: "0.0.0.0/0".into(),
                target_id: igw.internet_gateway_id.clone(),
            },
        )
        .await
        .unwrap();
    let seen = c.connect(&p, &pub_inst, &host, 8000).await;
    assert_eq!(
        seen,
        Some(format!("peer={pub_ip}")),
        "public IP is the source"
    );

    // Inbound from the internet to the public IP reaches the instance (SG allows 80).
    c.serve(&p, &pub_inst, 80).await;
    let (code, out) = internet_sh(&c, &client_script(&pub_ip, 80)).await;
    assert_eq!(
        (code, out.as_str()),
        (0, "peer=203.0.113.1"),
        "inbound via public IP"
    );

    // The private subnet reaches the internet only through the NAT gateway, as the EIP.
    assert_eq!(
        c.connect(&p, &priv_inst, &host, 8000).await,
        None,
        "private: no route"
    );
    let eip = c.engine.allocate_elastic_ip(&p).await.unwrap();
    let nat = c
        .engine
        .create_nat_gateway(
            &p,
            CreateNatGateway {
                subnet_id: public.subnet_id.clone(),
                allocation_id: eip.allocation_id.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(nat.public_ip, eip.public_ip);
    c.engine
        .create_route(
            &p,
            &private.subnet_id,
            CreateRoute {
                destination_cidr_block: "0.0.0.0/0".into(),
                target_id: nat.nat_gateway_id.clone(),
            },
        )
        .await
        .unwrap();
    let seen = c.connect(&p, &priv_inst, &host, 8000).await;
    assert_eq!(
        seen,
        Some(format!("peer={}", eip.public_ip)),
        "NAT source is the EIP"
    );
    // Nothing on the internet can open a connection to the private instance.
    c.serve(&p, &priv_inst, 81).await;
    let (code, _) = internet_sh(&c, &client_script(&eip.public_ip, 81)).await;
    assert_ne!(code, 0, "NAT is outbound only");

    // Dependents are refused with clear errors.
    let e = c
        .engine
        .delete_nat_gateway(&p, &nat.nat_gateway_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(&private.subnet_id), "{e}");
    let e = c
        .engine
        .release_elastic_ip(&p, &eip.allocation_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(&nat.nat_gateway_id), "{e}");
    let e = c
        .engine
        .delete_internet_gateway(&p, &igw.internet_gateway_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("routes"), "{e}");
    c.engine
        .delete_route(&p, &private.subnet_id, "0.0.0.0/0")
        .await
        .unwrap();
    c.engine
        .delete_nat_gateway(&p, &nat.nat_gateway_id)
        .await
        .unwrap();
    c.engine
        .release_elastic_ip(&p, &eip.allocation_id)
        .await
        .unwrap();
    assert_eq!(
        c.connect(&p, &priv_inst, &host, 8000).await,
        None,
        "NAT gone"
    );
    c.engine
        .stop_process(&p, "internet", &srv.process_id)
        .await
        .unwrap();
}

async fn peer_setup(
    c: &Cloud,
    p: &linkplane_localcloud::Principal,
    cidr: &str,
) -> (Vpc, Subnet, Instance) {
    let vpc = c.vpc(p, cidr).await;
    let net: ipnet::Ipv4Net = cidr.parse().unwrap();
    let s = c.subnet(p, &vpc, &format!("{}/24", net.network())).await;
    let sg = c
        .engine
        .create_security_group(
            p,
            CreateSecurityGroup {
                vpc_id: vpc.vpc_id.clone(),
                group_name: "open".into(),
                description: String::new(),
            },
        )
        .await
        .unwrap();
    c.engine
        .add_security_group_rule(
            p,
            &sg.group_id,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(7000),
                to_port: Some(7000),
                cidr_ip: Some("10.0.0.0/8".into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
    let i = c.instance(p, &s, &[&sg.group_id]).await;
    c.serve(p, &i, 7000).await;
    (vpc, s, i)
}

async fn route(c: &Cloud, p: &linkplane_localcloud::Principal, s: &Subnet, dest: &str, pcx: &str) {
    c.engine
        .create_route(
            p,
            &s.subnet_id,
            CreateRoute {
                destination_cidr_block: dest.into(),
                target_id: pcx.into(),
            },
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peering_lifecycle_with_ec2_semantics() {
    let Some(c) = Cloud::new("peering_lifecycle_with_ec2_semantics").await else {
        return;
    };
    let alice = principal("111111111111");
    let bob = principal("222222222222");
    let mallory = principal("333333333333");
    let (va, sa, ia) = peer_setup(&c, &alice, "10.41.0.0/16").await;
    let (vb, sb, ib) = peer_setup(&c, &bob, "10.42.0.0/16").await;
    let b_ip = ib.private_ip_address.clone();

    let pcx = c
        .engine
        .create_peering(
            &alice,
            CreatePeering {
                vpc_id: va.vpc_id.clone(),
                peer_vpc_id: vb.vpc_id.clone(),
                peer_owner_id: Some("222222222222".into()),
                peer_region: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(pcx.status.code, "pending-acceptance");
    let id = pcx.vpc_peering_connection_id.clone();
    assert!(id.starts_with("pcx-") && id.len() == 12, "{id}");

    // Before acceptance: a route may point at it, but it is a blackhole.
    route(&c, &alice, &sa, "10.42.0.0/16", &id).await;
    let routes = c.engine.list_routes(&alice, &sa.subnet_id).await.unwrap();
    assert_eq!(routes[0].target_id, "local");
    assert_eq!(routes[1].state, "blackhole");
    assert_eq!(
        c.connect(&alice, &ia, &b_ip, 7000).await,
        None,
        "before acceptance"
    );

    // Only the accepter's account may accept; the requester and strangers are refused.
    for who in [&alice, &mallory] {
        let e = c
            .engine
            .accept_peering(who, &id)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("222222222222") && e.contains(who.account().as_str()),
            "{e}"
        );
    }
    let e = c
        .engine
        .get_peering(&mallory, &id)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("333333333333"), "{e}");
    let accepted = c.engine.accept_peering(&bob, &id).await.unwrap();
    assert_eq!(accepted.status.code, "active");
    let e = c
        .engine
        .accept_peering(&bob, &id)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("active"), "{e}");
    assert_eq!(
        c.engine.list_routes(&alice, &sa.subnet_id).await.unwrap()[1].state,
        "active"
    );

    // Active, but only one side has a route: replies cannot return.
    assert_eq!(
        c.connect(&alice, &ia, &b_ip, 7000).await,
        None,
        "one side routed"
    );
    route(&c, &bob, &sb, "10.41.0.0/16", &id).await;
    let seen = c.connect(&alice, &ia, &b_ip, 7000).await;
    assert_eq!(
        seen,
        Some(format!("peer={}", ia.private_ip_address)),
        "both sides routed"
    );
    // And the other way.
    assert!(
        c.connect(&bob, &ib, &ia.private_ip_address, 7000)
            .await
            .is_some()
    );

    // A VPC with a live peering cannot be deleted.
    let e = c
        .engine
        .delete_vpc(&alice, &va.vpc_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(&id), "{e}");

    // Delete: status deleted, routes become blackholes, traffic stops.
    let deleted = c.engine.delete_peering(&bob, &id).await.unwrap();
    assert_eq!(deleted.status.code, "deleted");
    assert_eq!(
        c.connect(&alice, &ia, &b_ip, 7000).await,
        None,
        "after delete"
    );
    assert_eq!(
        c.engine.list_routes(&alice, &sa.subnet_id).await.unwrap()[1].state,
        "blackhole"
    );

    // Rejection by the accepter.
    let again = c
        .engine
        .create_peering(
            &alice,
            CreatePeering {
                vpc_id: va.vpc_id.clone(),
                peer_vpc_id: vb.vpc_id.clone(),
                peer_owner_id: Some("222222222222".into()),
                peer_region: None,
            },
        )
        .await
        .unwrap();
    let e = c
        .engine
        .reject_peering(&alice, &again.vpc_peering_connection_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("222222222222"), "{e}");
    let rejected = c
        .engine
        .reject_peering(&bob, &again.vpc_peering_connection_id)
        .await
        .unwrap();
    assert_eq!(rejected.status.code, "rejected");

    // Overlapping CIDRs end in failed; so does a wrong peer owner.
    let vo = c.vpc(&bob, "10.41.128.0/17").await;
    let failed = c
        .engine
        .create_peering(
            &alice,
            CreatePeering {
                vpc_id: va.vpc_id.clone(),
                peer_vpc_id: vo.vpc_id.clone(),
                peer_owner_id: Some("222222222222".into()),
                peer_region: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(failed.status.code, "failed");
    assert!(
        failed.status.message.contains("overlapping"),
        "{:?}",
        failed.status
    );
    let e = c
        .engine
        .accept_peering(&bob, &failed.vpc_peering_connection_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("failed"), "{e}");
    let wrong_owner = c
        .engine
        .create_peering(
            &alice,
            CreatePeering {
                vpc_id: va.vpc_id.clone(),
                peer_vpc_id: vb.vpc_id.clone(),
                peer_owner_id: Some("333333333333".into()),
                peer_region: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(wrong_owner.status.code, "failed");
    // Malformed ids are refused before anything happens.
    let e = c
        .engine
        .create_peering(
            &alice,
            CreatePeering {
                vpc_id: va.vpc_id.clone(),
                peer_vpc_id: "vpc-xyz".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("peerVpcId"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peering_is_not_transitive() {
    let Some(c) = Cloud::new("peering_is_not_transitive").await else {
        return;
    };
    let p = principal("111111111111");
    let (va, sa, ia) = peer_setup(&c, &p, "10.51.0.0/16").await;
    let (vb, sb, ib) = peer_setup(&c, &p, "10.52.0.0/16").await;
    let (vc, sc, ic) = peer_setup(&c, &p, "10.53.0.0/16").await;
    let peer = |a: &Vpc, b: &Vpc| CreatePeering {
        vpc_id: a.vpc_id.clone(),
        peer_vpc_id: b.vpc_id.clone(),
        ..Default::default()
    };
    let ab = c.engine.create_peering(&p, peer(&va, &vb)).await.unwrap();
    let bc = c.engine.create_peering(&p, peer(&vb, &vc)).await.unwrap();
    let ab = c
        .engine
        .accept_peering(&p, &ab.vpc_peering_connection_id)
        .await
        .unwrap();
    let bc = c
        .engine
        .accept_peering(&p, &bc.vpc_peering_connection_id)
        .await
        .unwrap();
    let (ab, bc) = (ab.vpc_peering_connection_id, bc.vpc_peering_connection_id);
    // Every route one could wish for: A sends C's traffic to B, C sends A's to B, B knows both.
    route(&c, &p, &sa, "10.52.0.0/16", &ab).await;
    route(&c, &p, &sa, "10.53.0.0/16", &ab).await;
    route(&c, &p, &sb, "10.51.0.0/16", &ab).await;
    route(&c, &p, &sb, "10.53.0.0/16", &bc).await;
    route(&c, &p, &sc, "10.52.0.0/16", &bc).await;
    route(&c, &p, &sc, "10.51.0.0/16", &bc).await;

    assert!(
        c.connect(&p, &ia, &ib.private_ip_address, 7000)
            .await
            .is_some(),
        "A-B"
    );
    assert!(
        c.connect(&p, &ib, &ic.private_ip_address, 7000)
            .await
            .is_some(),
        "B-C"
    );
    assert_eq!(
        c.connect(&p, &ia, &ic.private_ip_address, 7000).await,
        None,
        "A-C via B"
    );
    assert_eq!(
        c.connect(&p, &ic, &ia.private_ip_address, 7000).await,
        None,
        "C-A via B"
    );
}
