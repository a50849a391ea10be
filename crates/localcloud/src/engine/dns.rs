//! VPC DNS on `linkplane-dataplane`'s hickory-based server.
//!
//! - Every VPC has a resolver at base+2 (UDP and TCP) in its router namespace. Its view
//!   holds, in order: the private hosted zones associated with the VPC (plus generated
//!   zones for the VPC's interface endpoint names and, when enabled, their services'
//!   private DNS names as aliases), the resolver rules associated with the VPC (forwarded
//!   queries leave from the router namespace, so they need a real path), then public DNS.
//! - Public DNS is one view served at [`PUBLIC_DNS`] in the internet namespace, and at the
//!   link-local [`LINK_LOCAL_DNS`] on every VPC router (as AWS's 169.254.169.253), which is
//!   where the VPC resolvers send public queries: no internet gateway is needed for public
//!   names, and the query is still a real UDP/TCP exchange with the public server.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use linkplane_dataplane::dns::{
    DnsServerHandle, DnsView, ForwardRule, NsSockets, PrivateZone, ViewConfig, ZoneRecord,
};

use super::privatelink::{DNS_DOMAIN, endpoint_dns_name};
use super::{Engine, authorize, now};
use crate::error::{Error, Result};
use crate::ids::{Kind, Principal};
use crate::net;
use crate::types::*;

/// The public DNS server's address in the internet namespace.
pub const PUBLIC_DNS: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 53);
/// The public DNS server's address on every VPC router (VPC resolvers query it there).
pub const LINK_LOCAL_DNS: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 253);

/// Priority of the rule that sends the resolver's own queries through a subnet's route
/// table (after `to <VPC CIDR> lookup main` at 50).
const RESOLVER_RULE_PRIORITY: u32 = 60;

/// Sockets for a VPC resolver's upstream queries: created in the router namespace and
/// bound to the resolver's address (base+2), so they follow the route table the
/// resolver's rule points at (a forwarding rule to a peered VPC needs its route there)
/// and answers come back to a VPC address.
struct ResolverSockets {
    ns: linkplane_netns::NsThread,
    source: Ipv4Addr,
}

type SockFuture<T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<T>> + Send>>;

impl linkplane_dataplane::dns::SocketFactory for ResolverSockets {
    fn udp(&self, bind: SocketAddr) -> SockFuture<tokio::net::UdpSocket> {
        let ns = self.ns.clone();
        let at = match bind {
            SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(self.source), 0),
            v6 => v6,
        };
        Box::pin(async move {
            let s = ns
                .run_async(move || std::net::UdpSocket::bind(at))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))??;
            s.set_nonblocking(true)?;
            tokio::net::UdpSocket::from_std(s)
        })
    }

    fn tcp(&self, v6: bool) -> SockFuture<tokio::net::TcpSocket> {
        let ns = self.ns.clone();
        let source = self.source;
        Box::pin(async move {
            let s = ns
                .run_async(move || ns_tcp(v6))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))??;
            if !v6 {
                s.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
            }
            Ok(s)
        })
    }
}

fn ns_tcp(v6: bool) -> std::io::Result<tokio::net::TcpSocket> {
    let sock = socket2::Socket::new(
        if v6 {
            socket2::Domain::IPV6
        } else {
            socket2::Domain::IPV4
        },
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    sock.set_nonblocking(true)?;
    sock.set_cloexec(true)?;
    let std: std::net::TcpStream = sock.into();
    Ok(tokio::net::TcpSocket::from_std_stream(std))
}

/// A running view and the servers answering for it.
pub(crate) struct VpcDns {
    view: DnsView,
    servers: Vec<DnsServerHandle>,
}

impl VpcDns {
    pub(crate) fn view(&self) -> DnsView {
        self.view.clone()
    }

    pub(crate) async fn stop(self) {
        for s in self.servers {
            s.stop().await;
        }
    }
}

fn dns_err(field: &str) -> impl FnOnce(linkplane_dataplane::dns::ConfigError) -> Error + '_ {
    move |e| Error::invalid(field, e.to_string())
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Normalize a DNS name (lowercase, no trailing dot), checking it parses.
fn norm_name(field: &str, s: &str) -> Result<String> {
    let z = PrivateZone::new(s, Vec::new()).map_err(dns_err(field))?;
    Ok(z.name()
        .to_string()
        .trim_end_matches('.')
        .to_ascii_lowercase())
}

fn within(name: &str, zone: &str) -> bool {
    name == zone || name.ends_with(&format!(".{zone}"))
}

/// Records of one record set, validated.
fn zone_records(set: &RecordSet) -> Result<Vec<ZoneRecord>> {
    let field = "values";
    if set.values.is_empty() {
        return Err(Error::invalid(field, "give at least one value"));
    }
    let mut out = Vec::new();
    match set.kind.to_ascii_uppercase().as_str() {
        "A" => {
            for v in &set.values {
                let ip: Ipv4Addr = v
                    .parse()
                    .map_err(|_| Error::invalid(field, format!("{v:?} is not an IPv4 address")))?;
                out.push(ZoneRecord::a(&set.name, set.ttl, ip).map_err(dns_err("name"))?);
            }
        }
        "AAAA" => {
            for v in &set.values {
                let ip: Ipv6Addr = v
                    .parse()
                    .map_err(|_| Error::invalid(field, format!("{v:?} is not an IPv6 address")))?;
                out.push(ZoneRecord::aaaa(&set.name, set.ttl, ip).map_err(dns_err("name"))?);
            }
        }
        "CNAME" | "ALIAS" if set.values.len() != 1 => {
            return Err(Error::invalid(
                field,
                format!("a {} record has exactly one target name", set.kind),
            ));
        }
        "CNAME" => {
            out.push(ZoneRecord::cname(&set.name, set.ttl, &set.values[0]).map_err(dns_err(field))?)
        }
        "ALIAS" => out.push(ZoneRecord::alias(&set.name, &set.values[0]).map_err(dns_err(field))?),
        other => {
            return Err(Error::invalid(
                "type",
                format!("{other:?}: use A, AAAA, CNAME or ALIAS"),
            ));
        }
    }
    Ok(out)
}

/// A new rule's target: `ip` or `ip:port`, a unicast address and a port 1–65535 (the
/// control plane's rule for forwarding targets); the error names `targetIps[i]`.
fn parse_new_target(i: usize, s: &str) -> Result<SocketAddr> {
    linkplane_model::ForwardTarget::parse(s)
        .map(|t| SocketAddr::new(t.ip, t.port))
        .map_err(|m| Error::invalid(&format!("targetIps[{i}]"), m))
}

/// A stored target: `ip` or `ip:port` → a socket address (port 53 by default).
fn parse_target(s: &str) -> Result<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| Error::invalid("targetIps", format!("{s:?}: use an IP or IP:port")))
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct ZoneRow {
    id: String,
    account: String,
    name: String,
    created_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct RecordRow {
    name: String,
    kind: String,
    ttl: i64,
    vals: String,
}

impl RecordRow {
    fn set(&self) -> RecordSet {
        RecordSet {
            name: self.name.clone(),
            kind: self.kind.clone(),
            ttl: self.ttl as u32,
            values: split_list(&self.vals),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RuleRow {
    pub(crate) id: String,
    pub(crate) account: String,
    pub(crate) domain: String,
    pub(crate) rule_type: String,
    pub(crate) targets: String,
    pub(crate) name: Option<String>,
    pub(crate) created_at: String,
}

impl Engine {
    // ---------------------------------------------------------------- servers

    /// Start the VPC's resolver at base+2 (and the public server on its link-local
    /// address) if not running, then load its configuration.
    pub(crate) async fn ensure_vpc_dns(&self, vpc_id: &str) -> Result<()> {
        let running = self.rt().dns.contains_key(vpc_id);
        if !running {
            let vpc = self.vpc_row(vpc_id).await?;
            let ns = self.router_namespace(vpc_id);
            // Both addresses are (re)asserted here, not assumed: a router re-adopted after a
            // crash between its creation and its address plumbing would otherwise refuse the
            // bind ("Cannot assign requested address"). `addr` is a replace: idempotent.
            let resolver_ip = net::resolver(vpc.net());
            crate::netlink::with_ns(&ns, move |nl| async move {
                nl.addr("lo", resolver_ip, 32).await?;
                nl.addr("lo", LINK_LOCAL_DNS, 32).await
            })
            .await?;
            let thread = self.ns_thread(&ns)?;
            let view = DnsView::new(Arc::new(ResolverSockets {
                ns: thread.clone(),
                source: net::resolver(vpc.net()),
            }));
            let resolver = SocketAddr::new(IpAddr::V4(net::resolver(vpc.net())), 53);
            let public = SocketAddr::new(IpAddr::V4(LINK_LOCAL_DNS), 53);
            let public_view = self.ensure_public_dns().await?;
            let (u1, t1) = self.dns_sockets(&thread, resolver).await?;
            let (u2, t2) = self.dns_sockets(&thread, public).await?;
            let servers = vec![view.serve(u1, t1), public_view.serve(u2, t2)];
            self.rt()
                .dns
                .insert(vpc_id.to_string(), VpcDns { view, servers });
            self.sync_resolver_route(vpc_id).await?;
        }
        self.refresh_vpc_dns(vpc_id).await
    }

    /// Send the resolver's own queries (from base+2) through the route table of the VPC's
    /// first subnet, so forwarding rules reach what that subnet reaches (peered VPCs …).
    pub(crate) async fn sync_resolver_route(&self, vpc_id: &str) -> Result<()> {
        let vpc = self.vpc_row(vpc_id).await?;
        let ns = self.router_namespace(vpc_id);
        let from = net::resolver(vpc.net());
        crate::kernel::ip_batch_force(
            Some(&ns),
            &[format!(
                "rule del from {from}/32 priority {RESOLVER_RULE_PRIORITY}"
            )],
        )
        .await;
        if let Some(first) = self.subnets_of(vpc_id).await?.first() {
            crate::kernel::ip_batch(
                Some(&ns),
                &[format!(
                    "rule add from {from}/32 lookup {} priority {RESOLVER_RULE_PRIORITY}",
                    first.table()
                )],
            )
            .await?;
        }
        Ok(())
    }

    async fn dns_sockets(
        &self,
        thread: &linkplane_netns::NsThread,
        addr: SocketAddr,
    ) -> Result<(tokio::net::UdpSocket, tokio::net::TcpListener)> {
        let ns = thread.name().to_string();
        let udp = thread
            .udp_socket_async(addr)
            .await
            .map_err(|e| Error::kernel(format!("bind DNS {addr} in {ns}"), e.to_string()))?;
        let tcp = thread
            .tcp_listener_async(addr, 256)
            .await
            .map_err(|e| Error::kernel(format!("listen DNS {addr} in {ns}"), e.to_string()))?;
        Ok((udp, tcp))
    }

    /// The public view, served in the internet namespace (created on first use).
    async fn ensure_public_dns(&self) -> Result<DnsView> {
        if let Some(p) = &self.rt().public_dns {
            return Ok(p.view.clone());
        }
        self.ensure_internet().await?;
        let ns = self.internet_namespace();
        crate::netlink::with_ns(&ns, |nl| async move { nl.addr("lo", PUBLIC_DNS, 32).await })
            .await?;
        let thread = self.ns_thread(&ns)?;
        let view = DnsView::new(Arc::new(NsSockets::new(thread.clone())));
        let (u, t) = self
            .dns_sockets(&thread, SocketAddr::new(IpAddr::V4(PUBLIC_DNS), 53))
            .await?;
        let server = view.serve(u, t);
        let raced = {
            let mut rt = self.rt();
            match &rt.public_dns {
                // Lost a race: keep the first.
                Some(p) => Some(p.view.clone()),
                None => {
                    rt.public_dns = Some(VpcDns {
                        view: view.clone(),
                        servers: vec![server],
                    });
                    None
                }
            }
        };
        if let Some(v) = raced {
            return Ok(v);
        }
        self.refresh_public_dns().await?;
        Ok(view)
    }

    pub(crate) async fn drop_vpc_dns(&self, vpc_id: &str) {
        let d = self.rt().dns.remove(vpc_id);
        if let Some(d) = d {
            d.stop().await;
        }
    }

    /// Rebuild a VPC's view from the database (zones, endpoint names, rules).
    pub(crate) async fn refresh_vpc_dns(&self, vpc_id: &str) -> Result<()> {
        let Some(view) = self.rt().dns.get(vpc_id).map(|d| d.view.clone()) else {
            return Ok(());
        };
        let mut zones: Vec<PrivateZone> = Vec::new();
        let mut names: BTreeSet<String> = BTreeSet::new();
        let zone_ids: Vec<(String, String)> = sqlx::query_as(
            "SELECT z.id, z.name FROM hosted_zones z JOIN zone_vpcs v ON v.zone_id = z.id WHERE v.vpc_id = ? ORDER BY z.id",
        )
        .bind(vpc_id)
        .fetch_all(&self.db)
        .await?;
        for (id, name) in zone_ids {
            if !names.insert(name.clone()) {
                tracing::warn!(zone = %id, %name, vpc = vpc_id, "two zones of one name on a VPC; the first wins");
                continue;
            }
            let mut recs = Vec::new();
            for r in self.record_rows(&id).await? {
                recs.extend(zone_records(&r.set())?);
            }
            zones.push(PrivateZone::new(&name, recs).map_err(dns_err("zone"))?);
        }
        // Endpoint names: one generated zone per service, private DNS names as aliases.
        let mut by_service: BTreeMap<String, Vec<ZoneRecord>> = BTreeMap::new();
        for (eid, pdns, ips, sid, region) in self.endpoint_records_of_vpc(vpc_id).await? {
            let zone = format!("{sid}.{region}.vpce.{DNS_DOMAIN}");
            let regional = endpoint_dns_name(&eid, &sid, &region, None);
            let recs = by_service.entry(zone).or_default();
            for (az, ip) in &ips {
                recs.push(ZoneRecord::a(&regional, 60, *ip).map_err(dns_err("name"))?);
                let per_az = endpoint_dns_name(&eid, &sid, &region, Some(az));
                recs.push(ZoneRecord::a(&per_az, 60, *ip).map_err(dns_err("name"))?);
            }
            if let Some(p) = pdns
                && names.insert(p.clone())
            {
                zones.push(
                    PrivateZone::new(
                        &p,
                        vec![ZoneRecord::alias(&p, &regional).map_err(dns_err("name"))?],
                    )
                    .map_err(dns_err("privateDnsName"))?,
                );
            }
        }
        for (zone, recs) in by_service {
            if names.insert(zone.clone()) {
                zones.push(PrivateZone::new(&zone, recs).map_err(dns_err("zone"))?);
            }
        }
        // Instance host names (own, and peers' public names where the peering allows).
        zones.extend(self.instance_zones(vpc_id, &mut names).await?);
        let mut rules = Vec::new();
        let rows = sqlx::query_as::<_, RuleRow>(
            "SELECT r.id, r.account, r.domain, r.rule_type, r.targets, r.name, r.created_at FROM resolver_rules r JOIN rule_vpcs v ON v.rule_id = r.id WHERE v.vpc_id = ? ORDER BY r.id",
        )
        .bind(vpc_id)
        .fetch_all(&self.db)
        .await?;
        let mut domains = BTreeSet::new();
        for r in rows {
            if !domains.insert(r.domain.clone()) {
                continue;
            }
            rules.push(Self::forward_rule(&r)?);
        }
        let config = ViewConfig::new(
            zones,
            rules,
            vec![SocketAddr::new(IpAddr::V4(LINK_LOCAL_DNS), 53)],
        )
        .map_err(dns_err("dns"))?;
        view.set_config(config);
        Ok(())
    }

    fn forward_rule(r: &RuleRow) -> Result<ForwardRule> {
        if r.rule_type == "SYSTEM" {
            ForwardRule::system(&r.domain).map_err(dns_err("domainName"))
        } else {
            let targets = split_list(&r.targets)
                .iter()
                .map(|t| parse_target(t))
                .collect::<Result<Vec<_>>>()?;
            ForwardRule::forward(&r.domain, targets).map_err(dns_err("domainName"))
        }
    }

    pub(crate) async fn refresh_public_dns(&self) -> Result<()> {
        let Some(view) = self.rt().public_dns.as_ref().map(|d| d.view.clone()) else {
            return Ok(());
        };
        let rows: Vec<(String, i64, String)> =
            sqlx::query_as("SELECT name, ttl, vals FROM public_records ORDER BY name")
                .fetch_all(&self.db)
                .await?;
        // One authoritative zone per registrable domain (the last two labels).
        let mut zones: BTreeMap<String, Vec<ZoneRecord>> = BTreeMap::new();
        for (name, ttl, vals) in rows {
            let labels: Vec<&str> = name.split('.').collect();
            let apex = labels[labels.len().saturating_sub(2)..].join(".");
            for v in split_list(&vals) {
                let ip: Ipv4Addr = v.parse().map_err(|_| {
                    Error::invalid("values", format!("{v:?} is not an IPv4 address"))
                })?;
                zones
                    .entry(apex.clone())
                    .or_default()
                    .push(ZoneRecord::a(&name, ttl as u32, ip).map_err(dns_err("name"))?);
            }
        }
        // Instances' public DNS names, in the zone of their domain.
        for rec in self.public_host_records().await? {
            let name = rec.name.to_string();
            let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
            let apex = labels[labels.len().saturating_sub(2)..].join(".");
            zones.entry(apex).or_default().push(rec);
        }
        let zones = zones
            .into_iter()
            .map(|(apex, recs)| PrivateZone::new(&apex, recs).map_err(dns_err("name")))
            .collect::<Result<Vec<_>>>()?;
        view.set_config(ViewConfig::new(zones, Vec::new(), Vec::new()).map_err(dns_err("dns"))?);
        Ok(())
    }

    /// Start every VPC's resolver and the public DNS (on open).
    pub(crate) async fn restore_dns(&self) -> Result<()> {
        let vpcs: Vec<String> = sqlx::query_scalar("SELECT id FROM vpcs")
            .fetch_all(&self.db)
            .await?;
        self.ensure_public_dns().await?;
        for v in &vpcs {
            self.ensure_vpc_dns(v).await?;
        }
        Ok(())
    }

    async fn refresh_vpcs(&self, vpcs: &[String]) -> Result<()> {
        for v in vpcs {
            self.refresh_vpc_dns(v).await?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- public records

    /// Publish (or replace) a public A record, served by the public DNS at once. Platform
    /// names such as `<clusterId>.external.<domain>` are published this way.
    pub async fn publish_public_record(&self, rec: PublicRecord) -> Result<PublicRecord> {
        let name = norm_name("name", &rec.name)?;
        if name.split('.').count() < 2 {
            return Err(Error::invalid(
                "name",
                format!("{name:?}: give a name under a domain"),
            ));
        }
        zone_records(&RecordSet {
            name: name.clone(),
            kind: "A".into(),
            ttl: rec.ttl,
            values: rec.values.clone(),
        })?;
        sqlx::query("INSERT OR REPLACE INTO public_records (name, ttl, vals) VALUES (?, ?, ?)")
            .bind(&name)
            .bind(i64::from(rec.ttl))
            .bind(rec.values.join(","))
            .execute(&self.db)
            .await?;
        self.ensure_public_dns().await?;
        self.refresh_public_dns().await?;
        Ok(PublicRecord { name, ..rec })
    }

    pub async fn unpublish_public_record(&self, name: &str) -> Result<()> {
        let name = norm_name("name", name)?;
        let n = sqlx::query("DELETE FROM public_records WHERE name = ?")
            .bind(&name)
            .execute(&self.db)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(Error::NotFound {
                kind: "public record",
                id: name,
            });
        }
        self.refresh_public_dns().await
    }

    pub async fn list_public_records(&self) -> Result<Vec<PublicRecord>> {
        let rows: Vec<(String, i64, String)> =
            sqlx::query_as("SELECT name, ttl, vals FROM public_records ORDER BY name")
                .fetch_all(&self.db)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(name, ttl, vals)| PublicRecord {
                name,
                ttl: ttl as u32,
                values: split_list(&vals),
            })
            .collect())
    }

    // ---------------------------------------------------------------- hosted zones

    async fn zone_row(&self, id: &str) -> Result<ZoneRow> {
        Kind::HostedZone.parse("hostedZoneId", id)?;
        sqlx::query_as::<_, ZoneRow>(
            "SELECT id, account, name, created_at FROM hosted_zones WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "hosted zone",
            id: id.to_string(),
        })
    }

    async fn record_rows(&self, zone_id: &str) -> Result<Vec<RecordRow>> {
        Ok(sqlx::query_as::<_, RecordRow>(
            "SELECT name, kind, ttl, vals FROM zone_records WHERE zone_id = ? ORDER BY name, kind",
        )
        .bind(zone_id)
        .fetch_all(&self.db)
        .await?)
    }

    async fn zone_vpcs(&self, zone_id: &str) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT vpc_id FROM zone_vpcs WHERE zone_id = ? ORDER BY vpc_id")
                .bind(zone_id)
                .fetch_all(&self.db)
                .await?,
        )
    }

    async fn to_zone(&self, z: ZoneRow) -> Result<HostedZone> {
        let auth: Vec<String> = sqlx::query_scalar(
            "SELECT vpc_id FROM zone_authorizations WHERE zone_id = ? ORDER BY vpc_id",
        )
        .bind(&z.id)
        .fetch_all(&self.db)
        .await?;
        Ok(HostedZone {
            vpc_ids: self.zone_vpcs(&z.id).await?,
            authorized_vpc_ids: auth,
            record_sets: self
                .record_rows(&z.id)
                .await?
                .iter()
                .map(RecordRow::set)
                .collect(),
            hosted_zone_id: z.id,
            owner_id: z.account,
            name: z.name,
            created_at: z.created_at,
        })
    }

    pub async fn create_hosted_zone(
        &self,
        p: &Principal,
        req: CreateHostedZone,
    ) -> Result<HostedZone> {
        let name = norm_name("name", &req.name)?;
        for v in &req.vpc_ids {
            let vpc = self.vpc_row(v).await?;
            authorize(p, &vpc.account, "associate a hosted zone with", v)?;
        }
        let id = {
            let _g = self.lock.lock().await;
            let id = self
                .fresh_id(Kind::HostedZone, "hosted_zones", "id")
                .await?;
            sqlx::query(
                "INSERT INTO hosted_zones (id, account, name, created_at) VALUES (?, ?, ?, ?)",
            )
            .bind(&id)
            .bind(p.account().as_str())
            .bind(&name)
            .bind(now())
            .execute(&self.db)
            .await?;
            for v in &req.vpc_ids {
                sqlx::query("INSERT OR IGNORE INTO zone_vpcs (zone_id, vpc_id) VALUES (?, ?)")
                    .bind(&id)
                    .bind(v)
                    .execute(&self.db)
                    .await?;
            }
            id
        };
        self.refresh_vpcs(&req.vpc_ids).await?;
        self.to_zone(self.zone_row(&id).await?).await
    }

    pub async fn get_hosted_zone(&self, p: &Principal, id: &str) -> Result<HostedZone> {
        let z = self.zone_row(id).await?;
        authorize(p, &z.account, "describe", id)?;
        self.to_zone(z).await
    }

    pub async fn list_hosted_zones(&self, p: &Principal) -> Result<Vec<HostedZone>> {
        let rows = sqlx::query_as::<_, ZoneRow>(
            "SELECT id, account, name, created_at FROM hosted_zones WHERE account = ? ORDER BY created_at, id",
        )
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::new();
        for z in rows {
            out.push(self.to_zone(z).await?);
        }
        Ok(out)
    }

    pub async fn delete_hosted_zone(&self, p: &Principal, id: &str) -> Result<()> {
        let z = self.zone_row(id).await?;
        authorize(p, &z.account, "delete", id)?;
        let vpcs = self.zone_vpcs(id).await?;
        for t in ["zone_records", "zone_vpcs", "zone_authorizations"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {t} WHERE zone_id = ?"
            )))
            .bind(id)
            .execute(&self.db)
            .await?;
        }
        sqlx::query("DELETE FROM hosted_zones WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        self.refresh_vpcs(&vpcs).await
    }

    /// Create or replace a record set; visible to the next query in every associated VPC.
    pub async fn upsert_record_set(
        &self,
        p: &Principal,
        id: &str,
        set: RecordSet,
    ) -> Result<HostedZone> {
        let z = self.zone_row(id).await?;
        authorize(p, &z.account, "change records of", id)?;
        let name = norm_name("name", &set.name)?;
        if !within(&name, &z.name) {
            return Err(Error::invalid(
                "name",
                format!("{name} is not in zone {}", z.name),
            ));
        }
        let set = RecordSet {
            name: name.clone(),
            kind: set.kind.to_ascii_uppercase(),
            ..set
        };
        zone_records(&set)?;
        // A name holds either a CNAME/ALIAS or other records, never both.
        let others: Vec<String> = sqlx::query_scalar(
            "SELECT kind FROM zone_records WHERE zone_id = ? AND name = ? AND kind != ?",
        )
        .bind(id)
        .bind(&name)
        .bind(&set.kind)
        .fetch_all(&self.db)
        .await?;
        let exclusive = |k: &str| k == "CNAME" || k == "ALIAS";
        if !others.is_empty() && (exclusive(&set.kind) || others.iter().any(|k| exclusive(k))) {
            return Err(Error::Conflict(format!(
                "{name} already has {} records; a CNAME or ALIAS cannot share a name with other records",
                others.join(", ")
            )));
        }
        let mut candidate = Vec::new();
        for r in self.record_rows(id).await? {
            if !(r.name == name && r.kind == set.kind) {
                candidate.extend(zone_records(&r.set())?);
            }
        }
        candidate.extend(zone_records(&set)?);
        PrivateZone::new(&z.name, candidate).map_err(dns_err("records"))?;
        sqlx::query("INSERT OR REPLACE INTO zone_records (zone_id, name, kind, ttl, vals) VALUES (?, ?, ?, ?, ?)")
            .bind(id)
            .bind(&name)
            .bind(&set.kind)
            .bind(i64::from(set.ttl))
            .bind(set.values.join(","))
            .execute(&self.db)
            .await?;
        self.refresh_vpcs(&self.zone_vpcs(id).await?).await?;
        self.to_zone(z).await
    }

    pub async fn delete_record_set(
        &self,
        p: &Principal,
        id: &str,
        key: RecordKey,
    ) -> Result<HostedZone> {
        let z = self.zone_row(id).await?;
        authorize(p, &z.account, "change records of", id)?;
        let name = norm_name("name", &key.name)?;
        let n = sqlx::query("DELETE FROM zone_records WHERE zone_id = ? AND name = ? AND kind = ?")
            .bind(id)
            .bind(&name)
            .bind(key.kind.to_ascii_uppercase())
            .execute(&self.db)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(Error::NotFound {
                kind: "record set",
                id: format!("{name} {}", key.kind),
            });
        }
        self.refresh_vpcs(&self.zone_vpcs(id).await?).await?;
        self.to_zone(z).await
    }

    /// The zone owner allows a VPC of another account to be associated.
    pub async fn authorize_zone_association(
        &self,
        p: &Principal,
        id: &str,
        vpc_id: &str,
    ) -> Result<HostedZone> {
        let z = self.zone_row(id).await?;
        authorize(p, &z.account, "authorize associations of", id)?;
        self.vpc_row(vpc_id).await?;
        sqlx::query("INSERT OR IGNORE INTO zone_authorizations (zone_id, vpc_id) VALUES (?, ?)")
            .bind(id)
            .bind(vpc_id)
            .execute(&self.db)
            .await?;
        self.to_zone(z).await
    }

    /// Associate a VPC with a zone: by the owner of both, or by the VPC's owner once the
    /// zone's owner has authorized that VPC.
    pub async fn associate_zone(
        &self,
        p: &Principal,
        id: &str,
        vpc_id: &str,
    ) -> Result<HostedZone> {
        let z = self.zone_row(id).await?;
        let vpc = self.vpc_row(vpc_id).await?;
        authorize(p, &vpc.account, "associate a hosted zone with", vpc_id)?;
        if vpc.account != z.account {
            let ok: Option<String> = sqlx::query_scalar(
                "SELECT vpc_id FROM zone_authorizations WHERE zone_id = ? AND vpc_id = ?",
            )
            .bind(id)
            .bind(vpc_id)
            .fetch_optional(&self.db)
            .await?;
            if ok.is_none() {
                return Err(Error::Forbidden {
                    principal: p.arn().to_string(),
                    caller: p.account().to_string(),
                    owner: z.account.clone(),
                    action: "associate".into(),
                    resource: format!(
                        "hosted zone {id} with {vpc_id} (the zone's owner must first authorize the association)"
                    ),
                });
            }
        }
        sqlx::query("INSERT OR IGNORE INTO zone_vpcs (zone_id, vpc_id) VALUES (?, ?)")
            .bind(id)
            .bind(vpc_id)
            .execute(&self.db)
            .await?;
        self.refresh_vpc_dns(vpc_id).await?;
        self.to_zone(z).await
    }

    pub async fn disassociate_zone(
        &self,
        p: &Principal,
        id: &str,
        vpc_id: &str,
    ) -> Result<HostedZone> {
        let z = self.zone_row(id).await?;
        let vpc = self.vpc_row(vpc_id).await?;
        if p.account().as_str() != z.account {
            authorize(p, &vpc.account, "disassociate a hosted zone from", vpc_id)?;
        }
        sqlx::query("DELETE FROM zone_vpcs WHERE zone_id = ? AND vpc_id = ?")
            .bind(id)
            .bind(vpc_id)
            .execute(&self.db)
            .await?;
        self.refresh_vpc_dns(vpc_id).await?;
        self.to_zone(z).await
    }

    // ---------------------------------------------------------------- resolver rules

    pub(crate) async fn rule_row(&self, id: &str) -> Result<RuleRow> {
        Kind::ResolverRule.parse("resolverRuleId", id)?;
        sqlx::query_as::<_, RuleRow>(
            "SELECT id, account, domain, rule_type, targets, name, created_at FROM resolver_rules WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "resolver rule",
            id: id.to_string(),
        })
    }

    async fn rule_vpcs(&self, id: &str) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT vpc_id FROM rule_vpcs WHERE rule_id = ? ORDER BY vpc_id")
                .bind(id)
                .fetch_all(&self.db)
                .await?,
        )
    }

    async fn to_rule(&self, p: &Principal, r: RuleRow) -> Result<ResolverRule> {
        // The owner sees every account the rule is shared with; a recipient only itself.
        let shared_with = self
            .rule_shares(&r.id)
            .await?
            .into_iter()
            .filter(|a| r.account == p.account().as_str() || a == p.account().as_str())
            .collect();
        Ok(ResolverRule {
            shared_with,
            vpc_ids: self.rule_vpcs(&r.id).await?,
            target_ips: split_list(&r.targets),
            resolver_rule_id: r.id,
            owner_id: r.account,
            domain_name: r.domain,
            rule_type: r.rule_type,
            name: r.name,
            created_at: r.created_at,
        })
    }

    pub async fn create_resolver_rule(
        &self,
        p: &Principal,
        req: CreateResolverRule,
    ) -> Result<ResolverRule> {
        let domain = norm_name("domainName", &req.domain_name)?;
        let kind = req.rule_type.to_ascii_uppercase();
        let targets: Vec<String> = match kind.as_str() {
            "FORWARD" => {
                if req.target_ips.is_empty() {
                    return Err(Error::invalid(
                        "targetIps",
                        "a FORWARD rule needs at least one target IP",
                    ));
                }
                req.target_ips
                    .iter()
                    .enumerate()
                    .map(|(i, t)| parse_new_target(i, t).map(|a| a.to_string()))
                    .collect::<Result<_>>()?
            }
            "SYSTEM" => {
                if !req.target_ips.is_empty() {
                    return Err(Error::invalid("targetIps", "a SYSTEM rule has no targets"));
                }
                Vec::new()
            }
            other => {
                return Err(Error::invalid(
                    "ruleType",
                    format!("{other:?}: use FORWARD or SYSTEM"),
                ));
            }
        };
        let row = RuleRow {
            id: String::new(),
            account: String::new(),
            domain: domain.clone(),
            rule_type: kind.clone(),
            targets: targets.join(","),
            name: None,
            created_at: String::new(),
        };
        Self::forward_rule(&row)?;
        let _g = self.lock.lock().await;
        let id = self
            .fresh_id(Kind::ResolverRule, "resolver_rules", "id")
            .await?;
        sqlx::query("INSERT INTO resolver_rules (id, account, domain, rule_type, targets, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(&id)
            .bind(p.account().as_str())
            .bind(&domain)
            .bind(&kind)
            .bind(targets.join(","))
            .bind(&req.name)
            .bind(now())
            .execute(&self.db)
            .await?;
        drop(_g);
        self.to_rule(p, self.rule_row(&id).await?).await
    }

    pub async fn get_resolver_rule(&self, p: &Principal, id: &str) -> Result<ResolverRule> {
        let r = self.rule_row(id).await?;
        self.rule_user(p, &r, "describe").await?;
        self.to_rule(p, r).await
    }

    pub async fn list_resolver_rules(&self, p: &Principal) -> Result<Vec<ResolverRule>> {
        let rows = sqlx::query_as::<_, RuleRow>(
            "SELECT id, account, domain, rule_type, targets, name, created_at FROM resolver_rules WHERE account = ?1 OR id IN (SELECT rule_id FROM rule_shares WHERE account = ?1) ORDER BY created_at, id",
        )
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.to_rule(p, r).await?);
        }
        Ok(out)
    }

    /// Associate a rule with a VPC of the same account (one rule per domain per VPC).
    pub async fn associate_resolver_rule(
        &self,
        p: &Principal,
        id: &str,
        vpc_id: &str,
    ) -> Result<ResolverRule> {
        let r = self.rule_row(id).await?;
        self.rule_user(p, &r, "associate").await?;
        let vpc = self.vpc_row(vpc_id).await?;
        authorize(p, &vpc.account, "associate a resolver rule with", vpc_id)?;
        let clash: Option<String> = sqlx::query_scalar(
            "SELECT r.id FROM resolver_rules r JOIN rule_vpcs v ON v.rule_id = r.id WHERE v.vpc_id = ? AND r.domain = ? AND r.id != ?",
        )
        .bind(vpc_id)
        .bind(&r.domain)
        .bind(id)
        .fetch_optional(&self.db)
        .await?;
        if let Some(other) = clash {
            return Err(Error::Conflict(format!(
                "{vpc_id} already has rule {other} for {}; disassociate it first",
                r.domain
            )));
        }
        sqlx::query("INSERT OR IGNORE INTO rule_vpcs (rule_id, vpc_id) VALUES (?, ?)")
            .bind(id)
            .bind(vpc_id)
            .execute(&self.db)
            .await?;
        self.refresh_vpc_dns(vpc_id).await?;
        self.to_rule(p, r).await
    }

    pub async fn disassociate_resolver_rule(
        &self,
        p: &Principal,
        id: &str,
        vpc_id: &str,
    ) -> Result<ResolverRule> {
        let r = self.rule_row(id).await?;
        if p.account().as_str() != r.account {
            let vpc = self.vpc_row(vpc_id).await?;
            authorize(p, &vpc.account, "disassociate a resolver rule from", vpc_id)?;
        }
        sqlx::query("DELETE FROM rule_vpcs WHERE rule_id = ? AND vpc_id = ?")
            .bind(id)
            .bind(vpc_id)
            .execute(&self.db)
            .await?;
        self.refresh_vpc_dns(vpc_id).await?;
        self.to_rule(p, r).await
    }

    pub async fn delete_resolver_rule(&self, p: &Principal, id: &str) -> Result<()> {
        let r = self.rule_row(id).await?;
        authorize(p, &r.account, "delete", id)?;
        let vpcs = self.rule_vpcs(id).await?;
        if !vpcs.is_empty() {
            return Err(Error::Conflict(format!(
                "resolver rule {id} is associated with {}; disassociate it first",
                vpcs.join(", ")
            )));
        }
        sqlx::query("DELETE FROM rule_shares WHERE rule_id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        sqlx::query("DELETE FROM resolver_rules WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Forget a deleted VPC's associations and stop its resolver.
    pub(crate) async fn forget_vpc_dns(&self, vpc_id: &str) -> Result<()> {
        for t in ["zone_vpcs", "zone_authorizations", "rule_vpcs"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {t} WHERE vpc_id = ?"
            )))
            .bind(vpc_id)
            .execute(&self.db)
            .await?;
        }
        self.drop_vpc_dns(vpc_id).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_sets_validate() {
        let ok = RecordSet {
            name: "db.corp.internal".into(),
            kind: "A".into(),
            ttl: 30,
            values: vec!["10.0.0.5".into()],
        };
        assert_eq!(zone_records(&ok).unwrap().len(), 1);
        let bad = RecordSet {
            values: vec!["10.0.0".into()],
            ..ok.clone()
        };
        assert!(zone_records(&bad).unwrap_err().to_string().contains("IPv4"));
        let two_cnames = RecordSet {
            kind: "CNAME".into(),
            values: vec!["a.b".into(), "c.d".into()],
            ..ok.clone()
        };
        assert!(zone_records(&two_cnames).is_err());
        let mx = RecordSet {
            kind: "MX".into(),
            ..ok.clone()
        };
        assert!(
            zone_records(&mx)
                .unwrap_err()
                .to_string()
                .contains("A, AAAA")
        );
        let empty = RecordSet {
            values: vec![],
            ..ok
        };
        assert!(zone_records(&empty).is_err());
    }

    #[test]
    fn targets_and_names() {
        assert_eq!(
            parse_target("10.1.0.10").unwrap().to_string(),
            "10.1.0.10:53"
        );
        assert_eq!(parse_target("10.1.0.10:5353").unwrap().port(), 5353);
        assert!(parse_target("dns.example").is_err());
        assert_eq!(norm_name("n", "Corp.Internal.").unwrap(), "corp.internal");
        assert!(within("a.corp.internal", "corp.internal"));
        assert!(!within("acorp.internal", "corp.internal"));
    }
}
