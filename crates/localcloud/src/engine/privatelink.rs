//! PrivateLink: network load balancers (listeners → target groups with health checks),
//! endpoint services and interface endpoints, on `linkplane-dataplane`'s forwarder.
//!
//! Kernel side: every load balancer and endpoint address is a private IP of a subnet held
//! (as a /32) on the VPC router's `lo`; instances reach it on their bridge (the router
//! answers ARP for its local addresses) or through their gateway. An endpoint's security
//! groups are an nftables table per address on the consumer router
//! ([`render::Attachment::Address`]). Userspace side: one `TargetSet` per target group,
//! checked from the load balancer's address inside the provider VPC; one forwarder per
//! endpoint address and listener port, listening in the consumer router and connecting
//! from the load balancer's address in the provider router. No route joins the VPCs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use linkplane_dataplane::forwarder::{self, ForwarderConfig, ForwarderHandle, NsConnector};
use linkplane_dataplane::health::{CheckKind, HealthCheckConfig, HealthChecker};
use linkplane_dataplane::{TargetSet, TargetState};
use linkplane_netns::NsThread;

use super::render::{self, FilterRule};
use super::{Engine, authorize, now};
use crate::error::{Error, Result};
use crate::ids::{Kind, Principal, short};
use crate::net;
use crate::types::*;

/// The DNS domain of endpoint names: `vpce-….vpce-svc-….<region>.vpce.<DNS_DOMAIN>`.
pub const DNS_DOMAIN: &str = "linkplane.test";

/// How long a deregistered target keeps its live connections (AWS's deregistration delay,
/// shortened).
pub const DEREGISTRATION_DELAY: Duration = Duration::from_secs(30);

/// Endpoint states (AWS's `State` values, camelCase as the API shows them).
pub mod state {
    pub const PENDING: &str = "pendingAcceptance";
    pub const AVAILABLE: &str = "available";
    pub const REJECTED: &str = "rejected";
    pub const FAILED: &str = "failed";
    pub const DELETED: &str = "deleted";
}

/// Live PrivateLink objects (rebuilt from the database on open).
#[derive(Default)]
pub(crate) struct Runtime {
    threads: HashMap<String, NsThread>,
    groups: HashMap<String, GroupRt>,
    /// endpoint id → listening address → forwarder.
    forwarders: HashMap<String, HashMap<SocketAddr, ForwarderHandle>>,
    pub(crate) dns: HashMap<String, super::dns::VpcDns>,
    pub(crate) public_dns: Option<super::dns::VpcDns>,
    /// service id → watcher id → what to call once when a connection of the service
    /// changes ([`Engine::watch_endpoint_connections`]).
    watches: HashMap<String, HashMap<String, Wake>>,
}

/// A one-shot watch's callback.
type Wake = Arc<dyn Fn() + Send + Sync>;

struct GroupRt {
    targets: TargetSet,
    checker: Option<(HealthChecker, String)>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Best effort when an engine is dropped without `shutdown`: nothing may keep
        // listening on its addresses.
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let fwds: Vec<ForwarderHandle> = self
            .forwarders
            .drain()
            .flat_map(|(_, m)| m.into_values())
            .collect();
        let checkers: Vec<HealthChecker> = self
            .groups
            .drain()
            .filter_map(|(_, g)| g.checker.map(|c| c.0))
            .collect();
        rt.spawn(async move {
            for f in fwds {
                f.stop().await;
            }
            for c in checkers {
                c.stop().await;
            }
        });
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct EniRow {
    subnet_id: String,
    ip: String,
    vpc_id: String,
    az: String,
}

impl EniRow {
    fn addr(&self) -> Ipv4Addr {
        self.ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED)
    }
    fn api(&self) -> NetworkInterface {
        NetworkInterface {
            subnet_id: self.subnet_id.clone(),
            availability_zone: self.az.clone(),
            private_ip_address: self.ip.clone(),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct LbRow {
    id: String,
    account: String,
    vpc_id: String,
    name: Option<String>,
    created_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct TgRow {
    id: String,
    account: String,
    vpc_id: String,
    name: Option<String>,
    port: i64,
    health_check: String,
    created_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct ListenerRow {
    id: String,
    port: i64,
    group_id: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct ServiceRow {
    id: String,
    account: String,
    lb_id: String,
    region: String,
    acceptance_required: bool,
    private_dns_name: Option<String>,
    proxy_protocol: bool,
    supported_regions: String,
    created_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct EndpointRow {
    pub id: String,
    pub account: String,
    pub vpc_id: String,
    pub service_id: String,
    pub state: String,
    pub security_groups: String,
    pub private_dns_enabled: bool,
    pub created_at: String,
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) fn service_name(region: &str, service_id: &str) -> String {
    format!("com.linkplane.vpce.{region}.{service_id}")
}

/// `vpce-….vpce-svc-….<region>.vpce.<domain>` and, with an AZ, the per-AZ form.
pub(crate) fn endpoint_dns_name(
    endpoint_id: &str,
    service_id: &str,
    region: &str,
    az: Option<&str>,
) -> String {
    let head = match az {
        Some(az) => format!("{endpoint_id}-{az}"),
        None => endpoint_id.to_string(),
    };
    format!("{head}.{service_id}.{region}.vpce.{DNS_DOMAIN}")
}

/// Validate the health check of a target group into the dataplane's configuration.
fn health_config(h: &HealthCheck) -> Result<HealthCheckConfig> {
    let kind = match h.protocol.to_ascii_uppercase().as_str() {
        "TCP" => {
            if h.path.is_some() || h.matcher.is_some() {
                return Err(Error::invalid(
                    "healthCheck.protocol",
                    "path and matcher apply to HTTP checks only; set protocol HTTP",
                ));
            }
            CheckKind::Tcp
        }
        "HTTP" => CheckKind::Http {
            path: h.path.clone().unwrap_or_else(|| "/".into()),
            matcher: h
                .matcher
                .as_deref()
                .unwrap_or("200-399")
                .parse()
                .map_err(|e| Error::invalid("healthCheck.matcher", format!("{e}")))?,
        },
        other => {
            return Err(Error::invalid(
                "healthCheck.protocol",
                format!("{other:?}: use TCP or HTTP"),
            ));
        }
    };
    let c = HealthCheckConfig {
        kind,
        interval: Duration::from_millis(h.interval_millis),
        timeout: Duration::from_millis(h.timeout_millis),
        healthy_threshold: h.healthy_threshold,
        unhealthy_threshold: h.unhealthy_threshold,
        port: h.port,
    };
    c.validate()
        .map_err(|e| Error::invalid("healthCheck", e.to_string()))?;
    Ok(c)
}

/// Whether `p` may create an endpoint of a service allowing `allowed` (owned by `owner`).
fn principal_allowed(p: &Principal, owner: &str, allowed: &[String]) -> bool {
    let account_root = format!("arn:aws:iam::{}:root", p.account());
    p.account().as_str() == owner
        || allowed
            .iter()
            .any(|a| a == "*" || a == p.arn() || *a == account_root)
}

fn check_allowed_principal(s: &str) -> Result<()> {
    if s == "*" {
        return Ok(());
    }
    Principal::parse(s).map(|_| ()).map_err(|_| {
        Error::invalid(
            "allowedPrincipals",
            format!(
                "{s:?}: use a principal ARN (arn:aws:iam::<account>:root or …:role/<name>) or *"
            ),
        )
    })
}

fn kernel_err(what: &str) -> impl FnOnce(linkplane_netns::Error) -> Error + '_ {
    move |e| Error::kernel(what.to_string(), e.to_string())
}

impl Engine {
    // ---------------------------------------------------------------- runtime helpers

    pub(crate) fn rt(&self) -> std::sync::MutexGuard<'_, Runtime> {
        self.rt
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A (cached) thread inside a namespace, for creating sockets there.
    pub(crate) fn ns_thread(&self, ns: &str) -> Result<NsThread> {
        if let Some(t) = self.rt().threads.get(ns) {
            return Ok(t.clone());
        }
        let t = NsThread::spawn(ns).map_err(kernel_err("enter namespace"))?;
        self.rt().threads.insert(ns.to_string(), t.clone());
        Ok(t)
    }

    pub(crate) fn forget_ns_thread(&self, ns: &str) {
        self.rt().threads.remove(ns);
    }

    /// Stop every forwarder, health checker and DNS server of this engine (before a
    /// restart in the same process; the kernel state and database are kept).
    pub async fn shutdown(&self) {
        let (fwds, checkers, dns) = {
            let mut rt = self.rt();
            let fwds: Vec<ForwarderHandle> = rt
                .forwarders
                .drain()
                .flat_map(|(_, m)| m.into_values())
                .collect();
            let checkers: Vec<HealthChecker> = rt
                .groups
                .drain()
                .filter_map(|(_, g)| g.checker.map(|c| c.0))
                .collect();
            let mut dns: Vec<super::dns::VpcDns> = rt.dns.drain().map(|(_, v)| v).collect();
            dns.extend(rt.public_dns.take());
            rt.threads.clear();
            (fwds, checkers, dns)
        };
        for f in fwds {
            f.stop().await;
        }
        for c in checkers {
            c.stop().await;
        }
        for d in dns {
            d.stop().await;
        }
    }

    // ---------------------------------------------------------------- addresses (ENIs)

    /// Take a free private IP in `subnet` (from the top of the range, instances take from
    /// the bottom) for `owner`, and hold it on the VPC router.
    async fn alloc_eni(&self, subnet_id: &str, owner: &str) -> Result<EniRow> {
        let s = self.subnet_row(subnet_id).await?;
        let used: std::collections::HashSet<String> = sqlx::query_scalar(
            "SELECT private_ip FROM instances WHERE subnet_id = ? UNION SELECT ip FROM enis WHERE subnet_id = ?",
        )
        .bind(subnet_id)
        .bind(subnet_id)
        .fetch_all(&self.db)
        .await?
        .into_iter()
        .collect();
        let all: Vec<Ipv4Addr> = net::assignable_range(s.net()).collect();
        let ip = all
            .into_iter()
            .rev()
            .find(|ip| !used.contains(&ip.to_string()))
            .ok_or_else(|| {
                Error::Conflict(format!(
                    "subnet {} ({}) has no free address for a network interface",
                    s.id, s.cidr
                ))
            })?;
        sqlx::query(
            "INSERT INTO enis (subnet_id, ip, vpc_id, az, owner_id) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&s.id)
        .bind(ip.to_string())
        .bind(&s.vpc_id)
        .bind(&s.az)
        .bind(owner)
        .execute(&self.db)
        .await?;
        let row = EniRow {
            subnet_id: s.id.clone(),
            ip: ip.to_string(),
            vpc_id: s.vpc_id.clone(),
            az: s.az.clone(),
        };
        self.hold_eni(&row).await?;
        Ok(row)
    }

    async fn hold_eni(&self, e: &EniRow) -> Result<()> {
        let ip = e.addr();
        crate::netlink::with_ns(&self.router_namespace(&e.vpc_id), move |nl| async move {
            nl.addr("lo", ip, 32).await
        })
        .await
    }

    async fn enis_of(&self, owner: &str) -> Result<Vec<EniRow>> {
        Ok(sqlx::query_as::<_, EniRow>(
            "SELECT subnet_id, ip, vpc_id, az FROM enis WHERE owner_id = ? ORDER BY az, subnet_id",
        )
        .bind(owner)
        .fetch_all(&self.db)
        .await?)
    }

    async fn release_enis(&self, owner: &str) -> Result<()> {
        for e in self.enis_of(owner).await? {
            crate::kernel::ip_batch_force(
                Some(&self.router_namespace(&e.vpc_id)),
                &[format!("addr del {}/32 dev lo", e.ip)],
            )
            .await;
        }
        sqlx::query("DELETE FROM enis WHERE owner_id = ?")
            .bind(owner)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Network interfaces (load balancers, endpoints) in a subnet: they block its deletion.
    pub(crate) async fn enis_in_subnet(&self, subnet_id: &str) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT owner_id FROM enis WHERE subnet_id = ?")
                .bind(subnet_id)
                .fetch_all(&self.db)
                .await?,
        )
    }

    // ---------------------------------------------------------------- load balancers

    async fn lb_row(&self, id: &str) -> Result<LbRow> {
        Kind::LoadBalancer.parse("loadBalancerId", id)?;
        sqlx::query_as::<_, LbRow>(
            "SELECT id, account, vpc_id, name, created_at FROM load_balancers WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "load balancer",
            id: id.to_string(),
        })
    }

    async fn listeners_of(&self, lb_id: &str) -> Result<Vec<ListenerRow>> {
        Ok(sqlx::query_as::<_, ListenerRow>(
            "SELECT id, port, group_id FROM listeners WHERE lb_id = ? ORDER BY port",
        )
        .bind(lb_id)
        .fetch_all(&self.db)
        .await?)
    }

    async fn to_lb(&self, r: LbRow) -> Result<LoadBalancer> {
        let enis = self.enis_of(&r.id).await?;
        let listeners = self
            .listeners_of(&r.id)
            .await?
            .into_iter()
            .map(|l| Listener {
                listener_id: l.id,
                port: l.port as u16,
                protocol: "TCP".into(),
                target_group_id: l.group_id,
            })
            .collect();
        let azs: BTreeSet<String> = enis.iter().map(|e| e.az.clone()).collect();
        Ok(LoadBalancer {
            load_balancer_id: r.id,
            owner_id: r.account,
            vpc_id: r.vpc_id,
            name: r.name,
            availability_zones: azs.into_iter().collect(),
            addresses: enis.iter().map(EniRow::api).collect(),
            listeners,
            created_at: r.created_at,
        })
    }

    /// Create a network load balancer: one address in each subnet (one subnet per AZ).
    pub async fn create_load_balancer(
        &self,
        p: &Principal,
        req: CreateLoadBalancer,
    ) -> Result<LoadBalancer> {
        if req.subnet_ids.is_empty() {
            return Err(Error::invalid(
                "subnetIds",
                "give at least one subnet (one per availability zone)",
            ));
        }
        let mut subnets = Vec::new();
        let mut azs = BTreeSet::new();
        for sid in &req.subnet_ids {
            let s = self.subnet_row(sid).await?;
            authorize(p, &s.account, "create a load balancer in", sid)?;
            if !azs.insert(s.az.clone()) {
                return Err(Error::invalid(
                    "subnetIds",
                    format!(
                        "two subnets in {}: give at most one subnet per availability zone",
                        s.az
                    ),
                ));
            }
            subnets.push(s);
        }
        let vpc_id = subnets[0].vpc_id.clone();
        if let Some(other) = subnets.iter().find(|s| s.vpc_id != vpc_id) {
            return Err(Error::invalid(
                "subnetIds",
                format!(
                    "{} is in {}, not {vpc_id}: a load balancer lives in one VPC",
                    other.id, other.vpc_id
                ),
            ));
        }
        let _g = self.lock.lock().await;
        let id = self
            .fresh_id(Kind::LoadBalancer, "load_balancers", "id")
            .await?;
        sqlx::query("INSERT INTO load_balancers (id, account, vpc_id, name, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&id)
            .bind(p.account().as_str())
            .bind(&vpc_id)
            .bind(&req.name)
            .bind(now())
            .execute(&self.db)
            .await?;
        self.add_vpc_dependent(&vpc_id, &id, "load balancer")
            .await?;
        for s in &subnets {
            if let Err(e) = self.alloc_eni(&s.id, &id).await {
                let _ = self.release_enis(&id).await;
                let _ = self.remove_vpc_dependent(&id).await;
                let _ = sqlx::query("DELETE FROM load_balancers WHERE id = ?")
                    .bind(&id)
                    .execute(&self.db)
                    .await;
                return Err(e);
            }
        }
        tracing::info!(lb = %id, vpc = %vpc_id, "load balancer created");
        self.to_lb(self.lb_row(&id).await?).await
    }

    pub async fn get_load_balancer(&self, p: &Principal, id: &str) -> Result<LoadBalancer> {
        let r = self.lb_row(id).await?;
        authorize(p, &r.account, "describe", id)?;
        self.to_lb(r).await
    }

    pub async fn list_load_balancers(&self, p: &Principal) -> Result<Vec<LoadBalancer>> {
        let rows = sqlx::query_as::<_, LbRow>(
            "SELECT id, account, vpc_id, name, created_at FROM load_balancers WHERE account = ? ORDER BY created_at, id",
        )
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.to_lb(r).await?);
        }
        Ok(out)
    }

    /// Delete a load balancer (refused while an endpoint service fronts it).
    pub async fn delete_load_balancer(&self, p: &Principal, id: &str) -> Result<()> {
        let r = self.lb_row(id).await?;
        authorize(p, &r.account, "delete", id)?;
        let _g = self.lock.lock().await;
        let svc: Option<String> =
            sqlx::query_scalar("SELECT id FROM endpoint_services WHERE lb_id = ?")
                .bind(id)
                .fetch_optional(&self.db)
                .await?;
        if let Some(s) = svc {
            return Err(Error::Conflict(format!(
                "load balancer {id} fronts endpoint service {s}; delete the service first"
            )));
        }
        let groups: Vec<String> =
            sqlx::query_scalar("SELECT group_id FROM listeners WHERE lb_id = ?")
                .bind(id)
                .fetch_all(&self.db)
                .await?;
        sqlx::query("DELETE FROM listeners WHERE lb_id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        for g in groups {
            self.sync_group(&g).await?;
        }
        self.release_enis(id).await?;
        self.remove_vpc_dependent(id).await?;
        sqlx::query("DELETE FROM load_balancers WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Add a TCP listener forwarding `port` to a target group of the same VPC.
    pub async fn create_listener(
        &self,
        p: &Principal,
        lb_id: &str,
        req: CreateListener,
    ) -> Result<LoadBalancer> {
        let lb = self.lb_row(lb_id).await?;
        authorize(p, &lb.account, "add a listener to", lb_id)?;
        let tg = self.tg_row(&req.target_group_id).await?;
        authorize(p, &tg.account, "use", &tg.id)?;
        if req.port == 0 {
            return Err(Error::invalid("port", "use 1-65535"));
        }
        if tg.vpc_id != lb.vpc_id {
            return Err(Error::invalid(
                "targetGroupId",
                format!(
                    "{} is in {}, the load balancer in {}",
                    tg.id, tg.vpc_id, lb.vpc_id
                ),
            ));
        }
        let _g = self.lock.lock().await;
        if let Some(other) = self.group_lb(&tg.id).await?
            && other != lb_id
        {
            return Err(Error::Conflict(format!(
                "target group {} is used by load balancer {other}; a target group serves one load balancer",
                tg.id
            )));
        }
        let taken: Option<String> =
            sqlx::query_scalar("SELECT id FROM listeners WHERE lb_id = ? AND port = ?")
                .bind(lb_id)
                .bind(i64::from(req.port))
                .fetch_optional(&self.db)
                .await?;
        if let Some(l) = taken {
            return Err(Error::Conflict(format!(
                "load balancer {lb_id} already listens on {} ({l})",
                req.port
            )));
        }
        let id = self.fresh_id(Kind::Listener, "listeners", "id").await?;
        sqlx::query("INSERT INTO listeners (id, lb_id, port, group_id) VALUES (?, ?, ?, ?)")
            .bind(&id)
            .bind(lb_id)
            .bind(i64::from(req.port))
            .bind(&tg.id)
            .execute(&self.db)
            .await?;
        self.sync_group(&tg.id).await?;
        self.sync_lb_endpoints(lb_id).await?;
        self.to_lb(lb).await
    }

    pub async fn delete_listener(
        &self,
        p: &Principal,
        lb_id: &str,
        listener_id: &str,
    ) -> Result<()> {
        let lb = self.lb_row(lb_id).await?;
        authorize(p, &lb.account, "remove a listener from", lb_id)?;
        Kind::Listener.parse("listenerId", listener_id)?;
        let _g = self.lock.lock().await;
        let group: Option<String> =
            sqlx::query_scalar("SELECT group_id FROM listeners WHERE id = ? AND lb_id = ?")
                .bind(listener_id)
                .bind(lb_id)
                .fetch_optional(&self.db)
                .await?;
        let Some(group) = group else {
            return Err(Error::NotFound {
                kind: "listener",
                id: listener_id.to_string(),
            });
        };
        sqlx::query("DELETE FROM listeners WHERE id = ?")
            .bind(listener_id)
            .execute(&self.db)
            .await?;
        self.sync_lb_endpoints(lb_id).await?;
        self.sync_group(&group).await
    }

    // ---------------------------------------------------------------- target groups

    async fn tg_row(&self, id: &str) -> Result<TgRow> {
        Kind::TargetGroup.parse("targetGroupId", id)?;
        sqlx::query_as::<_, TgRow>(
            "SELECT id, account, vpc_id, name, port, health_check, created_at FROM target_groups WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "target group",
            id: id.to_string(),
        })
    }

    async fn group_lb(&self, group_id: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT lb_id FROM listeners WHERE group_id = ? LIMIT 1")
                .bind(group_id)
                .fetch_optional(&self.db)
                .await?,
        )
    }

    fn health_of(r: &TgRow) -> HealthCheck {
        serde_json::from_str(&r.health_check).unwrap_or_default()
    }

    async fn to_tg(&self, r: TgRow) -> Result<TargetGroup> {
        let lb = self.group_lb(&r.id).await?;
        Ok(TargetGroup {
            health_check: Self::health_of(&r),
            target_group_id: r.id,
            owner_id: r.account,
            vpc_id: r.vpc_id,
            name: r.name,
            port: r.port as u16,
            protocol: "TCP".into(),
            load_balancer_id: lb,
            created_at: r.created_at,
        })
    }

    pub async fn create_target_group(
        &self,
        p: &Principal,
        req: CreateTargetGroup,
    ) -> Result<TargetGroup> {
        let vpc = self.vpc_row(&req.vpc_id).await?;
        authorize(p, &vpc.account, "create a target group in", &vpc.id)?;
        if req.port == 0 {
            return Err(Error::invalid("port", "use 1-65535"));
        }
        let hc = req.health_check.unwrap_or_default();
        health_config(&hc)?;
        let json =
            serde_json::to_string(&hc).map_err(|e| Error::invalid("healthCheck", e.to_string()))?;
        let _g = self.lock.lock().await;
        let id = self
            .fresh_id(Kind::TargetGroup, "target_groups", "id")
            .await?;
        sqlx::query("INSERT INTO target_groups (id, account, vpc_id, name, port, health_check, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(&id)
            .bind(p.account().as_str())
            .bind(&vpc.id)
            .bind(&req.name)
            .bind(i64::from(req.port))
            .bind(json)
            .bind(now())
            .execute(&self.db)
            .await?;
        self.add_vpc_dependent(&vpc.id, &id, "target group").await?;
        self.to_tg(self.tg_row(&id).await?).await
    }

    pub async fn get_target_group(&self, p: &Principal, id: &str) -> Result<TargetGroup> {
        let r = self.tg_row(id).await?;
        authorize(p, &r.account, "describe", id)?;
        self.to_tg(r).await
    }

    pub async fn list_target_groups(&self, p: &Principal) -> Result<Vec<TargetGroup>> {
        let rows = sqlx::query_as::<_, TgRow>(
            "SELECT id, account, vpc_id, name, port, health_check, created_at FROM target_groups WHERE account = ? ORDER BY created_at, id",
        )
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.to_tg(r).await?);
        }
        Ok(out)
    }

    pub async fn delete_target_group(&self, p: &Principal, id: &str) -> Result<()> {
        let r = self.tg_row(id).await?;
        authorize(p, &r.account, "delete", id)?;
        let _g = self.lock.lock().await;
        if let Some(lb) = self.group_lb(id).await? {
            return Err(Error::Conflict(format!(
                "target group {id} is used by a listener of {lb}; delete the listener first"
            )));
        }
        sqlx::query("DELETE FROM targets WHERE group_id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        sqlx::query("DELETE FROM target_groups WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        self.remove_vpc_dependent(id).await?;
        let gone = self.rt().groups.remove(id);
        if let Some((c, _)) = gone.and_then(|g| g.checker) {
            c.stop().await;
        }
        Ok(())
    }

    /// Register instances (of the group's VPC) as targets.
    pub async fn register_targets(
        &self,
        p: &Principal,
        id: &str,
        req: Targets,
    ) -> Result<Vec<TargetHealth>> {
        let r = self.tg_row(id).await?;
        authorize(p, &r.account, "register targets in", id)?;
        if req.targets.is_empty() {
            return Err(Error::invalid(
                "targets",
                "give at least one {instanceId, port?}",
            ));
        }
        let _g = self.lock.lock().await;
        for t in &req.targets {
            let inst = self.instance_row(&t.instance_id).await?;
            authorize(p, &inst.account, "register", &inst.id)?;
            if inst.vpc_id != r.vpc_id {
                return Err(Error::invalid(
                    "targets",
                    format!(
                        "{} is in {}, the target group in {}",
                        inst.id, inst.vpc_id, r.vpc_id
                    ),
                ));
            }
            if t.port == Some(0) {
                return Err(Error::invalid("targets.port", "use 1-65535"));
            }
        }
        for t in &req.targets {
            sqlx::query(
                "INSERT OR IGNORE INTO targets (group_id, instance_id, port) VALUES (?, ?, ?)",
            )
            .bind(id)
            .bind(&t.instance_id)
            .bind(i64::from(t.port.unwrap_or(r.port as u16)))
            .execute(&self.db)
            .await?;
        }
        self.sync_group(id).await?;
        drop(_g);
        self.target_health(p, id).await
    }

    pub async fn deregister_targets(
        &self,
        p: &Principal,
        id: &str,
        req: Targets,
    ) -> Result<Vec<TargetHealth>> {
        let r = self.tg_row(id).await?;
        authorize(p, &r.account, "deregister targets from", id)?;
        let _g = self.lock.lock().await;
        for t in &req.targets {
            sqlx::query("DELETE FROM targets WHERE group_id = ? AND instance_id = ? AND port = ?")
                .bind(id)
                .bind(&t.instance_id)
                .bind(i64::from(t.port.unwrap_or(r.port as u16)))
                .execute(&self.db)
                .await?;
        }
        self.sync_group(id).await?;
        drop(_g);
        self.target_health(p, id).await
    }

    async fn target_rows(&self, group_id: &str) -> Result<Vec<(String, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT t.instance_id, i.private_ip, t.port FROM targets t JOIN instances i ON i.id = t.instance_id WHERE t.group_id = ? ORDER BY t.instance_id, t.port",
        )
        .bind(group_id)
        .fetch_all(&self.db)
        .await?)
    }

    /// Each target with its health state as the load balancer's checks see it.
    pub async fn target_health(&self, p: &Principal, id: &str) -> Result<Vec<TargetHealth>> {
        let r = self.tg_row(id).await?;
        authorize(p, &r.account, "describe target health of", id)?;
        let rows = self.target_rows(id).await?;
        let (mut out, draining) = {
            let rt = self.rt();
            let g = rt.groups.get(id);
            let checked = g.is_some_and(|g| g.checker.is_some());
            let mut listed = BTreeSet::new();
            let out: Vec<TargetHealth> = rows
                .into_iter()
                .map(|(instance_id, ip, port)| {
                    let addr = SocketAddr::new(
                        ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                        port as u16,
                    );
                    listed.insert(addr);
                    let t = g.and_then(|g| g.targets.get(addr));
                    TargetHealth {
                        instance_id,
                        private_ip_address: ip,
                        port: port as u16,
                        state: match (&t, checked) {
                            (Some(t), true) => t.state().as_str().to_string(),
                            _ => "unused".into(),
                        },
                        active_connections: t.map(|t| t.active_connections()).unwrap_or(0),
                    }
                })
                .collect();
            // Deregistered targets still draining their connections.
            let draining: Vec<(SocketAddr, u64)> = g
                .map(|g| {
                    g.targets
                        .targets()
                        .iter()
                        .filter(|t| !listed.contains(&t.addr()))
                        .map(|t| (t.addr(), t.active_connections()))
                        .collect()
                })
                .unwrap_or_default();
            (out, draining)
        };
        for (addr, active) in draining {
            let instance: Option<String> =
                sqlx::query_scalar("SELECT id FROM instances WHERE vpc_id = ? AND private_ip = ?")
                    .bind(&r.vpc_id)
                    .bind(addr.ip().to_string())
                    .fetch_optional(&self.db)
                    .await?;
            out.push(TargetHealth {
                instance_id: instance.unwrap_or_default(),
                private_ip_address: addr.ip().to_string(),
                port: addr.port(),
                state: "draining".into(),
                active_connections: active,
            });
        }
        Ok(out)
    }

    /// Make the group's runtime match the database: its targets, and a health checker
    /// running from its load balancer's address while a listener uses it.
    async fn sync_group(&self, group_id: &str) -> Result<()> {
        let r = self.tg_row(group_id).await?;
        let rows = self.target_rows(group_id).await?;
        let want: BTreeSet<SocketAddr> = rows
            .iter()
            .filter_map(|(_, ip, port)| Some(SocketAddr::new(ip.parse().ok()?, *port as u16)))
            .collect();
        let lb = self.group_lb(group_id).await?;
        let source = match &lb {
            Some(lb) => self.enis_of(lb).await?.first().map(EniRow::addr),
            None => None,
        };
        let (targets, fresh) = {
            let mut fresh = false;
            let mut rt = self.rt();
            let g = rt
                .groups
                .entry(group_id.to_string())
                .or_insert_with(|| GroupRt {
                    targets: TargetSet::new(),
                    checker: None,
                });
            for t in g.targets.targets().iter() {
                if !want.contains(&t.addr()) && t.state() != TargetState::Draining {
                    // No new connections; removed when its last one ends (or the delay).
                    g.targets.deregister(t.addr(), DEREGISTRATION_DELAY);
                }
            }
            for a in &want {
                match g.targets.get(*a) {
                    None => {
                        g.targets.register_with_state(*a, TargetState::Initial);
                        fresh = true;
                    }
                    Some(t) if t.state() == TargetState::Draining => {
                        g.targets.set_state(*a, TargetState::Initial);
                        fresh = true;
                    }
                    Some(_) => {}
                }
            }
            (g.targets.clone(), fresh)
        };
        // Checker: (re)start when the source changed, stop when unused. A new target is
        // checked at once (a checker checks every target when it starts), not at the next
        // interval: restart a running checker (states stay; only streaks start over).
        let key = lb.clone().zip(source).map(|(l, s)| format!("{l}@{s}"));
        let old = {
            let mut rt = self.rt();
            let g = rt.groups.get_mut(group_id);
            match g {
                Some(g) if fresh || g.checker.as_ref().map(|c| &c.1) != key.as_ref() => {
                    g.checker.take()
                }
                _ => None,
            }
        };
        if let Some((c, _)) = old {
            c.stop().await;
        }
        let running = self
            .rt()
            .groups
            .get(group_id)
            .is_some_and(|g| g.checker.is_some());
        if let (Some(lb), Some(src), false) = (&lb, source, running) {
            let lb_row = self.lb_row(lb).await?;
            let thread = self.ns_thread(&self.router_namespace(&lb_row.vpc_id))?;
            let connector = Arc::new(NsConnector {
                ns: thread,
                source: Some(IpAddr::V4(src)),
            });
            let config = health_config(&Self::health_of(&r))?;
            let checker = HealthChecker::spawn(targets, connector, config)
                .map_err(|e| Error::invalid("healthCheck", e.to_string()))?;
            if let Some(g) = self.rt().groups.get_mut(group_id) {
                g.checker = Some((checker, format!("{lb}@{src}")));
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- endpoint services

    async fn service_row(&self, id: &str) -> Result<ServiceRow> {
        Kind::EndpointService.parse("serviceId", id)?;
        sqlx::query_as::<_, ServiceRow>(
            "SELECT id, account, lb_id, region, acceptance_required, private_dns_name, proxy_protocol, supported_regions, created_at FROM endpoint_services WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "endpoint service",
            id: id.to_string(),
        })
    }

    /// A service by its name `com.linkplane.vpce.<region>.vpce-svc-…`.
    async fn service_by_name(&self, name: &str) -> Result<ServiceRow> {
        let not_found = || Error::NotFound {
            kind: "endpoint service",
            id: name.to_string(),
        };
        let id = name
            .strip_prefix("com.linkplane.vpce.")
            .and_then(|r| r.rsplit_once('.'))
            .map(|(_, id)| id)
            .ok_or_else(|| {
                Error::invalid(
                    "serviceName",
                    format!("{name:?}: a service name looks like com.linkplane.vpce.<region>.vpce-svc-<id>"),
                )
            })?;
        let row = self.service_row(id).await.map_err(|_| not_found())?;
        if service_name(&row.region, &row.id) != name {
            return Err(not_found());
        }
        Ok(row)
    }

    async fn principals_of(&self, service_id: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT principal FROM service_principals WHERE service_id = ? ORDER BY principal",
        )
        .bind(service_id)
        .fetch_all(&self.db)
        .await?)
    }

    async fn service_azs(&self, lb_id: &str) -> Result<Vec<String>> {
        let azs: BTreeSet<String> = self
            .enis_of(lb_id)
            .await?
            .into_iter()
            .map(|e| e.az)
            .collect();
        Ok(azs.into_iter().collect())
    }

    async fn to_service(&self, r: ServiceRow) -> Result<EndpointService> {
        Ok(EndpointService {
            service_name: service_name(&r.region, &r.id),
            availability_zones: self.service_azs(&r.lb_id).await?,
            allowed_principals: self.principals_of(&r.id).await?,
            supported_regions: split_list(&r.supported_regions),
            service_id: r.id,
            owner_id: r.account,
            load_balancer_id: r.lb_id,
            region: r.region,
            acceptance_required: r.acceptance_required,
            private_dns_name: r.private_dns_name,
            proxy_protocol: r.proxy_protocol,
            created_at: r.created_at,
        })
    }

    pub async fn create_endpoint_service(
        &self,
        p: &Principal,
        req: CreateEndpointService,
    ) -> Result<EndpointService> {
        let lb = self.lb_row(&req.load_balancer_id).await?;
        authorize(p, &lb.account, "create an endpoint service for", &lb.id)?;
        let vpc = self.vpc_row(&lb.vpc_id).await?;
        for r in &req.supported_regions {
            if !crate::ids::REGIONS.contains(&r.as_str()) {
                return Err(Error::invalid(
                    "supportedRegions",
                    format!(
                        "{r:?} is not a region; use one of {}",
                        crate::ids::REGIONS.join(", ")
                    ),
                ));
            }
        }
        for a in &req.allowed_principals {
            check_allowed_principal(a)?;
        }
        if let Some(n) = &req.private_dns_name {
            linkplane_dataplane::dns::PrivateZone::new(n, Vec::new())
                .map_err(|e| Error::invalid("privateDnsName", e.to_string()))?;
        }
        let _g = self.lock.lock().await;
        let taken: Option<String> =
            sqlx::query_scalar("SELECT id FROM endpoint_services WHERE lb_id = ?")
                .bind(&lb.id)
                .fetch_optional(&self.db)
                .await?;
        if let Some(s) = taken {
            return Err(Error::Conflict(format!(
                "load balancer {} already fronts endpoint service {s}",
                lb.id
            )));
        }
        let id = self
            .fresh_id(Kind::EndpointService, "endpoint_services", "id")
            .await?;
        let regions: Vec<String> = req
            .supported_regions
            .iter()
            .filter(|r| **r != vpc.region)
            .cloned()
            .collect();
        sqlx::query("INSERT INTO endpoint_services (id, account, lb_id, region, acceptance_required, private_dns_name, proxy_protocol, supported_regions, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(&id)
            .bind(p.account().as_str())
            .bind(&lb.id)
            .bind(&vpc.region)
            .bind(req.acceptance_required)
            .bind(&req.private_dns_name)
            .bind(req.proxy_protocol)
            .bind(regions.join(","))
            .bind(now())
            .execute(&self.db)
            .await?;
        for a in &req.allowed_principals {
            sqlx::query(
                "INSERT OR IGNORE INTO service_principals (service_id, principal) VALUES (?, ?)",
            )
            .bind(&id)
            .bind(a)
            .execute(&self.db)
            .await?;
        }
        tracing::info!(service = %id, lb = %lb.id, "endpoint service created");
        self.to_service(self.service_row(&id).await?).await
    }

    pub async fn get_endpoint_service(&self, p: &Principal, id: &str) -> Result<EndpointService> {
        let r = self.service_row(id).await?;
        authorize(p, &r.account, "describe", id)?;
        self.to_service(r).await
    }

    pub async fn list_endpoint_services(&self, p: &Principal) -> Result<Vec<EndpointService>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM endpoint_services WHERE account = ? ORDER BY created_at, id",
        )
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::new();
        for id in ids {
            out.push(self.to_service(self.service_row(&id).await?).await?);
        }
        Ok(out)
    }

    /// Add and remove allowed principals (`*` allows everyone).
    pub async fn modify_service_permissions(
        &self,
        p: &Principal,
        id: &str,
        req: ModifyPermissions,
    ) -> Result<EndpointService> {
        let r = self.service_row(id).await?;
        authorize(p, &r.account, "modify permissions of", id)?;
        for a in req
            .add_allowed_principals
            .iter()
            .chain(&req.remove_allowed_principals)
        {
            check_allowed_principal(a)?;
        }
        let _g = self.lock.lock().await;
        for a in &req.add_allowed_principals {
            sqlx::query(
                "INSERT OR IGNORE INTO service_principals (service_id, principal) VALUES (?, ?)",
            )
            .bind(id)
            .bind(a)
            .execute(&self.db)
            .await?;
        }
        for a in &req.remove_allowed_principals {
            sqlx::query("DELETE FROM service_principals WHERE service_id = ? AND principal = ?")
                .bind(id)
                .bind(a)
                .execute(&self.db)
                .await?;
        }
        self.to_service(r).await
    }

    /// Change acceptance, supported regions or the private DNS name of a service.
    pub async fn modify_endpoint_service(
        &self,
        p: &Principal,
        id: &str,
        req: ModifyEndpointService,
    ) -> Result<EndpointService> {
        let r = self.service_row(id).await?;
        authorize(p, &r.account, "modify", id)?;
        if req.private_dns_name.is_some() && req.remove_private_dns_name {
            return Err(Error::invalid(
                "privateDnsName",
                "give privateDnsName or removePrivateDnsName, not both",
            ));
        }
        if let Some(regions) = &req.supported_regions {
            for g in regions {
                if !crate::ids::REGIONS.contains(&g.as_str()) {
                    return Err(Error::invalid(
                        "supportedRegions",
                        format!(
                            "{g:?} is not a region; use one of {}",
                            crate::ids::REGIONS.join(", ")
                        ),
                    ));
                }
            }
        }
        if let Some(n) = &req.private_dns_name {
            linkplane_dataplane::dns::PrivateZone::new(n, Vec::new())
                .map_err(|e| Error::invalid("privateDnsName", e.to_string()))?;
        }
        {
            let _g = self.lock.lock().await;
            if let Some(a) = req.acceptance_required {
                sqlx::query("UPDATE endpoint_services SET acceptance_required = ? WHERE id = ?")
                    .bind(a)
                    .bind(id)
                    .execute(&self.db)
                    .await?;
            }
            if let Some(regions) = &req.supported_regions {
                let others: Vec<&str> = regions
                    .iter()
                    .map(String::as_str)
                    .filter(|g| *g != r.region)
                    .collect();
                sqlx::query("UPDATE endpoint_services SET supported_regions = ? WHERE id = ?")
                    .bind(others.join(","))
                    .bind(id)
                    .execute(&self.db)
                    .await?;
            }
            if req.private_dns_name.is_some() || req.remove_private_dns_name {
                sqlx::query("UPDATE endpoint_services SET private_dns_name = ? WHERE id = ?")
                    .bind(&req.private_dns_name)
                    .bind(id)
                    .execute(&self.db)
                    .await?;
            }
        }
        if req.private_dns_name.is_some() || req.remove_private_dns_name {
            let vpcs: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT vpc_id FROM endpoints WHERE service_id = ? AND state IN ('pendingAcceptance', 'available')",
            )
            .bind(id)
            .fetch_all(&self.db)
            .await?;
            for v in vpcs {
                self.refresh_vpc_dns(&v).await?;
            }
        }
        self.to_service(self.service_row(id).await?).await
    }

    pub async fn delete_endpoint_service(&self, p: &Principal, id: &str) -> Result<()> {
        let r = self.service_row(id).await?;
        authorize(p, &r.account, "delete", id)?;
        let _g = self.lock.lock().await;
        let live: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM endpoints WHERE service_id = ? AND state IN ('pendingAcceptance', 'available')",
        )
        .bind(id)
        .fetch_all(&self.db)
        .await?;
        if !live.is_empty() {
            return Err(Error::Conflict(format!(
                "endpoint service {id} still has endpoint connections {}; reject them or have their owners delete them first",
                live.join(", ")
            )));
        }
        sqlx::query("DELETE FROM service_principals WHERE service_id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        sqlx::query("DELETE FROM endpoint_services WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        self.connections_changed(id);
        Ok(())
    }

    /// Call `wake` once, the next time an endpoint connection of the caller's service
    /// changes: an endpoint to it is created (or fails), accepted, rejected or deleted, or the
    /// service is deleted. A one-shot watch, as ZooKeeper's: whoever still cares registers
    /// again (a controller does on every pass, before it lists the connections, so no change
    /// falls between the two). `watcher` names the registration: registering the same name
    /// again replaces it, so repeated passes hold one watch per service, not a pile.
    pub async fn watch_endpoint_connections(
        &self,
        p: &Principal,
        service_id: &str,
        watcher: &str,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<()> {
        let r = self.service_row(service_id).await?;
        authorize(p, &r.account, "watch connections of", service_id)?;
        self.rt()
            .watches
            .entry(service_id.to_string())
            .or_default()
            .insert(watcher.to_string(), wake);
        Ok(())
    }

    /// Fire (and forget) the watches of a service whose connections changed.
    fn connections_changed(&self, service_id: &str) {
        let fired = self.rt().watches.remove(service_id);
        for wake in fired.into_iter().flat_map(HashMap::into_values) {
            wake();
        }
    }

    /// The service owner's view of its endpoint connections.
    pub async fn list_endpoint_connections(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<Vec<EndpointConnection>> {
        let r = self.service_row(id).await?;
        authorize(p, &r.account, "list connections of", id)?;
        let rows = sqlx::query_as::<_, EndpointRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {ENDPOINT_COLS} FROM endpoints WHERE service_id = ? ORDER BY created_at, id"
        )))
        .bind(id)
        .fetch_all(&self.db)
        .await?;
        Ok(rows
            .into_iter()
            .map(|e| EndpointConnection {
                vpc_endpoint_id: e.id,
                vpc_endpoint_owner: e.account,
                vpc_endpoint_state: e.state,
                created_at: e.created_at,
            })
            .collect())
    }

    /// Accept (`accept` true) or reject pending endpoint connections of the caller's service.
    pub async fn decide_endpoint_connections(
        &self,
        p: &Principal,
        id: &str,
        endpoint_ids: &[String],
        accept: bool,
    ) -> Result<Vec<EndpointConnection>> {
        let r = self.service_row(id).await?;
        let verb = if accept { "accept" } else { "reject" };
        authorize(p, &r.account, &format!("{verb} connections to"), id)?;
        if endpoint_ids.is_empty() {
            return Err(Error::invalid(
                "vpcEndpointIds",
                "give at least one endpoint id",
            ));
        }
        let _g = self.lock.lock().await;
        for eid in endpoint_ids {
            let e = self.endpoint_row(eid).await?;
            if e.service_id != id {
                return Err(Error::NotFound {
                    kind: "endpoint connection",
                    id: eid.clone(),
                });
            }
            let next = match (e.state.as_str(), accept) {
                (state::PENDING, true) => state::AVAILABLE,
                (state::PENDING | state::AVAILABLE, false) => state::REJECTED,
                (s, _) => {
                    return Err(Error::Conflict(format!(
                        "endpoint {eid} is {s}; only pendingAcceptance connections can be accepted, and pendingAcceptance or available ones rejected"
                    )));
                }
            };
            self.set_endpoint_state(eid, next).await?;
            if next == state::REJECTED {
                // Close live connections of a previously available endpoint.
                self.stop_forwarders(eid).await;
            }
            let synced = self.sync_endpoint(eid).await;
            self.connections_changed(id);
            synced?;
            tracing::info!(endpoint = %eid, state = next, "endpoint connection decided");
        }
        drop(_g);
        self.list_endpoint_connections(p, id).await
    }

    // ---------------------------------------------------------------- endpoints

    pub(crate) async fn endpoint_row(&self, id: &str) -> Result<EndpointRow> {
        Kind::Endpoint.parse("vpcEndpointId", id)?;
        sqlx::query_as::<_, EndpointRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {ENDPOINT_COLS} FROM endpoints WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "VPC endpoint",
            id: id.to_string(),
        })
    }

    async fn set_endpoint_state(&self, id: &str, s: &str) -> Result<()> {
        sqlx::query("UPDATE endpoints SET state = ?, updated_at = ? WHERE id = ?")
            .bind(s)
            .bind(now())
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    async fn to_endpoint(&self, e: EndpointRow) -> Result<Endpoint> {
        let svc = self.service_row(&e.service_id).await?;
        let enis = self.enis_of(&e.id).await?;
        let mut dns = Vec::new();
        if e.state != state::DELETED {
            dns.push(DnsEntry {
                dns_name: endpoint_dns_name(&e.id, &svc.id, &svc.region, None),
                availability_zone: None,
            });
            for n in &enis {
                dns.push(DnsEntry {
                    dns_name: endpoint_dns_name(&e.id, &svc.id, &svc.region, Some(&n.az)),
                    availability_zone: Some(n.az.clone()),
                });
            }
            if let (Some(name), true) = (&svc.private_dns_name, e.private_dns_enabled) {
                dns.push(DnsEntry {
                    dns_name: name.clone(),
                    availability_zone: None,
                });
            }
        }
        Ok(Endpoint {
            service_name: service_name(&svc.region, &svc.id),
            network_interfaces: enis.iter().map(EniRow::api).collect(),
            security_group_ids: split_list(&e.security_groups),
            dns_entries: dns,
            vpc_endpoint_id: e.id,
            owner_id: e.account,
            vpc_id: e.vpc_id,
            state: e.state,
            private_dns_enabled: e.private_dns_enabled,
            created_at: e.created_at,
        })
    }

    /// Create an interface endpoint in the caller's VPC to a service it is allowed on.
    pub async fn create_endpoint(&self, p: &Principal, req: CreateEndpoint) -> Result<Endpoint> {
        let vpc = self.vpc_row(&req.vpc_id).await?;
        authorize(p, &vpc.account, "create an endpoint in", &vpc.id)?;
        let svc = self.service_by_name(&req.service_name).await?;
        let allowed = self.principals_of(&svc.id).await?;
        if !principal_allowed(p, &svc.account, &allowed) {
            return Err(Error::Forbidden {
                principal: p.arn().to_string(),
                caller: p.account().to_string(),
                owner: svc.account.clone(),
                action: "create an endpoint to".into(),
                resource: format!(
                    "{} (the principal is not in the service's allowed principals; the service owner must add it)",
                    req.service_name
                ),
            });
        }
        let cross_region = vpc.region != svc.region;
        if cross_region && !split_list(&svc.supported_regions).contains(&vpc.region) {
            return Err(Error::invalid(
                "vpcId",
                format!(
                    "{} is in {}, and service {} in {} does not list {} among its supported regions ({}); the service owner must add it",
                    vpc.id,
                    vpc.region,
                    req.service_name,
                    svc.region,
                    vpc.region,
                    if svc.supported_regions.is_empty() {
                        "none".into()
                    } else {
                        svc.supported_regions.replace(',', ", ")
                    }
                ),
            ));
        }
        if req.subnet_ids.is_empty() {
            return Err(Error::invalid(
                "subnetIds",
                "give at least one subnet of the VPC",
            ));
        }
        let svc_azs = self.service_azs(&svc.lb_id).await?;
        let mut seen = BTreeSet::new();
        for sid in &req.subnet_ids {
            let s = self.subnet_row(sid).await?;
            if s.vpc_id != vpc.id {
                return Err(Error::invalid(
                    "subnetIds",
                    format!("{sid} is not in {}", vpc.id),
                ));
            }
            if !seen.insert(s.az.clone()) {
                return Err(Error::invalid(
                    "subnetIds",
                    format!(
                        "two subnets in {}: choose one subnet per availability zone",
                        s.az
                    ),
                ));
            }
            if !cross_region && !svc_azs.contains(&s.az) {
                return Err(Error::invalid(
                    "subnetIds",
                    format!(
                        "subnet {sid} is in {}, which service {} does not support; its supported availability zones are {}",
                        s.az,
                        req.service_name,
                        svc_azs.join(", ")
                    ),
                ));
            }
        }
        let groups = if req.security_group_ids.is_empty() {
            vec![self.to_vpc_default_group(&vpc.id).await?]
        } else {
            req.security_group_ids.clone()
        };
        for g in &groups {
            let row = self.group_row(g).await?;
            authorize(p, &row.account, "use", g)?;
            if row.vpc_id != vpc.id {
                return Err(Error::invalid(
                    "securityGroupIds",
                    format!("{g} is in {}, not {}", row.vpc_id, vpc.id),
                ));
            }
        }
        let private_dns = req
            .private_dns_enabled
            .unwrap_or(svc.private_dns_name.is_some());
        if private_dns && svc.private_dns_name.is_none() {
            return Err(Error::invalid(
                "privateDnsEnabled",
                format!("service {} has no private DNS name", req.service_name),
            ));
        }
        let _g = self.lock.lock().await;
        let id = self.fresh_id(Kind::Endpoint, "endpoints", "id").await?;
        let initial = if svc.acceptance_required {
            state::PENDING
        } else {
            state::AVAILABLE
        };
        let ts = now();
        sqlx::query("INSERT INTO endpoints (id, account, vpc_id, service_id, state, security_groups, private_dns_enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(&id)
            .bind(p.account().as_str())
            .bind(&vpc.id)
            .bind(&svc.id)
            .bind(initial)
            .bind(groups.join(","))
            .bind(private_dns)
            .bind(&ts)
            .bind(&ts)
            .execute(&self.db)
            .await?;
        self.add_vpc_dependent(&vpc.id, &id, "VPC endpoint").await?;
        let built = async {
            for sid in &req.subnet_ids {
                self.alloc_eni(sid, &id).await?;
            }
            self.render_endpoint_nft(&id).await?;
            self.sync_endpoint(&id).await
        }
        .await;
        if let Err(e) = built {
            tracing::warn!(endpoint = %id, error = %e, "endpoint failed");
            self.stop_forwarders(&id).await;
            let _ = self.release_enis(&id).await;
            self.drop_endpoint_nft(&id, &vpc.id).await;
            let _ = self.remove_vpc_dependent(&id).await;
            let _ = self.set_endpoint_state(&id, state::FAILED).await;
            self.connections_changed(&svc.id);
            return Err(e);
        }
        drop(_g);
        self.connections_changed(&svc.id);
        self.refresh_vpc_dns(&vpc.id).await?;
        tracing::info!(endpoint = %id, service = %svc.id, state = initial, "VPC endpoint created");
        self.to_endpoint(self.endpoint_row(&id).await?).await
    }

    async fn to_vpc_default_group(&self, vpc_id: &str) -> Result<String> {
        self.default_group(vpc_id).await
    }

    pub async fn get_endpoint(&self, p: &Principal, id: &str) -> Result<Endpoint> {
        let e = self.endpoint_row(id).await?;
        authorize(p, &e.account, "describe", id)?;
        self.to_endpoint(e).await
    }

    pub async fn list_endpoints(&self, p: &Principal) -> Result<Vec<Endpoint>> {
        let rows = sqlx::query_as::<_, EndpointRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {ENDPOINT_COLS} FROM endpoints WHERE account = ? ORDER BY created_at, id"
        )))
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.to_endpoint(r).await?);
        }
        Ok(out)
    }

    /// Delete an endpoint: its forwarders stop (live connections are reset), its addresses
    /// and DNS names go away; the row stays as `deleted`.
    pub async fn delete_endpoint(&self, p: &Principal, id: &str) -> Result<Endpoint> {
        let e = self.endpoint_row(id).await?;
        authorize(p, &e.account, "delete", id)?;
        {
            let _g = self.lock.lock().await;
            self.stop_forwarders(id).await;
            self.release_enis(id).await?;
            self.drop_endpoint_nft(id, &e.vpc_id).await;
            self.remove_vpc_dependent(id).await?;
            self.set_endpoint_state(id, state::DELETED).await?;
        }
        self.connections_changed(&e.service_id);
        self.refresh_vpc_dns(&e.vpc_id).await?;
        tracing::info!(endpoint = %id, "VPC endpoint deleted");
        self.to_endpoint(self.endpoint_row(id).await?).await
    }

    async fn stop_forwarders(&self, endpoint_id: &str) {
        let fwds = self.rt().forwarders.remove(endpoint_id);
        for f in fwds.into_iter().flat_map(HashMap::into_values) {
            f.stop().await;
        }
    }

    /// Make an endpoint's forwarders match the database: one per address and listener port
    /// of the service's load balancer, gated open only while `available`.
    pub(crate) async fn sync_endpoint(&self, endpoint_id: &str) -> Result<()> {
        let e = self.endpoint_row(endpoint_id).await?;
        if matches!(e.state.as_str(), state::DELETED | state::FAILED) {
            self.stop_forwarders(endpoint_id).await;
            return Ok(());
        }
        let svc = self.service_row(&e.service_id).await?;
        let lb = self.lb_row(&svc.lb_id).await?;
        let lb_enis = self.enis_of(&lb.id).await?;
        let listeners = self.listeners_of(&lb.id).await?;
        let enis = self.enis_of(endpoint_id).await?;
        let open = e.state == state::AVAILABLE;
        let mut want: BTreeMap<SocketAddr, (String, Ipv4Addr)> = BTreeMap::new();
        for n in &enis {
            // Leave from the load balancer's address in the same AZ when there is one.
            let src = lb_enis
                .iter()
                .find(|l| l.az == n.az)
                .or(lb_enis.first())
                .map(EniRow::addr)
                .ok_or_else(|| {
                    Error::Conflict(format!("load balancer {} has no address", lb.id))
                })?;
            for l in &listeners {
                want.insert(
                    SocketAddr::new(IpAddr::V4(n.addr()), l.port as u16),
                    (l.group_id.clone(), src),
                );
            }
        }
        let stale: Vec<ForwarderHandle> = {
            let mut rt = self.rt();
            let m = rt.forwarders.entry(endpoint_id.to_string()).or_default();
            let gone: Vec<SocketAddr> = m
                .keys()
                .filter(|a| !want.contains_key(a))
                .copied()
                .collect();
            gone.iter().filter_map(|a| m.remove(a)).collect()
        };
        for f in stale {
            f.stop().await;
        }
        let consumer = self.ns_thread(&self.router_namespace(&e.vpc_id))?;
        let provider = self.ns_thread(&self.router_namespace(&lb.vpc_id))?;
        for (addr, (group, src)) in want {
            let existing = self
                .rt()
                .forwarders
                .get(endpoint_id)
                .and_then(|m| m.get(&addr).cloned());
            if let Some(f) = existing {
                f.set_accepting(open);
                continue;
            }
            self.sync_group(&group).await?;
            let targets = self
                .rt()
                .groups
                .get(&group)
                .map(|g| g.targets.clone())
                .ok_or_else(|| Error::Conflict(format!("target group {group} is not running")))?;
            let listener = consumer
                .tcp_listener_async(addr, 1024)
                .await
                .map_err(kernel_err("listen on the endpoint address"))?;
            let connector = Arc::new(NsConnector {
                ns: provider.clone(),
                source: Some(IpAddr::V4(src)),
            });
            let fwd = forwarder::spawn(
                listener,
                targets,
                connector,
                ForwarderConfig {
                    proxy_protocol_endpoint_id: svc.proxy_protocol.then(|| endpoint_id.to_string()),
                    endpoint: Some(endpoint_id.to_string()),
                    accepting: open,
                    ..Default::default()
                },
            )
            .map_err(|err| Error::kernel(format!("start forwarder on {addr}"), err.to_string()))?;
            self.rt()
                .forwarders
                .entry(endpoint_id.to_string())
                .or_default()
                .insert(addr, fwd);
        }
        Ok(())
    }

    /// Re-sync every live endpoint of the service fronting `lb_id` (listeners changed).
    async fn sync_lb_endpoints(&self, lb_id: &str) -> Result<()> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT e.id FROM endpoints e JOIN endpoint_services s ON s.id = e.service_id WHERE s.lb_id = ? AND e.state IN ('pendingAcceptance', 'available')",
        )
        .bind(lb_id)
        .fetch_all(&self.db)
        .await?;
        for id in ids {
            self.sync_endpoint(&id).await?;
        }
        Ok(())
    }

    fn endpoint_table(&self, endpoint_id: &str, n: usize) -> String {
        format!("inet {}e{}n{n}", self.prefix, short(endpoint_id))
    }

    /// The endpoint's security groups, as one nftables table per address on the router.
    pub(crate) async fn render_endpoint_nft(&self, endpoint_id: &str) -> Result<()> {
        let e = self.endpoint_row(endpoint_id).await?;
        let vpc = self.vpc_row(&e.vpc_id).await?;
        let (rules, sets) = self
            .filter_rules_of(&split_list(&e.security_groups))
            .await?;
        for (n, eni) in self.enis_of(endpoint_id).await?.iter().enumerate() {
            let script = render::filter_table(
                &self.endpoint_table(endpoint_id, n),
                &render::Attachment::Address(eni.addr()),
                net::resolver(vpc.net()),
                &rules,
                &sets,
            );
            crate::kernel::nft(&self.router_namespace(&e.vpc_id), &script).await?;
        }
        Ok(())
    }

    async fn drop_endpoint_nft(&self, endpoint_id: &str, vpc_id: &str) {
        // Addresses are gone already; remove every table this endpoint may have had.
        for n in 0..16 {
            let t = self.endpoint_table(endpoint_id, n);
            let script = format!("table {t}\ndelete table {t}\n");
            if crate::kernel::nft(&self.router_namespace(vpc_id), &script)
                .await
                .is_err()
            {
                break;
            }
        }
    }

    /// Endpoints that use `group_id` (their tables change with its rules).
    pub(crate) async fn rerender_endpoints_of_group(&self, group_id: &str) -> Result<()> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM endpoints WHERE state IN ('pendingAcceptance', 'available') AND (',' || security_groups || ',') LIKE ('%,' || ? || ',%')",
        )
        .bind(group_id)
        .fetch_all(&self.db)
        .await?;
        for id in ids {
            self.render_endpoint_nft(&id).await?;
        }
        Ok(())
    }

    /// Rebuild addresses, tables, target sets, health checkers and forwarders from the
    /// database (on open).
    pub(crate) async fn restore_privatelink(&self) -> Result<()> {
        let enis = sqlx::query_as::<_, EniRow>(
            "SELECT e.subnet_id, e.ip, e.vpc_id, e.az FROM enis e LEFT JOIN endpoints p ON p.id = e.owner_id WHERE p.id IS NULL OR p.state NOT IN ('deleted', 'failed')",
        )
        .fetch_all(&self.db)
        .await?;
        for e in &enis {
            self.hold_eni(e).await?;
        }
        let groups: Vec<String> = sqlx::query_scalar("SELECT id FROM target_groups")
            .fetch_all(&self.db)
            .await?;
        for g in &groups {
            self.sync_group(g).await?;
        }
        let endpoints: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM endpoints WHERE state IN ('pendingAcceptance', 'available')",
        )
        .fetch_all(&self.db)
        .await?;
        for id in &endpoints {
            self.render_endpoint_nft(id).await?;
            self.sync_endpoint(id).await?;
        }
        tracing::info!(
            addresses = enis.len(),
            target_groups = groups.len(),
            endpoints = endpoints.len(),
            "PrivateLink restored"
        );
        Ok(())
    }

    /// Live forwarder counters of an endpoint (for tests and diagnostics).
    pub fn endpoint_forwarders(
        &self,
        endpoint_id: &str,
    ) -> Vec<(SocketAddr, bool, linkplane_dataplane::StatsSnapshot)> {
        self.rt()
            .forwarders
            .get(endpoint_id)
            .map(|m| {
                m.iter()
                    .map(|(a, f)| (*a, f.is_accepting(), f.stats()))
                    .collect()
            })
            .unwrap_or_default()
    }

    // used by DNS: endpoint names of a VPC
    pub(crate) async fn endpoint_records_of_vpc(
        &self,
        vpc_id: &str,
    ) -> Result<
        Vec<(
            String,
            Option<String>,
            Vec<(String, Ipv4Addr)>,
            String,
            String,
        )>,
    > {
        // (endpoint id, private dns name if enabled, [(az, ip)], service id, region)
        let rows = sqlx::query_as::<_, EndpointRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {ENDPOINT_COLS} FROM endpoints WHERE vpc_id = ? AND state IN ('pendingAcceptance', 'available') ORDER BY id"
        )))
        .bind(vpc_id)
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::new();
        for e in rows {
            let svc = self.service_row(&e.service_id).await?;
            let ips = self
                .enis_of(&e.id)
                .await?
                .into_iter()
                .map(|n| (n.az.clone(), n.addr()))
                .collect();
            let pdns = svc
                .private_dns_name
                .clone()
                .filter(|_| e.private_dns_enabled);
            out.push((e.id, pdns, ips, svc.id, svc.region));
        }
        Ok(out)
    }

    /// Security group rules and member sets of `groups` (for an ENI's filter table).
    async fn filter_rules_of(
        &self,
        groups: &[String],
    ) -> Result<(Vec<FilterRule>, BTreeMap<String, Vec<Ipv4Addr>>)> {
        self.group_filter_rules(groups).await
    }
}

pub(crate) const ENDPOINT_COLS: &str = "id, account, vpc_id, service_id, state, security_groups, private_dns_enabled, created_at, updated_at";

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine under its own prefix, removed (gc) on drop even when the test panics.
    struct Cloud {
        engine: Engine,
        prefix: crate::Prefix,
        _dir: tempfile::TempDir,
    }

    impl Drop for Cloud {
        fn drop(&mut self) {
            crate::gc(&self.prefix);
        }
    }

    async fn vpc_subnet(e: &Engine, p: &Principal, cidr: &str, subnet: &str) -> (Vpc, Subnet) {
        let vpc = e
            .create_vpc(
                p,
                CreateVpc {
                    cidr_block: cidr.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let s = e
            .create_subnet(
                p,
                CreateSubnet {
                    vpc_id: vpc.vpc_id.clone(),
                    cidr_block: subnet.into(),
                    availability_zone: "us-east-1a".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        (vpc, s)
    }

    #[tokio::test]
    async fn a_target_registered_in_a_checked_group_is_checked_at_once() {
        if !linkplane_netns::testing::require_root("privatelink-check-at-once") {
            return;
        }
        let prefix = crate::Prefix::parse(&linkplane_netns::testing::unique_prefix()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(super::super::EngineConfig::new(dir.path(), prefix.clone()))
            .await
            .unwrap();
        let c = Cloud {
            engine,
            prefix,
            _dir: dir,
        };
        let e = &c.engine;
        let p = Principal::parse("arn:aws:iam::100000000000:root").unwrap();
        let (vpc, sub) = vpc_subnet(e, &p, "10.52.0.0/16", "10.52.1.0/24").await;
        let sg = e
            .create_security_group(
                &p,
                CreateSecurityGroup {
                    vpc_id: vpc.vpc_id.clone(),
                    group_name: "targets".into(),
                    description: String::new(),
                },
            )
            .await
            .unwrap();
        e.add_security_group_rule(
            &p,
            &sg.group_id,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(8080),
                to_port: Some(8080),
                cidr_ip: Some("10.52.0.0/16".into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
        // Two listening targets, each in its instance's namespace.
        let mut held = Vec::new();
        let mut ids = Vec::new();
        for _ in 0..2 {
            let i = e
                .create_instance(
                    &p,
                    CreateInstance {
                        subnet_id: sub.subnet_id.clone(),
                        security_group_ids: vec![sg.group_id.clone()],
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            let ns = NsThread::spawn(&i.namespace).unwrap();
            let l = ns
                .tcp_listener_async("0.0.0.0:8080".parse().unwrap(), 16)
                .await
                .unwrap();
            held.push((ns, l));
            ids.push(i.instance_id);
        }
        // Checked every 30 s: only a check made at registration can pass in time.
        let tg = e
            .create_target_group(
                &p,
                CreateTargetGroup {
                    vpc_id: vpc.vpc_id.clone(),
                    port: 8080,
                    name: None,
                    health_check: Some(HealthCheck {
                        protocol: "TCP".into(),
                        path: None,
                        matcher: None,
                        port: None,
                        interval_millis: 30_000,
                        timeout_millis: 1000,
                        healthy_threshold: 1,
                        unhealthy_threshold: 2,
                    }),
                },
            )
            .await
            .unwrap();
        let register = |id: &str| Targets {
            targets: vec![TargetRef {
                instance_id: id.to_string(),
                port: None,
            }],
        };
        e.register_targets(&p, &tg.target_group_id, register(&ids[0]))
            .await
            .unwrap();
        let lb = e
            .create_load_balancer(
                &p,
                CreateLoadBalancer {
                    subnet_ids: vec![sub.subnet_id.clone()],
                    name: None,
                },
            )
            .await
            .unwrap();
        e.create_listener(
            &p,
            &lb.load_balancer_id,
            CreateListener {
                port: 8080,
                target_group_id: tg.target_group_id.clone(),
            },
        )
        .await
        .unwrap();
        let state_of = |id: String| {
            let tg = tg.target_group_id.clone();
            let p = p.clone();
            async move {
                e.target_health(&p, &tg)
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|h| h.instance_id == id)
                    .map(|h| h.state)
            }
        };
        let healthy_within = |id: String, within: Duration| async move {
            let start = std::time::Instant::now();
            while start.elapsed() < within {
                if state_of(id.clone()).await.as_deref() == Some("healthy") {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        };
        assert!(
            healthy_within(ids[0].clone(), Duration::from_secs(5)).await,
            "the first target is checked when the checker starts"
        );
        e.register_targets(&p, &tg.target_group_id, register(&ids[1]))
            .await
            .unwrap();
        assert!(
            healthy_within(ids[1].clone(), Duration::from_secs(5)).await,
            "a target registered in a running group is checked at once, not in 30 s: {:?}",
            state_of(ids[1].clone()).await
        );
        assert_eq!(
            state_of(ids[0].clone()).await.as_deref(),
            Some("healthy"),
            "the restart keeps the other target's state"
        );
        drop(held);
        e.shutdown().await;
    }

    #[tokio::test]
    async fn connection_watches_fire_once_per_change_and_only_for_the_owner() {
        if !linkplane_netns::testing::require_root("privatelink-watch") {
            return;
        }
        let prefix = crate::Prefix::parse(&linkplane_netns::testing::unique_prefix()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(super::super::EngineConfig::new(dir.path(), prefix.clone()))
            .await
            .unwrap();
        let c = Cloud {
            engine,
            prefix,
            _dir: dir,
        };
        let e = &c.engine;
        let owner = Principal::parse("arn:aws:iam::100000000000:root").unwrap();
        let customer = Principal::parse("arn:aws:iam::111122223333:root").unwrap();
        let (pvpc, psub) = vpc_subnet(e, &owner, "10.50.0.0/16", "10.50.1.0/24").await;
        let tg = e
            .create_target_group(
                &owner,
                CreateTargetGroup {
                    vpc_id: pvpc.vpc_id.clone(),
                    port: 443,
                    name: None,
                    health_check: None,
                },
            )
            .await
            .unwrap();
        let lb = e
            .create_load_balancer(
                &owner,
                CreateLoadBalancer {
                    subnet_ids: vec![psub.subnet_id.clone()],
                    name: None,
                },
            )
            .await
            .unwrap();
        e.create_listener(
            &owner,
            &lb.load_balancer_id,
            CreateListener {
                port: 443,
                target_group_id: tg.target_group_id,
            },
        )
        .await
        .unwrap();
        let svc = e
            .create_endpoint_service(
                &owner,
                CreateEndpointService {
                    load_balancer_id: lb.load_balancer_id,
                    acceptance_required: true,
                    private_dns_name: None,
                    proxy_protocol: false,
                    supported_regions: vec![],
                    allowed_principals: vec![customer.arn().to_string()],
                },
            )
            .await
            .unwrap();
        let (cvpc, csub) = vpc_subnet(e, &customer, "10.60.0.0/16", "10.60.1.0/24").await;

        let fired = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = |n: &Arc<std::sync::atomic::AtomicUsize>| -> Arc<dyn Fn() + Send + Sync> {
            let n = Arc::clone(n);
            Arc::new(move || {
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })
        };
        let count = || fired.load(std::sync::atomic::Ordering::SeqCst);
        // Only the service's owner may watch; an unknown service is a 404.
        let denied = e
            .watch_endpoint_connections(&customer, &svc.service_id, "w", counter(&fired))
            .await;
        assert!(matches!(denied, Err(Error::Forbidden { .. })), "{denied:?}");
        let missing = e
            .watch_endpoint_connections(&owner, "vpce-svc-00000000", "w", counter(&fired))
            .await;
        assert!(
            matches!(missing, Err(Error::NotFound { .. })),
            "{missing:?}"
        );
        // Registered twice under one name: one watch, fired once.
        for _ in 0..2 {
            e.watch_endpoint_connections(&owner, &svc.service_id, "w", counter(&fired))
                .await
                .unwrap();
        }
        let ep = e
            .create_endpoint(
                &customer,
                CreateEndpoint {
                    vpc_id: cvpc.vpc_id.clone(),
                    service_name: svc.service_name.clone(),
                    subnet_ids: vec![csub.subnet_id.clone()],
                    security_group_ids: vec![],
                    private_dns_enabled: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(ep.state, state::PENDING);
        assert_eq!(count(), 1, "the endpoint's creation fires the watch once");
        // One-shot: the acceptance does not fire a watch nobody renewed...
        e.decide_endpoint_connections(
            &owner,
            &svc.service_id,
            std::slice::from_ref(&ep.vpc_endpoint_id),
            true,
        )
        .await
        .unwrap();
        assert_eq!(count(), 1);
        // ...and fires a renewed one.
        e.watch_endpoint_connections(&owner, &svc.service_id, "w", counter(&fired))
            .await
            .unwrap();
        e.decide_endpoint_connections(
            &owner,
            &svc.service_id,
            std::slice::from_ref(&ep.vpc_endpoint_id),
            false,
        )
        .await
        .unwrap();
        assert_eq!(count(), 2, "the rejection fires the renewed watch");
        e.shutdown().await;
    }

    #[test]
    fn names() {
        assert_eq!(
            service_name("us-east-1", "vpce-svc-0123abcd"),
            "com.linkplane.vpce.us-east-1.vpce-svc-0123abcd"
        );
        assert_eq!(
            endpoint_dns_name("vpce-11112222", "vpce-svc-0123abcd", "us-east-1", None),
            "vpce-11112222.vpce-svc-0123abcd.us-east-1.vpce.linkplane.test"
        );
        assert_eq!(
            endpoint_dns_name(
                "vpce-11112222",
                "vpce-svc-0123abcd",
                "us-east-1",
                Some("us-east-1a")
            ),
            "vpce-11112222-us-east-1a.vpce-svc-0123abcd.us-east-1.vpce.linkplane.test"
        );
    }

    #[test]
    fn principals() {
        let alice = Principal::parse("arn:aws:iam::111111111111:role/agents").unwrap();
        let owner = "999999999999";
        assert!(!principal_allowed(&alice, owner, &[]));
        assert!(principal_allowed(&alice, owner, &["*".into()]));
        assert!(principal_allowed(
            &alice,
            owner,
            &["arn:aws:iam::111111111111:root".into()]
        ));
        assert!(principal_allowed(
            &alice,
            owner,
            &["arn:aws:iam::111111111111:role/agents".into()]
        ));
        assert!(!principal_allowed(
            &alice,
            owner,
            &["arn:aws:iam::111111111111:role/other".into()]
        ));
        assert!(!principal_allowed(
            &alice,
            owner,
            &["arn:aws:iam::222222222222:root".into()]
        ));
        assert!(
            principal_allowed(&alice, "111111111111", &[]),
            "the owner account"
        );
        assert!(check_allowed_principal("*").is_ok());
        assert!(check_allowed_principal("111111111111").is_err());
    }

    #[test]
    fn health_checks_validate() {
        assert!(health_config(&HealthCheck::default()).is_ok());
        let http = HealthCheck {
            protocol: "HTTP".into(),
            matcher: Some("200,302".into()),
            path: Some("/healthz".into()),
            ..Default::default()
        };
        assert!(health_config(&http).is_ok());
        let bad = HealthCheck {
            matcher: Some("200,302".into()),
            ..Default::default()
        };
        assert!(
            health_config(&bad)
                .unwrap_err()
                .to_string()
                .contains("HTTP")
        );
        let bad = HealthCheck {
            protocol: "HTTP".into(),
            matcher: Some("700".into()),
            ..Default::default()
        };
        assert!(health_config(&bad).is_err());
        let bad = HealthCheck {
            protocol: "UDP".into(),
            ..Default::default()
        };
        assert!(health_config(&bad).is_err());
        let bad = HealthCheck {
            interval_millis: 100,
            timeout_millis: 500,
            ..Default::default()
        };
        assert!(health_config(&bad).is_err());
    }
}
