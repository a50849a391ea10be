//! The internet namespace, internet gateways, elastic IPs, public IPs and NAT gateways.

use std::net::Ipv4Addr;
use std::time::Duration;

use ipnet::Ipv4Net;

use super::instance::{INTERNET_OWNER, exec_in};
use super::render;
use super::{Engine, authorize, now};
use crate::error::{Error, Result};
use crate::ids::{Kind, Principal};
use crate::kernel;
use crate::net;
use crate::netlink;
use crate::types::{
    CreateInternetGateway, CreateNatGateway, ElasticIp, ExecOutput, Internet, InternetGateway,
    NatGateway, Process,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct IgwRow {
    pub id: String,
    pub account: String,
    pub vpc_id: String,
    pub created_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct NatRow {
    pub id: String,
    pub account: String,
    pub vpc_id: String,
    pub subnet_id: String,
    pub allocation_id: String,
    pub created_at: String,
    pub public_ip: String,
}

const NAT_SELECT: &str = "SELECT n.id, n.account, n.vpc_id, n.subnet_id, n.allocation_id, n.created_at, e.public_ip FROM nat_gateways n JOIN elastic_ips e ON e.id = n.allocation_id";

fn to_igw(r: IgwRow) -> InternetGateway {
    InternetGateway {
        internet_gateway_id: r.id,
        owner_id: r.account,
        vpc_id: r.vpc_id,
        created_at: r.created_at,
    }
}

fn to_nat(r: NatRow) -> NatGateway {
    NatGateway {
        nat_gateway_id: r.id,
        owner_id: r.account,
        vpc_id: r.vpc_id,
        subnet_id: r.subnet_id,
        allocation_id: r.allocation_id,
        public_ip: r.public_ip,
        state: "available".into(),
        created_at: r.created_at,
    }
}

impl Engine {
    /// Create the internet namespace if it is missing. Returns whether it was (re)built.
    pub(crate) async fn ensure_internet(&self) -> Result<bool> {
        let ns = self.internet_namespace();
        if kernel::netns_exists(&ns) {
            return Ok(false);
        }
        kernel::netns_add(&ns).await?;
        self.configure_internet().await?;
        Ok(true)
    }

    /// The internet namespace's sysctls, loopback and address; idempotent, so a start after a
    /// crash between `netns add` and these can finish the job.
    pub(crate) async fn configure_internet(&self) -> Result<()> {
        let ns = self.internet_namespace();
        kernel::sysctls(
            &ns,
            &[
                ("net/ipv4/conf/all/rp_filter", "0"),
                ("net/ipv4/conf/default/rp_filter", "0"),
                ("net/ipv4/ip_forward", "1"),
            ],
        )
        .await?;
        netlink::with_ns(&ns, |nl| async move {
            nl.up("lo").await?;
            nl.addr("lo", net::INTERNET_HOST, 32).await
        })
        .await
    }

    /// The internet namespace (created on first use) and its addresses.
    pub async fn internet(&self) -> Result<Internet> {
        {
            let _g = self.lock.lock().await;
            self.ensure_internet().await?;
        }
        Ok(Internet {
            namespace: self.internet_namespace(),
            host_address: net::INTERNET_HOST.to_string(),
            internet_hosts: net::INTERNET_HOSTS.to_string(),
            public_ip_pool: net::PUBLIC_POOL.to_string(),
        })
    }

    /// Run a command in the internet namespace (any principal: it is the public internet).
    pub async fn internet_exec(
        &self,
        command: &[String],
        stdin: &[u8],
        timeout: Duration,
    ) -> Result<ExecOutput> {
        super::instance::check_command(command)?;
        self.internet().await?;
        exec_in(&self.internet_namespace(), command, stdin, timeout).await
    }

    /// Start a long-running process (e.g. a test server) in the internet namespace.
    pub async fn internet_run(&self, p: &Principal, command: &[String]) -> Result<Process> {
        super::instance::check_command(command)?;
        self.internet().await?;
        let _g = self.lock.lock().await;
        self.spawn_recorded(
            INTERNET_OWNER,
            p.account().as_str(),
            &self.internet_namespace(),
            command,
        )
        .await
    }

    /// The caller's processes in the internet namespace.
    pub async fn internet_processes(&self, p: &Principal) -> Result<Vec<Process>> {
        Ok(self
            .processes_of(INTERNET_OWNER)
            .await?
            .into_iter()
            .filter(|r| r.account == p.account().as_str())
            .map(Self::to_process)
            .collect())
    }

    /// A free address of the public pool (bounded: the pool is a /24).
    pub(crate) async fn pick_public_ip(&self) -> Result<Ipv4Addr> {
        let used: std::collections::HashSet<String> =
            sqlx::query_scalar("SELECT ip FROM public_ips")
                .fetch_all(&self.db)
                .await?
                .into_iter()
                .collect();
        let pool: Ipv4Net = net::PUBLIC_POOL.parse().unwrap_or_default();
        (10..255)
            .map(|n| net::nth(pool, n))
            .find(|ip| !used.contains(&ip.to_string()))
            .ok_or_else(|| {
                Error::Conflict(format!(
                    "the public pool {} is exhausted; release elastic IPs or public instances",
                    net::PUBLIC_POOL
                ))
            })
    }

    /// Make `public` reach `vpc_id`: the router's 1:1 NAT maps (when `private` is given)
    /// and the internet's route to it (when the VPC has an internet gateway).
    pub(crate) async fn publish_public_ip(
        &self,
        vpc_id: &str,
        public: Ipv4Addr,
        private: Option<Ipv4Addr>,
    ) -> Result<()> {
        if let Some(private) = private {
            let t = self.prefix.as_str();
            kernel::nft(
                &self.router_namespace(vpc_id),
                &format!(
                    "add element ip {t} pub2priv {{ {public} : {private} }}\nadd element ip {t} priv2pub {{ {private} : {public} }}\n"
                ),
            )
            .await?;
        }
        if self.igw_of(vpc_id).await?.is_some() {
            let port = render::internet_port(vpc_id);
            netlink::with_ns(&self.internet_namespace(), move |nl| async move {
                nl.host_route(public, net::IGW_ROUTER, &port, net::INTERNET_HOST)
                    .await
            })
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn unpublish_public_ip(
        &self,
        vpc_id: &str,
        public: Ipv4Addr,
        private: Option<Ipv4Addr>,
    ) {
        if let Some(private) = private {
            let t = self.prefix.as_str();
            let _ = kernel::nft(
                &self.router_namespace(vpc_id),
                &format!(
                    "delete element ip {t} pub2priv {{ {public} }}\ndelete element ip {t} priv2pub {{ {private} }}\n"
                ),
            )
            .await;
        }
        let inet = self.internet_namespace();
        if kernel::netns_exists(&inet) {
            let host = Ipv4Net::new(public, 32).unwrap_or_default();
            let _ = netlink::with_ns(&inet, move |nl| async move {
                nl.route_del(host, netlink::MAIN_TABLE).await
            })
            .await;
        }
    }

    pub(crate) async fn igw_of(&self, vpc_id: &str) -> Result<Option<IgwRow>> {
        Ok(sqlx::query_as::<_, IgwRow>(
            "SELECT id, account, vpc_id, created_at FROM internet_gateways WHERE vpc_id = ?",
        )
        .bind(vpc_id)
        .fetch_optional(&self.db)
        .await?)
    }

    async fn igw_row(&self, id: &str) -> Result<IgwRow> {
        Kind::InternetGateway.parse("internetGatewayId", id)?;
        sqlx::query_as::<_, IgwRow>(
            "SELECT id, account, vpc_id, created_at FROM internet_gateways WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "internet gateway",
            id: id.to_string(),
        })
    }

    /// Public addresses that must route to a VPC: instance public IPs and NAT elastic IPs.
    async fn public_ips_of(&self, vpc_id: &str) -> Result<Vec<String>> {
        let mut ips: Vec<String> = sqlx::query_scalar(
            "SELECT public_ip FROM instances WHERE vpc_id = ? AND public_ip IS NOT NULL",
        )
        .bind(vpc_id)
        .fetch_all(&self.db)
        .await?;
        let nat: Vec<String> = sqlx::query_scalar(
            "SELECT e.public_ip FROM nat_gateways n JOIN elastic_ips e ON e.id = n.allocation_id WHERE n.vpc_id = ?",
        )
        .bind(vpc_id)
        .fetch_all(&self.db)
        .await?;
        ips.extend(nat);
        Ok(ips)
    }

    /// The veth between the router and the internet, and the internet's routes to the VPC's
    /// public addresses. Idempotent and safe to repeat after a crash at any point: a pair with
    /// either end missing is removed and made again, and the addresses, link states and routes
    /// are (re)applied with replace semantics. The router's routes through it are the caller's.
    pub(crate) async fn plumb_igw(&self, vpc_id: &str) -> Result<()> {
        let inet = self.internet_namespace();
        let gport = render::internet_port(vpc_id);
        let router = self.router_namespace(vpc_id);
        // The internet's end exists exactly when the pair does (removing either end of a
        // veth removes both), so one look tells whether to make it again.
        let port = gport.clone();
        let whole =
            netlink::with_ns(&inet, move |nl| async move { Ok(nl.has(&port).await) }).await?;
        let (peer_ns, port) = (inet.clone(), gport.clone());
        netlink::with_ns(&router, move |nl| async move {
            if !whole {
                // A router end lingering from a pair whose namespace is being torn down.
                nl.link_del(render::IGW_DEV).await?;
                nl.veth(render::IGW_DEV, &port, &peer_ns, None).await?;
            }
            nl.addr(render::IGW_DEV, net::IGW_ROUTER, 30).await?;
            nl.up(render::IGW_DEV).await
        })
        .await?;
        let publics: Vec<Ipv4Addr> = self
            .public_ips_of(vpc_id)
            .await?
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        netlink::with_ns(&inet, move |nl| async move {
            nl.addr(&gport, net::IGW_INTERNET, 30).await?;
            nl.up(&gport).await?;
            for ip in publics {
                nl.host_route(ip, net::IGW_ROUTER, &gport, net::INTERNET_HOST)
                    .await?;
            }
            Ok(())
        })
        .await
    }

    /// Create an internet gateway attached to a VPC (one per VPC).
    pub async fn create_internet_gateway(
        &self,
        p: &Principal,
        req: CreateInternetGateway,
    ) -> Result<InternetGateway> {
        let vpc = self.vpc_row(&req.vpc_id).await?;
        authorize(p, &vpc.account, "attach an internet gateway to", &vpc.id)?;
        let _g = self.lock.lock().await;
        if let Some(existing) = self.igw_of(&vpc.id).await? {
            return Err(Error::Conflict(format!(
                "VPC {} already has internet gateway {}",
                vpc.id, existing.id
            )));
        }
        self.ensure_internet().await?;
        let id = self
            .fresh_id(Kind::InternetGateway, "internet_gateways", "id")
            .await?;
        sqlx::query(
            "INSERT INTO internet_gateways (id, account, vpc_id, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&vpc.account)
        .bind(&vpc.id)
        .bind(now())
        .execute(&self.db)
        .await?;
        if let Err(e) = self.plumb_igw(&vpc.id).await {
            self.unplumb_igw(&vpc.id).await;
            sqlx::query("DELETE FROM internet_gateways WHERE id = ?")
                .bind(&id)
                .execute(&self.db)
                .await?;
            return Err(e);
        }
        tracing::info!(igw = %id, vpc = %vpc.id, "internet gateway attached");
        Ok(to_igw(self.igw_row(&id).await?))
    }

    async fn unplumb_igw(&self, vpc_id: &str) {
        let _ = netlink::with_ns(&self.router_namespace(vpc_id), |nl| async move {
            nl.link_del(render::IGW_DEV).await
        })
        .await;
    }

    pub async fn get_internet_gateway(&self, p: &Principal, id: &str) -> Result<InternetGateway> {
        let r = self.igw_row(id).await?;
        authorize(p, &r.account, "describe", id)?;
        Ok(to_igw(r))
    }

    pub async fn list_internet_gateways(&self, p: &Principal) -> Result<Vec<InternetGateway>> {
        let rows = sqlx::query_as::<_, IgwRow>(
            "SELECT id, account, vpc_id, created_at FROM internet_gateways WHERE account = ? ORDER BY created_at",
        )
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?;
        Ok(rows.into_iter().map(to_igw).collect())
    }

    /// Detach and delete; refused while routes or NAT gateways use it.
    pub async fn delete_internet_gateway(&self, p: &Principal, id: &str) -> Result<()> {
        let r = self.igw_row(id).await?;
        authorize(p, &r.account, "delete", id)?;
        let _g = self.lock.lock().await;
        self.refuse_if_routed(id).await?;
        let nats: Vec<String> = sqlx::query_scalar("SELECT id FROM nat_gateways WHERE vpc_id = ?")
            .bind(&r.vpc_id)
            .fetch_all(&self.db)
            .await?;
        if !nats.is_empty() {
            return Err(Error::Conflict(format!(
                "NAT gateways {} of {} need {id}; delete them first",
                nats.join(", "),
                r.vpc_id
            )));
        }
        self.unplumb_igw(&r.vpc_id).await;
        sqlx::query("DELETE FROM internet_gateways WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    async fn eip_row(&self, id: &str) -> Result<(String, String, String, String)> {
        Kind::ElasticIp.parse("allocationId", id)?;
        sqlx::query_as("SELECT id, account, public_ip, created_at FROM elastic_ips WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.db)
            .await?
            .ok_or(Error::NotFound {
                kind: "elastic IP allocation",
                id: id.to_string(),
            })
    }

    async fn to_eip(&self, r: (String, String, String, String)) -> Result<ElasticIp> {
        let nat: Option<String> =
            sqlx::query_scalar("SELECT id FROM nat_gateways WHERE allocation_id = ?")
                .bind(&r.0)
                .fetch_optional(&self.db)
                .await?;
        Ok(ElasticIp {
            allocation_id: r.0,
            owner_id: r.1,
            public_ip: r.2,
            nat_gateway_id: nat,
            created_at: r.3,
        })
    }

    /// Allocate an elastic IP from the public pool.
    pub async fn allocate_elastic_ip(&self, p: &Principal) -> Result<ElasticIp> {
        let _g = self.lock.lock().await;
        let ip = self.pick_public_ip().await?;
        let id = self.fresh_id(Kind::ElasticIp, "elastic_ips", "id").await?;
        let mut tx = self.db.begin().await?;
        sqlx::query("INSERT INTO public_ips (ip, owner_id) VALUES (?, ?)")
            .bind(ip.to_string())
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO elastic_ips (id, account, public_ip, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(p.account().as_str())
        .bind(ip.to_string())
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let r = self.eip_row(&id).await?;
        self.to_eip(r).await
    }

    pub async fn list_elastic_ips(&self, p: &Principal) -> Result<Vec<ElasticIp>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT id, account, public_ip, created_at FROM elastic_ips WHERE account = ? ORDER BY created_at",
        )
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.to_eip(r).await?);
        }
        Ok(out)
    }

    /// Release an elastic IP; refused while a NAT gateway uses it.
    pub async fn release_elastic_ip(&self, p: &Principal, id: &str) -> Result<()> {
        let r = self.eip_row(id).await?;
        authorize(p, &r.1, "release", id)?;
        let _g = self.lock.lock().await;
        if let Some(nat) = self.to_eip(r.clone()).await?.nat_gateway_id {
            return Err(Error::Conflict(format!(
                "{id} ({}) is used by NAT gateway {nat}; delete it first",
                r.2
            )));
        }
        sqlx::query("DELETE FROM elastic_ips WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        sqlx::query("DELETE FROM public_ips WHERE owner_id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    async fn nat_row(&self, id: &str) -> Result<NatRow> {
        Kind::NatGateway.parse("natGatewayId", id)?;
        sqlx::query_as::<_, NatRow>(sqlx::AssertSqlSafe(format!("{NAT_SELECT} WHERE n.id = ?")))
            .bind(id)
            .fetch_optional(&self.db)
            .await?
            .ok_or(Error::NotFound {
                kind: "NAT gateway",
                id: id.to_string(),
            })
    }

    /// Create a NAT gateway in a (public) subnet with an elastic IP. Subnets whose route
    /// tables send traffic to it leave with the elastic IP as their source address.
    pub async fn create_nat_gateway(
        &self,
        p: &Principal,
        req: CreateNatGateway,
    ) -> Result<NatGateway> {
        let s = self.subnet_row(&req.subnet_id).await?;
        authorize(p, &s.account, "create a NAT gateway in", &s.id)?;
        let eip = self.eip_row(&req.allocation_id).await?;
        authorize(p, &eip.1, "use", &eip.0)?;
        let _g = self.lock.lock().await;
        if self.igw_of(&s.vpc_id).await?.is_none() {
            return Err(Error::Conflict(format!(
                "VPC {} has no internet gateway; a NAT gateway needs one (create it first)",
                s.vpc_id
            )));
        }
        if let Some(nat) = self.to_eip(eip.clone()).await?.nat_gateway_id {
            return Err(Error::Conflict(format!(
                "{} is already used by NAT gateway {nat}",
                eip.0
            )));
        }
        let id = self
            .fresh_id(Kind::NatGateway, "nat_gateways", "id")
            .await?;
        sqlx::query(
            "INSERT INTO nat_gateways (id, account, vpc_id, subnet_id, allocation_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&s.account)
        .bind(&s.vpc_id)
        .bind(&s.id)
        .bind(&eip.0)
        .bind(now())
        .execute(&self.db)
        .await?;
        let applied = async {
            self.render_router_nft(&s.vpc_id).await?;
            self.publish_public_ip(
                &s.vpc_id,
                eip.2.parse().unwrap_or(Ipv4Addr::UNSPECIFIED),
                None,
            )
            .await
        }
        .await;
        if let Err(e) = applied {
            sqlx::query("DELETE FROM nat_gateways WHERE id = ?")
                .bind(&id)
                .execute(&self.db)
                .await?;
            let _ = self.render_router_nft(&s.vpc_id).await;
            return Err(e);
        }
        tracing::info!(nat = %id, eip = %eip.2, "NAT gateway created");
        Ok(to_nat(self.nat_row(&id).await?))
    }

    pub async fn get_nat_gateway(&self, p: &Principal, id: &str) -> Result<NatGateway> {
        let r = self.nat_row(id).await?;
        authorize(p, &r.account, "describe", id)?;
        Ok(to_nat(r))
    }

    pub async fn list_nat_gateways(&self, p: &Principal) -> Result<Vec<NatGateway>> {
        let rows = sqlx::query_as::<_, NatRow>(sqlx::AssertSqlSafe(format!(
            "{NAT_SELECT} WHERE n.account = ? ORDER BY n.seq"
        )))
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?;
        Ok(rows.into_iter().map(to_nat).collect())
    }

    /// Delete a NAT gateway; refused while routes target it.
    pub async fn delete_nat_gateway(&self, p: &Principal, id: &str) -> Result<()> {
        let r = self.nat_row(id).await?;
        authorize(p, &r.account, "delete", id)?;
        let _g = self.lock.lock().await;
        self.refuse_if_routed(id).await?;
        sqlx::query("DELETE FROM nat_gateways WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        self.render_router_nft(&r.vpc_id).await?;
        if let Ok(ip) = r.public_ip.parse() {
            self.unpublish_public_ip(&r.vpc_id, ip, None).await;
        }
        Ok(())
    }
}
