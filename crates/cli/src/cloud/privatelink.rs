//! PrivateLink: load balancers, target groups, endpoint services, endpoints.

use linkplane_client::Method;
use serde_json::{Value, json};

use super::Outcome;
use super::args::*;
use super::client::CloudApi;

pub async fn lb(c: &CloudApi, cmd: &LbCmd) -> anyhow::Result<Outcome> {
    match cmd {
        LbCmd::Create { subnets, name } => {
            c.post(
                "/load-balancers",
                json!({"subnetIds": subnets, "name": name}),
            )
            .await
        }
        LbCmd::List => c.get("/load-balancers").await,
        LbCmd::Show { lb_id } => c.get(&format!("/load-balancers/{lb_id}")).await,
        LbCmd::Listen {
            lb_id,
            port,
            target_group,
        } => {
            c.post(
                &format!("/load-balancers/{lb_id}/listeners"),
                json!({"port": port, "targetGroupId": target_group}),
            )
            .await
        }
        LbCmd::Unlisten { lb_id, listener_id } => {
            c.delete(
                &format!("/load-balancers/{lb_id}/listeners/{listener_id}"),
                listener_id,
            )
            .await
        }
        LbCmd::Delete { lb_id } => c.delete(&format!("/load-balancers/{lb_id}"), lb_id).await,
    }
}

pub async fn tg(c: &CloudApi, cmd: &TgCmd) -> anyhow::Result<Outcome> {
    match cmd {
        TgCmd::Create {
            vpc,
            port,
            name,
            check,
            path,
            matcher,
            check_port,
            interval_ms,
            timeout_ms,
            healthy_threshold,
            unhealthy_threshold,
        } => {
            c.post(
                "/target-groups",
                json!({"vpcId": vpc, "port": port, "name": name, "healthCheck": {
                    "protocol": check, "path": path, "matcher": matcher, "port": check_port,
                    "intervalMillis": interval_ms, "timeoutMillis": timeout_ms,
                    "healthyThreshold": healthy_threshold, "unhealthyThreshold": unhealthy_threshold,
                }}),
            )
            .await
        }
        TgCmd::List => c.get("/target-groups").await,
        TgCmd::Show { tg_id } => c.get(&format!("/target-groups/{tg_id}")).await,
        TgCmd::Register { tg_id, instances } | TgCmd::Deregister { tg_id, instances } => {
            let targets = instances
                .iter()
                .map(|i| target_ref(i))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let method = if matches!(cmd, TgCmd::Register { .. }) {
                Method::POST
            } else {
                Method::DELETE
            };
            Ok(Outcome::Value(
                c.call(
                    method,
                    &format!("/target-groups/{tg_id}/targets"),
                    Some(json!({ "targets": targets })),
                )
                .await?,
            ))
        }
        TgCmd::Health { tg_id } => c.get(&format!("/target-groups/{tg_id}/health")).await,
        TgCmd::Delete { tg_id } => c.delete(&format!("/target-groups/{tg_id}"), tg_id).await,
    }
}

pub async fn service(c: &CloudApi, cmd: &ServiceCmd) -> anyhow::Result<Outcome> {
    match cmd {
        ServiceCmd::Create {
            lb,
            no_acceptance,
            allow,
            regions,
            private_dns_name,
            proxy_protocol,
        } => {
            c.post(
                "/endpoint-services",
                json!({"loadBalancerId": lb, "acceptanceRequired": !no_acceptance,
                    "allowedPrincipals": allow, "supportedRegions": regions,
                    "privateDnsName": private_dns_name, "proxyProtocol": proxy_protocol}),
            )
            .await
        }
        ServiceCmd::List => c.get("/endpoint-services").await,
        ServiceCmd::Show { service_id } => c.get(&format!("/endpoint-services/{service_id}")).await,
        ServiceCmd::Modify {
            service_id,
            acceptance_required,
            regions,
            private_dns_name,
            no_private_dns_name,
        } => Ok(Outcome::Value(
            c.call(
                Method::PATCH,
                &format!("/endpoint-services/{service_id}"),
                Some(json!({"acceptanceRequired": acceptance_required,
                    "supportedRegions": regions, "privateDnsName": private_dns_name,
                    "removePrivateDnsName": no_private_dns_name})),
            )
            .await?,
        )),
        ServiceCmd::Permissions {
            service_id,
            add,
            remove,
        } => {
            c.post(
                &format!("/endpoint-services/{service_id}/permissions"),
                json!({"addAllowedPrincipals": add, "removeAllowedPrincipals": remove}),
            )
            .await
        }
        ServiceCmd::Connections { service_id } => {
            c.get(&format!("/endpoint-services/{service_id}/connections"))
                .await
        }
        ServiceCmd::Accept {
            service_id,
            endpoint_ids,
        } => {
            c.post(
                &format!("/endpoint-services/{service_id}/connections/accept"),
                json!({ "vpcEndpointIds": endpoint_ids }),
            )
            .await
        }
        ServiceCmd::Reject {
            service_id,
            endpoint_ids,
        } => {
            c.post(
                &format!("/endpoint-services/{service_id}/connections/reject"),
                json!({ "vpcEndpointIds": endpoint_ids }),
            )
            .await
        }
        ServiceCmd::Delete { service_id } => {
            c.delete(&format!("/endpoint-services/{service_id}"), service_id)
                .await
        }
    }
}

pub async fn endpoint(c: &CloudApi, cmd: &EndpointCmd) -> anyhow::Result<Outcome> {
    match cmd {
        EndpointCmd::Create {
            vpc,
            service,
            subnets,
            groups,
            no_private_dns,
        } => {
            let private_dns = if *no_private_dns { Some(false) } else { None };
            c.post(
                "/vpc-endpoints",
                json!({"vpcId": vpc, "serviceName": service, "subnetIds": subnets,
                    "securityGroupIds": groups, "privateDnsEnabled": private_dns}),
            )
            .await
        }
        EndpointCmd::List => c.get("/vpc-endpoints").await,
        EndpointCmd::Show { endpoint_id } => c.get(&format!("/vpc-endpoints/{endpoint_id}")).await,
        EndpointCmd::Delete { endpoint_id } => {
            c.delete(&format!("/vpc-endpoints/{endpoint_id}"), endpoint_id)
                .await
        }
    }
}

/// `i-…` or `i-…:port` → a target reference.
pub fn target_ref(s: &str) -> anyhow::Result<Value> {
    match s.split_once(':') {
        Some((i, p)) => {
            let port: u16 = p
                .parse()
                .map_err(|_| anyhow::anyhow!("--instance {s}: the port must be 1-65535"))?;
            Ok(json!({"instanceId": i, "port": port}))
        }
        None => Ok(json!({"instanceId": s})),
    }
}
