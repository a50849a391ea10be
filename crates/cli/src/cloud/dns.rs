//! VPC DNS: private hosted zones, resolver rules, public DNS records.

use linkplane_client::Method;
use serde_json::{Value, json};

use super::Outcome;
use super::args::*;
use super::client::CloudApi;

/// The record sets at `name` that a set of type `kind` replaces, and whether another type
/// there conflicts. As Route 53's UPSERT: an ALIAS is an A record pointing at a name, so A,
/// AAAA and ALIAS replace each other; a CNAME shares its name with nothing (RFC 1034), so
/// it and other types conflict (the error says which to remove).
pub fn replaced_by(zone: &Value, name: &str, kind: &str) -> (Vec<String>, Vec<String>) {
    let norm = |n: &str| n.trim_end_matches('.').to_ascii_lowercase();
    let kind = kind.to_ascii_uppercase();
    let address = |k: &str| matches!(k, "A" | "AAAA" | "ALIAS");
    let (mut replaced, mut conflicts) = (vec![], vec![]);
    for set in zone["recordSets"].as_array().into_iter().flatten() {
        let (Some(n), Some(k)) = (set["name"].as_str(), set["type"].as_str()) else {
            continue;
        };
        let k = k.to_ascii_uppercase();
        if norm(n) != norm(name) || k == kind {
            continue;
        }
        if kind == "CNAME" || k == "CNAME" {
            conflicts.push(k);
        } else if (kind == "ALIAS" || k == "ALIAS") && address(&kind) && address(&k) {
            replaced.push(k);
        }
    }
    (replaced, conflicts)
}

/// `zone set`: create or replace the record set, replacing an ALIAS by A/AAAA records and
/// back (the old sets are removed first and put back if the new one is refused).
async fn set_record(
    c: &CloudApi,
    zone_id: &str,
    name: &str,
    kind: &str,
    values: &[String],
    ttl: u32,
) -> anyhow::Result<Outcome> {
    let records = format!("/hosted-zones/{zone_id}/records");
    let body = json!({"name": name, "type": kind, "values": values, "ttl": ttl});
    let zone = c
        .call(Method::GET, &format!("/hosted-zones/{zone_id}"), None)
        .await?;
    let (replaced, conflicts) = replaced_by(&zone, name, kind);
    if let Some(other) = conflicts.first() {
        anyhow::bail!(
            "{name} has a {other} record set, and a CNAME shares its name with no other record \
             (as in Route 53): remove it first with `linkplane cloud zone unset {zone_id} --name {name} --type {other}`"
        );
    }
    let old: Vec<Value> = zone["recordSets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            r["name"]
                .as_str()
                .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
                == Some(name.trim_end_matches('.').to_ascii_lowercase())
                && r["type"]
                    .as_str()
                    .is_some_and(|t| replaced.iter().any(|k| k.eq_ignore_ascii_case(t)))
        })
        .cloned()
        .collect();
    for r in &old {
        c.call(
            Method::DELETE,
            &records,
            Some(json!({"name": r["name"], "type": r["type"]})),
        )
        .await?;
    }
    match c.call(Method::POST, &records, Some(body)).await {
        Ok(v) => {
            for r in &old {
                eprintln!(
                    "replaced the {} record set of {name}",
                    r["type"].as_str().unwrap_or("other")
                );
            }
            Ok(Outcome::Value(v))
        }
        Err(e) => {
            for r in &old {
                let _ = c.call(Method::POST, &records, Some(r.clone())).await;
            }
            Err(e)
        }
    }
}

pub async fn zone(c: &CloudApi, cmd: &ZoneCmd) -> anyhow::Result<Outcome> {
    let vpc_call = |m: Method, path: String, vpc: &str| {
        let body = json!({ "vpcId": vpc });
        async move { Ok(Outcome::Value(c.call(m, &path, Some(body)).await?)) }
    };
    match cmd {
        ZoneCmd::Create { name, vpcs } => {
            c.post("/hosted-zones", json!({"name": name, "vpcIds": vpcs}))
                .await
        }
        ZoneCmd::List => c.get("/hosted-zones").await,
        ZoneCmd::Show { zone_id } => c.get(&format!("/hosted-zones/{zone_id}")).await,
        ZoneCmd::Set {
            zone_id,
            name,
            kind,
            values,
            ttl,
        } => set_record(c, zone_id, name, kind, values, *ttl).await,
        ZoneCmd::Unset {
            zone_id,
            name,
            kind,
        } => {
            c.delete_with(
                &format!("/hosted-zones/{zone_id}/records"),
                Some(json!({"name": name, "type": kind})),
            )
            .await
        }
        ZoneCmd::Authorize { zone_id, vpc } => {
            vpc_call(
                Method::POST,
                format!("/hosted-zones/{zone_id}/authorizations"),
                vpc,
            )
            .await
        }
        ZoneCmd::Associate { zone_id, vpc } => {
            vpc_call(Method::POST, format!("/hosted-zones/{zone_id}/vpcs"), vpc).await
        }
        ZoneCmd::Disassociate { zone_id, vpc } => {
            vpc_call(Method::DELETE, format!("/hosted-zones/{zone_id}/vpcs"), vpc).await
        }
        ZoneCmd::Delete { zone_id } => c.delete(&format!("/hosted-zones/{zone_id}"), zone_id).await,
    }
}

pub async fn rule(c: &CloudApi, cmd: &RuleCmd) -> anyhow::Result<Outcome> {
    match cmd {
        RuleCmd::Create {
            domain,
            targets,
            system,
            name,
        } => {
            let kind = if *system { "SYSTEM" } else { "FORWARD" };
            c.post(
                "/resolver-rules",
                json!({"domainName": domain, "ruleType": kind, "targetIps": targets, "name": name}),
            )
            .await
        }
        RuleCmd::List => c.get("/resolver-rules").await,
        RuleCmd::Show { rule_id } => c.get(&format!("/resolver-rules/{rule_id}")).await,
        RuleCmd::Associate { rule_id, vpc } => {
            c.post(
                &format!("/resolver-rules/{rule_id}/vpcs"),
                json!({ "vpcId": vpc }),
            )
            .await
        }
        RuleCmd::Disassociate { rule_id, vpc } => {
            c.delete_with(
                &format!("/resolver-rules/{rule_id}/vpcs"),
                Some(json!({ "vpcId": vpc })),
            )
            .await
        }
        RuleCmd::Share { rule_id, account } => {
            c.post(
                &format!("/resolver-rules/{rule_id}/shares"),
                json!({ "accountId": account }),
            )
            .await
        }
        RuleCmd::Unshare { rule_id, account } => {
            c.delete_with(&format!("/resolver-rules/{rule_id}/shares/{account}"), None)
                .await
        }
        RuleCmd::Delete { rule_id } => {
            c.delete(&format!("/resolver-rules/{rule_id}"), rule_id)
                .await
        }
    }
}

pub async fn public_dns(c: &CloudApi, cmd: &PublicDnsCmd) -> anyhow::Result<Outcome> {
    match cmd {
        PublicDnsCmd::Publish { name, values, ttl } => {
            c.post(
                "/public-records",
                json!({"name": name, "values": values, "ttl": ttl}),
            )
            .await
        }
        PublicDnsCmd::List => c.get("/public-records").await,
        PublicDnsCmd::Unpublish { name } => {
            c.delete(&format!("/public-records/{name}"), name).await
        }
    }
}
