//! Instance DNS host names and DNS resolution across a VPC peering, with `dig` from real
//! instances and from the internet namespace.
//!
//! Document 002, "DNS considerations for VPC peering": "If your external VPC resolves DNS
//! hostnames using DNS Hostnames and DNS Resolution, you must also enable the Accepter DNS
//! Resolution setting on AWS. This allows Astro clusters and Deployments to resolve the
//! public DNS hostnames of the external VPC to its private IP addresses."
//!
//! Here the requester VPC plays the Astro cluster's VPC and the accepter VPC the customer's
//! external VPC.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Cloud, principal};
use linkplane_localcloud::types::*;
use linkplane_localcloud::{Engine, Principal};
use serde_json::{Value, json};

/// The platform's account (requester, the cluster's VPC).
const PLATFORM: &str = "666666666666";
/// The customer's account (accepter, the external VPC).
const CUSTOMER: &str = "777777777777";

fn arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

/// The /cloud/v1 API of one engine on 127.0.0.1:0.
struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Api {
    async fn serve(engine: Arc<Engine>) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let token = std::fs::read_to_string(engine.operator_token_path())
            .unwrap()
            .trim()
            .to_string();
        let app = linkplane_localcloud::api::router(engine);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base,
            token,
            http: reqwest::Client::new(),
            server,
        }
    }

    async fn call(&self, method: &str, path: &str, who: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(
                method.parse().unwrap(),
                format!("{}/cloud/v1{path}", self.base),
            )
            .bearer_auth(&self.token)
            .header("X-Cloud-Principal", arn(who));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `dig +short name` from an instance (its VPC's resolver).
async fn short(c: &Cloud, p: &Principal, inst: &Instance, name: &str) -> String {
    let (code, out, err) = c
        .sh(p, inst, &format!("dig +time=2 +tries=1 +short {name}"))
        .await;
    assert_eq!(code, 0, "dig {name}: {out} {err}");
    out.trim().to_string()
}

/// `dig +short name` against the public DNS, from the internet namespace.
async fn internet_short(c: &Cloud, name: &str) -> String {
    let out = c
        .engine
        .internet_exec(
            &[
                "dig".into(),
                "+short".into(),
                "+time=2".into(),
                "+tries=1".into(),
                format!("@{}", linkplane_localcloud::PUBLIC_DNS),
                name.into(),
            ],
            b"",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

async fn public_subnet(c: &Cloud, p: &Principal, vpc: &Vpc, cidr: &str) -> Subnet {
    c.engine
        .create_subnet(
            p,
            CreateSubnet {
                vpc_id: vpc.vpc_id.clone(),
                cidr_block: cidr.into(),
                availability_zone: "us-east-1a".into(),
                map_public_ip_on_launch: true,
                name: None,
            },
        )
        .await
        .unwrap()
}

fn detail(v: &Value) -> String {
    v["detail"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepter_dns_resolution_resolves_public_names_to_private_ips() {
    let Some(mut c) =
        Cloud::new("accepter_dns_resolution_resolves_public_names_to_private_ips").await
    else {
        return;
    };
    let plat = principal(PLATFORM);
    let cust = principal(CUSTOMER);
    let api = Api::serve(c.engine.clone()).await;

    // The cluster's VPC is created with enableDnsHostnames; the customer's without (the
    // default), then modified.
    let (s, v) = api
        .call(
            "POST",
            "/vpcs",
            PLATFORM,
            Some(json!({"cidrBlock": "10.50.0.0/16", "enableDnsHostnames": true})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["enableDnsHostnames"], json!(true), "{v}");
    let vr: Vpc = serde_json::from_value(v).unwrap();
    let va = c.vpc(&cust, "10.51.0.0/16").await;
    assert!(!va.enable_dns_hostnames, "off by default, as for AWS");

    let sa = public_subnet(&c, &cust, &va, "10.51.1.0/24").await;
    let igw = c
        .engine
        .create_internet_gateway(
            &cust,
            CreateInternetGateway {
                vpc_id: va.vpc_id.clone(),
            },
        )
        .await
        .unwrap();
    c.engine
        .create_route(
            &cust,
            &sa.subnet_id,
            CreateRoute {
                destination_cidr_block: "0.0.0.0/0".into(),
                target_id: igw.internet_gateway_id.clone(),
            },
        )
        .await
        .unwrap();
    let web = c.instance(&cust, &sa, &[]).await;
    let web_public = web.public_ip_address.clone().expect("public subnet");
    let web_private = web.private_ip_address.clone();
    assert_eq!(
        web.private_dns_name,
        format!(
            "ip-{}.us-east-1.compute.internal",
            web_private.replace('.', "-")
        )
    );
    let web_name = format!(
        "ec2-{}.us-east-1.compute.linkplane.test",
        web_public.replace('.', "-")
    );
    // enableDnsHostnames=false: no public DNS name, and public DNS does not know it.
    assert_eq!(web.public_dns_name, None);
    assert_eq!(internet_short(&c, &web_name).await, "");
    // The private name resolves inside its VPC anyway.
    assert_eq!(
        short(&c, &cust, &web, &web.private_dns_name).await,
        web_private
    );

    // PATCH: refused for an unknown field, an empty body and another account.
    let path = format!("/vpcs/{}", va.vpc_id);
    let (s, v) = api
        .call(
            "PATCH",
            &path,
            CUSTOMER,
            Some(json!({"enableDnsHostnames": true, "enableDnsSupport": true})),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(detail(&v).contains("enableDnsSupport"), "{v}");
    let (s, v) = api.call("PATCH", &path, CUSTOMER, Some(json!({}))).await;
    assert_eq!(s, 400, "{v}");
    assert!(detail(&v).contains("enableDnsHostnames"), "{v}");
    let (s, v) = api
        .call(
            "PATCH",
            &path,
            PLATFORM,
            Some(json!({"enableDnsHostnames": true})),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        detail(&v).contains(PLATFORM) && detail(&v).contains(CUSTOMER),
        "{v}"
    );
    let (s, v) = api
        .call(
            "PATCH",
            &path,
            CUSTOMER,
            Some(json!({"enableDnsHostnames": true})),
        )
        .await;
    assert_eq!((s, &v["enableDnsHostnames"]), (200, &json!(true)), "{v}");
    let web = c
        .engine
        .get_instance(&cust, &web.instance_id)
        .await
        .unwrap();
    assert_eq!(web.public_dns_name.as_deref(), Some(web_name.as_str()));

    // The internet resolves the public name to the public IP; the instance's own VPC to
    // the private IP; a name under compute.linkplane.test that no VPC overrides still
    // falls through to public DNS.
    assert_eq!(internet_short(&c, &web_name).await, web_public);
    assert_eq!(short(&c, &cust, &web, &web_name).await, web_private);
    let other = "www.us-east-1.compute.linkplane.test";
    c.engine
        .publish_public_record(PublicRecord {
            name: other.into(),
            values: vec!["203.0.113.80".into()],
            ttl: 30,
        })
        .await
        .unwrap();
    assert_eq!(short(&c, &cust, &web, other).await, "203.0.113.80");
    assert_eq!(
        internet_short(&c, &web_name).await,
        web_public,
        "instance names survive a public record change"
    );

    // The cluster side: a public instance too (its name shows the option is one-way).
    let sr = public_subnet(&c, &plat, &vr, "10.50.1.0/24").await;
    let client = c.instance(&plat, &sr, &[]).await;
    let client_name = client.public_dns_name.clone().expect("hostnames enabled");
    let client_public = client.public_ip_address.clone().unwrap();
    assert_eq!(
        short(&c, &plat, &client, &client_name).await,
        client.private_ip_address
    );
    assert_eq!(
        short(&c, &plat, &client, &client.private_dns_name).await,
        client.private_ip_address
    );
    // Not peered: the public IP.
    assert_eq!(short(&c, &plat, &client, &web_name).await, web_public);

    let pcx = c
        .engine
        .create_peering(
            &plat,
            CreatePeering {
                vpc_id: vr.vpc_id.clone(),
                peer_vpc_id: va.vpc_id.clone(),
                peer_owner_id: Some(CUSTOMER.into()),
                peer_region: None,
            },
        )
        .await
        .unwrap();
    let id = pcx.vpc_peering_connection_id.clone();
    assert_eq!(
        pcx.accepter_vpc_info.peering_options,
        PeeringOptions::default()
    );
    let opts = format!("/vpc-peering-connections/{id}/options");
    let accepter_on =
        json!({"accepterPeeringConnectionOptions": {"allowDnsResolutionFromRemoteVpc": true}});
    // Pending acceptance: 409 naming the status; still the public IP.
    let (s, v) = api
        .call("POST", &opts, CUSTOMER, Some(accepter_on.clone()))
        .await;
    assert_eq!(s, 409, "{v}");
    assert!(detail(&v).contains("pending-acceptance"), "{v}");
    assert_eq!(short(&c, &plat, &client, &web_name).await, web_public);

    c.engine.accept_peering(&cust, &id).await.unwrap();
    // Active, option off: the public IP.
    assert_eq!(short(&c, &plat, &client, &web_name).await, web_public);

    // Bad inputs: empty body, unknown field, the wrong account for each side.
    let (s, v) = api.call("POST", &opts, CUSTOMER, Some(json!({}))).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        detail(&v).contains("accepterPeeringConnectionOptions"),
        "{v}"
    );
    let (s, v) = api
        .call(
            "POST",
            &opts,
            CUSTOMER,
            Some(json!({"accepterPeeringConnectionOptions": {"allowDnsResolutionFromRemoteVpc": true, "allowEgressFromLocalClassicLinkToRemoteVpc": true}})),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = api
        .call("POST", &opts, PLATFORM, Some(accepter_on.clone()))
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        detail(&v).contains(PLATFORM) && detail(&v).contains(CUSTOMER),
        "{v}"
    );
    let (s, v) = api
        .call(
            "POST",
            &opts,
            CUSTOMER,
            Some(json!({"requesterPeeringConnectionOptions": {"allowDnsResolutionFromRemoteVpc": true}})),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = api
        .call("POST", &opts, "888888888888", Some(accepter_on.clone()))
        .await;
    assert_eq!(s, 403, "a stranger: {v}");
    assert_eq!(short(&c, &plat, &client, &web_name).await, web_public);

    // The customer enables Accepter DNS Resolution: the cluster's VPC resolves the
    // customer's public host name to its private IP.
    let (s, v) = api
        .call("POST", &opts, CUSTOMER, Some(accepter_on.clone()))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["accepterVpcInfo"]["peeringOptions"]["allowDnsResolutionFromRemoteVpc"],
        json!(true),
        "{v}"
    );
    assert_eq!(
        v["requesterVpcInfo"]["peeringOptions"]["allowDnsResolutionFromRemoteVpc"],
        json!(false),
        "{v}"
    );
    assert_eq!(short(&c, &plat, &client, &web_name).await, web_private);
    // Only public host names: the peer's private name is not served to the cluster.
    assert_eq!(short(&c, &plat, &client, &web.private_dns_name).await, "");
    // Other names under the domain still come from public DNS.
    assert_eq!(short(&c, &plat, &client, other).await, "203.0.113.80");
    // One-way: the customer's VPC still gets the cluster instance's public IP (the
    // requester side did not allow it), until the platform allows it too.
    assert_eq!(short(&c, &cust, &web, &client_name).await, client_public);
    let (s, v) = api
        .call(
            "POST",
            &opts,
            PLATFORM,
            Some(json!({"requesterPeeringConnectionOptions": {"allowDnsResolutionFromRemoteVpc": true}})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        short(&c, &cust, &web, &client_name).await,
        client.private_ip_address
    );
    // The internet still gets public IPs.
    assert_eq!(internet_short(&c, &web_name).await, web_public);

    // A restart keeps the options and the answers.
    drop(api);
    c.reopen().await;
    let api = Api::serve(c.engine.clone()).await;
    assert_eq!(short(&c, &plat, &client, &web_name).await, web_private);
    assert_eq!(short(&c, &cust, &web, &web_name).await, web_private);
    assert_eq!(internet_short(&c, &web_name).await, web_public);
    let (s, v) = api
        .call(
            "GET",
            &format!("/vpc-peering-connections/{id}"),
            PLATFORM,
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["accepterVpcInfo"]["peeringOptions"]["allowDnsResolutionFromRemoteVpc"],
        json!(true),
        "{v}"
    );

    // Disabled again: the public IP.
    let (s, v) = api
        .call(
            "POST",
            &opts,
            CUSTOMER,
            Some(json!({"accepterPeeringConnectionOptions": {"allowDnsResolutionFromRemoteVpc": false}})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(short(&c, &plat, &client, &web_name).await, web_public);
    // Enabled, then the peering is deleted: the public IP.
    let (s, v) = api.call("POST", &opts, CUSTOMER, Some(accepter_on)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(short(&c, &plat, &client, &web_name).await, web_private);
    c.engine.delete_peering(&plat, &id).await.unwrap();
    assert_eq!(short(&c, &plat, &client, &web_name).await, web_public);
    assert_eq!(short(&c, &cust, &web, &client_name).await, client_public);

    // enableDnsHostnames off again: the name is gone everywhere.
    let (s, v) = api
        .call(
            "PATCH",
            &path,
            CUSTOMER,
            Some(json!({"enableDnsHostnames": false})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let web = c
        .engine
        .get_instance(&cust, &web.instance_id)
        .await
        .unwrap();
    assert_eq!(web.public_dns_name, None);
    assert_eq!(internet_short(&c, &web_name).await, "");
    assert_eq!(short(&c, &plat, &client, &web_name).await, "");

    // Terminating an instance removes its names.
    c.engine
        .delete_instance(&plat, &client.instance_id)
        .await
        .unwrap();
    assert_eq!(internet_short(&c, &client_name).await, "");
}
