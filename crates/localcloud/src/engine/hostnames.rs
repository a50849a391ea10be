//! Instance DNS host names (EC2's private and public DNS names), the VPC attribute
//! `enableDnsHostnames` and the peering option `allowDnsResolutionFromRemoteVpc`.
//!
//! - Every instance has `ip-10-1-1-5.<region>.compute.internal`; its own VPC's resolver
//!   answers it with the private IP.
//! - An instance with a public IP in a VPC with `enableDnsHostnames` also has
//!   `ec2-198-51-100-12.<region>.compute.<DNS_DOMAIN>`: public DNS answers it with the
//!   public IP, its own VPC's resolver with the private IP, and so does the resolver of a
//!   VPC joined by an active peering whose side of this VPC allows DNS resolution from the
//!   remote VPC.
//! - A resolver overrides only these exact names: each is one small zone, so every other
//!   name under `compute.<DNS_DOMAIN>` still falls through to public DNS.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use linkplane_dataplane::dns::{PrivateZone, ZoneRecord};

use super::dns::LINK_LOCAL_DNS;
use super::peering::PeeringRow;
use super::privatelink::DNS_DOMAIN;
use super::{Engine, authorize, now};
use crate::error::{Error, Result};
use crate::ids::Principal;
use crate::types::{ModifyPeeringOptions, ModifyVpc, PeeringConnection, Vpc};

/// TTL of instance host name records (private and public).
const HOSTNAME_TTL: u32 = 60;

/// An instance's DNS names as the API shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InstanceNames {
    pub private: String,
    pub public: Option<String>,
}

impl InstanceNames {
    /// The names of an instance with these addresses in a VPC of `region`.
    pub(crate) fn of(
        private_ip: &str,
        public_ip: Option<&str>,
        region: &str,
        dns_hostnames: bool,
    ) -> Self {
        Self {
            private: private_dns_name(private_ip, region),
            public: public_ip
                .filter(|_| dns_hostnames)
                .map(|ip| public_dns_name(ip, region)),
        }
    }
}

fn dashed(ip: &str) -> String {
    ip.replace('.', "-")
}

/// `ip-10-1-1-5.<region>.compute.internal`.
pub(crate) fn private_dns_name(private_ip: &str, region: &str) -> String {
    format!("ip-{}.{region}.compute.internal", dashed(private_ip))
}

/// `ec2-198-51-100-12.<region>.compute.<DNS_DOMAIN>`.
pub(crate) fn public_dns_name(public_ip: &str, region: &str) -> String {
    format!("ec2-{}.{region}.compute.{DNS_DOMAIN}", dashed(public_ip))
}

fn ip(field: &str, s: &str) -> Result<Ipv4Addr> {
    s.parse()
        .map_err(|_| Error::kernel("instance DNS names", format!("bad stored {field} {s:?}")))
}

/// One zone holding exactly `name` → `addr`.
fn host_zone(name: &str, addr: Ipv4Addr) -> Result<PrivateZone> {
    let rec = ZoneRecord::a(name, HOSTNAME_TTL, addr)
        .map_err(|e| Error::invalid("name", e.to_string()))?;
    PrivateZone::new(name, vec![rec]).map_err(|e| Error::invalid("name", e.to_string()))
}

/// (private IP, public IP, region, enableDnsHostnames) of the instances of a VPC.
type HostRow = (String, Option<String>, String, bool);

impl Engine {
    async fn host_rows(&self, vpc_id: &str) -> Result<Vec<HostRow>> {
        Ok(sqlx::query_as(
            "SELECT i.private_ip, i.public_ip, v.region, v.enable_dns_hostnames FROM instances i JOIN vpcs v ON v.id = i.vpc_id WHERE i.vpc_id = ? ORDER BY i.seq",
        )
        .bind(vpc_id)
        .fetch_all(&self.db)
        .await?)
    }

    /// VPCs joined to `vpc_id` by an active peering whose other side allows `vpc_id` to
    /// resolve its public DNS names to private IPs.
    async fn dns_resolvable_peers(&self, vpc_id: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT accepter_vpc FROM peerings WHERE status = 'active' AND requester_vpc = ?1 AND accepter_dns_resolution = 1 \
             UNION SELECT requester_vpc FROM peerings WHERE status = 'active' AND accepter_vpc = ?1 AND requester_dns_resolution = 1",
        )
        .bind(vpc_id)
        .fetch_all(&self.db)
        .await?)
    }

    /// VPCs joined to `vpc_id` by an active peering.
    async fn active_peers(&self, vpc_id: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT accepter_vpc FROM peerings WHERE status = 'active' AND requester_vpc = ?1 \
             UNION SELECT requester_vpc FROM peerings WHERE status = 'active' AND accepter_vpc = ?1",
        )
        .bind(vpc_id)
        .fetch_all(&self.db)
        .await?)
    }

    /// The host name zones of `vpc_id`'s resolver: its own instances' private and public
    /// names, and the public names of peers that allow it, all to private IPs. Names
    /// already in `names` (private hosted zones, endpoint names) are left to them.
    pub(crate) async fn instance_zones(
        &self,
        vpc_id: &str,
        names: &mut BTreeSet<String>,
    ) -> Result<Vec<PrivateZone>> {
        let mut zones = Vec::new();
        let mut add = |name: String, addr: Ipv4Addr| -> Result<()> {
            if names.insert(name.clone()) {
                zones.push(host_zone(&name, addr)?);
            }
            Ok(())
        };
        for (private, public, region, hostnames) in self.host_rows(vpc_id).await? {
            let n = InstanceNames::of(&private, public.as_deref(), &region, hostnames);
            let addr = ip("private IP", &private)?;
            add(n.private, addr)?;
            if let Some(p) = n.public {
                add(p, addr)?;
            }
        }
        for peer in self.dns_resolvable_peers(vpc_id).await? {
            for (private, public, region, hostnames) in self.host_rows(&peer).await? {
                let n = InstanceNames::of(&private, public.as_deref(), &region, hostnames);
                if let Some(p) = n.public {
                    add(p, ip("private IP", &private)?)?;
                }
            }
        }
        Ok(zones)
    }

    /// Every public DNS name → public IP, for the public DNS.
    pub(crate) async fn public_host_records(&self) -> Result<Vec<ZoneRecord>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT i.public_ip, v.region FROM instances i JOIN vpcs v ON v.id = i.vpc_id WHERE i.public_ip IS NOT NULL AND v.enable_dns_hostnames = 1 ORDER BY i.seq",
        )
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|(public, region)| {
                ZoneRecord::a(
                    &public_dns_name(public, region),
                    HOSTNAME_TTL,
                    ip("public IP", public)?,
                )
                .map_err(|e| Error::invalid("name", e.to_string()))
            })
            .collect()
    }

    /// Public names changed: rebuild the public DNS and start every VPC resolver's answer
    /// cache afresh (a resolver may hold the public server's previous answer).
    async fn public_names_changed(&self) -> Result<()> {
        self.refresh_public_dns().await?;
        let views: Vec<_> = self.rt().dns.values().map(|d| d.view()).collect();
        let public = vec![SocketAddr::new(IpAddr::V4(LINK_LOCAL_DNS), 53)];
        for v in views {
            v.set_public_upstreams(public.clone());
        }
        Ok(())
    }

    /// An instance of `vpc_id` came or went: its VPC's resolver, its peers' resolvers and,
    /// when it had a public IP, the public DNS.
    pub(crate) async fn instance_dns_changed(&self, vpc_id: &str, public_ip: bool) -> Result<()> {
        self.refresh_vpc_dns(vpc_id).await?;
        for peer in self.active_peers(vpc_id).await? {
            self.refresh_vpc_dns(&peer).await?;
        }
        if public_ip && self.vpc_row(vpc_id).await?.enable_dns_hostnames {
            self.public_names_changed().await?;
        }
        Ok(())
    }

    /// A peering became active, stopped being active or changed its options.
    pub(crate) async fn refresh_peering_dns(&self, r: &PeeringRow) -> Result<()> {
        self.refresh_vpc_dns(&r.requester_vpc).await?;
        self.refresh_vpc_dns(&r.accepter_vpc).await
    }

    /// Change a VPC's attributes (EC2's ModifyVpcAttribute); the VPC's owner only.
    pub async fn modify_vpc(&self, p: &Principal, id: &str, req: ModifyVpc) -> Result<Vpc> {
        let row = self.vpc_row(id).await?;
        let Some(hostnames) = req.enable_dns_hostnames else {
            return Err(Error::invalid(
                "enableDnsHostnames",
                "give the attribute to change (true or false)",
            ));
        };
        authorize(p, &row.account, "modify attributes of", id)?;
        let _g = self.lock.lock().await;
        sqlx::query("UPDATE vpcs SET enable_dns_hostnames = ? WHERE id = ?")
            .bind(hostnames)
            .bind(id)
            .execute(&self.db)
            .await?;
        if hostnames != row.enable_dns_hostnames {
            self.refresh_vpc_dns(id).await?;
            for peer in self.active_peers(id).await? {
                self.refresh_vpc_dns(&peer).await?;
            }
            self.public_names_changed().await?;
            tracing::info!(vpc = %id, enable_dns_hostnames = hostnames, "VPC attribute changed");
        }
        self.to_vpc(self.vpc_row(id).await?).await
    }

    /// Set one or both sides' options of an active peering (EC2's
    /// ModifyVpcPeeringConnectionOptions). Each side is set by its own account only.
    pub async fn modify_peering_options(
        &self,
        p: &Principal,
        id: &str,
        req: ModifyPeeringOptions,
    ) -> Result<PeeringConnection> {
        let r = self.peering_row(id).await?;
        if req.requester_peering_connection_options.is_none()
            && req.accepter_peering_connection_options.is_none()
        {
            return Err(Error::invalid(
                "requesterPeeringConnectionOptions",
                "give requesterPeeringConnectionOptions or accepterPeeringConnectionOptions (or both)",
            ));
        }
        if req.requester_peering_connection_options.is_some() {
            authorize(
                p,
                &r.requester_account,
                "set the requester's options (only the requester VPC's account may) of",
                id,
            )?;
        }
        if req.accepter_peering_connection_options.is_some() {
            authorize(
                p,
                &r.accepter_account,
                "set the accepter's options (only the accepter VPC's account may) of",
                id,
            )?;
        }
        let _g = self.lock.lock().await;
        let r = self.peering_row(id).await?;
        if r.status != "active" {
            return Err(Error::Conflict(format!(
                "cannot modify the options of {id}: it is {}, not active",
                r.status
            )));
        }
        let requester = req
            .requester_peering_connection_options
            .map_or(r.requester_dns_resolution, |o| {
                o.allow_dns_resolution_from_remote_vpc
            });
        let accepter = req
            .accepter_peering_connection_options
            .map_or(r.accepter_dns_resolution, |o| {
                o.allow_dns_resolution_from_remote_vpc
            });
        sqlx::query(
            "UPDATE peerings SET requester_dns_resolution = ?, accepter_dns_resolution = ?, updated_at = ? WHERE id = ?",
        )
        .bind(requester)
        .bind(accepter)
        .bind(now())
        .bind(id)
        .execute(&self.db)
        .await?;
        self.refresh_peering_dns(&r).await?;
        tracing::info!(pcx = %id, requester, accepter, "peering DNS resolution options set");
        Ok(self.to_peering(self.peering_row(id).await?).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_ec2() {
        let n = InstanceNames::of("10.1.1.5", Some("198.51.100.12"), "us-east-1", true);
        assert_eq!(n.private, "ip-10-1-1-5.us-east-1.compute.internal");
        assert_eq!(
            n.public.as_deref(),
            Some("ec2-198-51-100-12.us-east-1.compute.linkplane.test")
        );
        let off = InstanceNames::of("10.1.1.5", Some("198.51.100.12"), "eu-west-1", false);
        assert_eq!(off.private, "ip-10-1-1-5.eu-west-1.compute.internal");
        assert_eq!(
            off.public, None,
            "no public name without enableDnsHostnames"
        );
        let private_only = InstanceNames::of("10.1.1.6", None, "us-east-1", true);
        assert_eq!(
            private_only.public, None,
            "no public name without a public IP"
        );
    }

    #[test]
    fn host_zones_hold_exactly_one_name() {
        let z = host_zone(
            "ec2-198-51-100-12.us-east-1.compute.linkplane.test",
            Ipv4Addr::new(10, 1, 1, 5),
        )
        .unwrap();
        assert_eq!(
            z.name().to_string(),
            "ec2-198-51-100-12.us-east-1.compute.linkplane.test."
        );
        assert_eq!(z.record_count(), 1);
        assert!(ip("private IP", "10.1.1").is_err());
    }
}
