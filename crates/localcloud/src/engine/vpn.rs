//! Site-to-site VPN with EC2's names: customer gateways (`cgw-…`), virtual private gateways
//! (`vgw-…`) attached to a VPC, VPN connections (`vpn-…`) with two tunnels, their static
//! routes, and customer on-premises sites to test them against.
//!
//! Kernel objects:
//! - a virtual private gateway is a router namespace `<prefix>-g<hex>` with a veth into the
//!   VPC router (`g<hex>` there, `vpc0` in the gateway; 100.64.0.0/16 link addresses); a
//!   route with target `vgw-…` goes over it;
//! - each tunnel is a namespace `<prefix>-w<hex><n>` that owns the tunnel's outside address
//!   (on `out0`, a veth into the internet namespace) and runs its own charon; `vgw0` links it
//!   to the gateway router (100.65.0.0/16). ESP is userspace (`kernel-libipsec`, UDP
//!   encapsulated), so traffic to the customer is routed into charon's TUN device `ipsec0`;
//! - the gateway router sends each static route's prefix to the connection's first tunnel
//!   that is `UP` (tunnel 1 when none is): a monitor reads every tunnel's state over vici
//!   each [`MONITOR_INTERVAL`], records telemetry and moves the routes when it changes;
//! - an on-premises site is a gateway namespace `<prefix>-o<hex>` at a public address of
//!   203.0.113.0/24 on the internet, with a LAN (`lan0`) and a host namespace `<prefix>-h<hex>`
//!   behind it; its charon is configured with the downloaded `swanctl.conf` through
//!   `swanctl --load-all`, as the customer's engineer would.

pub(crate) mod api;
pub mod charon;
pub mod config;
pub mod options;
pub mod types;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::Ipv4Net;
use sqlx::SqlitePool;

use self::charon::{Auth, CONN, Charon, Child, Conn, Vici};
use self::options::Spec;
use self::types::*;
use super::render::Hop;
use super::{Engine, authorize, now};
use crate::error::{Error, Result};
use crate::ids::{self, Kind, Prefix, Principal, short};
use crate::kernel;
use crate::net;
use crate::netlink;

/// How often the monitor reads the tunnels' state.
pub const MONITOR_INTERVAL: Duration = Duration::from_millis(500);
/// AWS's default `amazonSideAsn` of a virtual private gateway.
pub const DEFAULT_VGW_ASN: u64 = 64512;
/// A customer gateway's ASN when none is given.
pub const DEFAULT_CGW_ASN: u64 = 65000;
/// The LAN of an on-premises site when none is given.
pub const DEFAULT_LAN: &str = "172.16.0.0/24";

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct CgwRow {
    pub id: String,
    pub account: String,
    pub ip_address: String,
    pub bgp_asn: i64,
    pub device_name: Option<String>,
    pub state: String,
    pub created_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct VgwRow {
    pub seq: i64,
    pub id: String,
    pub account: String,
    pub asn: i64,
    pub vpc_id: Option<String>,
    pub state: String,
    pub created_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ConnRow {
    pub id: String,
    pub account: String,
    pub customer_gateway_id: String,
    pub vpn_gateway_id: String,
    pub static_routes_only: bool,
    pub state: String,
    pub created_at: String,
}

/// A tunnel row. Not Debug: it holds the pre-shared key.
#[derive(Clone, sqlx::FromRow)]
pub(crate) struct TunnelRow {
    pub seq: i64,
    pub idx: i64,
    pub outside_ip: String,
    pub inside_cidr: String,
    pub psk: String,
    pub options: String,
    pub status: String,
    pub status_message: String,
    pub accepted_route_count: i64,
    pub last_status_change: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SiteRow {
    pub id: String,
    pub account: String,
    pub name: Option<String>,
    pub public_ip: String,
    pub lan_cidr: String,
    pub vpn_config: Option<String>,
    pub created_at: String,
}

const CGW_COLS: &str = "id, account, ip_address, bgp_asn, device_name, state, created_at";
const VGW_COLS: &str = "seq, id, account, asn, vpc_id, state, created_at";
const CONN_COLS: &str =
    "id, account, customer_gateway_id, vpn_gateway_id, static_routes_only, state, created_at";
const TUN_COLS: &str = "seq, idx, outside_ip, inside_cidr, psk, options, status, status_message, accepted_route_count, last_status_change";
const SITE_COLS: &str = "id, account, name, public_ip, lan_cidr, vpn_config, created_at";

/// The VPC router's end of a gateway link.
fn vgw_dev(vgw_id: &str) -> String {
    format!("g{}", short(vgw_id))
}
/// The gateway router's end of a tunnel link (also the internet's end of its outside link).
fn tunnel_dev(conn_id: &str, idx: i64) -> String {
    format!("w{}{idx}", short(conn_id))
}
const TUNNEL_OUT: &str = "out0";
const TUNNEL_VGW: &str = "vgw0";
const VGW_VPC: &str = "vpc0";
const TUN_DEV: &str = "ipsec0";
const SITE_LAN: &str = "lan0";
const HOST_DEV: &str = "eth0";

/// (gateway end, VPC router end) of gateway link `seq` in 100.64.0.0/16.
fn vgw_link(seq: i64) -> (Ipv4Addr, Ipv4Addr) {
    let base = u32::from(Ipv4Addr::new(100, 64, 0, 0)) + ((seq as u32) & 0x3fff) * 4;
    (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
}
/// (gateway end, tunnel end) of tunnel link `seq` in 100.65.0.0/16.
fn tunnel_link(seq: i64) -> (Ipv4Addr, Ipv4Addr) {
    let base = u32::from(Ipv4Addr::new(100, 65, 0, 0)) + ((seq as u32) & 0x3fff) * 4;
    (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
}

/// Whether `ns` is a name this module makes under `prefix` (for orphan removal).
pub(crate) fn is_vpn_name(prefix: &Prefix, ns: &str) -> bool {
    let Some(rest) = ns
        .strip_prefix(prefix.as_str())
        .and_then(|r| r.strip_prefix('-'))
    else {
        return false;
    };
    let hex = |s: &str| {
        s.len() == 8
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    match rest.split_at_checked(1) {
        Some(("g" | "o" | "h", h)) => hex(h),
        Some(("w", h)) => h.len() == 9 && hex(&h[..8]) && matches!(&h[8..], "1" | "2"),
        _ => false,
    }
}

fn valid_cgw_asn(asn: u64) -> bool {
    (1..=4_294_967_295).contains(&asn) && !options::RESERVED_CGW_ASNS.contains(&asn)
}

impl TunnelRow {
    fn options(&self) -> Result<TunnelOptions> {
        serde_json::from_str(&self.options)
            .map_err(|e| Error::kernel("read tunnel options", e.to_string()))
    }
    fn outside(&self) -> Ipv4Addr {
        self.outside_ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED)
    }
    fn inside(&self) -> Ipv4Net {
        self.inside_cidr.parse().unwrap_or_default()
    }
    fn telemetry(&self) -> VgwTelemetry {
        VgwTelemetry {
            outside_ip_address: self.outside_ip.clone(),
            status: self.status.clone(),
            status_message: self.status_message.clone(),
            accepted_route_count: self.accepted_route_count as u32,
            last_status_change: self.last_status_change.clone(),
        }
    }
}

/// What the engine needs to drive tunnels outside its lock (the monitor holds one).
#[derive(Clone)]
pub(crate) struct VpnCtx {
    pub db: SqlitePool,
    pub prefix: Prefix,
    pub data_dir: PathBuf,
}

/// Stops the monitor when the engine goes away.
#[derive(Debug, Default)]
pub(crate) struct Monitor(Option<tokio::task::JoinHandle<()>>);

impl Drop for Monitor {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

impl VpnCtx {
    fn tunnel_ns(&self, conn_id: &str, idx: i64) -> String {
        format!("{}-w{}{idx}", self.prefix, short(conn_id))
    }
    fn vgw_ns(&self, vgw_id: &str) -> String {
        format!("{}-g{}", self.prefix, short(vgw_id))
    }
    fn charon(&self, conn_id: &str, idx: i64) -> Charon {
        Charon::new(
            self.data_dir
                .join("vpn")
                .join(format!("{}-{idx}", short(conn_id))),
            self.tunnel_ns(conn_id, idx),
        )
    }

    async fn tunnels(&self, conn_id: &str) -> Result<Vec<TunnelRow>> {
        Ok(sqlx::query_as::<_, TunnelRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {TUN_COLS} FROM vpn_tunnels WHERE connection_id = ? ORDER BY idx"
        )))
        .bind(conn_id)
        .fetch_all(&self.db)
        .await?)
    }

    async fn routes_of(&self, conn_id: &str) -> Result<Vec<Ipv4Net>> {
        let v: Vec<String> = sqlx::query_scalar(
            "SELECT destination FROM vpn_connection_routes WHERE connection_id = ? ORDER BY destination",
        )
        .bind(conn_id)
        .fetch_all(&self.db)
        .await?;
        Ok(v.iter().filter_map(|s| s.parse().ok()).collect())
    }

    /// Read one tunnel's state from its charon: (`UP`/`DOWN`, message).
    async fn observe(&self, c: &ConnRow, t: &TunnelRow, cgw_ip: &str) -> (String, String) {
        let ch = self.charon(&c.id, t.idx);
        if ch.running_pid().is_none() {
            return (
                "DOWN".into(),
                "the tunnel endpoint's IKE daemon is not running".into(),
            );
        }
        let mut v = match Vici::connect(&ch.socket()).await {
            Ok(v) => v,
            Err(_) => {
                return (
                    "DOWN".into(),
                    "the tunnel endpoint's IKE daemon does not answer".into(),
                );
            }
        };
        let sas = v.list_sas().await.unwrap_or_default();
        let ike = sas
            .iter()
            .filter(|(name, _)| name == CONN)
            .map(|(_, sa)| sa)
            .find(|sa| sa.state == "ESTABLISHED");
        if let Some(sa) = ike {
            if sa.child_sas.values().any(|c| c.state == "INSTALLED") {
                return ("UP".into(), "IPSEC IS UP".into());
            }
            return (
                "DOWN".into(),
                "IKE SA established but no IPsec SA: the phase 2 proposals or traffic selectors do not match".into(),
            );
        }
        let counters = v.counters().await.unwrap_or_default();
        if counters.auth_exchanges() > 0 {
            (
                "DOWN".into(),
                format!(
                    "IKE_AUTH with the customer gateway {cgw_ip} fails ({} attempts, no IKE SA): check the pre-shared key and the identities",
                    counters.auth_exchanges()
                ),
            )
        } else if counters.init_exchanges() > 0 {
            (
                "DOWN".into(),
                format!("IKE_SA_INIT with {cgw_ip} does not complete: check the phase 1 proposals"),
            )
        } else {
            (
                "DOWN".into(),
                format!(
                    "no IKE traffic from the customer gateway {cgw_ip} yet: start the tunnel on the customer side"
                ),
            )
        }
    }

    /// One monitor pass over every live connection: record telemetry, move the gateway
    /// router's routes to the first `UP` tunnel. `active` remembers the tunnel each
    /// connection routes through.
    async fn monitor_pass(&self, active: &mut HashMap<String, i64>) -> Result<()> {
        let conns = sqlx::query_as::<_, ConnRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {CONN_COLS} FROM vpn_connections WHERE state IN ('pending', 'available')"
        )))
        .fetch_all(&self.db)
        .await?;
        for c in conns {
            let cgw_ip: String =
                sqlx::query_scalar("SELECT ip_address FROM customer_gateways WHERE id = ?")
                    .bind(&c.customer_gateway_id)
                    .fetch_optional(&self.db)
                    .await?
                    .unwrap_or_default();
            let tunnels = self.tunnels(&c.id).await?;
            let routes = self.routes_of(&c.id).await?;
            let mut first_up = None;
            for t in &tunnels {
                let (status, message) = self.observe(&c, t, &cgw_ip).await;
                let up = status == "UP";
                if up && first_up.is_none() {
                    first_up = Some(t.idx);
                }
                let count = if up { routes.len() as i64 } else { 0 };
                if status != t.status || message != t.status_message {
                    let changed = if status != t.status {
                        now()
                    } else {
                        t.last_status_change.clone()
                    };
                    if status != t.status {
                        tracing::info!(vpn = %c.id, tunnel = t.idx, %status, %message, "tunnel status changed");
                    }
                    sqlx::query(
                        "UPDATE vpn_tunnels SET status = ?, status_message = ?, accepted_route_count = ?, last_status_change = ? WHERE seq = ?",
                    )
                    .bind(&status)
                    .bind(&message)
                    .bind(count)
                    .bind(&changed)
                    .bind(t.seq)
                    .execute(&self.db)
                    .await?;
                } else if count != t.accepted_route_count {
                    sqlx::query("UPDATE vpn_tunnels SET accepted_route_count = ? WHERE seq = ?")
                        .bind(count)
                        .bind(t.seq)
                        .execute(&self.db)
                        .await?;
                }
            }
            let want = first_up.unwrap_or(1);
            if active.get(&c.id) != Some(&want) {
                if let Err(e) = self.route_connection(&c, &tunnels, &routes, want).await {
                    tracing::warn!(vpn = %c.id, error = %e, "could not move the VPN routes");
                    continue;
                }
                tracing::info!(vpn = %c.id, tunnel = want, "VPN routes go through this tunnel");
                active.insert(c.id.clone(), want);
            }
        }
        Ok(())
    }

    /// The gateway router's routes of a connection's prefixes through tunnel `idx`.
    async fn route_connection(
        &self,
        c: &ConnRow,
        tunnels: &[TunnelRow],
        routes: &[Ipv4Net],
        idx: i64,
    ) -> Result<()> {
        let Some(t) = tunnels.iter().find(|t| t.idx == idx) else {
            return Ok(());
        };
        let (_, tunnel_end) = tunnel_link(t.seq);
        let dev = tunnel_dev(&c.id, idx);
        let lines: Vec<String> = routes
            .iter()
            .map(|r| format!("route replace {r} via {tunnel_end} dev {dev} onlink"))
            .collect();
        kernel::ip_batch(Some(&self.vgw_ns(&c.vpn_gateway_id)), &lines).await
    }
}

impl Engine {
    pub(crate) fn vpn_ctx(&self) -> VpnCtx {
        VpnCtx {
            db: self.db.clone(),
            prefix: self.prefix.clone(),
            data_dir: self.data_dir.clone(),
        }
    }

    /// Start the tunnel monitor (once per engine).
    pub(crate) fn start_vpn_monitor(&self) -> Monitor {
        let ctx = self.vpn_ctx();
        Monitor(Some(tokio::spawn(async move {
            let mut active = HashMap::new();
            loop {
                if let Err(e) = ctx.monitor_pass(&mut active).await {
                    tracing::debug!(error = %e, "VPN monitor pass failed");
                }
                tokio::time::sleep(MONITOR_INTERVAL).await;
            }
        })))
    }

    /// The namespace of a virtual private gateway's router.
    pub fn vpn_gateway_namespace(&self, vgw_id: &str) -> String {
        self.vpn_ctx().vgw_ns(vgw_id)
    }
    /// The namespace of tunnel `idx` (1 or 2) of a VPN connection.
    pub fn vpn_tunnel_namespace(&self, conn_id: &str, idx: i64) -> String {
        self.vpn_ctx().tunnel_ns(conn_id, idx)
    }
    fn site_gw_ns(&self, site_id: &str) -> String {
        format!("{}-o{}", self.prefix, short(site_id))
    }
    fn site_host_ns(&self, site_id: &str) -> String {
        format!("{}-h{}", self.prefix, short(site_id))
    }
    fn site_charon(&self, site_id: &str) -> Charon {
        Charon::new(
            self.data_dir
                .join("vpn")
                .join(format!("site-{}", short(site_id))),
            self.site_gw_ns(site_id),
        )
    }

    // ---- customer gateways ----

    async fn cgw_row(&self, p: &Principal, id: &str) -> Result<CgwRow> {
        Kind::CustomerGateway.parse("customerGatewayId", id)?;
        sqlx::query_as::<_, CgwRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {CGW_COLS} FROM customer_gateways WHERE id = ? AND account = ? AND state != 'deleted'"
        )))
        .bind(id)
        .bind(p.account().as_str())
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "customer gateway",
            id: id.to_string(),
        })
    }

    fn to_cgw(r: CgwRow) -> CustomerGateway {
        CustomerGateway {
            customer_gateway_id: r.id,
            owner_id: r.account,
            ip_address: r.ip_address,
            bgp_asn: r.bgp_asn as u64,
            device_name: r.device_name,
            kind: "ipsec.1".into(),
            state: r.state,
            created_at: r.created_at,
        }
    }

    pub async fn create_customer_gateway(
        &self,
        p: &Principal,
        req: CreateCustomerGateway,
    ) -> Result<CustomerGateway> {
        let region = ids::parse_region(req.region.as_deref().unwrap_or(ids::DEFAULT_REGION))?;
        let ip: Ipv4Addr = req.ip_address.parse().map_err(|_| {
            Error::invalid(
                "ipAddress",
                format!("{:?} is not an IPv4 address", req.ip_address),
            )
        })?;
        if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || ip.is_loopback() {
            return Err(Error::invalid(
                "ipAddress",
                format!("{ip} cannot be a customer gateway's address"),
            ));
        }
        let asn = req.bgp_asn.unwrap_or(DEFAULT_CGW_ASN);
        if !valid_cgw_asn(asn) {
            return Err(Error::invalid(
                "bgpAsn",
                format!(
                    "{asn} is not allowed: use 1-4294967295 except 7224, 9059, 10124 and 17943"
                ),
            ));
        }
        if let Some(d) = &req.device_name
            && d.len() > 255
        {
            return Err(Error::invalid("deviceName", "at most 255 characters"));
        }
        let _g = self.lock.lock().await;
        let id = self
            .fresh_id(Kind::CustomerGateway, "customer_gateways", "id")
            .await?;
        sqlx::query(
            "INSERT INTO customer_gateways (id, account, region, ip_address, bgp_asn, device_name, state, created_at) VALUES (?, ?, ?, ?, ?, ?, 'available', ?)",
        )
        .bind(&id)
        .bind(p.account().as_str())
        .bind(&region)
        .bind(ip.to_string())
        .bind(asn as i64)
        .bind(&req.device_name)
        .bind(now())
        .execute(&self.db)
        .await?;
        Ok(Self::to_cgw(self.cgw_row(p, &id).await?))
    }

    pub async fn get_customer_gateway(&self, p: &Principal, id: &str) -> Result<CustomerGateway> {
        Ok(Self::to_cgw(self.cgw_row(p, id).await?))
    }

    pub async fn list_customer_gateways(&self, p: &Principal) -> Result<Vec<CustomerGateway>> {
        Ok(sqlx::query_as::<_, CgwRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {CGW_COLS} FROM customer_gateways WHERE account = ? AND state != 'deleted' ORDER BY seq"
        )))
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?
        .into_iter()
        .map(Self::to_cgw)
        .collect())
    }

    pub async fn delete_customer_gateway(&self, p: &Principal, id: &str) -> Result<()> {
        self.cgw_row(p, id).await?;
        let _g = self.lock.lock().await;
        let users: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM vpn_connections WHERE customer_gateway_id = ? AND state != 'deleted'",
        )
        .bind(id)
        .fetch_all(&self.db)
        .await?;
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "IncorrectState: {id} is used by VPN connections {}; delete them first",
                users.join(", ")
            )));
        }
        sqlx::query("UPDATE customer_gateways SET state = 'deleted' WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    // ---- virtual private gateways ----

    async fn vgw_row(&self, p: &Principal, id: &str) -> Result<VgwRow> {
        Kind::VpnGateway.parse("vpnGatewayId", id)?;
        sqlx::query_as::<_, VgwRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {VGW_COLS} FROM vpn_gateways WHERE id = ? AND account = ? AND state != 'deleted'"
        )))
        .bind(id)
        .bind(p.account().as_str())
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "VPN gateway",
            id: id.to_string(),
        })
    }

    fn to_vgw(&self, r: VgwRow) -> VpnGateway {
        VpnGateway {
            namespace: self.vpn_gateway_namespace(&r.id),
            vpn_gateway_id: r.id,
            owner_id: r.account,
            amazon_side_asn: r.asn as u64,
            kind: "ipsec.1".into(),
            state: r.state,
            vpc_attachments: r
                .vpc_id
                .map(|v| VpcAttachment {
                    vpc_id: v,
                    state: "attached".into(),
                })
                .into_iter()
                .collect(),
            created_at: r.created_at,
        }
    }

    /// Create a virtual private gateway (its router namespace).
    pub async fn create_vpn_gateway(
        &self,
        p: &Principal,
        req: CreateVpnGateway,
    ) -> Result<VpnGateway> {
        let region = ids::parse_region(req.region.as_deref().unwrap_or(ids::DEFAULT_REGION))?;
        let asn = req.amazon_side_asn.unwrap_or(DEFAULT_VGW_ASN);
        if !super::tgw::valid_asn(asn) {
            return Err(Error::invalid(
                "amazonSideAsn",
                format!("{asn} is not a private ASN: use 64512-65534 or 4200000000-4294967294"),
            ));
        }
        let _g = self.lock.lock().await;
        let id = self
            .fresh_id(Kind::VpnGateway, "vpn_gateways", "id")
            .await?;
        sqlx::query(
            "INSERT INTO vpn_gateways (id, account, region, asn, vpc_id, state, created_at) VALUES (?, ?, ?, ?, NULL, 'available', ?)",
        )
        .bind(&id)
        .bind(p.account().as_str())
        .bind(&region)
        .bind(asn as i64)
        .bind(now())
        .execute(&self.db)
        .await?;
        if let Err(e) = self.build_vgw_router(&id).await {
            kernel::netns_del(&[self.vpn_gateway_namespace(&id)]).await;
            sqlx::query("DELETE FROM vpn_gateways WHERE id = ?")
                .bind(&id)
                .execute(&self.db)
                .await?;
            return Err(e);
        }
        tracing::info!(vgw = %id, asn, "VPN gateway created");
        Ok(self.to_vgw(self.vgw_row(p, &id).await?))
    }

    async fn build_vgw_router(&self, id: &str) -> Result<()> {
        let ns = self.vpn_gateway_namespace(id);
        if !kernel::netns_exists(&ns) {
            kernel::netns_add(&ns).await?;
        }
        forwarding(&ns).await
    }

    pub async fn get_vpn_gateway(&self, p: &Principal, id: &str) -> Result<VpnGateway> {
        Ok(self.to_vgw(self.vgw_row(p, id).await?))
    }

    pub async fn list_vpn_gateways(&self, p: &Principal) -> Result<Vec<VpnGateway>> {
        Ok(sqlx::query_as::<_, VgwRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {VGW_COLS} FROM vpn_gateways WHERE account = ? AND state != 'deleted' ORDER BY seq"
        )))
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?
        .into_iter()
        .map(|r| self.to_vgw(r))
        .collect())
    }

    /// Attach to a VPC of the same account (one gateway per VPC, one VPC per gateway).
    pub async fn attach_vpn_gateway(
        &self,
        p: &Principal,
        id: &str,
        req: AttachVpnGateway,
    ) -> Result<VpnGateway> {
        let g = self.vgw_row(p, id).await?;
        let vpc = self.vpc_row(&req.vpc_id).await?;
        authorize(p, &vpc.account, "attach a VPN gateway to", &vpc.id)?;
        let _g = self.lock.lock().await;
        if let Some(v) = &g.vpc_id {
            return Err(Error::Conflict(format!(
                "{id} is already attached to {v}; detach it first"
            )));
        }
        let other: Option<String> = sqlx::query_scalar(
            "SELECT id FROM vpn_gateways WHERE vpc_id = ? AND state != 'deleted'",
        )
        .bind(&vpc.id)
        .fetch_optional(&self.db)
        .await?;
        if let Some(o) = other {
            return Err(Error::Conflict(format!(
                "VPC {} already has VPN gateway {o} attached",
                vpc.id
            )));
        }
        sqlx::query("UPDATE vpn_gateways SET vpc_id = ? WHERE id = ?")
            .bind(&vpc.id)
            .bind(id)
            .execute(&self.db)
            .await?;
        let g = self.vgw_row(p, id).await?;
        if let Err(e) = self.plumb_vgw(&g).await {
            sqlx::query("UPDATE vpn_gateways SET vpc_id = NULL WHERE id = ?")
                .bind(id)
                .execute(&self.db)
                .await?;
            return Err(e);
        }
        // Routes that already name this gateway become active.
        self.apply_routes(Some(&vpc.id), Some(id)).await?;
        tracing::info!(vgw = %id, vpc = %vpc.id, "VPN gateway attached");
        Ok(self.to_vgw(g))
    }

    /// The link between the gateway router and its VPC router, and the route back to the
    /// VPC. Idempotent (a pair missing an end is made again).
    async fn plumb_vgw(&self, g: &VgwRow) -> Result<()> {
        let Some(vpc_id) = &g.vpc_id else {
            return Ok(());
        };
        let vpc = self.vpc_row(vpc_id).await?;
        let ns = self.vpn_gateway_namespace(&g.id);
        let router = self.router_namespace(vpc_id);
        let rdev = vgw_dev(&g.id);
        ensure_pair(&ns, VGW_VPC, &router, &rdev).await?;
        let (gw_end, router_end) = vgw_link(g.seq);
        kernel::ip_batch(
            Some(&ns),
            &[
                format!("addr replace {gw_end}/30 dev {VGW_VPC}"),
                format!("link set {VGW_VPC} up"),
                format!("route replace {} via {router_end} dev {VGW_VPC}", vpc.cidr),
            ],
        )
        .await?;
        kernel::ip_batch(
            Some(&router),
            &[
                format!("addr replace {router_end}/30 dev {rdev}"),
                format!("link set {rdev} up"),
            ],
        )
        .await
    }

    /// Detach from its VPC; refused while VPN connections use it or routes name it.
    pub async fn detach_vpn_gateway(&self, p: &Principal, id: &str) -> Result<VpnGateway> {
        let g = self.vgw_row(p, id).await?;
        let _l = self.lock.lock().await;
        let Some(vpc_id) = g.vpc_id.clone() else {
            return Err(Error::Conflict(format!("{id} is not attached to a VPC")));
        };
        self.refuse_if_routed(id).await?;
        let _ = netlink::with_ns(&self.router_namespace(&vpc_id), {
            let dev = vgw_dev(id);
            move |nl| async move { nl.link_del(&dev).await }
        })
        .await;
        sqlx::query("UPDATE vpn_gateways SET vpc_id = NULL WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(self.to_vgw(self.vgw_row(p, id).await?))
    }

    /// Delete; refused while attached or used by VPN connections.
    pub async fn delete_vpn_gateway(&self, p: &Principal, id: &str) -> Result<()> {
        let g = self.vgw_row(p, id).await?;
        let _l = self.lock.lock().await;
        if let Some(v) = &g.vpc_id {
            return Err(Error::Conflict(format!(
                "IncorrectState: {id} is attached to {v}; detach it first"
            )));
        }
        let users: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM vpn_connections WHERE vpn_gateway_id = ? AND state != 'deleted'",
        )
        .bind(id)
        .fetch_all(&self.db)
        .await?;
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "IncorrectState: {id} is used by VPN connections {}; delete them first",
                users.join(", ")
            )));
        }
        kernel::netns_del(&[self.vpn_gateway_namespace(id)]).await;
        sqlx::query("UPDATE vpn_gateways SET state = 'deleted' WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Where a route with target `vgw-…` sends packets from `vpc_id`.
    pub(crate) async fn vgw_hop(&self, vpc_id: &str, target: &str) -> Result<Hop> {
        Kind::VpnGateway.parse("targetId", target)?;
        let row = sqlx::query_as::<_, VgwRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {VGW_COLS} FROM vpn_gateways WHERE id = ? AND state != 'deleted'"
        )))
        .bind(target)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "VPN gateway",
            id: target.to_string(),
        })?;
        match &row.vpc_id {
            Some(v) if v == vpc_id => Ok(Hop::Peer {
                dev: vgw_dev(target),
                via: vgw_link(row.seq).0,
            }),
            Some(v) => Err(Error::invalid(
                "targetId",
                format!("{target} is attached to {v}, not to {vpc_id}"),
            )),
            None => Ok(Hop::Blackhole),
        }
    }

    // ---- VPN connections ----

    async fn conn_row(&self, p: &Principal, id: &str) -> Result<ConnRow> {
        Kind::VpnConnection.parse("vpnConnectionId", id)?;
        sqlx::query_as::<_, ConnRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {CONN_COLS} FROM vpn_connections WHERE id = ? AND account = ? AND state != 'deleted'"
        )))
        .bind(id)
        .bind(p.account().as_str())
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "VPN connection",
            id: id.to_string(),
        })
    }

    async fn to_conn(&self, c: ConnRow) -> Result<VpnConnection> {
        let ctx = self.vpn_ctx();
        let tunnels = ctx.tunnels(&c.id).await?;
        let routes = ctx.routes_of(&c.id).await?;
        let mut opts = Vec::new();
        for t in &tunnels {
            opts.push(t.options()?);
        }
        Ok(VpnConnection {
            tunnel_namespaces: tunnels
                .iter()
                .map(|t| ctx.tunnel_ns(&c.id, t.idx))
                .collect(),
            vgw_telemetry: tunnels.iter().map(TunnelRow::telemetry).collect(),
            routes: routes
                .iter()
                .map(|r| VpnStaticRoute {
                    destination_cidr_block: r.to_string(),
                    source: "Static".into(),
                    state: "available".into(),
                })
                .collect(),
            options: VpnConnectionOptions {
                static_routes_only: c.static_routes_only,
                tunnel_options: opts,
            },
            vpn_connection_id: c.id,
            owner_id: c.account,
            customer_gateway_id: c.customer_gateway_id,
            vpn_gateway_id: c.vpn_gateway_id,
            kind: "ipsec.1".into(),
            state: c.state,
            created_at: c.created_at,
        })
    }

    /// Create a VPN connection between a customer gateway and a VPN gateway attached to a
    /// VPC: two tunnels, each with its outside address from the public pool, its namespace
    /// and its charon. `pending` until both charons run with their configuration, then
    /// `available`; the tunnels' telemetry says whether IKE came up.
    pub async fn create_vpn_connection(
        &self,
        p: &Principal,
        req: CreateVpnConnection,
    ) -> Result<VpnConnection> {
        if let Some(k) = &req.kind
            && k != "ipsec.1"
        {
            return Err(Error::invalid(
                "type",
                format!("{k:?}: the only type is ipsec.1"),
            ));
        }
        if req.options.tunnel_options.len() > 2 {
            return Err(Error::invalid(
                "options.tunnelOptions",
                format!(
                    "a VPN connection has two tunnels; {} options given",
                    req.options.tunnel_options.len()
                ),
            ));
        }
        let mut specs = Vec::new();
        let mut psks = Vec::new();
        for n in 0..2 {
            let r = req
                .options
                .tunnel_options
                .get(n)
                .cloned()
                .unwrap_or_default();
            specs.push(options::parse(n, &r)?);
            psks.push(r.pre_shared_key.unwrap_or_else(options::generate_psk));
        }
        if let (Some(a), Some(b)) = (specs[0].inside, specs[1].inside)
            && a == b
        {
            return Err(Error::invalid(
                "options.tunnelOptions[1].tunnelInsideCidr",
                format!("{b} is tunnel 1's inside CIDR too; each tunnel needs its own"),
            ));
        }
        let cgw = self.cgw_row(p, &req.customer_gateway_id).await?;
        let vgw = self.vgw_row(p, &req.vpn_gateway_id).await?;
        let Some(vpc_id) = vgw.vpc_id.clone() else {
            return Err(Error::Conflict(format!(
                "IncorrectState: {} is not attached to a VPC; attach it first",
                vgw.id
            )));
        };
        let _g = self.lock.lock().await;
        let used: Vec<String> = sqlx::query_scalar(
            "SELECT t.inside_cidr FROM vpn_tunnels t JOIN vpn_connections c ON c.id = t.connection_id WHERE c.vpn_gateway_id = ? AND c.state != 'deleted'",
        )
        .bind(&vgw.id)
        .fetch_all(&self.db)
        .await?;
        let mut insides = Vec::new();
        for (n, s) in specs.iter().enumerate() {
            let inside = match s.inside {
                Some(i) => {
                    if used.contains(&i.to_string()) {
                        return Err(Error::invalid(
                            &format!("options.tunnelOptions[{n}].tunnelInsideCidr"),
                            format!("{i} is already used by another tunnel of {}", vgw.id),
                        ));
                    }
                    i
                }
                None => pick_inside(&used, &insides),
            };
            insides.push(inside);
        }
        let id = self
            .fresh_id(Kind::VpnConnection, "vpn_connections", "id")
            .await?;
        let t = now();
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO vpn_connections (id, account, region, customer_gateway_id, vpn_gateway_id, static_routes_only, state, created_at) VALUES (?, ?, 'us-east-1', ?, ?, ?, 'pending', ?)",
        )
        .bind(&id)
        .bind(p.account().as_str())
        .bind(&cgw.id)
        .bind(&vgw.id)
        .bind(req.options.static_routes_only)
        .bind(&t)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        for n in 0..2 {
            let outside = self.pick_public_ip().await?;
            sqlx::query("INSERT INTO public_ips (ip, owner_id) VALUES (?, ?)")
                .bind(outside.to_string())
                .bind(&id)
                .execute(&self.db)
                .await?;
            let opts = specs[n].to_options(outside, insides[n]);
            sqlx::query(
                "INSERT INTO vpn_tunnels (connection_id, idx, outside_ip, inside_cidr, psk, options, status, status_message, last_status_change) VALUES (?, ?, ?, ?, ?, ?, 'DOWN', 'starting the tunnel endpoint', ?)",
            )
            .bind(&id)
            .bind(n as i64 + 1)
            .bind(outside.to_string())
            .bind(insides[n].to_string())
            .bind(&psks[n])
            .bind(serde_json::to_string(&opts).unwrap_or_default())
            .bind(&t)
            .execute(&self.db)
            .await?;
        }
        let c = self.conn_row(p, &id).await?;
        if let Err(e) = self.build_connection(&c, &vpc_id).await {
            tracing::warn!(vpn = %id, error = %e, "VPN connection could not be built; removing it");
            self.teardown_connection(&c).await;
            for sql in [
                "DELETE FROM vpn_tunnels WHERE connection_id = ?",
                "DELETE FROM public_ips WHERE owner_id = ?",
                "DELETE FROM vpn_connections WHERE id = ?",
            ] {
                sqlx::query(sql).bind(&id).execute(&self.db).await?;
            }
            return Err(e);
        }
        sqlx::query("UPDATE vpn_connections SET state = 'available' WHERE id = ?")
            .bind(&id)
            .execute(&self.db)
            .await?;
        tracing::info!(vpn = %id, cgw = %cgw.id, vgw = %vgw.id, "VPN connection created");
        self.to_conn(self.conn_row(p, &id).await?).await
    }

    /// Both tunnels: namespaces, links, charons with their configuration, routes. Idempotent.
    async fn build_connection(&self, c: &ConnRow, vpc_id: &str) -> Result<()> {
        self.ensure_internet().await?;
        let ctx = self.vpn_ctx();
        let cgw_ip: String =
            sqlx::query_scalar("SELECT ip_address FROM customer_gateways WHERE id = ?")
                .bind(&c.customer_gateway_id)
                .fetch_one(&self.db)
                .await?;
        let vgw_seq: i64 = sqlx::query_scalar("SELECT seq FROM vpn_gateways WHERE id = ?")
            .bind(&c.vpn_gateway_id)
            .fetch_one(&self.db)
            .await?;
        let vpc = self.vpc_row(vpc_id).await?;
        let vgw_ns = ctx.vgw_ns(&c.vpn_gateway_id);
        let routes = ctx.routes_of(&c.id).await?;
        for t in ctx.tunnels(&c.id).await? {
            let ns = ctx.tunnel_ns(&c.id, t.idx);
            if !kernel::netns_exists(&ns) {
                kernel::netns_add(&ns).await?;
            }
            forwarding(&ns).await?;
            let dev = tunnel_dev(&c.id, t.idx);
            // Outside: the tunnel's public address, reached through the internet.
            ensure_pair(&ns, TUNNEL_OUT, &self.internet_namespace(), &dev).await?;
            let outside = t.outside();
            kernel::ip_batch(
                Some(&ns),
                &[
                    format!("addr replace {}/30 dev {TUNNEL_OUT}", net::IGW_ROUTER),
                    format!("addr replace {outside}/32 dev {TUNNEL_OUT}"),
                    format!("link set {TUNNEL_OUT} up"),
                    format!(
                        "route replace default via {} dev {TUNNEL_OUT} src {outside}",
                        net::IGW_INTERNET
                    ),
                ],
            )
            .await?;
            let idev = dev.clone();
            netlink::with_ns(&self.internet_namespace(), move |nl| async move {
                nl.addr(&idev, net::IGW_INTERNET, 30).await?;
                nl.up(&idev).await?;
                nl.host_route(outside, net::IGW_ROUTER, &idev, net::INTERNET_HOST)
                    .await
            })
            .await?;
            // Inside: the gateway router.
            ensure_pair(&ns, TUNNEL_VGW, &vgw_ns, &dev).await?;
            let (gw_end, tunnel_end) = tunnel_link(t.seq);
            kernel::ip_batch(
                Some(&ns),
                &[
                    format!("addr replace {tunnel_end}/30 dev {TUNNEL_VGW}"),
                    format!("link set {TUNNEL_VGW} up"),
                    format!("route replace {} via {gw_end} dev {TUNNEL_VGW}", vpc.cidr),
                ],
            )
            .await?;
            kernel::ip_batch(
                Some(&vgw_ns),
                &[
                    format!("addr replace {gw_end}/30 dev {dev}"),
                    format!("link set {dev} up"),
                ],
            )
            .await?;
            // The loopback holds the tunnel's inside address (the AWS side of its /30) and
            // the VPC's reserved base+3 address: kernel-libipsec installs its route into the
            // TUN device only with a local address inside the local traffic selector (the VPC
            // CIDR), and no instance ever has base+3.
            let inside_local = net::nth(t.inside(), 1);
            let reserved = net::nth(vpc.net(), 3);
            kernel::ip_batch(
                Some(&ns),
                &[
                    format!("addr replace {inside_local}/32 dev lo"),
                    format!("addr replace {reserved}/32 dev lo"),
                ],
            )
            .await?;
            self.start_tunnel(c, &t, &cgw_ip, &routes).await?;
        }
        let _ = vgw_seq;
        ctx.route_connection(c, &ctx.tunnels(&c.id).await?, &routes, 1)
            .await
    }

    /// Adopt or start the tunnel's charon; a new one gets the PSK and the connection over
    /// vici. Then route the customer's prefixes into its TUN device.
    async fn start_tunnel(
        &self,
        c: &ConnRow,
        t: &TunnelRow,
        cgw_ip: &str,
        routes: &[Ipv4Net],
    ) -> Result<()> {
        let ch = self.vpn_ctx().charon(&c.id, t.idx);
        if ch.ensure(false).await? {
            load_tunnel(&ch, t, cgw_ip).await?;
        }
        tunnel_routes(&ch.ns, routes).await
    }

    async fn teardown_connection(&self, c: &ConnRow) {
        let ctx = self.vpn_ctx();
        let tunnels = ctx.tunnels(&c.id).await.unwrap_or_default();
        let routes = ctx.routes_of(&c.id).await.unwrap_or_default();
        let vgw_ns = ctx.vgw_ns(&c.vpn_gateway_id);
        let del: Vec<String> = routes.iter().map(|r| format!("route del {r}")).collect();
        kernel::ip_batch_force(Some(&vgw_ns), &del).await;
        let mut names = Vec::new();
        for t in &tunnels {
            ctx.charon(&c.id, t.idx).stop().await;
            let _ = std::fs::remove_dir_all(&ctx.charon(&c.id, t.idx).dir);
            names.push(ctx.tunnel_ns(&c.id, t.idx));
            let host = Ipv4Net::new(t.outside(), 32).unwrap_or_default();
            let inet = self.internet_namespace();
            if kernel::netns_exists(&inet) {
                let _ = netlink::with_ns(&inet, move |nl| async move {
                    nl.route_del(host, netlink::MAIN_TABLE).await
                })
                .await;
            }
        }
        for (ns, pids) in kernel::pids_in(&names) {
            for pid in pids {
                tracing::warn!(ns, pid, "stopping a process left in a tunnel namespace");
                kernel::stop_process(pid, Duration::from_millis(300)).await;
            }
        }
        kernel::netns_del(&names).await;
    }

    pub async fn get_vpn_connection(&self, p: &Principal, id: &str) -> Result<VpnConnection> {
        self.to_conn(self.conn_row(p, id).await?).await
    }

    pub async fn list_vpn_connections(&self, p: &Principal) -> Result<Vec<VpnConnection>> {
        let rows = sqlx::query_as::<_, ConnRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {CONN_COLS} FROM vpn_connections WHERE account = ? AND state != 'deleted' ORDER BY seq"
        )))
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.to_conn(r).await?);
        }
        Ok(out)
    }

    /// Delete: stop both charons, remove the namespaces, routes and outside addresses.
    pub async fn delete_vpn_connection(&self, p: &Principal, id: &str) -> Result<VpnConnection> {
        let c = self.conn_row(p, id).await?;
        let _g = self.lock.lock().await;
        sqlx::query("UPDATE vpn_connections SET state = 'deleting' WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        self.teardown_connection(&c).await;
        let mut tx = self.db.begin().await?;
        for sql in [
            "DELETE FROM public_ips WHERE owner_id = ?1",
            "DELETE FROM vpn_connection_routes WHERE connection_id = ?1",
            "UPDATE vpn_tunnels SET status = 'DOWN', status_message = 'deleted', psk = '' WHERE connection_id = ?1",
            "UPDATE vpn_connections SET state = 'deleted' WHERE id = ?1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        tracing::info!(vpn = %id, "VPN connection deleted");
        let mut out = self.to_conn(c).await?;
        out.state = "deleted".into();
        Ok(out)
    }

    /// Add a static route (a customer prefix) to a static-routes-only connection.
    pub async fn create_vpn_connection_route(
        &self,
        p: &Principal,
        id: &str,
        req: CreateVpnConnectionRoute,
    ) -> Result<VpnConnection> {
        let c = self.conn_row(p, id).await?;
        if !c.static_routes_only {
            return Err(Error::invalid(
                "destinationCidrBlock",
                format!("{id} uses BGP (staticRoutesOnly is false); it takes no static routes"),
            ));
        }
        let dest = net::parse_cidr("destinationCidrBlock", &req.destination_cidr_block)?;
        let _g = self.lock.lock().await;
        sqlx::query(
            "INSERT OR IGNORE INTO vpn_connection_routes (connection_id, destination) VALUES (?, ?)",
        )
        .bind(id)
        .bind(dest.to_string())
        .execute(&self.db)
        .await?;
        self.sync_connection_routes(&c).await?;
        self.to_conn(self.conn_row(p, id).await?).await
    }

    pub async fn delete_vpn_connection_route(
        &self,
        p: &Principal,
        id: &str,
        destination: &str,
    ) -> Result<VpnConnection> {
        let c = self.conn_row(p, id).await?;
        let dest = net::parse_cidr("destinationCidrBlock", destination)?;
        let _g = self.lock.lock().await;
        let done = sqlx::query(
            "DELETE FROM vpn_connection_routes WHERE connection_id = ? AND destination = ?",
        )
        .bind(id)
        .bind(dest.to_string())
        .execute(&self.db)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound {
                kind: "VPN connection route",
                id: format!("{dest} of {id}"),
            });
        }
        kernel::ip_batch_force(
            Some(&self.vpn_gateway_namespace(&c.vpn_gateway_id)),
            &[format!("route del {dest}")],
        )
        .await;
        let ctx = self.vpn_ctx();
        for t in ctx.tunnels(id).await? {
            kernel::ip_batch_force(
                Some(&ctx.tunnel_ns(id, t.idx)),
                &[format!("route del {dest} dev {TUN_DEV}")],
            )
            .await;
        }
        self.to_conn(self.conn_row(p, id).await?).await
    }

    /// The routes of a connection in its tunnels and gateway router (through the first UP
    /// tunnel, as the monitor keeps them).
    async fn sync_connection_routes(&self, c: &ConnRow) -> Result<()> {
        let ctx = self.vpn_ctx();
        let routes = ctx.routes_of(&c.id).await?;
        let tunnels = ctx.tunnels(&c.id).await?;
        for t in &tunnels {
            tunnel_routes(&ctx.tunnel_ns(&c.id, t.idx), &routes).await?;
        }
        let idx = tunnels
            .iter()
            .find(|t| t.status == "UP")
            .map(|t| t.idx)
            .unwrap_or(1);
        ctx.route_connection(c, &tunnels, &routes, idx).await
    }

    /// The customer gateway configuration of a connection (it contains the pre-shared keys,
    /// as AWS's download does).
    pub async fn vpn_connection_configuration(
        &self,
        p: &Principal,
        id: &str,
        format: ConfigFormat,
    ) -> Result<String> {
        let c = self.conn_row(p, id).await?;
        let cgw = self.cgw_row(p, &c.customer_gateway_id).await?;
        let vgw = self.vgw_row(p, &c.vpn_gateway_id).await?;
        let vpc_cidr = match &vgw.vpc_id {
            Some(v) => Some(self.vpc_row(v).await?.cidr),
            None => None,
        };
        let ctx = self.vpn_ctx();
        let tunnels = ctx.tunnels(id).await?;
        let routes = ctx.routes_of(id).await?;
        let mut ts = Vec::new();
        for t in &tunnels {
            ts.push(config::Tunnel {
                idx: t.idx,
                outside_ip: t.outside_ip.clone(),
                inside: t.inside(),
                psk: t.psk.clone(),
                options: t.options()?,
            });
        }
        let info = config::Info {
            connection_id: c.id.clone(),
            cgw_ip: cgw.ip_address.clone(),
            cgw_asn: cgw.bgp_asn as u64,
            vgw_asn: vgw.asn as u64,
            static_routes_only: c.static_routes_only,
            vpc_cidr,
            customer_prefixes: routes,
            tunnels: ts,
        };
        Ok(match format {
            ConfigFormat::Strongswan => config::strongswan(&info),
            ConfigFormat::Generic => config::generic(&info),
        })
    }

    // ---- on-premises sites ----

    async fn site_row(&self, p: &Principal, id: &str) -> Result<SiteRow> {
        Kind::OnpremSite.parse("siteId", id)?;
        sqlx::query_as::<_, SiteRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {SITE_COLS} FROM onprem_sites WHERE id = ? AND account = ?"
        )))
        .bind(id)
        .bind(p.account().as_str())
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "on-premises site",
            id: id.to_string(),
        })
    }

    fn to_site(&self, r: SiteRow) -> OnpremSite {
        let lan: Ipv4Net = r.lan_cidr.parse().unwrap_or_default();
        OnpremSite {
            gateway_namespace: self.site_gw_ns(&r.id),
            host_namespace: self.site_host_ns(&r.id),
            gateway_lan_ip: net::nth(lan, 1).to_string(),
            host_ip: net::nth(lan, 10).to_string(),
            vpn_configured: r.vpn_config.is_some(),
            site_id: r.id,
            owner_id: r.account,
            name: r.name,
            public_ip: r.public_ip,
            lan_cidr: r.lan_cidr,
            created_at: r.created_at,
        }
    }

    /// Create an on-premises site: a gateway on the internet at a public address of
    /// 203.0.113.0/24, a LAN behind it and one host. Its charon runs from the start.
    pub async fn create_onprem_site(
        &self,
        p: &Principal,
        req: CreateOnpremSite,
    ) -> Result<OnpremSite> {
        let lan = net::parse_cidr("lanCidr", req.lan_cidr.as_deref().unwrap_or(DEFAULT_LAN))?;
        let private = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
            .iter()
            .filter_map(|s| s.parse::<Ipv4Net>().ok())
            .any(|n| n.contains(&lan));
        if !private || !(16..=28).contains(&lan.prefix_len()) {
            return Err(Error::invalid(
                "lanCidr",
                format!("{lan} must be a private (RFC 1918) /16 to /28"),
            ));
        }
        let _g = self.lock.lock().await;
        self.ensure_internet().await?;
        let used: Vec<String> = sqlx::query_scalar("SELECT public_ip FROM onprem_sites")
            .fetch_all(&self.db)
            .await?;
        let hosts: Ipv4Net = net::INTERNET_HOSTS.parse().unwrap_or_default();
        let Some(ip) = (100..250)
            .map(|n| net::nth(hosts, n))
            .find(|ip| !used.contains(&ip.to_string()))
        else {
            return Err(Error::Conflict(
                "no public address is left for another site".into(),
            ));
        };
        let id = self
            .fresh_id(Kind::OnpremSite, "onprem_sites", "id")
            .await?;
        sqlx::query(
            "INSERT INTO onprem_sites (id, account, name, public_ip, lan_cidr, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(p.account().as_str())
        .bind(&req.name)
        .bind(ip.to_string())
        .bind(lan.to_string())
        .bind(now())
        .execute(&self.db)
        .await?;
        let row = self.site_row(p, &id).await?;
        if let Err(e) = self.build_site(&row).await {
            self.teardown_site(&id).await;
            sqlx::query("DELETE FROM onprem_sites WHERE id = ?")
                .bind(&id)
                .execute(&self.db)
                .await?;
            return Err(e);
        }
        tracing::info!(site = %id, public_ip = %ip, lan = %lan, "on-premises site created");
        Ok(self.to_site(row))
    }

    /// The site's namespaces, links and charon (configured again when it was restarted and a
    /// configuration had been applied). Idempotent.
    async fn build_site(&self, r: &SiteRow) -> Result<()> {
        let gw = self.site_gw_ns(&r.id);
        let host = self.site_host_ns(&r.id);
        for ns in [&gw, &host] {
            if !kernel::netns_exists(ns) {
                kernel::netns_add(ns).await?;
            }
        }
        forwarding(&gw).await?;
        kernel::ip_batch(Some(&host), &["link set lo up".to_string()]).await?;
        let public: Ipv4Addr = r.public_ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
        let lan: Ipv4Net = r.lan_cidr.parse().unwrap_or_default();
        let (gw_ip, host_ip) = (net::nth(lan, 1), net::nth(lan, 10));
        let idev = format!("o{}", short(&r.id));
        ensure_pair(&gw, TUNNEL_OUT, &self.internet_namespace(), &idev).await?;
        kernel::ip_batch(
            Some(&gw),
            &[
                format!("addr replace {}/30 dev {TUNNEL_OUT}", net::IGW_ROUTER),
                format!("addr replace {public}/32 dev {TUNNEL_OUT}"),
                format!("link set {TUNNEL_OUT} up"),
                format!(
                    "route replace default via {} dev {TUNNEL_OUT} src {public}",
                    net::IGW_INTERNET
                ),
            ],
        )
        .await?;
        netlink::with_ns(&self.internet_namespace(), move |nl| async move {
            nl.addr(&idev, net::IGW_INTERNET, 30).await?;
            nl.up(&idev).await?;
            nl.host_route(public, net::IGW_ROUTER, &idev, net::INTERNET_HOST)
                .await
        })
        .await?;
        ensure_pair(&gw, SITE_LAN, &host, HOST_DEV).await?;
        kernel::ip_batch(
            Some(&gw),
            &[
                format!("addr replace {gw_ip}/{} dev {SITE_LAN}", lan.prefix_len()),
                format!("link set {SITE_LAN} up"),
            ],
        )
        .await?;
        kernel::ip_batch(
            Some(&host),
            &[
                format!("addr replace {host_ip}/{} dev {HOST_DEV}", lan.prefix_len()),
                format!("link set {HOST_DEV} up"),
                format!("route replace default via {gw_ip} dev {HOST_DEV}"),
            ],
        )
        .await?;
        let ch = self.site_charon(&r.id);
        if ch.ensure(true).await?
            && let Some(conf) = &r.vpn_config
        {
            swanctl_load(&ch, conf).await?;
        }
        Ok(())
    }

    async fn teardown_site(&self, id: &str) {
        let ch = self.site_charon(id);
        ch.stop().await;
        let _ = std::fs::remove_dir_all(&ch.dir);
        let names = vec![self.site_gw_ns(id), self.site_host_ns(id)];
        for (_, pids) in kernel::pids_in(&names) {
            for pid in pids {
                kernel::stop_process(pid, Duration::from_millis(300)).await;
            }
        }
        kernel::netns_del(&names).await;
    }

    pub async fn get_onprem_site(&self, p: &Principal, id: &str) -> Result<OnpremSite> {
        Ok(self.to_site(self.site_row(p, id).await?))
    }

    pub async fn list_onprem_sites(&self, p: &Principal) -> Result<Vec<OnpremSite>> {
        Ok(sqlx::query_as::<_, SiteRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {SITE_COLS} FROM onprem_sites WHERE account = ? ORDER BY seq"
        )))
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?
        .into_iter()
        .map(|r| self.to_site(r))
        .collect())
    }

    pub async fn delete_onprem_site(&self, p: &Principal, id: &str) -> Result<()> {
        self.site_row(p, id).await?;
        let _g = self.lock.lock().await;
        self.teardown_site(id).await;
        sqlx::query("DELETE FROM onprem_sites WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Apply a downloaded strongSwan configuration on the site's gateway, as its engineer
    /// would: write `swanctl.conf` and run `swanctl --load-all` against the site's charon.
    pub async fn apply_onprem_vpn_config(
        &self,
        p: &Principal,
        id: &str,
        req: ApplyVpnConfig,
    ) -> Result<OnpremSite> {
        let r = self.site_row(p, id).await?;
        if req.swanctl_conf.len() > 64 * 1024 {
            return Err(Error::TooLarge {
                field: "swanctlConf".into(),
                reason: "at most 64 KiB".into(),
            });
        }
        let _g = self.lock.lock().await;
        let ch = self.site_charon(id);
        ch.ensure(true).await?;
        swanctl_load(&ch, &req.swanctl_conf).await?;
        sqlx::query("UPDATE onprem_sites SET vpn_config = ? WHERE id = ?")
            .bind(&req.swanctl_conf)
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(self.to_site(SiteRow {
            vpn_config: Some(req.swanctl_conf),
            ..r
        }))
    }

    /// Run a command on the site's host (or its gateway).
    pub async fn onprem_exec(
        &self,
        p: &Principal,
        id: &str,
        on_gateway: bool,
        command: &[String],
        timeout: Duration,
    ) -> Result<ExecOutputAlias> {
        self.site_row(p, id).await?;
        let ns = if on_gateway {
            self.site_gw_ns(id)
        } else {
            self.site_host_ns(id)
        };
        super::instance::exec_in(&ns, command, &[], timeout).await
    }

    /// The site gateway's charon (tests stop it to see the tunnels go down).
    pub fn onprem_charon_pid(&self, id: &str) -> Option<i32> {
        self.site_charon(id).running_pid()
    }

    /// A tunnel's charon pid (tests kill it to see the other tunnel carry the traffic).
    pub fn vpn_tunnel_charon_pid(&self, conn_id: &str, idx: i64) -> Option<i32> {
        self.vpn_ctx().charon(conn_id, idx).running_pid()
    }

    // ---- restart ----

    /// Names of every namespace VPN resources own.
    pub(crate) async fn vpn_namespaces(&self) -> Result<Vec<String>> {
        let ctx = self.vpn_ctx();
        let mut out: Vec<String> =
            sqlx::query_scalar::<_, String>("SELECT id FROM vpn_gateways WHERE state != 'deleted'")
                .fetch_all(&self.db)
                .await?
                .iter()
                .map(|g| ctx.vgw_ns(g))
                .collect();
        let tunnels: Vec<(String, i64)> = sqlx::query_as(
            "SELECT t.connection_id, t.idx FROM vpn_tunnels t JOIN vpn_connections c ON c.id = t.connection_id WHERE c.state IN ('pending', 'available')",
        )
        .fetch_all(&self.db)
        .await?;
        out.extend(tunnels.iter().map(|(c, i)| ctx.tunnel_ns(c, *i)));
        for s in sqlx::query_scalar::<_, String>("SELECT id FROM onprem_sites")
            .fetch_all(&self.db)
            .await?
        {
            out.push(self.site_gw_ns(&s));
            out.push(self.site_host_ns(&s));
        }
        Ok(out)
    }

    /// On open (under the engine lock, after VPC routers are rebuilt): rebuild what is
    /// missing and adopt running charons (a charon that is gone is started and configured
    /// again). Returns the VPCs whose routes must be applied again.
    pub(crate) async fn reconcile_vpn(&self) -> Result<Vec<String>> {
        let sites = sqlx::query_as::<_, SiteRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {SITE_COLS} FROM onprem_sites ORDER BY seq"
        )))
        .fetch_all(&self.db)
        .await?;
        let conns = sqlx::query_as::<_, ConnRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {CONN_COLS} FROM vpn_connections WHERE state IN ('pending', 'available', 'deleting')"
        )))
        .fetch_all(&self.db)
        .await?;
        if !sites.is_empty() || !conns.is_empty() {
            self.ensure_internet().await?;
        }
        for s in &sites {
            self.build_site(s).await?;
        }
        let vgws = sqlx::query_as::<_, VgwRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {VGW_COLS} FROM vpn_gateways WHERE state != 'deleted'"
        )))
        .fetch_all(&self.db)
        .await?;
        let mut vpcs = Vec::new();
        for g in &vgws {
            self.build_vgw_router(&g.id).await?;
            self.plumb_vgw(g).await?;
            vpcs.extend(g.vpc_id.clone());
        }
        for c in &conns {
            if c.state == "deleting" {
                // A crash in the middle of a delete: finish it.
                self.teardown_connection(c).await;
                for sql in [
                    "DELETE FROM public_ips WHERE owner_id = ?1",
                    "DELETE FROM vpn_connection_routes WHERE connection_id = ?1",
                    "UPDATE vpn_tunnels SET psk = '' WHERE connection_id = ?1",
                    "UPDATE vpn_connections SET state = 'deleted' WHERE id = ?1",
                ] {
                    sqlx::query(sql).bind(&c.id).execute(&self.db).await?;
                }
                continue;
            }
            let vpc: Option<String> =
                sqlx::query_scalar("SELECT vpc_id FROM vpn_gateways WHERE id = ?")
                    .bind(&c.vpn_gateway_id)
                    .fetch_optional(&self.db)
                    .await?
                    .flatten();
            if let Some(vpc) = vpc {
                self.build_connection(c, &vpc).await?;
                if c.state == "pending" {
                    sqlx::query("UPDATE vpn_connections SET state = 'available' WHERE id = ?")
                        .bind(&c.id)
                        .execute(&self.db)
                        .await?;
                }
            }
        }
        Ok(vpcs)
    }
}

/// The result type of [`Engine::onprem_exec`].
pub type ExecOutputAlias = crate::types::ExecOutput;

async fn forwarding(ns: &str) -> Result<()> {
    kernel::sysctls(
        ns,
        &[
            ("net/ipv4/conf/all/rp_filter", "0"),
            ("net/ipv4/conf/default/rp_filter", "0"),
            ("net/ipv4/ip_forward", "1"),
        ],
    )
    .await?;
    kernel::ip_batch(Some(ns), &["link set lo up".to_string()]).await
}

/// A veth pair `a_dev` in `a` ↔ `b_dev` in `b`; a pair missing either end is made again.
async fn ensure_pair(a: &str, a_dev: &str, b: &str, b_dev: &str) -> Result<()> {
    let (ad, bd) = (a_dev.to_string(), b_dev.to_string());
    let has_a = netlink::with_ns(a, move |nl| async move { Ok(nl.has(&ad).await) }).await?;
    let has_b = netlink::with_ns(b, move |nl| async move { Ok(nl.has(&bd).await) }).await?;
    if has_a && has_b {
        return Ok(());
    }
    let bd = b_dev.to_string();
    netlink::with_ns(b, move |nl| async move { nl.link_del(&bd).await }).await?;
    let (ad, bd, peer) = (a_dev.to_string(), b_dev.to_string(), b.to_string());
    netlink::with_ns(a, move |nl| async move {
        nl.link_del(&ad).await?;
        nl.veth(&ad, &bd, &peer, None).await
    })
    .await
}

/// Routes of the customer's prefixes into charon's TUN device (skipped while it is absent).
async fn tunnel_routes(ns: &str, routes: &[Ipv4Net]) -> Result<()> {
    let lines: Vec<String> = routes
        .iter()
        .map(|r| format!("route replace {r} dev {TUN_DEV}"))
        .collect();
    kernel::ip_batch(Some(ns), &lines).await
}

/// A new charon's configuration: the tunnel's PSK and its connection, over vici.
async fn load_tunnel(ch: &Charon, t: &TunnelRow, cgw_ip: &str) -> Result<()> {
    let o = t.options()?;
    let spec = Spec::from(&o);
    let mut v = Vici::connect(&ch.socket()).await?;
    v.load_psk("psk", &t.psk, &t.outside_ip, cgw_ip).await?;
    let dpd = if spec.dpd_action == "none" {
        "0s".to_string()
    } else {
        format!("{}s", (spec.dpd_timeout / 3).max(10))
    };
    let mut children = HashMap::new();
    children.insert(
        CONN.to_string(),
        Child {
            local_ts: vec!["0.0.0.0/0".into()],
            remote_ts: vec!["0.0.0.0/0".into()],
            esp_proposals: spec.esp_proposals(),
            rekey_time: format!("{}s", spec.p2_life),
            start_action: spec.start_action().into(),
            dpd_action: spec.dpd_action().into(),
        },
    );
    v.load_conn(
        CONN,
        Conn {
            version: spec.version().into(),
            local_addrs: vec![t.outside_ip.clone()],
            remote_addrs: vec![cgw_ip.to_string()],
            encap: true,
            mobike: false,
            proposals: spec.ike_proposals(),
            rekey_time: format!("{}s", spec.p1_life),
            dpd_delay: dpd,
            dpd_timeout: format!("{}s", spec.dpd_timeout),
            unique: "replace".into(),
            local: Auth {
                auth: "psk".into(),
                id: t.outside_ip.clone(),
            },
            remote: Auth {
                auth: "psk".into(),
                id: cgw_ip.to_string(),
            },
            children,
        },
    )
    .await?;
    tracing::info!(ns = %ch.ns, tunnel = t.idx, "tunnel configuration loaded over vici");
    Ok(())
}

/// `swanctl --load-all --file <dir>/swanctl.conf` against the site's charon.
async fn swanctl_load(ch: &Charon, conf: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let path = ch.dir.join("swanctl.conf");
    std::fs::write(&path, conf).map_err(Error::io(format!("write {}", path.display())))?;
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    let out = tokio::process::Command::new("swanctl")
        .arg("--load-all")
        .arg("--noprompt")
        .arg("--uri")
        .arg(format!("unix://{}", ch.socket().display()))
        .arg("--file")
        .arg(&path)
        .output()
        .await
        .map_err(|e| {
            Error::kernel(
                "swanctl --load-all",
                format!("{e} (install the Debian package strongswan-swanctl)"),
            )
        })?;
    if !out.status.success() {
        // swanctl's own words (they never contain the secrets' values).
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("failed to load") && !l.contains("opening directory"))
            .collect();
        return Err(Error::invalid(
            "swanctlConf",
            format!("swanctl could not load it: {}", lines.join("; ")),
        ));
    }
    Ok(())
}

/// A free tunnel inside CIDR: a /30 of 169.254.0.0/16 AWS does not reserve, unused by the
/// gateway's tunnels (and by `taken`).
fn pick_inside(used: &[String], taken: &[Ipv4Net]) -> Ipv4Net {
    for _ in 0..4096 {
        let n = rand::random::<u16>() & 0xfffc;
        let net = Ipv4Net::new(
            Ipv4Addr::new(169, 254, (n >> 8) as u8, (n & 0xff) as u8),
            30,
        )
        .unwrap_or_default();
        let s = net.to_string();
        if options::RESERVED_INSIDE.contains(&s.as_str())
            || used.contains(&s)
            || taken.contains(&net)
            || net.network().octets()[2] == 0
        {
            continue;
        }
        return net;
    }
    Ipv4Net::new(Ipv4Addr::new(169, 254, 100, 0), 30).unwrap_or_default()
}
