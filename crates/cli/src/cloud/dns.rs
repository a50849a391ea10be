//! VPC DNS: private hosted zones, resolver rules, public DNS records.

use linkplane_client::Method;
use serde_json::json;

use super::Outcome;
use super::args::*;
use super::client::CloudApi;

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
        } => {
            c.post(
                &format!("/hosted-zones/{zone_id}/records"),
                json!({"name": name, "type": kind, "values": values, "ttl": ttl}),
            )
            .await
        }
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
