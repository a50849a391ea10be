//! Transit gateways with real traffic (EC2 and RAM semantics, their words quoted): a TGW
//! router namespace, RAM shares and invitations (`PENDING` → `ACCEPTED` / `REJECTED`),
//! VPC attachments (`pendingAcceptance` → `pending` → `available`, `rejected`,
//! `deleting` → `deleted`), route tables (association, `propagated`, `static` and
//! `blackhole` routes, longest prefix wins) and VPC routes with a `tgw-…` target.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Cloud, principal};
use linkplane_localcloud::types::*;
use linkplane_localcloud::{Engine, Error, Principal};

const A: &str = "111111111111";
const B: &str = "222222222222";
const C: &str = "333333333333";

struct Net {
    vpc: Vpc,
    subnet: Subnet,
    inst: Instance,
    ip: String,
}

/// A VPC with one subnet and one instance whose security group lets 10.0.0.0/8 in on
/// port 8000, and a server there.
async fn net(c: &Cloud, p: &Principal, cidr: &str, subnet: &str) -> Net {
    let vpc = c.vpc(p, cidr).await;
    let s = c.subnet(p, &vpc, subnet).await;
    let sg = c
        .engine
        .create_security_group(
            p,
            CreateSecurityGroup {
                vpc_id: vpc.vpc_id.clone(),
                group_name: "tgw".into(),
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
                from_port: Some(8000),
                to_port: Some(8000),
                cidr_ip: Some("10.0.0.0/8".into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
    let inst = c.instance(p, &s, &[&sg.group_id]).await;
    c.serve(p, &inst, 8000).await;
    Net {
        ip: inst.private_ip_address.clone(),
        vpc,
        subnet: s,
        inst,
    }
}

async fn route(e: &Engine, p: &Principal, n: &Net, dest: &str, tgw: &str) -> Route {
    e.create_route(
        p,
        &n.subnet.subnet_id,
        CreateRoute {
            destination_cidr_block: dest.into(),
            target_id: tgw.into(),
        },
    )
    .await
    .unwrap()
}

async fn attach(
    e: &Engine,
    p: &Principal,
    tgw: &str,
    n: &Net,
) -> Result<TransitGatewayVpcAttachment, Error> {
    e.create_transit_gateway_vpc_attachment(
        p,
        CreateTransitGatewayVpcAttachment {
            transit_gateway_id: tgw.into(),
            vpc_id: n.vpc.vpc_id.clone(),
            subnet_ids: vec![n.subnet.subnet_id.clone()],
        },
    )
    .await
}

/// Share `tgw` from `owner` with `to` and accept the invitation as `to`.
async fn share_and_accept(e: &Engine, owner: &Principal, to: &Principal, tgw: &str) -> String {
    let share = e
        .create_resource_share(
            owner,
            CreateResourceShare {
                name: Some("tgw".into()),
                resource_id: tgw.into(),
                principal: to.account().to_string(),
            },
        )
        .await
        .unwrap();
    assert_eq!(share.status, "ACTIVE");
    assert_eq!(share.invitation.status, "PENDING");
    let inv = e.list_resource_share_invitations(to).await.unwrap();
    let inv = inv
        .iter()
        .find(|i| i.resource_id == tgw && i.status == "PENDING")
        .expect("the recipient sees a PENDING invitation");
    let accepted = e
        .accept_resource_share_invitation(to, &inv.resource_share_invitation_id)
        .await
        .unwrap();
    assert_eq!(accepted.status, "ACCEPTED");
    share.resource_share_id
}

async fn reaches(c: &Cloud, p: &Principal, from: &Net, to: &Net) -> bool {
    c.connect(p, &from.inst, &to.ip, 8000).await.is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transit_gateway_routes_real_traffic_across_accounts() {
    let Some(mut c) = Cloud::new("transit_gateway_routes_real_traffic_across_accounts").await
    else {
        return;
    };
    let (pa, pb, pc) = (principal(A), principal(B), principal(C));

    // Refused options, in AWS's ranges and words.
    let bad = c
        .engine
        .create_transit_gateway(
            &pa,
            CreateTransitGateway {
                options: TransitGatewayRequestOptions {
                    amazon_side_asn: Some(65535),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&bad, Error::Invalid { field, .. } if field == "options.amazonSideAsn"),
        "{bad}"
    );

    let tgw = c
        .engine
        .create_transit_gateway(&pa, CreateTransitGateway::default())
        .await
        .unwrap();
    let t = tgw.transit_gateway_id.clone();
    assert!(t.starts_with("tgw-"));
    assert_eq!(tgw.state, "available");
    assert_eq!(tgw.options.amazon_side_asn, 64512);
    assert_eq!(tgw.options.auto_accept_shared_attachments, "disable");
    assert_eq!(tgw.options.default_route_table_association, "enable");
    assert_eq!(tgw.options.default_route_table_propagation, "enable");
    let default_rtb = tgw
        .options
        .association_default_route_table_id
        .clone()
        .expect("a default route table");
    assert!(linkplane_netns::exists(&tgw.namespace), "the TGW router");

    let a = net(&c, &pa, "10.61.0.0/16", "10.61.0.0/24").await;
    let b = net(&c, &pb, "10.62.0.0/16", "10.62.0.0/24").await;
    let b2 = net(&c, &pb, "10.64.0.0/16", "10.64.0.0/24").await;
    let cc = net(&c, &pc, "10.63.0.0/16", "10.63.0.0/24").await;

    // The owner's own VPC: no acceptance needed.
    let att_a = attach(&c.engine, &pa, &t, &a).await.unwrap();
    assert_eq!(att_a.state, "available");
    assert_eq!(
        att_a
            .association
            .as_ref()
            .unwrap()
            .transit_gateway_route_table_id,
        default_rtb
    );
    let dup = attach(&c.engine, &pa, &t, &a).await.unwrap_err();
    assert!(
        dup.to_string()
            .contains("DuplicateTransitGatewayAttachment"),
        "{dup}"
    );

    // Before a share, the other account cannot see the TGW nor attach to it.
    assert!(matches!(
        c.engine.get_transit_gateway(&pb, &t).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        attach(&c.engine, &pb, &t, &b).await,
        Err(Error::NotFound { .. })
    ));
    // A VPC route to a TGW the VPC is not attached to is refused.
    let no_att = c
        .engine
        .create_route(
            &pb,
            &b.subnet.subnet_id,
            CreateRoute {
                destination_cidr_block: "10.61.0.0/16".into(),
                target_id: t.clone(),
            },
        )
        .await
        .unwrap_err();
    assert!(no_att.to_string().contains("attach the VPC"), "{no_att}");

    let share_b = share_and_accept(&c.engine, &pa, &pb, &t).await;
    assert_eq!(
        c.engine
            .get_transit_gateway(&pb, &t)
            .await
            .unwrap()
            .owner_id,
        A
    );
    // Cross-account with autoAcceptSharedAttachments disable: pendingAcceptance.
    let att_b = attach(&c.engine, &pb, &t, &b).await.unwrap();
    assert_eq!(att_b.state, "pendingAcceptance");
    assert!(
        matches!(
            c.engine
                .accept_transit_gateway_attachment(&pb, &att_b.transit_gateway_attachment_id)
                .await,
            Err(Error::Forbidden { .. })
        ),
        "only the TGW owner accepts"
    );
    let att_b = c
        .engine
        .accept_transit_gateway_attachment(&pa, &att_b.transit_gateway_attachment_id)
        .await
        .unwrap();
    assert_eq!(att_b.state, "available");
    let att_b2 = attach(&c.engine, &pb, &t, &b2).await.unwrap();
    let att_b2 = c
        .engine
        .accept_transit_gateway_attachment(&pa, &att_b2.transit_gateway_attachment_id)
        .await
        .unwrap();

    // A third account, shared and accepted, whose attachment the owner rejects.
    share_and_accept(&c.engine, &pa, &pc, &t).await;
    let att_c = attach(&c.engine, &pc, &t, &cc).await.unwrap();
    let att_c = c
        .engine
        .reject_transit_gateway_attachment(&pa, &att_c.transit_gateway_attachment_id)
        .await
        .unwrap();
    assert_eq!(att_c.state, "rejected");

    // Propagation: every available attachment's VPC CIDR is a `propagated` route.
    let routes = c
        .engine
        .list_transit_gateway_routes(&pa, &default_rtb)
        .await
        .unwrap();
    let dests: Vec<(&str, &str)> = routes
        .iter()
        .map(|r| (r.destination_cidr_block.as_str(), r.route_type.as_str()))
        .collect();
    assert_eq!(
        dests,
        vec![
            ("10.61.0.0/16", "propagated"),
            ("10.62.0.0/16", "propagated"),
            ("10.64.0.0/16", "propagated")
        ]
    );
    assert!(
        matches!(
            c.engine
                .list_transit_gateway_routes(&pb, &default_rtb)
                .await,
            Err(Error::Forbidden { .. })
        ),
        "only the owner manages route tables"
    );

    // VPC route tables take the tgw-… as a target.
    let r = route(&c.engine, &pa, &a, "10.62.0.0/15", &t).await;
    assert_eq!(
        (r.target_id.as_str(), r.state.as_str()),
        (t.as_str(), "active")
    );
    route(&c.engine, &pa, &a, "10.64.0.0/16", &t).await;
    route(&c.engine, &pb, &b, "10.0.0.0/8", &t).await;
    route(&c.engine, &pb, &b2, "10.0.0.0/8", &t).await;
    route(&c.engine, &pc, &cc, "10.0.0.0/8", &t).await;
    assert!(reaches(&c, &pa, &a, &b).await, "a → b through the TGW");
    assert!(reaches(&c, &pb, &b, &a).await, "b → a through the TGW");
    assert!(
        reaches(&c, &pb, &b, &b2).await,
        "b → b2 (transitive, as the table says)"
    );
    assert!(
        !reaches(&c, &pc, &cc, &a).await,
        "a rejected attachment carries nothing"
    );

    // Isolation by route tables: b2 alone in a table without routes reaches nobody;
    // propagating a into it lets b2 and a talk, while b and b2 stay apart.
    let rt2 = c
        .engine
        .create_transit_gateway_route_table(
            &pa,
            CreateTransitGatewayRouteTable {
                transit_gateway_id: t.clone(),
            },
        )
        .await
        .unwrap();
    let rt2 = rt2.transit_gateway_route_table_id;
    let b2_id = att_b2.transit_gateway_attachment_id.clone();
    let already = c
        .engine
        .associate_transit_gateway_route_table(&pa, &rt2, &b2_id)
        .await
        .unwrap_err();
    assert!(
        already.to_string().contains("AlreadyAssociated"),
        "{already}"
    );
    c.engine
        .disassociate_transit_gateway_route_table(&pa, &default_rtb, &b2_id)
        .await
        .unwrap();
    // What is not there cannot be removed, and the error says which thing is missing.
    let again = c
        .engine
        .disassociate_transit_gateway_route_table(&pa, &default_rtb, &b2_id)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("association"), "{again}");
    let none = c
        .engine
        .disable_transit_gateway_route_table_propagation(&pa, &rt2, &b2_id)
        .await
        .unwrap_err();
    assert!(none.to_string().contains("propagation"), "{none}");
    let rt = c
        .engine
        .associate_transit_gateway_route_table(&pa, &rt2, &b2_id)
        .await
        .unwrap();
    assert_eq!(rt.associations.len(), 1);
    assert!(!reaches(&c, &pb, &b2, &a).await, "b2's table has no routes");
    assert!(
        !reaches(&c, &pa, &a, &b2).await,
        "replies from b2 find no route"
    );
    c.engine
        .enable_transit_gateway_route_table_propagation(
            &pa,
            &rt2,
            &att_a.transit_gateway_attachment_id,
        )
        .await
        .unwrap();
    assert!(
        reaches(&c, &pb, &b2, &a).await,
        "b2 → a once a propagates into rt2"
    );
    assert!(reaches(&c, &pa, &a, &b2).await);
    assert!(
        !reaches(&c, &pb, &b2, &b).await,
        "b2 and b are isolated: rt2 has no route to b"
    );
    assert!(reaches(&c, &pa, &a, &b).await, "a still reaches b");

    // A blackhole: more specific than the propagated /16, so it wins and drops.
    let bh = c
        .engine
        .create_transit_gateway_route(
            &pa,
            &default_rtb,
            CreateTransitGatewayRoute {
                destination_cidr_block: "10.62.0.0/24".into(),
                transit_gateway_attachment_id: None,
                blackhole: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (bh.route_type.as_str(), bh.state.as_str()),
        ("static", "blackhole")
    );
    assert!(!reaches(&c, &pa, &a, &b).await, "the blackhole route drops");
    c.engine
        .delete_transit_gateway_route(&pa, &default_rtb, "10.62.0.0/24")
        .await
        .unwrap();
    assert!(reaches(&c, &pa, &a, &b).await);
    // Static beats propagated for the same prefix.
    c.engine
        .create_transit_gateway_route(
            &pa,
            &default_rtb,
            CreateTransitGatewayRoute {
                destination_cidr_block: "10.62.0.0/16".into(),
                transit_gateway_attachment_id: None,
                blackhole: true,
            },
        )
        .await
        .unwrap();
    let routes = c
        .engine
        .list_transit_gateway_routes(&pa, &default_rtb)
        .await
        .unwrap();
    let r62 = routes
        .iter()
        .find(|r| r.destination_cidr_block == "10.62.0.0/16")
        .unwrap();
    assert_eq!(
        (r62.route_type.as_str(), r62.state.as_str()),
        ("static", "blackhole")
    );
    assert!(!reaches(&c, &pa, &a, &b).await);
    c.engine
        .delete_transit_gateway_route(&pa, &default_rtb, "10.62.0.0/16")
        .await
        .unwrap();
    assert!(reaches(&c, &pa, &a, &b).await);

    // Unsharing: B can no longer describe the TGW or attach, but its attachments work.
    let gone = c.engine.delete_resource_share(&pa, &share_b).await.unwrap();
    assert_eq!(gone.status, "DELETED");
    assert!(matches!(
        c.engine.get_transit_gateway(&pb, &t).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        c.engine
            .get_transit_gateway_attachment(&pb, &att_b.transit_gateway_attachment_id)
            .await
            .unwrap()
            .state,
        "available"
    );
    assert!(
        reaches(&c, &pb, &b, &a).await,
        "unsharing keeps the attachment working"
    );

    // A restart that lost every namespace rebuilds the TGW router and its links.
    c.engine.gc();
    c.reopen().await;
    for (p, n) in [(&pa, &a), (&pb, &b)] {
        c.serve(p, &n.inst, 8000).await;
    }
    assert!(
        linkplane_netns::exists(&tgw.namespace),
        "TGW router rebuilt"
    );
    assert!(reaches(&c, &pa, &a, &b).await, "a → b after the rebuild");

    // Deleting: deleting → deleted, and the VPC's routes through the TGW are blackholes.
    let del = c
        .engine
        .delete_transit_gateway_attachment(&pb, &att_b.transit_gateway_attachment_id)
        .await
        .unwrap();
    assert_eq!(del.state, "deleted");
    let vpc_routes = c
        .engine
        .list_routes(&pb, &b.subnet.subnet_id)
        .await
        .unwrap();
    let via = vpc_routes.iter().find(|r| r.target_id == t).unwrap();
    assert_eq!(via.state, "blackhole");
    assert!(!reaches(&c, &pa, &a, &b).await);
    let busy = c.engine.delete_transit_gateway(&pa, &t).await.unwrap_err();
    assert!(busy.to_string().contains("non-deleted"), "{busy}");
    assert!(
        c.engine.delete_vpc(&pa, &a.vpc.vpc_id).await.is_err(),
        "a VPC with an attachment is not deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transit_gateway_http_api() {
    let Some(c) = Cloud::new("transit_gateway_http_api").await else {
        return;
    };
    let app = linkplane_localcloud::api::router(c.engine.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let token = std::fs::read_to_string(c.engine.operator_token_path()).unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let url = |p: &str| format!("http://{addr}/cloud/v1{p}");
    let post = |p: String, who: &str, body: serde_json::Value| {
        http.post(p)
            .bearer_auth(token.trim())
            .header("x-cloud-principal", format!("arn:aws:iam::{who}:root"))
            .json(&body)
            .send()
    };
    let r = post(
        url("/transit-gateways"),
        A,
        serde_json::json!({"options": {"autoAcceptSharedAttachments": "enable", "amazonSideAsn": 4200000000u64}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let tgw: TransitGateway = r.json().await.unwrap();
    assert_eq!(tgw.options.auto_accept_shared_attachments, "enable");
    assert_eq!(tgw.options.amazon_side_asn, 4_200_000_000);
    // Unknown fields are refused, naming the field.
    let r = post(
        url("/transit-gateways"),
        A,
        serde_json::json!({"options": {"autoAccept": "enable"}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["errors"][0]["field"]
            .as_str()
            .unwrap()
            .contains("autoAccept"),
        "{body}"
    );
    let r = post(
        url("/resource-shares"),
        A,
        serde_json::json!({"resourceId": tgw.transit_gateway_id, "principal": B}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let share: ResourceShare = r.json().await.unwrap();
    let r = post(
        url(&format!(
            "/resource-share-invitations/{}/reject",
            share.invitation.resource_share_invitation_id
        )),
        B,
        serde_json::json!({}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let inv: ResourceShareInvitation = r.json().await.unwrap();
    assert_eq!(inv.status, "REJECTED");
    // A rejected invitation gives no access.
    let r = http
        .get(url(&format!(
            "/transit-gateways/{}",
            tgw.transit_gateway_id
        )))
        .bearer_auth(token.trim())
        .header("x-cloud-principal", format!("arn:aws:iam::{B}:root"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
}
