//! The AWS services of a region as localcloud provides them to interface endpoints
//! (documents 002 and 003: "All Astro clusters are pre-configured with the following AWS
//! PrivateLink endpoint services").
//!
//! Per region, the services account [`AWS_SERVICES_ACCOUNT`] owns a VPC `aws-services/<region>`
//! with a subnet in zones a and b, one instance `aws-services` whose listeners (one port per
//! service, served in this process from a socket in the instance's namespace) stand in for
//! the services, and per service a target group, a network load balancer on port 80 and an
//! endpoint service with the private DNS name `<service host>.<region>.amazonaws.<domain>`
//! (e.g. `sts.us-east-1.amazonaws.linkplane.test`), open to every principal, without
//! acceptance, with PROXY v2. Its name is AWS's: `com.amazonaws.<region>.<service>`.
//!
//! Each listener answers any HTTP/1.1 request with JSON naming the service, the action (a
//! query's or form's `Action`), the caller's source address, the VPC endpoint it came
//! through and that endpoint's owner account (STS `GetCallerIdentity`'s `Account`), all
//! read from the PROXY v2 header the endpoint's forwarder sends: what proves the caller
//! came through its endpoint and not the NAT. It is plain HTTP; the real services' TLS and
//! APIs (S3 objects, ECR images) are not emulated.
//!
//! Everything is found by name before it is created, so a restart (or a crash between
//! steps) finishes what exists instead of duplicating; [`Engine::restore_aws_services`]
//! starts the listeners again when the engine opens.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Engine;
use super::privatelink::DNS_DOMAIN;
use crate::error::{Error, Result};
use crate::ids::Principal;
use crate::types::*;

/// The account that owns every region's AWS services.
pub const AWS_SERVICES_ACCOUNT: &str = "999999999999";

/// The services with interface endpoints: (name in `com.amazonaws.<region>.<name>`, host
/// label of its regional DNS name, listener port in the services instance).
pub const INTERFACE_SERVICES: [(&str, &str, u16); 5] = [
    ("autoscaling", "autoscaling", 9001),
    ("ecr.api", "api.ecr", 9002),
    ("ecr.dkr", "dkr.ecr", 9003),
    ("elasticloadbalancing", "elasticloadbalancing", 9004),
    ("sts", "sts", 9005),
];

/// The port each service's load balancer listens on.
pub const SERVICE_PORT: u16 = 80;

const VPC_CIDR: &str = "10.255.0.0/16";
const ZONES: [(&str, &str); 2] = [("a", "10.255.1.0/24"), ("b", "10.255.2.0/24")];

static ENSURE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn owner() -> Principal {
    Principal::parse(&format!("arn:aws:iam::{AWS_SERVICES_ACCOUNT}:root"))
        .unwrap_or_else(|_| unreachable!("the services account is 12 digits"))
}

fn vpc_name(region: &str) -> String {
    format!("aws-services/{region}")
}

/// `sts.us-east-1.amazonaws.linkplane.test`.
pub fn service_dns_name(host: &str, region: &str) -> String {
    format!("{host}.{region}.amazonaws.{DNS_DOMAIN}")
}

/// The AWS service an endpoint service stands for, by its owner and private DNS name.
pub(crate) fn aws_service_of(
    account: &str,
    region: &str,
    private_dns_name: Option<&str>,
) -> Option<&'static str> {
    let dns = private_dns_name?;
    (account == AWS_SERVICES_ACCOUNT)
        .then(|| {
            INTERFACE_SERVICES
                .iter()
                .find(|(_, host, _)| service_dns_name(host, region) == dns)
                .map(|(name, _, _)| *name)
        })
        .flatten()
}

/// `com.amazonaws.<region>.<service>` → (region, the service's private DNS name).
pub(crate) fn parse_aws_name(name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix("com.amazonaws.")?;
    let (region, svc) = rest.split_once('.')?;
    let (_, host, _) = INTERFACE_SERVICES.iter().find(|(n, _, _)| *n == svc)?;
    Some((region.to_string(), service_dns_name(host, region)))
}

fn err_of(what: &str) -> impl FnOnce(Error) -> Error + '_ {
    move |e| {
        tracing::warn!(error = %e, "AWS services: {what}");
        e
    }
}

impl Engine {
    /// Make sure the AWS services of `region` exist and listen (idempotent).
    pub async fn ensure_aws_services(&self, region: &str) -> Result<()> {
        crate::ids::parse_region(region)?;
        let _g = ENSURE.lock().await;
        let p = owner();
        let vpc = match self
            .list_vpcs(&p)
            .await?
            .into_iter()
            .find(|v| v.name.as_deref() == Some(vpc_name(region).as_str()))
        {
            Some(v) => v,
            None => self
                .create_vpc(
                    &p,
                    CreateVpc {
                        cidr_block: VPC_CIDR.into(),
                        region: Some(region.to_string()),
                        name: Some(vpc_name(region)),
                    },
                )
                .await
                .map_err(err_of("VPC"))?,
        };
        let existing = self.list_subnets(&p, Some(&vpc.vpc_id)).await?;
        let mut subnets = Vec::new();
        for (z, cidr) in ZONES {
            let name = format!("{}/{z}", vpc_name(region));
            let s = match existing
                .iter()
                .find(|s| s.name.as_deref() == Some(name.as_str()))
            {
                Some(s) => s.clone(),
                None => {
                    self.create_subnet(
                        &p,
                        CreateSubnet {
                            vpc_id: vpc.vpc_id.clone(),
                            cidr_block: cidr.into(),
                            availability_zone: format!("{region}{z}"),
                            map_public_ip_on_launch: false,
                            name: Some(name),
                        },
                    )
                    .await?
                }
            };
            subnets.push(s);
        }
        // The listeners' ports, open to the VPC (the load balancers' addresses).
        let sg = &vpc.default_security_group_id;
        let group = self.get_security_group(&p, sg).await?;
        if !group
            .rules
            .iter()
            .any(|r| r.direction == "ingress" && r.cidr_ip.as_deref() == Some(VPC_CIDR))
        {
            match self
                .add_security_group_rule(
                    &p,
                    sg,
                    CreateSecurityGroupRule {
                        direction: "ingress".into(),
                        ip_protocol: "tcp".into(),
                        from_port: Some(9001),
                        to_port: Some(9099),
                        cidr_ip: Some(VPC_CIDR.into()),
                        source_security_group_id: None,
                    },
                )
                .await
            {
                Ok(_) | Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let instance = match self
            .list_instances(&p, Some(&vpc.vpc_id))
            .await?
            .into_iter()
            .find(|i| i.name.as_deref() == Some("aws-services"))
        {
            Some(i) => i,
            None => {
                self.create_instance(
                    &p,
                    CreateInstance {
                        subnet_id: subnets[0].subnet_id.clone(),
                        name: Some("aws-services".into()),
                        ..Default::default()
                    },
                )
                .await?
            }
        };
        self.start_aws_listeners(&instance, region).await?;
        let groups = self.list_target_groups(&p).await?;
        let lbs = self.list_load_balancers(&p).await?;
        let services = self.list_endpoint_services(&p).await?;
        for (svc, host, port) in INTERFACE_SERVICES {
            let name = format!("{region}-{}", svc.replace('.', "-"));
            let tg = match groups
                .iter()
                .find(|t| t.name.as_deref() == Some(name.as_str()))
            {
                Some(t) => t.clone(),
                None => {
                    self.create_target_group(
                        &p,
                        CreateTargetGroup {
                            vpc_id: vpc.vpc_id.clone(),
                            port,
                            name: Some(name.clone()),
                            health_check: Some(HealthCheck {
                                interval_millis: 500,
                                timeout_millis: 400,
                                healthy_threshold: 2,
                                unhealthy_threshold: 2,
                                ..Default::default()
                            }),
                        },
                    )
                    .await?
                }
            };
            self.register_targets(
                &p,
                &tg.target_group_id,
                Targets {
                    targets: vec![TargetRef {
                        instance_id: instance.instance_id.clone(),
                        port: None,
                    }],
                },
            )
            .await
            .or_else(|e| match e {
                Error::Conflict(_) => Ok(Vec::new()),
                e => Err(e),
            })?;
            let lb = match lbs
                .iter()
                .find(|l| l.name.as_deref() == Some(name.as_str()))
            {
                Some(l) => l.clone(),
                None => {
                    self.create_load_balancer(
                        &p,
                        CreateLoadBalancer {
                            subnet_ids: subnets.iter().map(|s| s.subnet_id.clone()).collect(),
                            name: Some(name.clone()),
                        },
                    )
                    .await?
                }
            };
            if !lb.listeners.iter().any(|l| l.port == SERVICE_PORT) {
                self.create_listener(
                    &p,
                    &lb.load_balancer_id,
                    CreateListener {
                        port: SERVICE_PORT,
                        target_group_id: tg.target_group_id.clone(),
                    },
                )
                .await?;
            }
            if !services
                .iter()
                .any(|s| s.load_balancer_id == lb.load_balancer_id)
            {
                self.create_endpoint_service(
                    &p,
                    CreateEndpointService {
                        load_balancer_id: lb.load_balancer_id.clone(),
                        acceptance_required: false,
                        private_dns_name: Some(service_dns_name(host, region)),
                        proxy_protocol: true,
                        supported_regions: Vec::new(),
                        allowed_principals: vec!["*".into()],
                    },
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Start the listeners of every region's services instance (on open).
    pub(crate) async fn restore_aws_services(&self) -> Result<()> {
        let p = owner();
        for vpc in self.list_vpcs(&p).await? {
            let Some(region) = vpc
                .name
                .as_deref()
                .and_then(|n| n.strip_prefix("aws-services/"))
            else {
                continue;
            };
            for i in self.list_instances(&p, Some(&vpc.vpc_id)).await? {
                if i.name.as_deref() == Some("aws-services")
                    && let Err(e) = self.start_aws_listeners(&i, region).await
                {
                    tracing::warn!(region, error = %e, "AWS service listeners did not start");
                }
            }
        }
        Ok(())
    }

    async fn start_aws_listeners(&self, instance: &Instance, region: &str) -> Result<()> {
        if self.rt().aws_listeners.contains_key(&instance.instance_id) {
            return Ok(());
        }
        let ns = self.ns_thread(&instance.namespace)?;
        let mut handles = Vec::new();
        for (svc, _, port) in INTERFACE_SERVICES {
            let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
            let listener = ns
                .tcp_listener_async(addr, 256)
                .await
                .map_err(|e| Error::kernel(format!("listen on {addr}"), e.to_string()))?;
            let db = self.db.clone();
            let region = region.to_string();
            handles.push(
                tokio::spawn(async move {
                    loop {
                        let Ok((conn, peer)) = listener.accept().await else {
                            continue;
                        };
                        let (db, region) = (db.clone(), region.clone());
                        tokio::spawn(async move {
                            if let Err(e) = answer(conn, peer, svc, &region, &db).await {
                                tracing::debug!(service = svc, error = %e, "AWS service request");
                            }
                        });
                    }
                })
                .abort_handle(),
            );
        }
        tracing::info!(region, instance = %instance.instance_id, "AWS service listeners started");
        self.rt()
            .aws_listeners
            .insert(instance.instance_id.clone(), handles);
        Ok(())
    }
}

/// Read a PROXY v2 header (when there is one) and one HTTP request, answer JSON, close.
async fn answer(
    mut conn: tokio::net::TcpStream,
    peer: SocketAddr,
    service: &str,
    region: &str,
    db: &sqlx::SqlitePool,
) -> std::io::Result<()> {
    const SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut source = peer;
    let mut endpoint: Option<String> = None;
    let mut start = 0;
    let mut proxied = false;
    loop {
        if !proxied && buf.len() >= 16 {
            if buf.starts_with(SIG) {
                let len = 16 + usize::from(u16::from_be_bytes([buf[14], buf[15]]));
                if buf.len() >= len {
                    if let Ok(info) = linkplane_dataplane::proxy_protocol::parse(&buf[..len]) {
                        source = info.source;
                        endpoint = info.endpoint_id;
                    }
                    start = len;
                    proxied = true;
                }
            } else {
                proxied = true;
            }
        }
        if proxied && buf[start..].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if buf.len() > 32 * 1024 {
            return Ok(());
        }
        let n = match tokio::time::timeout_at(deadline, conn.read(&mut chunk)).await {
            Ok(r) => r?,
            Err(_) => return Ok(()),
        };
        if n == 0 {
            // A health check's connect-and-close, or a client that gave up.
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[start..]).into_owned();
    let request_line = head.lines().next().unwrap_or_default().to_string();
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let action = target
        .split_once('?')
        .and_then(|(_, q)| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("Action="))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| {
            if service == "sts" {
                "GetCallerIdentity".into()
            } else {
                String::new()
            }
        });
    let account: Option<String> = match &endpoint {
        Some(id) => sqlx::query_scalar("SELECT account FROM endpoints WHERE id = ?")
            .bind(id)
            .fetch_optional(db)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let body = serde_json::json!({
        "service": service,
        "region": region,
        "action": action,
        "sourceIp": source.ip().to_string(),
        "vpcEndpointId": endpoint,
        "Account": account,
    })
    .to_string();
    let resp = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(resp.as_bytes()).await?;
    conn.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_names_map_to_private_dns_names_and_back() {
        assert_eq!(
            parse_aws_name("com.amazonaws.us-east-1.sts"),
            Some((
                "us-east-1".into(),
                "sts.us-east-1.amazonaws.linkplane.test".into()
            ))
        );
        assert_eq!(
            parse_aws_name("com.amazonaws.us-east-1.ecr.api").map(|x| x.1),
            Some("api.ecr.us-east-1.amazonaws.linkplane.test".into())
        );
        assert_eq!(parse_aws_name("com.amazonaws.us-east-1.sqs"), None);
        assert_eq!(
            aws_service_of(
                AWS_SERVICES_ACCOUNT,
                "us-east-1",
                Some("dkr.ecr.us-east-1.amazonaws.linkplane.test")
            ),
            Some("ecr.dkr")
        );
        assert_eq!(
            aws_service_of(
                "111111111111",
                "us-east-1",
                Some("sts.us-east-1.amazonaws.linkplane.test")
            ),
            None
        );
    }
}
