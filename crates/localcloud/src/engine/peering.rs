//! VPC peering with EC2's semantics.

use super::render;
use super::{Engine, authorize, now};
use crate::error::{Error, Result};
use crate::ids::{self, AccountId, Kind, Principal};
use crate::net;
use crate::netlink;
use crate::types::{
    CreatePeering, PeeringConnection, PeeringOptions, PeeringStatus, PeeringVpcInfo,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct PeeringRow {
    pub seq: i64,
    pub id: String,
    pub requester_account: String,
    pub requester_vpc: String,
    pub accepter_account: String,
    pub accepter_vpc: String,
    pub status: String,
    pub message: String,
    pub created_at: String,
    pub updated_at: String,
    /// The accepter VPC resolves the requester's public DNS names to private IPs.
    pub requester_dns_resolution: bool,
    /// The requester VPC resolves the accepter's public DNS names to private IPs.
    pub accepter_dns_resolution: bool,
}

const COLS: &str = "seq, id, requester_account, requester_vpc, accepter_account, accepter_vpc, status, message, created_at, updated_at, requester_dns_resolution, accepter_dns_resolution";

impl Engine {
    pub(crate) async fn peering_row(&self, id: &str) -> Result<PeeringRow> {
        Kind::Peering.parse("vpcPeeringConnectionId", id)?;
        sqlx::query_as::<_, PeeringRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM peerings WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "VPC peering connection",
            id: id.to_string(),
        })
    }

    pub(crate) async fn active_peerings(&self) -> Result<Vec<PeeringRow>> {
        Ok(sqlx::query_as::<_, PeeringRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM peerings WHERE status = 'active' ORDER BY seq"
        )))
        .fetch_all(&self.db)
        .await?)
    }

    async fn vpc_info(&self, vpc_id: &str, account: &str, dns_resolution: bool) -> PeeringVpcInfo {
        let row = self.vpc_row(vpc_id).await.ok();
        PeeringVpcInfo {
            owner_id: account.to_string(),
            vpc_id: vpc_id.to_string(),
            cidr_block: row.as_ref().map(|r| r.cidr.clone()).unwrap_or_default(),
            region: row.map(|r| r.region).unwrap_or_default(),
            peering_options: PeeringOptions {
                allow_dns_resolution_from_remote_vpc: dns_resolution,
            },
        }
    }

    pub(crate) async fn to_peering(&self, r: PeeringRow) -> PeeringConnection {
        PeeringConnection {
            requester_vpc_info: self
                .vpc_info(
                    &r.requester_vpc,
                    &r.requester_account,
                    r.requester_dns_resolution,
                )
                .await,
            accepter_vpc_info: self
                .vpc_info(
                    &r.accepter_vpc,
                    &r.accepter_account,
                    r.accepter_dns_resolution,
                )
                .await,
            status: PeeringStatus {
                code: r.status,
                message: r.message,
            },
            vpc_peering_connection_id: r.id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    fn party(p: &Principal, r: &PeeringRow, action: &str) -> Result<()> {
        let me = p.account().as_str();
        if me == r.requester_account || me == r.accepter_account {
            Ok(())
        } else {
            authorize(p, &r.requester_account, action, &r.id)
        }
    }

    async fn set_status(&self, id: &str, status: &str, message: &str) -> Result<()> {
        sqlx::query("UPDATE peerings SET status = ?, message = ?, updated_at = ? WHERE id = ?")
            .bind(status)
            .bind(message)
            .bind(now())
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Request a peering from the caller's VPC to `peerVpcId` of `peerOwnerId`. It waits in
    /// `pending-acceptance` for the accepter account, or ends `failed` when the CIDRs overlap
    /// or the peer VPC is not the peer owner's.
    pub async fn create_peering(
        &self,
        p: &Principal,
        req: CreatePeering,
    ) -> Result<PeeringConnection> {
        let vpc = self.vpc_row(&req.vpc_id).await?;
        authorize(
            p,
            &vpc.account,
            "request a peering connection from",
            &vpc.id,
        )?;
        Kind::Vpc.parse("peerVpcId", &req.peer_vpc_id)?;
        let peer_owner = match &req.peer_owner_id {
            Some(o) => AccountId::parse(o).map_err(|_| {
                Error::invalid(
                    "peerOwnerId",
                    format!("{o:?} must be a 12-digit account id"),
                )
            })?,
            None => p.account().clone(),
        };
        if let Some(r) = &req.peer_region {
            ids::parse_region(r)?;
        }
        if req.peer_vpc_id == vpc.id {
            return Err(Error::invalid("peerVpcId", "a VPC cannot peer with itself"));
        }
        let peer = self.vpc_row(&req.peer_vpc_id).await?;
        let _g = self.lock.lock().await;
        let (status, message) = if peer.account != peer_owner.as_str() {
            (
                "failed",
                format!("VPC {} is not owned by account {peer_owner}", peer.id),
            )
        } else if req.peer_region.as_deref().is_some_and(|r| r != peer.region) {
            (
                "failed",
                format!(
                    "VPC {} is not in region {}",
                    peer.id,
                    req.peer_region.as_deref().unwrap_or("")
                ),
            )
        } else if net::overlaps(vpc.net(), peer.net()) {
            (
                "failed",
                format!(
                    "overlapping CIDRs: {} ({}) and {} ({})",
                    vpc.cidr, vpc.id, peer.cidr, peer.id
                ),
            )
        } else {
            (
                "pending-acceptance",
                format!("Pending acceptance by {peer_owner}"),
            )
        };
        let id = self.fresh_id(Kind::Peering, "peerings", "id").await?;
        let t = now();
        sqlx::query(
            "INSERT INTO peerings (id, requester_account, requester_vpc, accepter_account, accepter_vpc, status, message, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'initiating-request', 'Initiating request', ?, ?)",
        )
        .bind(&id)
        .bind(&vpc.account)
        .bind(&vpc.id)
        .bind(peer_owner.as_str())
        .bind(&peer.id)
        .bind(&t)
        .bind(&t)
        .execute(&self.db)
        .await?;
        self.set_status(&id, status, &message).await?;
        tracing::info!(pcx = %id, status, "peering requested");
        Ok(self.to_peering(self.peering_row(&id).await?).await)
    }

    pub async fn get_peering(&self, p: &Principal, id: &str) -> Result<PeeringConnection> {
        let r = self.peering_row(id).await?;
        Self::party(p, &r, "describe")?;
        Ok(self.to_peering(r).await)
    }

    /// Peerings where the caller's account is requester or accepter.
    pub async fn list_peerings(&self, p: &Principal) -> Result<Vec<PeeringConnection>> {
        let rows = sqlx::query_as::<_, PeeringRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM peerings WHERE requester_account = ?1 OR accepter_account = ?1 ORDER BY seq"
        )))
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.to_peering(r).await);
        }
        Ok(out)
    }

    fn only_accepter(p: &Principal, r: &PeeringRow, action: &str) -> Result<()> {
        authorize(
            p,
            &r.accepter_account,
            &format!("{action} (only the accepter account may)"),
            &r.id,
        )
    }

    fn must_be_pending(r: &PeeringRow, action: &str) -> Result<()> {
        if r.status == "pending-acceptance" {
            Ok(())
        } else {
            Err(Error::Conflict(format!(
                "cannot {action} {}: it is {}, not pending-acceptance",
                r.id, r.status
            )))
        }
    }

    /// Accept (accepter account only): joins the two routers with a veth pair. Traffic
    /// flows once both sides' route tables have routes to the peer.
    pub async fn accept_peering(&self, p: &Principal, id: &str) -> Result<PeeringConnection> {
        let r = self.peering_row(id).await?;
        Self::only_accepter(p, &r, "accept")?;
        let _g = self.lock.lock().await;
        let r = self.peering_row(id).await?;
        Self::must_be_pending(&r, "accept")?;
        if let Err(e) = self.plumb_peering(&r).await {
            self.unplumb_peering(&r).await;
            return Err(e);
        }
        self.set_status(id, "active", "Active").await?;
        self.apply_routes(None, Some(id)).await?;
        self.refresh_peering_dns(&r).await?;
        tracing::info!(pcx = %id, "peering active");
        Ok(self.to_peering(self.peering_row(id).await?).await)
    }

    /// Reject (accepter account only).
    pub async fn reject_peering(&self, p: &Principal, id: &str) -> Result<PeeringConnection> {
        let r = self.peering_row(id).await?;
        Self::only_accepter(p, &r, "reject")?;
        let _g = self.lock.lock().await;
        let r = self.peering_row(id).await?;
        Self::must_be_pending(&r, "reject")?;
        self.set_status(id, "rejected", &format!("Rejected by {}", p.account()))
            .await?;
        Ok(self.to_peering(self.peering_row(id).await?).await)
    }

    /// Delete (either side): the link goes, routes through it become blackholes.
    pub async fn delete_peering(&self, p: &Principal, id: &str) -> Result<PeeringConnection> {
        let r = self.peering_row(id).await?;
        Self::party(p, &r, "delete")?;
        let _g = self.lock.lock().await;
        let r = self.peering_row(id).await?;
        match r.status.as_str() {
            "active" | "pending-acceptance" | "initiating-request" => {}
            s => {
                return Err(Error::Conflict(format!("{id} is already {s}")));
            }
        }
        self.set_status(id, "deleted", &format!("Deleted by {}", p.account()))
            .await?;
        if r.status == "active" {
            self.unplumb_peering(&r).await;
            self.apply_routes(None, Some(id)).await?;
            self.refresh_peering_dns(&r).await?;
        }
        Ok(self.to_peering(self.peering_row(id).await?).await)
    }

    pub(crate) async fn plumb_peering(&self, r: &PeeringRow) -> Result<()> {
        let dev = render::peering_dev(&r.id);
        let (req_end, acc_end) = net::peering_link(r.seq);
        let a = self.router_namespace(&r.requester_vpc);
        let b = self.router_namespace(&r.accepter_vpc);
        let (d, peer) = (dev.clone(), b.clone());
        netlink::with_ns(&a, move |nl| async move {
            nl.veth(&d, &d, &peer, None).await?;
            nl.addr(&d, req_end, 30).await
        })
        .await?;
        netlink::with_ns(&b, move |nl| async move {
            nl.addr(&dev, acc_end, 30).await?;
            nl.up(&dev).await
        })
        .await
    }

    async fn unplumb_peering(&self, r: &PeeringRow) {
        let dev = render::peering_dev(&r.id);
        let _ = netlink::with_ns(
            &self.router_namespace(&r.requester_vpc),
            move |nl| async move { nl.link_del(&dev).await },
        )
        .await;
    }
}
