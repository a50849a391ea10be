//! VPCs, subnets and route tables.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::render::{self, Hop};
use super::{Engine, authorize, now};
use crate::error::{Error, Result};
use crate::ids::{self, Kind, Principal};
use crate::kernel;
use crate::net;
use crate::netlink;
use crate::types::{CreateRoute, CreateSubnet, CreateVpc, Route, Subnet, Vpc, VpcAttributes};

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct VpcRow {
    pub id: String,
    pub account: String,
    pub cidr: String,
    pub region: String,
    pub name: Option<String>,
    pub created_at: String,
    pub enable_dns_hostnames: bool,
}

impl VpcRow {
    pub fn net(&self) -> Ipv4Net {
        self.cidr.parse().unwrap_or_default()
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SubnetRow {
    pub seq: i64,
    pub id: String,
    pub vpc_id: String,
    pub account: String,
    pub cidr: String,
    pub az: String,
    pub map_public_ip: bool,
    pub name: Option<String>,
    pub created_at: String,
}

impl SubnetRow {
    pub fn net(&self) -> Ipv4Net {
        self.cidr.parse().unwrap_or_default()
    }
    pub fn table(&self) -> u32 {
        render::route_table(self.seq)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RouteRow {
    pub destination: String,
    pub target: String,
}

const VPC_COLS: &str = "id, account, cidr, region, name, created_at, enable_dns_hostnames";
const SUBNET_COLS: &str = "seq, id, vpc_id, account, cidr, az, map_public_ip, name, created_at";

impl Engine {
    pub(crate) async fn vpc_row(&self, id: &str) -> Result<VpcRow> {
        Kind::Vpc.parse("vpcId", id)?;
        sqlx::query_as::<_, VpcRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {VPC_COLS} FROM vpcs WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "VPC",
            id: id.to_string(),
        })
    }

    pub(crate) async fn subnet_row(&self, id: &str) -> Result<SubnetRow> {
        Kind::Subnet.parse("subnetId", id)?;
        sqlx::query_as::<_, SubnetRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBNET_COLS} FROM subnets WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "subnet",
            id: id.to_string(),
        })
    }

    pub(crate) async fn subnets_of(&self, vpc_id: &str) -> Result<Vec<SubnetRow>> {
        Ok(sqlx::query_as::<_, SubnetRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBNET_COLS} FROM subnets WHERE vpc_id = ? ORDER BY seq"
        )))
        .bind(vpc_id)
        .fetch_all(&self.db)
        .await?)
    }

    pub(crate) async fn all_vpcs(&self) -> Result<Vec<VpcRow>> {
        Ok(sqlx::query_as::<_, VpcRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {VPC_COLS} FROM vpcs ORDER BY seq"
        )))
        .fetch_all(&self.db)
        .await?)
    }

    pub(crate) async fn default_group(&self, vpc_id: &str) -> Result<String> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM security_groups WHERE vpc_id = ? AND name = 'default'",
        )
        .bind(vpc_id)
        .fetch_optional(&self.db)
        .await?;
        Ok(id.unwrap_or_default())
    }

    pub(crate) async fn to_vpc(&self, r: VpcRow) -> Result<Vpc> {
        Ok(Vpc {
            default_security_group_id: self.default_group(&r.id).await?,
            namespace: self.router_namespace(&r.id),
            dns_resolver: net::resolver(r.net()).to_string(),
            state: "available".into(),
            vpc_id: r.id,
            owner_id: r.account,
            cidr_block: r.cidr,
            region: r.region,
            name: r.name,
            enable_dns_hostnames: r.enable_dns_hostnames,
            created_at: r.created_at,
        })
    }

    pub(crate) fn to_subnet(&self, r: SubnetRow) -> Subnet {
        Subnet {
            gateway: net::gateway(r.net()).to_string(),
            route_table: r.table(),
            bridge: render::bridge(&r.id),
            subnet_id: r.id,
            vpc_id: r.vpc_id,
            owner_id: r.account,
            cidr_block: r.cidr,
            availability_zone: r.az,
            map_public_ip_on_launch: r.map_public_ip,
            name: r.name,
            created_at: r.created_at,
        }
    }

    /// Create a VPC: a router namespace with forwarding on, the resolver address (base+2)
    /// and a `default` security group (all traffic from itself, all egress).
    pub async fn create_vpc(&self, p: &Principal, req: CreateVpc) -> Result<Vpc> {
        self.create_vpc_with_attributes(p, req, VpcAttributes::default())
            .await
    }

    /// [`Engine::create_vpc`] with the VPC's attributes (`enableDnsHostnames`).
    pub async fn create_vpc_with_attributes(
        &self,
        p: &Principal,
        req: CreateVpc,
        attrs: VpcAttributes,
    ) -> Result<Vpc> {
        let cidr = net::parse_vpc_cidr(&req.cidr_block)?;
        let region = ids::parse_region(req.region.as_deref().unwrap_or(ids::DEFAULT_REGION))?;
        let _g = self.lock.lock().await;
        let id = self.fresh_id(Kind::Vpc, "vpcs", "id").await?;
        let sg = self
            .fresh_id(Kind::SecurityGroup, "security_groups", "id")
            .await?;
        let created = now();
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO vpcs (id, account, cidr, region, name, created_at, enable_dns_hostnames) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(p.account().as_str())
        .bind(cidr.to_string())
        .bind(&region)
        .bind(&req.name)
        .bind(&created)
        .bind(attrs.enable_dns_hostnames)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO security_groups (id, account, vpc_id, name, description, created_at) VALUES (?, ?, ?, 'default', 'default VPC security group', ?)",
        )
        .bind(&sg)
        .bind(p.account().as_str())
        .bind(&id)
        .bind(&created)
        .execute(&mut *tx)
        .await?;
        for (dir, cidr, src) in [
            ("ingress", None, Some(sg.as_str())),
            ("egress", Some("0.0.0.0/0"), None),
        ] {
            sqlx::query(
                "INSERT INTO sg_rules (id, group_id, direction, protocol, from_port, to_port, cidr, source_group) VALUES (?, ?, ?, '-1', -1, -1, ?, ?)",
            )
            .bind(Kind::SecurityGroupRule.new_id())
            .bind(&sg)
            .bind(dir)
            .bind(cidr)
            .bind(src)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let row = self.vpc_row(&id).await?;
        if let Err(e) = self.build_router(&row).await {
            kernel::netns_del(&[self.router_namespace(&id)]).await;
            self.forget_vpc(&id).await?;
            return Err(e);
        }
        if let Err(e) = self.ensure_vpc_dns(&id).await {
            self.drop_vpc_dns(&id).await;
            kernel::netns_del(&[self.router_namespace(&id)]).await;
            self.forget_vpc(&id).await?;
            return Err(e);
        }
        tracing::info!(vpc = %id, %cidr, account = %p.account(), "VPC created");
        self.to_vpc(row).await
    }

    /// The router namespace with forwarding, the resolver address and the nft table.
    pub(crate) async fn build_router(&self, vpc: &VpcRow) -> Result<()> {
        let ns = self.router_namespace(&vpc.id);
        kernel::netns_add(&ns).await?;
        kernel::sysctls(
            &ns,
            &[
                ("net/ipv4/conf/all/rp_filter", "0"),
                ("net/ipv4/conf/default/rp_filter", "0"),
                ("net/ipv4/ip_forward", "1"),
            ],
        )
        .await?;
        let (resolver, cidr) = (net::resolver(vpc.net()), vpc.net());
        netlink::with_ns(&ns, move |nl| async move {
            nl.up("lo").await?;
            nl.addr("lo", resolver, 32).await?;
            nl.rule(None, Some(cidr), Some(netlink::MAIN_TABLE), 50)
                .await
        })
        .await?;
        self.render_router_nft(&vpc.id).await
    }

    /// Load the router's nftables table with every current public IP and NAT gateway.
    pub(crate) async fn render_router_nft(&self, vpc_id: &str) -> Result<()> {
        let public: Vec<(String, String)> = sqlx::query_as(
            "SELECT public_ip, private_ip FROM instances WHERE vpc_id = ? AND public_ip IS NOT NULL",
        )
        .bind(vpc_id)
        .fetch_all(&self.db)
        .await?;
        let nat: Vec<(i64, String)> = sqlx::query_as(
            "SELECT n.seq, e.public_ip FROM nat_gateways n JOIN elastic_ips e ON e.id = n.allocation_id WHERE n.vpc_id = ?",
        )
        .bind(vpc_id)
        .fetch_all(&self.db)
        .await?;
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap_or(Ipv4Addr::UNSPECIFIED);
        let public: Vec<(Ipv4Addr, Ipv4Addr)> =
            public.iter().map(|(a, b)| (ip(a), ip(b))).collect();
        let nat: Vec<(i64, Ipv4Addr)> = nat.iter().map(|(r, a)| (*r, ip(a))).collect();
        let script = render::router_table(self.prefix.as_str(), &public, &nat);
        kernel::nft(&self.router_namespace(vpc_id), &script).await
    }

    async fn forget_vpc(&self, id: &str) -> Result<()> {
        let mut tx = self.db.begin().await?;
        for sql in [
            "DELETE FROM routes WHERE subnet_id IN (SELECT id FROM subnets WHERE vpc_id = ?)",
            "DELETE FROM subnets WHERE vpc_id = ?",
            "DELETE FROM sg_rules WHERE group_id IN (SELECT id FROM security_groups WHERE vpc_id = ?)",
            "DELETE FROM security_groups WHERE vpc_id = ?",
            "DELETE FROM internet_gateways WHERE vpc_id = ?",
            "DELETE FROM vpcs WHERE id = ?",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_vpc(&self, p: &Principal, id: &str) -> Result<Vpc> {
        let row = self.vpc_row(id).await?;
        authorize(p, &row.account, "describe", id)?;
        self.to_vpc(row).await
    }

    /// The caller's account's VPCs.
    pub async fn list_vpcs(&self, p: &Principal) -> Result<Vec<Vpc>> {
        let rows = sqlx::query_as::<_, VpcRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {VPC_COLS} FROM vpcs WHERE account = ? ORDER BY seq"
        )))
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.to_vpc(r).await?);
        }
        Ok(out)
    }

    /// Delete a VPC with its subnets, security groups and internet gateway. Refused while
    /// instances, NAT gateways or peering connections (pending or active) remain.
    pub async fn delete_vpc(&self, p: &Principal, id: &str) -> Result<()> {
        let row = self.vpc_row(id).await?;
        authorize(p, &row.account, "delete", id)?;
        let _g = self.lock.lock().await;
        let mut blockers = Vec::new();
        for (sql, what) in [
            ("SELECT id FROM instances WHERE vpc_id = ?1", "instances"),
            (
                "SELECT id FROM nat_gateways WHERE vpc_id = ?1",
                "NAT gateways",
            ),
            (
                "SELECT id FROM peerings WHERE (requester_vpc = ?1 OR accepter_vpc = ?1) AND status IN ('initiating-request', 'pending-acceptance', 'active')",
                "VPC peering connections",
            ),
            (
                "SELECT kind || ' ' || id FROM vpc_dependents WHERE vpc_id = ?1",
                "dependents",
            ),
        ] {
            let ids: Vec<String> = sqlx::query_scalar(sql).bind(id).fetch_all(&self.db).await?;
            if !ids.is_empty() {
                blockers.push(format!("{what} {}", ids.join(", ")));
            }
        }
        if !blockers.is_empty() {
            return Err(Error::Conflict(format!(
                "VPC {id} still has {}; delete them first",
                blockers.join("; ")
            )));
        }
        self.forget_vpc_dns(id).await?;
        self.forget_ns_thread(&self.router_namespace(id));
        kernel::netns_del(&[self.router_namespace(id)]).await;
        let inet = self.internet_namespace();
        if kernel::netns_exists(&inet) {
            let port = render::internet_port(id);
            let _ =
                netlink::with_ns(&inet, move |nl| async move { nl.link_del(&port).await }).await;
        }
        self.forget_vpc(id).await?;
        tracing::info!(vpc = %id, "VPC deleted");
        Ok(())
    }

    /// Record that `id` (of `kind`, e.g. "VPC endpoint") lives in `vpc_id`, built by another
    /// part of linkplane: deleting the VPC is refused until [`Engine::remove_vpc_dependent`].
    pub async fn add_vpc_dependent(&self, vpc_id: &str, id: &str, kind: &str) -> Result<()> {
        self.vpc_row(vpc_id).await?;
        sqlx::query("INSERT OR REPLACE INTO vpc_dependents (id, vpc_id, kind) VALUES (?, ?, ?)")
            .bind(id)
            .bind(vpc_id)
            .bind(kind)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Forget a dependent recorded with [`Engine::add_vpc_dependent`].
    pub async fn remove_vpc_dependent(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM vpc_dependents WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Create a subnet: a bridge in the VPC router holding the gateway (base+1), and its own
    /// route table (policy routing on the bridge).
    pub async fn create_subnet(&self, p: &Principal, req: CreateSubnet) -> Result<Subnet> {
        let vpc = self.vpc_row(&req.vpc_id).await?;
        authorize(p, &vpc.account, "create a subnet in", &vpc.id)?;
        let cidr = net::parse_subnet_cidr(vpc.net(), &req.cidr_block)?;
        let az = ids::parse_az(&vpc.region, &req.availability_zone)?;
        let _g = self.lock.lock().await;
        for s in self.subnets_of(&vpc.id).await? {
            if net::overlaps(s.net(), cidr) {
                return Err(Error::Conflict(format!(
                    "subnet CIDR {cidr} overlaps {} of subnet {}",
                    s.cidr, s.id
                )));
            }
        }
        let id = self.fresh_id(Kind::Subnet, "subnets", "id").await?;
        sqlx::query(
            "INSERT INTO subnets (id, vpc_id, account, cidr, az, map_public_ip, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&vpc.id)
        .bind(&vpc.account)
        .bind(cidr.to_string())
        .bind(&az)
        .bind(req.map_public_ip_on_launch)
        .bind(&req.name)
        .bind(now())
        .execute(&self.db)
        .await?;
        let row = self.subnet_row(&id).await?;
        if let Err(e) = self.plumb_subnet(&row).await {
            self.unplumb_subnet(&row).await;
            sqlx::query("DELETE FROM subnets WHERE id = ?")
                .bind(&id)
                .execute(&self.db)
                .await?;
            return Err(e);
        }
        self.sync_resolver_route(&vpc.id).await?;
        tracing::info!(subnet = %id, vpc = %vpc.id, %cidr, "subnet created");
        Ok(self.to_subnet(row))
    }

    /// The subnet's bridge with the gateway address, and its policy routing: packets from
    /// the bridge use the subnet's table, and nothing falls through to another one.
    pub(crate) async fn plumb_subnet(&self, s: &SubnetRow) -> Result<()> {
        let (b, table) = (render::bridge(&s.id), s.table());
        let (gw, len) = (net::gateway(s.net()), s.net().prefix_len());
        netlink::with_ns(&self.router_namespace(&s.vpc_id), move |nl| async move {
            nl.bridge(&b).await?;
            nl.addr(&b, gw, len).await?;
            nl.rule(Some(&b), None, Some(table), 100).await?;
            nl.rule(Some(&b), None, None, 101).await
        })
        .await
    }

    async fn unplumb_subnet(&self, s: &SubnetRow) {
        let (b, table) = (render::bridge(&s.id), s.table());
        let done = netlink::with_ns(&self.router_namespace(&s.vpc_id), move |nl| async move {
            nl.link_del(&b).await?;
            nl.forget_table(&b, table).await;
            Ok(())
        })
        .await;
        if let Err(e) = done {
            tracing::debug!(subnet = %s.id, error = %e, "subnet removal incomplete");
        }
    }

    pub async fn get_subnet(&self, p: &Principal, id: &str) -> Result<Subnet> {
        let row = self.subnet_row(id).await?;
        authorize(p, &row.account, "describe", id)?;
        Ok(self.to_subnet(row))
    }

    /// The caller's subnets, optionally of one VPC.
    pub async fn list_subnets(&self, p: &Principal, vpc_id: Option<&str>) -> Result<Vec<Subnet>> {
        let rows = match vpc_id {
            Some(v) => {
                let vpc = self.vpc_row(v).await?;
                authorize(p, &vpc.account, "list subnets of", v)?;
                self.subnets_of(v).await?
            }
            None => {
                sqlx::query_as::<_, SubnetRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {SUBNET_COLS} FROM subnets WHERE account = ? ORDER BY seq"
                )))
                .bind(p.account().as_str())
                .fetch_all(&self.db)
                .await?
            }
        };
        Ok(rows.into_iter().map(|r| self.to_subnet(r)).collect())
    }

    /// Delete a subnet; refused while it has instances or NAT gateways.
    pub async fn delete_subnet(&self, p: &Principal, id: &str) -> Result<()> {
        let row = self.subnet_row(id).await?;
        authorize(p, &row.account, "delete", id)?;
        let _g = self.lock.lock().await;
        let mut blockers: Vec<String> =
            sqlx::query_scalar("SELECT id FROM instances WHERE subnet_id = ?")
                .bind(id)
                .fetch_all(&self.db)
                .await?;
        let nats: Vec<String> =
            sqlx::query_scalar("SELECT id FROM nat_gateways WHERE subnet_id = ?")
                .bind(id)
                .fetch_all(&self.db)
                .await?;
        blockers.extend(nats);
        blockers.extend(self.enis_in_subnet(id).await?);
        if !blockers.is_empty() {
            return Err(Error::Conflict(format!(
                "subnet {id} still has {}; delete them first",
                blockers.join(", ")
            )));
        }
        self.unplumb_subnet(&row).await;
        sqlx::query("DELETE FROM routes WHERE subnet_id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        sqlx::query("DELETE FROM subnets WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        self.sync_resolver_route(&row.vpc_id).await
    }

    /// Where a route target sends packets from `vpc_id`, checking that it may be used there.
    pub(crate) async fn hop_for(&self, vpc_id: &str, target: &str) -> Result<Hop> {
        if target.starts_with("igw-") {
            Kind::InternetGateway.parse("targetId", target)?;
            let vpc: Option<String> =
                sqlx::query_scalar("SELECT vpc_id FROM internet_gateways WHERE id = ?")
                    .bind(target)
                    .fetch_optional(&self.db)
                    .await?;
            match vpc {
                Some(v) if v == vpc_id => Ok(Hop::Internet { realm: None }),
                Some(v) => Err(Error::invalid(
                    "targetId",
                    format!("{target} is attached to {v}, not to {vpc_id}"),
                )),
                None => Err(Error::NotFound {
                    kind: "internet gateway",
                    id: target.to_string(),
                }),
            }
        } else if target.starts_with("nat-") {
            Kind::NatGateway.parse("targetId", target)?;
            let row: Option<(i64, String)> =
                sqlx::query_as("SELECT seq, vpc_id FROM nat_gateways WHERE id = ?")
                    .bind(target)
                    .fetch_optional(&self.db)
                    .await?;
            match row {
                Some((seq, v)) if v == vpc_id => Ok(Hop::Internet { realm: Some(seq) }),
                Some((_, v)) => Err(Error::invalid(
                    "targetId",
                    format!("{target} is in {v}, not in {vpc_id}"),
                )),
                None => Err(Error::NotFound {
                    kind: "NAT gateway",
                    id: target.to_string(),
                }),
            }
        } else if target.starts_with("pcx-") {
            Kind::Peering.parse("targetId", target)?;
            let row = self.peering_row(target).await?;
            let (req_end, acc_end) = net::peering_link(row.seq);
            let peer_end = if row.requester_vpc == vpc_id {
                acc_end
            } else if row.accepter_vpc == vpc_id {
                req_end
            } else {
                return Err(Error::invalid(
                    "targetId",
                    format!("{target} does not connect {vpc_id}"),
                ));
            };
            Ok(if row.status == "active" {
                Hop::Peer {
                    dev: render::peering_dev(target),
                    via: peer_end,
                }
            } else {
                Hop::Blackhole
            })
        } else if target.starts_with("tgw-") {
            self.tgw_hop(vpc_id, target).await
        } else {
            Err(Error::invalid(
                "targetId",
                format!(
                    "{target:?} is not a route target: use an internet gateway (igw-…), a NAT gateway (nat-…), a peering connection (pcx-…) or a transit gateway (tgw-…); local routes are implicit"
                ),
            ))
        }
    }

    /// The subnet's route table: the implicit local route, then its routes.
    pub async fn list_routes(&self, p: &Principal, subnet_id: &str) -> Result<Vec<Route>> {
        let s = self.subnet_row(subnet_id).await?;
        authorize(p, &s.account, "describe the routes of", subnet_id)?;
        let vpc = self.vpc_row(&s.vpc_id).await?;
        let rows = sqlx::query_as::<_, RouteRow>(
            "SELECT destination, target FROM routes WHERE subnet_id = ? ORDER BY destination",
        )
        .bind(subnet_id)
        .fetch_all(&self.db)
        .await?;
        let mut out = vec![Route {
            destination_cidr_block: vpc.cidr.clone(),
            target_id: "local".into(),
            state: "active".into(),
        }];
        for r in rows {
            let hop = self
                .hop_for(&s.vpc_id, &r.target)
                .await
                .unwrap_or(Hop::Blackhole);
            out.push(Route {
                destination_cidr_block: r.destination,
                target_id: r.target,
                state: if hop == Hop::Blackhole {
                    "blackhole"
                } else {
                    "active"
                }
                .into(),
            });
        }
        Ok(out)
    }

    /// Add a route to a subnet's route table. The most specific route wins (kernel
    /// longest-prefix match); destinations inside the VPC CIDR belong to the local route.
    pub async fn create_route(
        &self,
        p: &Principal,
        subnet_id: &str,
        req: CreateRoute,
    ) -> Result<Route> {
        let s = self.subnet_row(subnet_id).await?;
        authorize(p, &s.account, "change the routes of", subnet_id)?;
        let vpc = self.vpc_row(&s.vpc_id).await?;
        let dest = net::parse_cidr("destinationCidrBlock", &req.destination_cidr_block)?;
        if vpc.net().contains(&dest) {
            return Err(Error::invalid(
                "destinationCidrBlock",
                format!(
                    "{dest} is inside the VPC CIDR {}, which the local route covers",
                    vpc.cidr
                ),
            ));
        }
        let _g = self.lock.lock().await;
        let hop = self.hop_for(&vpc.id, &req.target_id).await?;
        let exists: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM routes WHERE subnet_id = ? AND destination = ?",
        )
        .bind(subnet_id)
        .bind(dest.to_string())
        .fetch_one(&self.db)
        .await?;
        if exists > 0 {
            return Err(Error::Conflict(format!(
                "subnet {subnet_id} already has a route to {dest}; delete it first"
            )));
        }
        let (table, h) = (s.table(), hop.clone());
        netlink::with_ns(&self.router_namespace(&vpc.id), move |nl| async move {
            nl.route(dest, table, &h).await
        })
        .await?;
        sqlx::query("INSERT INTO routes (subnet_id, destination, target) VALUES (?, ?, ?)")
            .bind(subnet_id)
            .bind(dest.to_string())
            .bind(&req.target_id)
            .execute(&self.db)
            .await?;
        Ok(Route {
            destination_cidr_block: dest.to_string(),
            target_id: req.target_id,
            state: if hop == Hop::Blackhole {
                "blackhole"
            } else {
                "active"
            }
            .into(),
        })
    }

    pub async fn delete_route(
        &self,
        p: &Principal,
        subnet_id: &str,
        destination: &str,
    ) -> Result<()> {
        let s = self.subnet_row(subnet_id).await?;
        authorize(p, &s.account, "change the routes of", subnet_id)?;
        let dest = net::parse_cidr("destinationCidrBlock", destination)?;
        let _g = self.lock.lock().await;
        let done = sqlx::query("DELETE FROM routes WHERE subnet_id = ? AND destination = ?")
            .bind(subnet_id)
            .bind(dest.to_string())
            .execute(&self.db)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound {
                kind: "route",
                id: format!("{dest} in {subnet_id}"),
            });
        }
        let table = s.table();
        netlink::with_ns(&self.router_namespace(&s.vpc_id), move |nl| async move {
            nl.route_del(dest, table).await
        })
        .await?;
        Ok(())
    }

    /// Re-apply routes (all of a VPC's, or those with one target) in the kernel.
    pub(crate) async fn apply_routes(
        &self,
        vpc_id: Option<&str>,
        target: Option<&str>,
    ) -> Result<()> {
        let rows: Vec<(String, String, String, i64, String)> = sqlx::query_as(
            "SELECT r.subnet_id, r.destination, r.target, s.seq, s.vpc_id FROM routes r JOIN subnets s ON s.id = r.subnet_id WHERE (?1 IS NULL OR s.vpc_id = ?1) AND (?2 IS NULL OR r.target = ?2) ORDER BY s.vpc_id",
        )
        .bind(vpc_id)
        .bind(target)
        .fetch_all(&self.db)
        .await?;
        type Routes = Vec<(Ipv4Net, u32, Hop)>;
        let mut by_vpc: std::collections::BTreeMap<String, Routes> = Default::default();
        for (_, dest, target, seq, vpc) in rows {
            let hop = self.hop_for(&vpc, &target).await.unwrap_or(Hop::Blackhole);
            let dest = net::parse_cidr("destinationCidrBlock", &dest)?;
            by_vpc
                .entry(vpc)
                .or_default()
                .push((dest, render::route_table(seq), hop));
        }
        for (vpc, routes) in by_vpc {
            netlink::with_ns(&self.router_namespace(&vpc), move |nl| async move {
                for (dest, table, hop) in &routes {
                    nl.route(*dest, *table, hop).await?;
                }
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Refuse to remove a route target that routes still use.
    pub(crate) async fn refuse_if_routed(&self, target: &str) -> Result<()> {
        let users: Vec<String> = sqlx::query_scalar(
            "SELECT subnet_id || ' (' || destination || ')' FROM routes WHERE target = ?",
        )
        .bind(target)
        .fetch_all(&self.db)
        .await?;
        if users.is_empty() {
            Ok(())
        } else {
            Err(Error::Conflict(format!(
                "{target} is still the target of routes in {}; delete those routes first",
                users.join(", ")
            )))
        }
    }
}
