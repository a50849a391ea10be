//! The ingress gateway of a LOCAL cluster, built by the `local` provider.
//!
//! ```text
//!  internet ──► <public IP> ─IGW─► gateway instance :443 ◄── NLB address (PROXY v2) ◄── endpoint service
//!                                  (linkplane/<id>/gateway,       (linkplane/<id>/ingress,
//!                                   public-a subnet)                both public subnets)
//! ```
//!
//! The gateway instance is a localcloud instance; its `:443` listener is a socket created in
//! the instance's namespace (an [`NsThread`]) and served in-process by
//! [`linkplane_ingress::Gateway`] with a certificate for `<clusterId>.external.<baseDomain>`
//! from the installation CA. Only the load balancer's addresses may send a PROXY v2 header.
//! `<clusterId>.external.<baseDomain>` is published in localcloud's public DNS.
//! Every object is found by name before it is created, so a restart re-adopts them and
//! starts the listener again.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use linkplane_ingress::{Ca, Connector, Gateway};
use linkplane_localcloud::Error as CloudError;
use linkplane_localcloud::types::{
    CreateInstance, CreateListener, CreateLoadBalancer, CreateSecurityGroup,
    CreateSecurityGroupRule, CreateTargetGroup, HealthCheck, Instance, LoadBalancer, PublicRecord,
    TargetGroup, TargetRef, Targets,
};
use linkplane_model::{AccountId, EndpointConnectionStatus, ResourceId, VpcEndpointId, VpcId};
use linkplane_netns::NsThread;
use linkplane_provider::{
    ClusterNetwork, ClusterSubnet, EndpointConnectionInfo, EndpointServiceInfo,
    EndpointServiceRequest, PrivateLinkServices, ProviderError,
};
use tokio::sync::{Mutex, watch};

use crate::{LocalProvider, map_err, parsed};

/// One cluster's gateway, as its router sees it: which cluster, and how to reach into the
/// cluster's VPC (connections opened from inside the gateway instance).
#[derive(Clone)]
pub struct GatewaySite {
    pub cluster_id: ResourceId,
    pub connector: Connector,
}

/// Builds the router of one cluster's gateway (the orchestration plane's policy, supplied
/// by the composition root).
pub type RouterFactory = Arc<dyn Fn(GatewaySite) -> axum::Router + Send + Sync>;

/// What the provider needs to run gateways.
#[derive(Clone)]
pub struct IngressSetup {
    pub ca: Arc<Ca>,
    /// Clusters are reached at `<clusterId>.external.<base_domain>`.
    pub base_domain: String,
    pub routes: RouterFactory,
}

/// The port the gateway listens on (in its instance) and the load balancer forwards.
pub const GATEWAY_PORT: u16 = 443;

/// The gateway target group's health check interval (threshold 2), for new clusters.
const GATEWAY_CHECK_INTERVAL_MS: u64 = 500;

/// How long the gateway waits for a deployment's API server to accept a connection.
const UPSTREAM_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A gateway is restarted with a fresh certificate (valid for a year) after this long; the
/// cluster controller's periodic resync gets it there.
const CERT_RENEW_AFTER: std::time::Duration = std::time::Duration::from_secs(180 * 24 * 3600);

pub(crate) struct Running {
    instance_id: String,
    /// The load balancer whose addresses are trusted (a new one means new addresses).
    load_balancer_id: String,
    /// When its certificate (valid for a year) was issued.
    started: std::time::Instant,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

pub(crate) struct Ingress {
    pub(crate) setup: IngressSetup,
    pub(crate) running: Mutex<HashMap<ResourceId, Running>>,
}

impl Ingress {
    pub(crate) fn new(setup: IngressSetup) -> Self {
        Self {
            setup,
            running: Mutex::new(HashMap::new()),
        }
    }
}

pub fn gateway_name(cluster_id: &ResourceId) -> String {
    format!("linkplane/{cluster_id}/gateway")
}

pub fn ingress_name(cluster_id: &ResourceId) -> String {
    format!("linkplane/{cluster_id}/ingress")
}

/// `<clusterId>.external.<baseDomain>`.
pub fn host_name(cluster_id: &ResourceId, base_domain: &str) -> String {
    format!("{cluster_id}.external.{base_domain}")
}

fn unavailable(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Unavailable(e.to_string())
}

impl LocalProvider {
    /// The cluster's ingress load balancer, if it exists.
    pub async fn ingress_load_balancer(
        &self,
        cluster_id: &ResourceId,
    ) -> Result<Option<LoadBalancer>, ProviderError> {
        let name = ingress_name(cluster_id);
        Ok(self
            .engine()
            .list_load_balancers(self.principal())
            .await
            .map_err(map_err)?
            .into_iter()
            .find(|l| l.name.as_deref() == Some(name.as_str())))
    }

    /// The cluster's gateway instance, if it exists.
    pub async fn gateway_instance(
        &self,
        vpc_id: &VpcId,
        cluster_id: &ResourceId,
    ) -> Result<Option<Instance>, ProviderError> {
        let name = gateway_name(cluster_id);
        Ok(self
            .engine()
            .list_instances(self.principal(), Some(vpc_id.as_str()))
            .await
            .map_err(map_err)?
            .into_iter()
            .find(|i| i.name.as_deref() == Some(name.as_str())))
    }

    /// Build (or adopt) the gateway, its load balancer and DNS name, and make sure its
    /// listener runs in this process.
    pub(crate) async fn ensure_gateway(
        &self,
        ingress: &Ingress,
        cluster_id: &ResourceId,
        net: &ClusterNetwork,
    ) -> Result<(), ProviderError> {
        let publics: Vec<_> = net.subnets.iter().filter(|s| s.public).collect();
        let first = publics
            .first()
            .ok_or_else(|| unavailable("the cluster has no public subnet for its gateway"))?;
        let sg = self.ensure_gateway_sg(&net.vpc_id).await?;
        let instance = match self.gateway_instance(&net.vpc_id, cluster_id).await? {
            Some(i) => i,
            None => self
                .engine()
                .create_instance(
                    self.principal(),
                    CreateInstance {
                        subnet_id: first.id.to_string(),
                        private_ip_address: None,
                        security_group_ids: vec![sg],
                        associate_public_ip_address: Some(true),
                        name: Some(gateway_name(cluster_id)),
                    },
                )
                .await
                .map_err(map_err)?,
        };
        let public_ip = instance.public_ip_address.clone().ok_or_else(|| {
            unavailable(format!(
                "gateway instance {} has no public IP",
                instance.instance_id
            ))
        })?;
        let (tg, lb) = self
            .ensure_ingress_lb(cluster_id, &net.vpc_id, &publics)
            .await?;
        // Listen before the load balancer checks the target: its first check (made at
        // once) then passes, and the target is healthy one interval later, not two.
        self.run_gateway(ingress, cluster_id, &instance, &lb)
            .await?;
        self.ensure_ingress_listener(&tg, &lb, &instance).await?;
        let host = host_name(cluster_id, &ingress.setup.base_domain);
        let published = self
            .engine()
            .list_public_records()
            .await
            .map_err(map_err)?
            .into_iter()
            .any(|r| r.name.trim_end_matches('.') == host && r.values == [public_ip.clone()]);
        if !published {
            self.engine()
                .publish_public_record(PublicRecord {
                    name: host,
                    values: vec![public_ip],
                    ttl: 60,
                })
                .await
                .map_err(map_err)?;
        }
        Ok(())
    }

    /// A security group `linkplane-gateway` letting anyone reach 443 (policy is the
    /// gateway's: privateOnly and allowed ranges are enforced per request).
    async fn ensure_gateway_sg(&self, vpc_id: &VpcId) -> Result<String, ProviderError> {
        const NAME: &str = "linkplane-gateway";
        let p = self.principal();
        let groups = self
            .engine()
            .list_security_groups(p, Some(vpc_id.as_str()))
            .await
            .map_err(map_err)?;
        if let Some(g) = groups.iter().find(|g| g.group_name == NAME)
            && g.rules.iter().any(|r| {
                r.direction == "ingress"
                    && r.from_port == i32::from(GATEWAY_PORT)
                    && r.cidr_ip.as_deref() == Some("0.0.0.0/0")
            })
        {
            return Ok(g.group_id.clone());
        }
        let id = match groups.into_iter().find(|g| g.group_name == NAME) {
            Some(g) => g.group_id,
            None => {
                self.engine()
                    .create_security_group(
                        p,
                        CreateSecurityGroup {
                            vpc_id: vpc_id.to_string(),
                            group_name: NAME.to_owned(),
                            description: "linkplane ingress gateway: 443 from anywhere".into(),
                        },
                    )
                    .await
                    .map_err(map_err)?
                    .group_id
            }
        };
        let rule = CreateSecurityGroupRule {
            direction: "ingress".into(),
            ip_protocol: "tcp".into(),
            from_port: Some(i32::from(GATEWAY_PORT)),
            to_port: Some(i32::from(GATEWAY_PORT)),
            cidr_ip: Some("0.0.0.0/0".into()),
            source_security_group_id: None,
        };
        match self.engine().add_security_group_rule(p, &id, rule).await {
            Ok(_) | Err(CloudError::Conflict(_)) => Ok(id),
            Err(e) => Err(map_err(e)),
        }
    }

    /// The ingress target group and load balancer (without its listener).
    async fn ensure_ingress_lb(
        &self,
        cluster_id: &ResourceId,
        vpc_id: &VpcId,
        publics: &[&ClusterSubnet],
    ) -> Result<(TargetGroup, LoadBalancer), ProviderError> {
        let p = self.principal();
        let name = ingress_name(cluster_id);
        let tg = match self
            .engine()
            .list_target_groups(p)
            .await
            .map_err(map_err)?
            .into_iter()
            .find(|t| t.name.as_deref() == Some(name.as_str()))
        {
            Some(t) => t,
            None => self
                .engine()
                .create_target_group(
                    p,
                    CreateTargetGroup {
                        vpc_id: vpc_id.to_string(),
                        port: GATEWAY_PORT,
                        name: Some(name.clone()),
                        health_check: Some(HealthCheck {
                            protocol: "TCP".into(),
                            path: None,
                            matcher: None,
                            port: None,
                            // Healthy ~1 s after the gateway listens (two passes).
                            interval_millis: GATEWAY_CHECK_INTERVAL_MS,
                            timeout_millis: GATEWAY_CHECK_INTERVAL_MS,
                            healthy_threshold: 2,
                            unhealthy_threshold: 2,
                        }),
                    },
                )
                .await
                .map_err(map_err)?,
        };
        let lb = match self.ingress_load_balancer(cluster_id).await? {
            Some(l) => l,
            None => self
                .engine()
                .create_load_balancer(
                    p,
                    CreateLoadBalancer {
                        subnet_ids: publics.iter().map(|s| s.id.to_string()).collect(),
                        name: Some(name),
                    },
                )
                .await
                .map_err(map_err)?,
        };
        Ok((tg, lb))
    }

    /// The gateway instance registered in the target group, and the load balancer's
    /// listener forwarding to it.
    async fn ensure_ingress_listener(
        &self,
        tg: &TargetGroup,
        lb: &LoadBalancer,
        instance: &Instance,
    ) -> Result<LoadBalancer, ProviderError> {
        let p = self.principal();
        let health = self
            .engine()
            .target_health(p, &tg.target_group_id)
            .await
            .map_err(map_err)?;
        if !health.iter().any(|h| h.instance_id == instance.instance_id) {
            self.engine()
                .register_targets(
                    p,
                    &tg.target_group_id,
                    Targets {
                        targets: vec![TargetRef {
                            instance_id: instance.instance_id.clone(),
                            port: Some(GATEWAY_PORT),
                        }],
                    },
                )
                .await
                .map_err(map_err)?;
        }
        if lb.listeners.iter().any(|l| l.port == GATEWAY_PORT) {
            return Ok(lb.clone());
        }
        self.engine()
            .create_listener(
                p,
                &lb.load_balancer_id,
                CreateListener {
                    port: GATEWAY_PORT,
                    target_group_id: tg.target_group_id.clone(),
                },
            )
            .await
            .map_err(map_err)
    }

    /// Start the gateway's listener in its instance unless it already runs there.
    async fn run_gateway(
        &self,
        ingress: &Ingress,
        cluster_id: &ResourceId,
        instance: &Instance,
        lb: &LoadBalancer,
    ) -> Result<(), ProviderError> {
        let mut running = ingress.running.lock().await;
        if let Some(r) = running.get(cluster_id) {
            if r.instance_id == instance.instance_id
                && r.load_balancer_id == lb.load_balancer_id
                && r.started.elapsed() < CERT_RENEW_AFTER
                && !r.task.is_finished()
            {
                return Ok(());
            }
            if let Some(old) = running.remove(cluster_id) {
                stop(old).await;
            }
        }
        let ns = Arc::new(NsThread::spawn(&instance.namespace).map_err(unavailable)?);
        let listener = ns
            .tcp_listener_async(
                SocketAddr::new(IpAddr::from([0, 0, 0, 0]), GATEWAY_PORT),
                1024,
            )
            .await
            .map_err(unavailable)?;
        let host = host_name(cluster_id, &ingress.setup.base_domain);
        let tls = ingress
            .setup
            .ca
            .server_config(std::slice::from_ref(&host))
            .map_err(unavailable)?;
        let trusted = lb
            .addresses
            .iter()
            .filter_map(|a| a.private_ip_address.parse::<IpAddr>().ok())
            .map(ipnet::IpNet::from)
            .collect();
        let connector: Connector = {
            let ns = Arc::clone(&ns);
            Arc::new(move |addr: SocketAddr| {
                let ns = Arc::clone(&ns);
                Box::pin(async move {
                    let s = ns
                        .tcp_socket_async(addr.is_ipv6())
                        .await
                        .map_err(std::io::Error::other)?;
                    tokio::time::timeout(UPSTREAM_CONNECT_TIMEOUT, s.connect(addr))
                        .await
                        .map_err(|_| {
                            std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                format!("no answer from {addr} within {UPSTREAM_CONNECT_TIMEOUT:?} (is the port open to the cluster's VPC?)"),
                            )
                        })?
                })
            })
        };
        let router = (ingress.setup.routes)(GatewaySite {
            cluster_id: cluster_id.clone(),
            connector,
        });
        let (tx, rx) = watch::channel(false);
        let gateway = Gateway::new(tls, trusted, router);
        let task = tokio::spawn(async move {
            gateway.serve(listener, rx).await;
            drop(ns);
        });
        tracing::info!(cluster = %cluster_id, %host, instance = %instance.instance_id, "ingress gateway listening");
        running.insert(
            cluster_id.clone(),
            Running {
                instance_id: instance.instance_id.clone(),
                load_balancer_id: lb.load_balancer_id.clone(),
                started: std::time::Instant::now(),
                shutdown: tx,
                task,
            },
        );
        Ok(())
    }

    /// Stop every gateway listener of this process (kernel objects stay; the next start
    /// listens again).
    pub async fn stop_gateways(&self) {
        if let Some(ingress) = &self.ingress {
            let all: Vec<Running> = ingress
                .running
                .lock()
                .await
                .drain()
                .map(|(_, r)| r)
                .collect();
            for r in all {
                stop(r).await;
            }
        }
    }

    /// Stop the listener, unpublish the name, delete the endpoint service, load balancer
    /// and target group. The instance goes with the cluster's instances. Idempotent.
    pub(crate) async fn delete_gateway(
        &self,
        ingress: Option<&Ingress>,
        cluster_id: &ResourceId,
    ) -> Result<(), ProviderError> {
        let p = self.principal();
        if let Some(ingress) = ingress {
            if let Some(r) = ingress.running.lock().await.remove(cluster_id) {
                stop(r).await;
            }
            let host = host_name(cluster_id, &ingress.setup.base_domain);
            match self.engine().unpublish_public_record(&host).await {
                Ok(()) | Err(CloudError::NotFound { .. }) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        if let Some(lb) = self.ingress_load_balancer(cluster_id).await? {
            for s in self
                .engine()
                .list_endpoint_services(p)
                .await
                .map_err(map_err)?
            {
                if s.load_balancer_id == lb.load_balancer_id {
                    self.delete_service_and_endpoints(&s.service_id).await?;
                }
            }
            match self
                .engine()
                .delete_load_balancer(p, &lb.load_balancer_id)
                .await
            {
                Ok(()) | Err(CloudError::NotFound { .. }) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        let name = ingress_name(cluster_id);
        for t in self.engine().list_target_groups(p).await.map_err(map_err)? {
            if t.name.as_deref() == Some(name.as_str()) {
                match self
                    .engine()
                    .delete_target_group(p, &t.target_group_id)
                    .await
                {
                    Ok(()) | Err(CloudError::NotFound { .. }) => {}
                    Err(e) => return Err(map_err(e)),
                }
            }
        }
        Ok(())
    }

    /// Reject the live endpoints (the service owner may), then delete the service.
    async fn delete_service_and_endpoints(&self, service_id: &str) -> Result<(), ProviderError> {
        let p = self.principal();
        let live: Vec<String> = self
            .engine()
            .list_endpoint_connections(p, service_id)
            .await
            .map_err(map_err)?
            .into_iter()
            .filter(|c| {
                matches!(
                    c.vpc_endpoint_state.as_str(),
                    "pendingAcceptance" | "available"
                )
            })
            .map(|c| c.vpc_endpoint_id)
            .collect();
        if !live.is_empty() {
            self.engine()
                .decide_endpoint_connections(p, service_id, &live, false)
                .await
                .map_err(map_err)?;
        }
        match self.engine().delete_endpoint_service(p, service_id).await {
            Ok(()) | Err(CloudError::NotFound { .. }) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }
}

impl Drop for Running {
    /// A provider dropped without [`LocalProvider::stop_gateways`] (a crash in tests) must
    /// not leave a listener holding the instance's port.
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn stop(mut r: Running) {
    let _ = r.shutdown.send(true);
    let _ = (&mut r.task).await;
}

impl LocalProvider {
    /// The endpoint service in front of the cluster's ingress load balancer.
    pub async fn cluster_endpoint_service(
        &self,
        cluster_id: &ResourceId,
    ) -> Result<Option<linkplane_localcloud::types::EndpointService>, ProviderError> {
        let Some(lb) = self.ingress_load_balancer(cluster_id).await? else {
            return Ok(None);
        };
        Ok(self
            .engine()
            .list_endpoint_services(self.principal())
            .await
            .map_err(map_err)?
            .into_iter()
            .find(|s| s.load_balancer_id == lb.load_balancer_id))
    }
}

/// A localcloud endpoint state as the control plane's connection status.
fn connection_status(state: &str) -> EndpointConnectionStatus {
    match state {
        "pendingAcceptance" => EndpointConnectionStatus::PendingAcceptance,
        "available" => EndpointConnectionStatus::Available,
        "rejected" => EndpointConnectionStatus::Rejected,
        "deleted" => EndpointConnectionStatus::Deleted,
        _ => EndpointConnectionStatus::Failed,
    }
}

#[async_trait::async_trait]
impl PrivateLinkServices for LocalProvider {
    async fn ensure_endpoint_service(
        &self,
        req: &EndpointServiceRequest,
    ) -> Result<EndpointServiceInfo, ProviderError> {
        use linkplane_localcloud::types::{CreateEndpointService, ModifyPermissions};
        let p = self.principal();
        let principals: Vec<String> = req.allowed_principals.iter().map(|a| a.as_str()).collect();
        let regions: Vec<String> = req.regions.iter().map(|r| r.to_string()).collect();
        let lb = self
            .ingress_load_balancer(&req.cluster_id)
            .await?
            .ok_or_else(|| unavailable("the cluster's ingress load balancer does not exist yet"))?;
        let service = match self.cluster_endpoint_service(&req.cluster_id).await? {
            Some(s) => {
                let add: Vec<String> = principals
                    .iter()
                    .filter(|a| !s.allowed_principals.contains(a))
                    .cloned()
                    .collect();
                let remove: Vec<String> = s
                    .allowed_principals
                    .iter()
                    .filter(|a| !principals.contains(a))
                    .cloned()
                    .collect();
                let s = if add.is_empty() && remove.is_empty() {
                    s
                } else {
                    self.engine()
                        .modify_service_permissions(
                            p,
                            &s.service_id,
                            ModifyPermissions {
                                add_allowed_principals: add,
                                remove_allowed_principals: remove,
                            },
                        )
                        .await
                        .map_err(map_err)?
                };
                self.modify_service_settings(s, &regions, req.auto_accept)
                    .await?
            }
            None => self
                .engine()
                .create_endpoint_service(
                    p,
                    CreateEndpointService {
                        load_balancer_id: lb.load_balancer_id.clone(),
                        acceptance_required: !req.auto_accept,
                        private_dns_name: None,
                        proxy_protocol: true,
                        supported_regions: regions.clone(),
                        allowed_principals: principals.clone(),
                    },
                )
                .await
                .map_err(map_err)?,
        };
        Ok(EndpointServiceInfo {
            service_name: service.service_name,
            availability_zones: service.availability_zones,
        })
    }

    async fn endpoint_connections(
        &self,
        cluster_id: &ResourceId,
    ) -> Result<Vec<EndpointConnectionInfo>, ProviderError> {
        self.service_connections(cluster_id).await
    }

    async fn decide_endpoints(
        &self,
        cluster_id: &ResourceId,
        endpoint_ids: &[VpcEndpointId],
        accept: bool,
    ) -> Result<(), ProviderError> {
        let s = self
            .cluster_endpoint_service(cluster_id)
            .await?
            .ok_or_else(|| ProviderError::NotFound("the cluster has no endpoint service".into()))?;
        let ids: Vec<String> = endpoint_ids.iter().map(|e| e.to_string()).collect();
        self.engine()
            .decide_endpoint_connections(self.principal(), &s.service_id, &ids, accept)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn delete_endpoint_service(&self, cluster_id: &ResourceId) -> Result<(), ProviderError> {
        match self.cluster_endpoint_service(cluster_id).await? {
            Some(s) => self.delete_service_and_endpoints(&s.service_id).await,
            None => Ok(()),
        }
    }
}

impl LocalProvider {
    /// Acceptance (`autoAccept`) and supported regions, when they differ from the request.
    async fn modify_service_settings(
        &self,
        s: linkplane_localcloud::types::EndpointService,
        regions: &[String],
        auto_accept: bool,
    ) -> Result<linkplane_localcloud::types::EndpointService, ProviderError> {
        use std::collections::BTreeSet;
        let others = |v: &[String]| -> BTreeSet<String> {
            v.iter().filter(|r| **r != s.region).cloned().collect()
        };
        let wanted = others(regions);
        let regions_differ = wanted != others(&s.supported_regions);
        let acceptance_differs = s.acceptance_required == auto_accept;
        if !regions_differ && !acceptance_differs {
            return Ok(s);
        }
        self.engine()
            .modify_endpoint_service(
                self.principal(),
                &s.service_id,
                linkplane_localcloud::types::ModifyEndpointService {
                    acceptance_required: acceptance_differs.then_some(!auto_accept),
                    supported_regions: regions_differ.then(|| wanted.into_iter().collect()),
                    private_dns_name: None,
                    remove_private_dns_name: false,
                },
            )
            .await
            .map_err(map_err)
    }

    /// The connections of the cluster's service; asked from a reconcile, the reconcile is
    /// woken when one changes.
    async fn service_connections(
        &self,
        cluster_id: &ResourceId,
    ) -> Result<Vec<EndpointConnectionInfo>, ProviderError> {
        let Some(s) = self.cluster_endpoint_service(cluster_id).await? else {
            return Ok(Vec::new());
        };
        // Asked from a reconcile: wake it when a connection changes (an endpoint created,
        // accepted, rejected, deleted) instead of at its next requeue. Registered before the
        // list, so no change falls between the two.
        if let Some(w) = linkplane_reconciler::Waker::current() {
            let watcher = w.id().to_owned();
            self.engine()
                .watch_endpoint_connections(
                    self.principal(),
                    &s.service_id,
                    &watcher,
                    Arc::new(move || w.wake()),
                )
                .await
                .map_err(map_err)?;
        }
        self.engine()
            .list_endpoint_connections(self.principal(), &s.service_id)
            .await
            .map_err(map_err)?
            .into_iter()
            .map(|c| {
                Ok(EndpointConnectionInfo {
                    endpoint_id: parsed("endpoint id", VpcEndpointId::parse(&c.vpc_endpoint_id))?,
                    owner: parsed("account id", AccountId::parse(&c.vpc_endpoint_owner))?,
                    state: connection_status(&c.vpc_endpoint_state),
                })
            })
            .collect()
    }
}
