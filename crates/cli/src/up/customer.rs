//! The steps in the customer's account (`/cloud/v1`): VPC and subnets, the endpoint and its
//! security group, the private hosted zone, the instance running the agent.

use std::path::Path;

use anyhow::bail;
use serde_json::{Value, json};

use super::*;

pub(super) async fn customer_vpc(cloud: &Api, s: &mut State) -> anyhow::Result<((), String)> {
    let vpcs = cloud.list("/vpcs").await?;
    let (vpc, created) = match find_by(&vpcs, "name", VPC_NAME) {
        Some(v) => (v.clone(), false),
        None => (
            cloud
                .post(
                    "/vpcs",
                    json!({"cidrBlock": VPC_CIDR, "region": "us-east-1", "name": VPC_NAME}),
                )
                .await?,
            true,
        ),
    };
    s.vpc_id = text(&vpc, "vpcId")?;
    let subnets = cloud.list(&format!("/subnets?vpcId={}", s.vpc_id)).await?;
    s.subnet_ids.clear();
    for ((name, cidr), az) in SUBNETS.iter().zip(&s.zones) {
        let sn = match find_by(&subnets, "name", name) {
            Some(sn) => sn.clone(),
            None => cloud.post("/subnets", json!({"vpcId": s.vpc_id, "cidrBlock": cidr, "availabilityZone": az, "name": name})).await?,
        };
        s.subnet_ids.push(text(&sn, "subnetId")?);
    }
    Ok((
        (),
        format!(
            "{} {} ({VPC_CIDR}), subnets {}",
            s.vpc_id,
            made(created),
            s.subnet_ids.join(", ")
        ),
    ))
}

pub(super) async fn endpoint_sg(cloud: &Api, s: &mut State) -> anyhow::Result<((), String)> {
    let groups = cloud
        .list(&format!("/security-groups?vpcId={}", s.vpc_id))
        .await?;
    let (g, created) = match find_by(&groups, "groupName", ENDPOINT_SG) {
        Some(g) => (g.clone(), false),
        None => (
            cloud
                .post("/security-groups", json!({"vpcId": s.vpc_id, "groupName": ENDPOINT_SG, "description": "HTTPS from the agents' subnet"}))
                .await?,
            true,
        ),
    };
    s.sg_id = text(&g, "groupId")?;
    let agents = SUBNETS[0].1;
    let has_rule = g
        .get("rules")
        .and_then(Value::as_array)
        .is_some_and(|rules| {
            rules.iter().any(|r| {
                field_is(r, "direction", "ingress")
                    && field_is(r, "cidrIp", agents)
                    && r.get("fromPort") == Some(&json!(443))
            })
        });
    if !has_rule {
        cloud
            .post(
                &format!("/security-groups/{}/rules", s.sg_id),
                json!({"direction": "ingress", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIp": agents}),
            )
            .await?;
    }
    Ok((
        (),
        format!("{} {}, tcp/443 from {agents}", s.sg_id, made(created)),
    ))
}

/// The address the platform publishes for the host name on the public path, if any.
pub(super) async fn public_ip(cloud: &Api, host: &str) -> Option<String> {
    let records = cloud.list("/public-records").await.ok()?;
    let record = records.iter().find(|r| {
        r.get("name")
            .and_then(Value::as_str)
            .map(|n| n.trim_end_matches('.'))
            == Some(host)
    })?;
    record.get("values")?.get(0)?.as_str().map(str::to_owned)
}

/// `STATUS (reason)` of the last answer seen, if any.
pub(super) fn last_status(last: &std::sync::Mutex<Value>) -> Option<String> {
    let v = last.lock().ok()?.clone();
    let status = v.get("status")?.as_str()?.to_owned();
    Some(match v.get("statusReason").and_then(Value::as_str) {
        Some(r) => format!("{status} ({r})"),
        None => status,
    })
}

pub(super) fn endpoint_facts(s: &mut State, e: &Value) -> anyhow::Result<()> {
    s.endpoint_id = text(e, "vpcEndpointId")?;
    s.endpoint_ips = e
        .get("networkInterfaces")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|n| n.get("privateIpAddress").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    s.endpoint_dns = e
        .get("dnsEntries")
        .and_then(|d| d.get(0))
        .and_then(|d| d.get("dnsName"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(())
}

pub(super) async fn endpoint(cloud: &Api, s: &mut State) -> anyhow::Result<((), String)> {
    let endpoints = cloud.list("/vpc-endpoints").await?;
    let live = endpoints.iter().find(|e| {
        field_is(e, "serviceName", &s.service_name)
            && field_is(e, "vpcId", &s.vpc_id)
            && matches!(
                e.get("state").and_then(Value::as_str),
                Some("pendingAcceptance" | "available")
            )
    });
    let (e, created) = match live {
        Some(e) => (e.clone(), false),
        None => (
            cloud
                .post(
                    "/vpc-endpoints",
                    json!({"vpcId": s.vpc_id, "serviceName": s.service_name, "subnetIds": s.subnet_ids,
                           "securityGroupIds": [s.sg_id], "privateDnsEnabled": false}),
                )
                .await?,
            true,
        ),
    };
    endpoint_facts(s, &e)?;
    Ok((
        (),
        format!(
            "{} {}, {} ({})",
            s.endpoint_id,
            made(created),
            s.endpoint_ips.join(", "),
            text(&e, "state")?
        ),
    ))
}

pub(super) async fn zone(cloud: &Api, s: &State) -> anyhow::Result<((), String)> {
    let Some((_, base)) = s.host.split_once(".external.") else {
        bail!(
            "the API URL's host {:?} is not <clusterId>.external.<baseDomain>",
            s.host
        );
    };
    let name = format!("external.{base}");
    let zones = cloud.list("/hosted-zones").await?;
    let found = zones.iter().find(|z| {
        z.get("name")
            .and_then(Value::as_str)
            .map(|n| n.trim_end_matches('.'))
            == Some(name.as_str())
    });
    let (z, created) = match found {
        Some(z) => (z.clone(), false),
        None => (
            cloud
                .post("/hosted-zones", json!({"name": name, "vpcIds": [s.vpc_id]}))
                .await?,
            true,
        ),
    };
    let zone_id = text(&z, "hostedZoneId")?;
    let associated = z
        .get("vpcIds")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(&s.vpc_id)));
    if !associated {
        cloud
            .post(
                &format!("/hosted-zones/{zone_id}/vpcs"),
                json!({"vpcId": s.vpc_id}),
            )
            .await?;
    }
    if s.endpoint_dns.is_empty() {
        bail!(
            "endpoint {} has no DNS name to point the record at",
            s.endpoint_id
        );
    }
    let record = json!({"name": s.host, "type": "ALIAS", "ttl": 60, "values": [s.endpoint_dns]});
    let has = z
        .get("recordSets")
        .and_then(Value::as_array)
        .is_some_and(|r| {
            r.iter().any(|r| {
                r.get("name")
                    .and_then(Value::as_str)
                    .map(|n| n.trim_end_matches('.'))
                    == Some(s.host.as_str())
                    && r.get("values") == record.get("values")
            })
        });
    if !has {
        cloud
            .post(&format!("/hosted-zones/{zone_id}/records"), record)
            .await?;
    }
    Ok((
        (),
        format!(
            "{zone_id} {name} {}, {} → {}",
            made(created),
            s.host,
            s.endpoint_dns
        ),
    ))
}

pub(super) async fn instance(
    cloud: &Api,
    s: &mut State,
    token_file: &Path,
    ca_file: &Path,
) -> anyhow::Result<((), String)> {
    let instances = cloud
        .list(&format!("/instances?vpcId={}", s.vpc_id))
        .await?;
    let running = instances
        .iter()
        .find(|i| field_is(i, "name", INSTANCE_NAME) && !field_is(i, "state", "terminated"));
    let (i, created) = match running {
        Some(i) => (i.clone(), false),
        None => (
            cloud
                .post(
                    "/instances",
                    json!({"subnetId": s.subnet_ids[0], "name": INSTANCE_NAME}),
                )
                .await?,
            true,
        ),
    };
    s.instance_id = text(&i, "instanceId")?;
    let procs = cloud
        .list(&format!("/instances/{}/processes", s.instance_id))
        .await?;
    let agent_running = procs.iter().any(|p| {
        p.get("running") == Some(&Value::Bool(true))
            && p.get("command")
                .and_then(Value::as_array)
                .is_some_and(|c| c.iter().any(|a| a.as_str() == Some("agent")))
    });
    if !agent_running {
        let exe = linkplane_exe()?.display().to_string();
        let command = json!([
            exe,
            "agent",
            "run",
            "--api-url",
            s.api_url,
            "--token-file",
            token_file.display().to_string(),
            "--ca-file",
            ca_file.display().to_string(),
            "--name",
            AGENT_NAME
        ]);
        cloud
            .post(
                &format!("/instances/{}/processes", s.instance_id),
                json!({"command": command}),
            )
            .await?;
    }
    Ok((
        (),
        format!(
            "{} {} at {}, agent {}",
            s.instance_id,
            made(created),
            text(&i, "privateIpAddress")?,
            if agent_running { "running" } else { "started" }
        ),
    ))
}
