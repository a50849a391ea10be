//! Links, addresses, routes and rules through rtnetlink, inside named namespaces.
//!
//! A netlink socket talks to the namespace it was created in, so each call opens one on a
//! thread that entered the namespace (`linkplane_netns::run_in`), drives it there with a
//! small current-thread runtime, and closes it: one thread instead of one `ip` process.

use std::fs::File;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;

use futures::TryStreamExt;
use ipnet::Ipv4Net;
use netlink_packet_route::link::{InfoData, InfoVeth};
use netlink_packet_route::route::{RouteRealm, RouteType};
use netlink_packet_route::rule::RuleAction;
use rtnetlink::{LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::engine::render::Hop;
use crate::error::{Error, Result};

/// The main routing table.
pub const MAIN_TABLE: u32 = 254;

/// A netlink handle inside one namespace.
pub struct Nl {
    handle: rtnetlink::Handle,
    ns: String,
}

/// Run `f` with a netlink handle inside namespace `ns`.
pub async fn with_ns<T, F, Fut>(ns: &str, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(Nl) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>>,
{
    let name = ns.to_string();
    let joined = tokio::task::spawn_blocking(move || {
        let inner = name.clone();
        linkplane_netns::run_in(&name, move || -> Result<T> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::kernel(format!("netlink in {inner}"), e.to_string()))?;
            rt.block_on(async move {
                let (conn, handle, _) = rtnetlink::new_connection().map_err(|e| {
                    Error::kernel(format!("netlink socket in {inner}"), e.to_string())
                })?;
                let driver = tokio::spawn(conn);
                let out = f(Nl { handle, ns: inner }).await;
                driver.abort();
                out
            })
        })
    })
    .await
    .map_err(|e| Error::kernel(format!("netlink in {ns}"), e.to_string()))?;
    joined.map_err(|e| Error::kernel(format!("netlink in {ns}"), e.to_string()))?
}

/// Whether a netlink error is "no such device/entry" (for idempotent removal).
fn is_missing(e: &rtnetlink::Error) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m)
        if m.code.is_some_and(|c| [-libc::ENODEV, -libc::ENOENT, -libc::ESRCH].contains(&c.get())))
}

impl Nl {
    fn err(&self, op: String) -> impl FnOnce(rtnetlink::Error) -> Error + '_ {
        move |e| Error::kernel(format!("in {}: {op}", self.ns), e.to_string())
    }

    /// The index of a link by name.
    pub async fn index(&self, name: &str) -> Result<u32> {
        let msg = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute()
            .try_next()
            .await
            .map_err(self.err(format!("find link {name}")))?;
        msg.map(|m| m.header.index)
            .ok_or_else(|| Error::kernel(format!("in {}", self.ns), format!("no link {name}")))
    }

    /// Whether a link of that name exists here.
    pub async fn has(&self, name: &str) -> bool {
        self.index(name).await.is_ok()
    }

    pub async fn up(&self, name: &str) -> Result<()> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_name(name).up().build())
            .execute()
            .await
            .map_err(self.err(format!("link set {name} up")))
    }

    /// A bridge, up.
    pub async fn bridge(&self, name: &str) -> Result<u32> {
        self.handle
            .link()
            .add(LinkBridge::new(name).up().build())
            .execute()
            .await
            .map_err(self.err(format!("link add {name} type bridge")))?;
        self.index(name).await
    }

    /// A veth pair `name` (here, up, optionally a port of bridge `master`) ↔ `peer`, created
    /// directly inside namespace `peer_ns` (never in the host namespace).
    pub async fn veth(
        &self,
        name: &str,
        peer: &str,
        peer_ns: &str,
        master: Option<u32>,
    ) -> Result<()> {
        let path = linkplane_netns::path(peer_ns);
        let file = File::open(&path).map_err(|e| {
            Error::kernel(
                format!("in {}: open {}", self.ns, path.display()),
                e.to_string(),
            )
        })?;
        let peer_msg = LinkUnspec::new_with_name(peer)
            .setns_by_fd(file.as_raw_fd())
            .build();
        let mut b = LinkVeth::new(name, peer)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg)))
            .up();
        if let Some(m) = master {
            b = b.controller(m);
        }
        let res = self.handle.link().add(b.build()).execute().await;
        drop(file);
        res.map_err(self.err(format!(
            "link add {name} type veth peer name {peer} netns {peer_ns}"
        )))
    }

    pub async fn addr(&self, dev: &str, ip: Ipv4Addr, len: u8) -> Result<()> {
        let idx = self.index(dev).await?;
        self.handle
            .address()
            .add(idx, IpAddr::V4(ip), len)
            .replace()
            .execute()
            .await
            .map_err(self.err(format!("addr add {ip}/{len} dev {dev}")))
    }

    /// `route replace <dest> <hop> table <table>`.
    pub async fn route(&self, dest: Ipv4Net, table: u32, hop: &Hop) -> Result<()> {
        let base = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(dest.network(), dest.prefix_len())
            .table_id(table);
        let msg = match hop {
            Hop::Blackhole => base.kind(RouteType::BlackHole).build(),
            Hop::Internet { realm } => {
                let idx = self.index(crate::engine::render::IGW_DEV).await?;
                let b = base
                    .gateway(crate::net::IGW_INTERNET)
                    .output_interface(idx)
                    .onlink();
                match realm {
                    Some(r) => b
                        .realm(RouteRealm {
                            source: 0,
                            destination: *r as u16,
                        })
                        .build(),
                    None => b.build(),
                }
            }
            Hop::Peer { dev, via } => {
                let idx = self.index(dev).await?;
                base.gateway(*via).output_interface(idx).onlink().build()
            }
        };
        self.handle
            .route()
            .add(msg)
            .replace()
            .execute()
            .await
            .map_err(self.err(format!("route replace {dest} table {table} ({hop:?})")))
    }

    /// `route replace <ip>/32 via <via> dev <dev> onlink src <src>` (main table).
    pub async fn host_route(
        &self,
        ip: Ipv4Addr,
        via: Ipv4Addr,
        dev: &str,
        src: Ipv4Addr,
    ) -> Result<()> {
        let idx = self.index(dev).await?;
        let msg = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(ip, 32)
            .gateway(via)
            .output_interface(idx)
            .onlink()
            .pref_source(src)
            .build();
        self.handle
            .route()
            .add(msg)
            .replace()
            .execute()
            .await
            .map_err(self.err(format!("route replace {ip}/32 via {via} dev {dev}")))
    }

    pub async fn default_route(&self, via: Ipv4Addr) -> Result<()> {
        let msg = RouteMessageBuilder::<Ipv4Addr>::new().gateway(via).build();
        self.handle
            .route()
            .add(msg)
            .replace()
            .execute()
            .await
            .map_err(self.err(format!("route add default via {via}")))
    }

    /// `rule add [iif <iif>] [to <to>] lookup <table> | prohibit  prio <prio>`.
    pub async fn rule(
        &self,
        iif: Option<&str>,
        to: Option<Ipv4Net>,
        table: Option<u32>,
        prio: u32,
    ) -> Result<()> {
        let mut req = self.handle.rule().add().v4().priority(prio);
        if let Some(i) = iif {
            req = req.input_interface(i.to_string());
        }
        if let Some(t) = to {
            req = req.destination_prefix(t.network(), t.prefix_len());
        }
        req = match table {
            Some(t) => req.table_id(t).action(RuleAction::ToTable),
            None => req.action(RuleAction::Prohibit),
        };
        req.execute().await.map_err(self.err(format!(
            "rule add iif {iif:?} to {to:?} table {table:?} prio {prio}"
        )))
    }

    /// Delete a link; a missing one is not an error.
    pub async fn link_del(&self, name: &str) -> Result<()> {
        let idx = match self.index(name).await {
            Ok(i) => i,
            Err(_) => return Ok(()),
        };
        match self.handle.link().del(idx).execute().await {
            Err(e) if !is_missing(&e) => Err(self.err(format!("link del {name}"))(e)),
            _ => Ok(()),
        }
    }

    /// Delete a route; a missing one is not an error.
    pub async fn route_del(&self, dest: Ipv4Net, table: u32) -> Result<()> {
        // Type unspecified, as `ip route del` sends it: a blackhole matches too.
        let msg = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(dest.network(), dest.prefix_len())
            .table_id(table)
            .kind(RouteType::Unspec)
            .build();
        match self.handle.route().del(msg).execute().await {
            Err(e) if !is_missing(&e) => {
                Err(self.err(format!("route del {dest} table {table}"))(e))
            }
            _ => Ok(()),
        }
    }

    /// Delete every rule of `iif` (best effort).
    pub async fn forget_rules(&self, iif: &str) {
        let rules: Vec<_> = self
            .handle
            .rule()
            .get(rtnetlink::IpVersion::V4)
            .execute()
            .try_collect()
            .await
            .unwrap_or_default();
        for r in rules {
            let ours = r.attributes.iter().any(
                |a| matches!(a, netlink_packet_route::rule::RuleAttribute::Iifname(n) if n == iif),
            );
            if ours {
                let _ = self.handle.rule().del(r).execute().await;
            }
        }
    }

    /// Delete every rule of `iif` and every route of `table` (best effort).
    pub async fn forget_table(&self, iif: &str, table: u32) {
        let rules: Vec<_> = self
            .handle
            .rule()
            .get(rtnetlink::IpVersion::V4)
            .execute()
            .try_collect()
            .await
            .unwrap_or_default();
        for r in rules {
            let ours = r.attributes.iter().any(
                |a| matches!(a, netlink_packet_route::rule::RuleAttribute::Iifname(n) if n == iif),
            );
            if ours {
                let _ = self.handle.rule().del(r).execute().await;
            }
        }
        let routes: Vec<_> = self
            .handle
            .route()
            .get(
                RouteMessageBuilder::<Ipv4Addr>::new()
                    .table_id(table)
                    .build(),
            )
            .execute()
            .try_collect()
            .await
            .unwrap_or_default();
        for r in routes {
            let in_table = r.attributes.iter().any(|a| {
                matches!(a, netlink_packet_route::route::RouteAttribute::Table(t) if *t == table)
            }) || u32::from(r.header.table) == table;
            if in_table {
                let _ = self.handle.route().del(r).execute().await;
            }
        }
    }
}
