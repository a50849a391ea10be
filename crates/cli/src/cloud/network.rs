//! VPCs, subnets, routes, internet and NAT gateways, elastic IPs and VPC peering.

use anyhow::{Context as _, bail};
use linkplane_client::Method;
use serde_json::{Value, json};

use super::Outcome;
use super::args::*;
use super::client::CloudApi;

pub async fn vpc(c: &CloudApi, cmd: &VpcCmd) -> anyhow::Result<Outcome> {
    match cmd {
        VpcCmd::Create {
            cidr,
            region,
            name,
            enable_dns_hostnames,
        } => {
            c.post(
                "/vpcs",
                json!({"cidrBlock": cidr, "region": region, "name": name,
                           "enableDnsHostnames": enable_dns_hostnames}),
            )
            .await
        }
        VpcCmd::Modify {
            vpc_id,
            enable_dns_hostnames,
        } => {
            c.patch(
                &format!("/vpcs/{vpc_id}"),
                json!({"enableDnsHostnames": enable_dns_hostnames}),
            )
            .await
        }
        VpcCmd::List => c.get("/vpcs").await,
        VpcCmd::Show { vpc_id } => c.get(&format!("/vpcs/{vpc_id}")).await,
        VpcCmd::Delete { vpc_id } => c.delete(&format!("/vpcs/{vpc_id}"), vpc_id).await,
    }
}

pub async fn subnet(c: &CloudApi, cmd: &SubnetCmd) -> anyhow::Result<Outcome> {
    match cmd {
            SubnetCmd::Create {
                vpc,
                cidr,
                az,
                public,
                name,
            } => {
                c.post(
                    "/subnets",
                    json!({"vpcId": vpc, "cidrBlock": cidr, "availabilityZone": az, "mapPublicIpOnLaunch": public, "name": name}),
                )
                .await
            }
            SubnetCmd::List { vpc } => match vpc {
                Some(v) => c.get(&format!("/subnets?vpcId={v}")).await,
                None => c.get("/subnets").await,
            },
            SubnetCmd::Show { subnet_id } => c.get(&format!("/subnets/{subnet_id}")).await,
            SubnetCmd::Delete { subnet_id } => {
                c.delete(&format!("/subnets/{subnet_id}"), subnet_id).await
            }
    }
}

pub async fn route(c: &CloudApi, cmd: &RouteCmd) -> anyhow::Result<Outcome> {
    match cmd {
        RouteCmd::Add {
            subnet,
            vpc,
            destination,
            target,
        } => {
            let body = json!({"destinationCidrBlock": destination, "targetId": target});
            let subnets = match (subnet, vpc) {
                (Some(s), _) => vec![s.clone()],
                (None, Some(v)) => {
                    let list = c
                        .call(Method::GET, &format!("/subnets?vpcId={v}"), None)
                        .await?;
                    let ids: Vec<String> = list
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|s| s["subnetId"].as_str().map(str::to_owned))
                        .collect();
                    if ids.is_empty() {
                        bail!(
                            "{v} has no subnets to route from: create one with `subnet create --vpc {v} …`"
                        );
                    }
                    ids
                }
                (None, None) => bail!("give --subnet subnet-… or --vpc vpc-…"),
            };
            if let [one] = subnets.as_slice() {
                return c.post(&format!("/subnets/{one}/routes"), body).await;
            }
            let mut added = Vec::new();
            for s in &subnets {
                let mut route = c
                    .call(
                        Method::POST,
                        &format!("/subnets/{s}/routes"),
                        Some(body.clone()),
                    )
                    .await
                    .with_context(|| {
                        format!("adding the route to {s} (added to {added:?} before it)")
                    })?;
                if let Some(o) = route.as_object_mut() {
                    o.insert("subnetId".into(), json!(s));
                }
                added.push(route);
            }
            Ok(Outcome::Value(Value::Array(added)))
        }
        RouteCmd::List { subnet } => c.get(&format!("/subnets/{subnet}/routes")).await,
        RouteCmd::Delete {
            subnet,
            destination,
        } => {
            let q: String = destination.replace('/', "%2F");
            c.delete(
                &format!("/subnets/{subnet}/routes?destinationCidrBlock={q}"),
                &format!("route to {destination}"),
            )
            .await
        }
    }
}

pub async fn igw(c: &CloudApi, cmd: &IgwCmd) -> anyhow::Result<Outcome> {
    match cmd {
        IgwCmd::Create { vpc } => c.post("/internet-gateways", json!({"vpcId": vpc})).await,
        IgwCmd::List => c.get("/internet-gateways").await,
        IgwCmd::Show { igw_id } => c.get(&format!("/internet-gateways/{igw_id}")).await,
        IgwCmd::Delete { igw_id } => {
            c.delete(&format!("/internet-gateways/{igw_id}"), igw_id)
                .await
        }
    }
}

pub async fn eip(c: &CloudApi, cmd: &EipCmd) -> anyhow::Result<Outcome> {
    match cmd {
        EipCmd::Allocate => c.post("/elastic-ips", json!({})).await,
        EipCmd::List => c.get("/elastic-ips").await,
        EipCmd::Release { allocation_id } => {
            c.delete(&format!("/elastic-ips/{allocation_id}"), allocation_id)
                .await
        }
    }
}

pub async fn nat(c: &CloudApi, cmd: &NatCmd) -> anyhow::Result<Outcome> {
    match cmd {
        NatCmd::Create { subnet, eip } => {
            c.post(
                "/nat-gateways",
                json!({"subnetId": subnet, "allocationId": eip}),
            )
            .await
        }
        NatCmd::List => c.get("/nat-gateways").await,
        NatCmd::Show { nat_id } => c.get(&format!("/nat-gateways/{nat_id}")).await,
        NatCmd::Delete { nat_id } => c.delete(&format!("/nat-gateways/{nat_id}"), nat_id).await,
    }
}

pub async fn peering(c: &CloudApi, cmd: &PeeringCmd) -> anyhow::Result<Outcome> {
    match cmd {
            PeeringCmd::Create {
                vpc,
                peer_vpc,
                peer_owner,
                peer_region,
            } => {
                c.post(
                    "/vpc-peering-connections",
                    json!({"vpcId": vpc, "peerVpcId": peer_vpc, "peerOwnerId": peer_owner, "peerRegion": peer_region}),
                )
                .await
            }
            PeeringCmd::List => c.get("/vpc-peering-connections").await,
            PeeringCmd::Show { pcx_id } => c.get(&format!("/vpc-peering-connections/{pcx_id}")).await,
            PeeringCmd::Accept { pcx_id } => {
                c.post(&format!("/vpc-peering-connections/{pcx_id}/accept"), json!({}))
                    .await
            }
            PeeringCmd::Reject { pcx_id } => {
                c.post(&format!("/vpc-peering-connections/{pcx_id}/reject"), json!({}))
                    .await
            }
            PeeringCmd::Delete { pcx_id } => {
                c.delete(&format!("/vpc-peering-connections/{pcx_id}"), pcx_id)
                    .await
            }
            PeeringCmd::ModifyOptions {
                pcx_id,
                requester_dns_resolution,
                accepter_dns_resolution,
            } => {
                c.post(
                    &format!("/vpc-peering-connections/{pcx_id}/options"),
                    peering_options_body(*requester_dns_resolution, *accepter_dns_resolution)?,
                )
                .await
            }
    }
}

/// The body of `POST /vpc-peering-connections/{id}/options`: only the sides given.
pub fn peering_options_body(
    requester: Option<bool>,
    accepter: Option<bool>,
) -> anyhow::Result<Value> {
    if requester.is_none() && accepter.is_none() {
        bail!(
            "give --requester-dns-resolution true|false, --accepter-dns-resolution true|false, or both"
        );
    }
    let mut body = serde_json::Map::new();
    for (key, v) in [
        ("requesterPeeringConnectionOptions", requester),
        ("accepterPeeringConnectionOptions", accepter),
    ] {
        if let Some(v) = v {
            body.insert(key.into(), json!({"allowDnsResolutionFromRemoteVpc": v}));
        }
    }
    Ok(Value::Object(body))
}
