//! Instances (and exec), security groups, and the internet namespace.

use anyhow::{Context as _, bail};
use linkplane_client::Method;
use serde_json::{Value, json};

use super::Outcome;
use super::args::*;
use super::client::CloudApi;

pub async fn exec(c: &CloudApi, e: &ExecArgs) -> anyhow::Result<Outcome> {
    if !e.via_api && linkplane_localcloud::running_as_root() {
        // Authorizes the call (the instance must be the principal's account's).
        let inst = c
            .call(Method::GET, &format!("/instances/{}", e.instance_id), None)
            .await?;
        if let Some(ns) = local_namespace(&inst) {
            return Ok(Outcome::Attached {
                namespace: ns,
                command: e.command.clone(),
            });
        }
    }
    c.exec(
        &format!("/instances/{}/exec", e.instance_id),
        &e.command,
        e.timeout,
    )
    .await
}

pub async fn internet(c: &CloudApi, cmd: &InternetCmd) -> anyhow::Result<Outcome> {
    match cmd {
        InternetCmd::Show => c.get("/internet").await,
        InternetCmd::Exec {
            timeout,
            via_api,
            command,
        } => {
            if !via_api && linkplane_localcloud::running_as_root() {
                let inet = c.call(Method::GET, "/internet", None).await?;
                if let Some(ns) = local_namespace(&inet) {
                    return Ok(Outcome::Attached {
                        namespace: ns,
                        command: command.clone(),
                    });
                }
            }
            c.exec("/internet/exec", command, *timeout).await
        }
        InternetCmd::Run { command } => {
            c.post("/internet/processes", json!({"command": command}))
                .await
        }
        InternetCmd::Processes => c.get("/internet/processes").await,
        InternetCmd::Stop { process_id } => {
            c.delete(&format!("/internet/processes/{process_id}"), process_id)
                .await
        }
    }
}

pub async fn instance(c: &CloudApi, cmd: &InstanceCmd) -> anyhow::Result<Outcome> {
    match cmd {
        InstanceCmd::Create {
            subnet,
            ip,
            security_groups,
            public_ip,
            name,
        } => {
            let mut body = json!({"subnetId": subnet, "privateIpAddress": ip, "securityGroupIds": security_groups, "name": name});
            if *public_ip {
                body["associatePublicIpAddress"] = json!(true);
            }
            c.post("/instances", body).await
        }
        InstanceCmd::List { vpc } => match vpc {
            Some(v) => c.get(&format!("/instances?vpcId={v}")).await,
            None => c.get("/instances").await,
        },
        InstanceCmd::Show { instance_id } => c.get(&format!("/instances/{instance_id}")).await,
        InstanceCmd::Delete { instance_id } => {
            c.delete(&format!("/instances/{instance_id}"), instance_id)
                .await
        }
        InstanceCmd::Run {
            instance_id,
            command,
        } => {
            c.post(
                &format!("/instances/{instance_id}/processes"),
                json!({"command": command}),
            )
            .await
        }
        InstanceCmd::Processes { instance_id } => {
            c.get(&format!("/instances/{instance_id}/processes")).await
        }
        InstanceCmd::Stop {
            instance_id,
            process_id,
        } => {
            c.delete(
                &format!("/instances/{instance_id}/processes/{process_id}"),
                process_id,
            )
            .await
        }
        InstanceCmd::SetGroups {
            instance_id,
            security_groups,
        } => Ok(Outcome::Value(
            c.call(
                Method::PUT,
                &format!("/instances/{instance_id}/security-groups"),
                Some(json!({"securityGroupIds": security_groups})),
            )
            .await?,
        )),
    }
}

pub async fn sg(c: &CloudApi, cmd: &SgCmd) -> anyhow::Result<Outcome> {
    match cmd {
        SgCmd::Create {
            vpc,
            name,
            description,
        } => {
            c.post(
                "/security-groups",
                json!({"vpcId": vpc, "groupName": name, "description": description}),
            )
            .await
        }
        SgCmd::List { vpc } => match vpc {
            Some(v) => c.get(&format!("/security-groups?vpcId={v}")).await,
            None => c.get("/security-groups").await,
        },
        SgCmd::Show { group_id } => c.get(&format!("/security-groups/{group_id}")).await,
        SgCmd::Delete { group_id } => {
            c.delete(&format!("/security-groups/{group_id}"), group_id)
                .await
        }
        SgCmd::Allow { group_id, rule } => {
            c.post(
                &format!("/security-groups/{group_id}/rules"),
                rule_body(rule)?,
            )
            .await
        }
        SgCmd::Revoke {
            group_id,
            rule_id,
            rule,
        } => {
            let rule_id = match rule_id {
                Some(id) => id.clone(),
                None => {
                    let group = c
                        .call(Method::GET, &format!("/security-groups/{group_id}"), None)
                        .await?;
                    matching_rule(&group, rule)?
                }
            };
            c.delete(
                &format!("/security-groups/{group_id}/rules/{rule_id}"),
                &rule_id,
            )
            .await
        }
    }
}

/// The body of `POST /security-groups/{id}/rules` for a rule.
pub fn rule_body(rule: &RuleSpec) -> anyhow::Result<Value> {
    let (from, to) = ports(rule.port.as_deref())?;
    Ok(json!({
        "direction": rule.direction, "ipProtocol": rule.protocol, "fromPort": from, "toPort": to,
        "cidrIp": rule.cidr, "sourceSecurityGroupId": rule.source_group,
    }))
}

/// The id of the group's rule that `rule` describes (as `sg allow` took it).
pub fn matching_rule(group: &Value, rule: &RuleSpec) -> anyhow::Result<String> {
    if rule.cidr.is_none() && rule.source_group.is_none() {
        bail!(
            "say which rule: its id (sg revoke {} sgr-…), or the arguments `sg allow` took              (--protocol, --port and --cidr or --source-group)",
            group["groupId"].as_str().unwrap_or("sg-…")
        );
    }
    let (from, to) = ports(rule.port.as_deref())?;
    let rules = group["rules"].as_array().cloned().unwrap_or_default();
    let proto = |p: &str| match p.to_ascii_lowercase().as_str() {
        "all" | "-1" => "-1".to_owned(),
        other => other.to_owned(),
    };
    let port_of = |v: &Value| v.as_i64().filter(|p| *p >= 0);
    let found = rules.iter().find(|r| {
        let same_ports = match (from, to) {
            (Some(f), Some(t)) => {
                port_of(&r["fromPort"]) == Some(f) && port_of(&r["toPort"]) == Some(t)
            }
            _ => {
                let (f, t) = (port_of(&r["fromPort"]), port_of(&r["toPort"]));
                (f.is_none() && t.is_none()) || (f == Some(0) && t == Some(65535))
            }
        };
        r["direction"].as_str() == Some(rule.direction.as_str())
            && r["ipProtocol"].as_str().map(proto) == Some(proto(&rule.protocol))
            && (proto(&rule.protocol) == "-1" || same_ports)
            && r["cidrIp"].as_str() == rule.cidr.as_deref()
            && r["sourceSecurityGroupId"].as_str() == rule.source_group.as_deref()
    });
    match found.and_then(|r| r["ruleId"].as_str()) {
        Some(id) => Ok(id.to_owned()),
        None => {
            let peer = rule
                .cidr
                .as_deref()
                .or(rule.source_group.as_deref())
                .unwrap_or("-");
            bail!(
                "{} has no {} rule {} {} {} {peer}; its rules:\n{}",
                group["groupId"].as_str().unwrap_or("the group"),
                rule.direction,
                rule.protocol,
                rule.port.as_deref().unwrap_or("(all ports)"),
                if rule.direction == "egress" {
                    "to"
                } else {
                    "from"
                },
                rules
                    .iter()
                    .map(|r| format!("  {}", crate::render::rule_text(r)))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        }
    }
}

/// The resource's namespace when it exists on this machine.
pub fn local_namespace(resource: &Value) -> Option<String> {
    let ns = resource.get("namespace")?.as_str()?;
    linkplane_netns::exists(ns).then(|| ns.to_string())
}

/// Run `command` in `namespace` with this process's stdin/stdout/stderr (`ip netns exec`,
/// so the namespace's resolv.conf is /etc/resolv.conf); returns its exit code.
pub fn run_attached(namespace: &str, command: &[String]) -> anyhow::Result<i32> {
    use std::os::unix::process::ExitStatusExt;
    let status = std::process::Command::new("ip")
        .args(["netns", "exec", namespace])
        .args(command)
        .status()
        .with_context(|| format!("run {command:?} in {namespace}"))?;
    Ok(status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1))
}

pub fn ports(port: Option<&str>) -> anyhow::Result<(Option<i64>, Option<i64>)> {
    let Some(p) = port else {
        return Ok((None, None));
    };
    let parse = |s: &str| {
        s.trim()
            .parse::<i64>()
            .with_context(|| format!("--port {p:?}: use a number or a range such as 8000-8100"))
    };
    Ok(match p.split_once('-') {
        Some((a, b)) if !a.is_empty() => (Some(parse(a)?), Some(parse(b)?)),
        _ => {
            let n = parse(p)?;
            (Some(n), Some(n))
        }
    })
}
