//! Transit gateways with EC2's semantics, and their RAM resource shares.
//!
//! A transit gateway is a router namespace (`<prefix>-t<hex>`). A VPC attachment is one
//! veth pair from the gateway router (`a<hex>`) into the VPC router (`t<hex>`), addressed
//! from 198.18.0.0/15 (never a VPC CIDR). Each gateway route table is a kernel routing
//! table of the gateway router; an attachment's association is an `iif a<hex>` rule to
//! its table, so packets from an attachment are routed by the table it is associated with
//! (longest prefix wins; static beats propagated for the same prefix; blackhole drops).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::render::Hop;
use super::{Engine, authorize, now};
use crate::error::{Error, Result};
use crate::ids::{self, AccountId, Kind, Principal, short};
use crate::kernel;
use crate::net;
use crate::netlink;
use crate::types::*;

/// AWS's default `amazonSideAsn`.
pub const DEFAULT_ASN: u64 = 64512;
/// Attachments per transit gateway (AWS's quota).
pub const MAX_ATTACHMENTS: i64 = 5000;
/// Route tables per transit gateway (AWS's quota).
pub const MAX_ROUTE_TABLES: i64 = 20;
/// Static routes per transit gateway (AWS's quota).
pub const MAX_ROUTES: i64 = 10000;

/// States in which an attachment still counts (for "one attachment per VPC").
const LIVE: &str = "('pendingAcceptance', 'pending', 'available', 'modifying', 'deleting')";

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct TgwRow {
    pub id: String,
    pub account: String,
    pub region: String,
    pub description: Option<String>,
    pub asn: i64,
    pub auto_accept: bool,
    pub default_association: bool,
    pub default_propagation: bool,
    pub default_route_table: Option<String>,
    pub state: String,
    pub created_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct AttachmentRow {
    pub seq: i64,
    pub id: String,
    pub tgw_id: String,
    pub tgw_account: String,
    pub account: String,
    pub vpc_id: String,
    pub subnet_ids: String,
    pub state: String,
    pub route_table_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RouteTableRow {
    pub seq: i64,
    pub id: String,
    pub tgw_id: String,
    pub created_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ShareRow {
    pub id: String,
    pub invitation_id: String,
    pub account: String,
    pub region: String,
    pub name: Option<String>,
    pub tgw_id: String,
    pub principal: String,
    pub status: String,
    pub invitation_status: String,
    pub created_at: String,
}

const TGW_COLS: &str = "id, account, region, description, asn, auto_accept, default_association, default_propagation, default_route_table, state, created_at";
const ATT_COLS: &str = "seq, id, tgw_id, tgw_account, account, vpc_id, subnet_ids, state, route_table_id, created_at, updated_at";
const SHARE_COLS: &str = "id, invitation_id, account, region, name, tgw_id, principal, status, invitation_status, created_at";

/// The gateway router's end of an attachment link.
pub(crate) fn tgw_dev(attachment_id: &str) -> String {
    format!("a{}", short(attachment_id))
}
/// The VPC router's end of an attachment link.
pub(crate) fn vpc_dev(attachment_id: &str) -> String {
    format!("t{}", short(attachment_id))
}
/// The /30 of attachment link `seq` in 198.18.0.0/15: (gateway end, VPC end).
pub(crate) fn attachment_link(seq: i64) -> (Ipv4Addr, Ipv4Addr) {
    let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + ((seq as u32) & 0x7fff) * 4;
    (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
}
fn rt_table(seq: i64) -> u32 {
    1000 + seq as u32
}

fn flag(field: &str, v: Option<&str>, default: bool) -> Result<bool> {
    match v {
        None => Ok(default),
        Some("enable") => Ok(true),
        Some("disable") => Ok(false),
        Some(o) => Err(Error::invalid(
            field,
            format!("{o:?}: use enable or disable"),
        )),
    }
}
fn word(b: bool) -> String {
    if b { "enable" } else { "disable" }.to_string()
}

/// AWS's private ASN ranges for `amazonSideAsn`.
pub fn valid_asn(asn: u64) -> bool {
    (64512..=65534).contains(&asn) || (4_200_000_000..=4_294_967_294).contains(&asn)
}

impl Engine {
    /// The network namespace of a transit gateway's router.
    pub fn tgw_namespace(&self, tgw_id: &str) -> String {
        format!("{}-t{}", self.prefix, short(tgw_id))
    }

    pub(crate) async fn tgw_row(&self, id: &str) -> Result<TgwRow> {
        Kind::TransitGateway.parse("transitGatewayId", id)?;
        sqlx::query_as::<_, TgwRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {TGW_COLS} FROM transit_gateways WHERE id = ? AND state != 'deleted'"
        )))
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "transit gateway",
            id: id.to_string(),
        })
    }

    pub(crate) async fn live_tgws(&self) -> Result<Vec<TgwRow>> {
        Ok(sqlx::query_as::<_, TgwRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {TGW_COLS} FROM transit_gateways WHERE state != 'deleted' ORDER BY seq"
        )))
        .fetch_all(&self.db)
        .await?)
    }

    /// Whether `account` owns the gateway or has accepted a share of it.
    async fn may_use_tgw(&self, account: &str, t: &TgwRow) -> Result<bool> {
        if t.account == account {
            return Ok(true);
        }
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM resource_shares WHERE tgw_id = ? AND principal = ? AND status = 'ACTIVE' AND invitation_status = 'ACCEPTED'",
        )
        .bind(&t.id)
        .bind(account)
        .fetch_one(&self.db)
        .await?;
        Ok(n > 0)
    }

    /// The gateway, if the caller owns it or accepted a share of it (404 otherwise, as
    /// AWS answers `InvalidTransitGatewayID.NotFound`).
    async fn visible_tgw(&self, p: &Principal, id: &str) -> Result<TgwRow> {
        let t = self.tgw_row(id).await?;
        if self.may_use_tgw(p.account().as_str(), &t).await? {
            Ok(t)
        } else {
            Err(Error::NotFound {
                kind: "transit gateway",
                id: id.to_string(),
            })
        }
    }

    fn to_tgw(&self, r: TgwRow) -> TransitGateway {
        TransitGateway {
            transit_gateway_arn: format!(
                "arn:aws:ec2:{}:{}:transit-gateway/{}",
                r.region, r.account, r.id
            ),
            namespace: self.tgw_namespace(&r.id),
            options: TransitGatewayOptions {
                amazon_side_asn: r.asn as u64,
                auto_accept_shared_attachments: word(r.auto_accept),
                default_route_table_association: word(r.default_association),
                default_route_table_propagation: word(r.default_propagation),
                association_default_route_table_id: r
                    .default_association
                    .then(|| r.default_route_table.clone())
                    .flatten(),
                propagation_default_route_table_id: r
                    .default_propagation
                    .then(|| r.default_route_table.clone())
                    .flatten(),
            },
            transit_gateway_id: r.id,
            owner_id: r.account,
            region: r.region,
            description: r.description,
            state: r.state,
            created_at: r.created_at,
        }
    }

    /// Create a transit gateway: its router namespace and, when default association or
    /// propagation is on, its default route table.
    pub async fn create_transit_gateway(
        &self,
        p: &Principal,
        req: CreateTransitGateway,
    ) -> Result<TransitGateway> {
        let region = ids::parse_region(req.region.as_deref().unwrap_or(ids::DEFAULT_REGION))?;
        let o = &req.options;
        let asn = o.amazon_side_asn.unwrap_or(DEFAULT_ASN);
        if !valid_asn(asn) {
            return Err(Error::invalid(
                "options.amazonSideAsn",
                format!("{asn} is not a private ASN: use 64512-65534 or 4200000000-4294967294"),
            ));
        }
        let auto = flag(
            "options.autoAcceptSharedAttachments",
            o.auto_accept_shared_attachments.as_deref(),
            false,
        )?;
        let assoc = flag(
            "options.defaultRouteTableAssociation",
            o.default_route_table_association.as_deref(),
            true,
        )?;
        let prop = flag(
            "options.defaultRouteTablePropagation",
            o.default_route_table_propagation.as_deref(),
            true,
        )?;
        let _g = self.lock.lock().await;
        let id = self
            .fresh_id(Kind::TransitGateway, "transit_gateways", "id")
            .await?;
        let rtb = if assoc || prop {
            Some(
                self.fresh_id(Kind::TransitGatewayRouteTable, "tgw_route_tables", "id")
                    .await?,
            )
        } else {
            None
        };
        let t = now();
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO transit_gateways (id, account, region, description, asn, auto_accept, default_association, default_propagation, default_route_table, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
        )
        .bind(&id)
        .bind(p.account().as_str())
        .bind(&region)
        .bind(&req.description)
        .bind(asn as i64)
        .bind(auto)
        .bind(assoc)
        .bind(prop)
        .bind(&rtb)
        .bind(&t)
        .execute(&mut *tx)
        .await?;
        if let Some(rtb) = &rtb {
            sqlx::query("INSERT INTO tgw_route_tables (id, tgw_id, created_at) VALUES (?, ?, ?)")
                .bind(rtb)
                .bind(&id)
                .bind(&t)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        if let Err(e) = self.build_tgw_router(&id).await {
            kernel::netns_del(&[self.tgw_namespace(&id)]).await;
            for sql in [
                "DELETE FROM tgw_route_tables WHERE tgw_id = ?",
                "DELETE FROM transit_gateways WHERE id = ?",
            ] {
                sqlx::query(sql).bind(&id).execute(&self.db).await?;
            }
            return Err(e);
        }
        sqlx::query("UPDATE transit_gateways SET state = 'available' WHERE id = ?")
            .bind(&id)
            .execute(&self.db)
            .await?;
        tracing::info!(tgw = %id, asn, account = %p.account(), "transit gateway created");
        Ok(self.to_tgw(self.tgw_row(&id).await?))
    }

    async fn build_tgw_router(&self, id: &str) -> Result<()> {
        let ns = self.tgw_namespace(id);
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
        netlink::with_ns(&ns, |nl| async move { nl.up("lo").await }).await
    }

    pub async fn get_transit_gateway(&self, p: &Principal, id: &str) -> Result<TransitGateway> {
        Ok(self.to_tgw(self.visible_tgw(p, id).await?))
    }

    /// Gateways the caller owns or has accepted a share of.
    pub async fn list_transit_gateways(&self, p: &Principal) -> Result<Vec<TransitGateway>> {
        let mut out = Vec::new();
        for t in self.live_tgws().await? {
            if self.may_use_tgw(p.account().as_str(), &t).await? {
                out.push(self.to_tgw(t));
            }
        }
        Ok(out)
    }

    /// Delete (owner only), refused while attachments are not deleted.
    pub async fn delete_transit_gateway(&self, p: &Principal, id: &str) -> Result<TransitGateway> {
        let t = self.tgw_row(id).await?;
        authorize(p, &t.account, "delete", id)?;
        let _g = self.lock.lock().await;
        let live: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM tgw_attachments WHERE tgw_id = ? AND state IN {LIVE}"
        )))
        .bind(id)
        .fetch_all(&self.db)
        .await?;
        if !live.is_empty() {
            return Err(Error::Conflict(format!(
                "IncorrectState: {id} has non-deleted Transit Gateway Attachments: {}",
                live.join(", ")
            )));
        }
        kernel::netns_del(&[self.tgw_namespace(id)]).await;
        let mut tx = self.db.begin().await?;
        for sql in [
            "DELETE FROM tgw_routes WHERE route_table_id IN (SELECT id FROM tgw_route_tables WHERE tgw_id = ?1)",
            "DELETE FROM tgw_propagations WHERE route_table_id IN (SELECT id FROM tgw_route_tables WHERE tgw_id = ?1)",
            "UPDATE resource_shares SET status = 'DELETED' WHERE tgw_id = ?1",
            "UPDATE transit_gateways SET state = 'deleted' WHERE id = ?1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        tracing::info!(tgw = %id, "transit gateway deleted");
        let mut t = self.to_tgw(t);
        t.state = "deleted".into();
        Ok(t)
    }

    // ---- RAM resource shares ----

    async fn share_row(&self, id: &str) -> Result<ShareRow> {
        Kind::ResourceShare.parse("resourceShareId", id)?;
        sqlx::query_as::<_, ShareRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {SHARE_COLS} FROM resource_shares WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "resource share",
            id: id.to_string(),
        })
    }

    fn to_invitation(r: &ShareRow) -> ResourceShareInvitation {
        ResourceShareInvitation {
            resource_share_invitation_id: r.invitation_id.clone(),
            resource_share_invitation_arn: format!(
                "arn:aws:ram:{}:{}:resource-share-invitation/{}",
                r.region, r.account, r.invitation_id
            ),
            resource_share_id: r.id.clone(),
            resource_share_name: r.name.clone(),
            sender_account_id: r.account.clone(),
            receiver_account_id: r.principal.clone(),
            resource_id: r.tgw_id.clone(),
            status: r.invitation_status.clone(),
        }
    }

    fn to_share(r: ShareRow) -> ResourceShare {
        ResourceShare {
            invitation: Self::to_invitation(&r),
            resource_share_arn: format!(
                "arn:aws:ram:{}:{}:resource-share/{}",
                r.region, r.account, r.id
            ),
            resource_share_id: r.id,
            name: r.name,
            owning_account_id: r.account,
            resource_id: r.tgw_id,
            principal: r.principal,
            status: r.status,
            created_at: r.created_at,
        }
    }

    /// Share a transit gateway with an account (owner only): the account gets an
    /// invitation `PENDING` until it accepts or rejects.
    pub async fn create_resource_share(
        &self,
        p: &Principal,
        req: CreateResourceShare,
    ) -> Result<ResourceShare> {
        Kind::TransitGateway.parse("resourceId", &req.resource_id)?;
        let t = self.tgw_row(&req.resource_id).await?;
        authorize(p, &t.account, "share", &t.id)?;
        let to = AccountId::parse(&req.principal).map_err(|_| {
            Error::invalid(
                "principal",
                format!("{:?} must be a 12-digit account id", req.principal),
            )
        })?;
        if to.as_str() == t.account {
            return Err(Error::invalid(
                "principal",
                format!("{to} owns {}; share it with another account", t.id),
            ));
        }
        let _g = self.lock.lock().await;
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT id FROM resource_shares WHERE tgw_id = ? AND principal = ? AND status = 'ACTIVE' AND invitation_status != 'REJECTED'",
        )
        .bind(&t.id)
        .bind(to.as_str())
        .fetch_optional(&self.db)
        .await?;
        if let Some(s) = existing {
            return Err(Error::Conflict(format!(
                "{} is already shared with {to} by resource share {s}",
                t.id
            )));
        }
        let id = self
            .fresh_id(Kind::ResourceShare, "resource_shares", "id")
            .await?;
        let inv = self
            .fresh_id(
                Kind::ResourceShareInvitation,
                "resource_shares",
                "invitation_id",
            )
            .await?;
        let ts = now();
        sqlx::query(
            "INSERT INTO resource_shares (id, invitation_id, account, region, name, tgw_id, principal, status, invitation_status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'ACTIVE', 'PENDING', ?, ?)",
        )
        .bind(&id)
        .bind(&inv)
        .bind(&t.account)
        .bind(&t.region)
        .bind(&req.name)
        .bind(&t.id)
        .bind(to.as_str())
        .bind(&ts)
        .bind(&ts)
        .execute(&self.db)
        .await?;
        tracing::info!(share = %id, tgw = %t.id, principal = %to, "transit gateway shared");
        Ok(Self::to_share(self.share_row(&id).await?))
    }

    /// Shares the caller owns.
    pub async fn list_resource_shares(&self, p: &Principal) -> Result<Vec<ResourceShare>> {
        let rows = sqlx::query_as::<_, ShareRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {SHARE_COLS} FROM resource_shares WHERE account = ? ORDER BY seq"
        )))
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?;
        Ok(rows.into_iter().map(Self::to_share).collect())
    }

    pub async fn get_resource_share(&self, p: &Principal, id: &str) -> Result<ResourceShare> {
        let r = self.share_row(id).await?;
        authorize(p, &r.account, "describe", id)?;
        Ok(Self::to_share(r))
    }

    /// Stop sharing (owner only): the share is `DELETED`; the account can no longer
    /// describe the gateway or create attachments, but its existing attachments keep
    /// working (as in AWS).
    pub async fn delete_resource_share(&self, p: &Principal, id: &str) -> Result<ResourceShare> {
        let r = self.share_row(id).await?;
        authorize(p, &r.account, "delete", id)?;
        sqlx::query("UPDATE resource_shares SET status = 'DELETED', updated_at = ? WHERE id = ?")
            .bind(now())
            .bind(id)
            .execute(&self.db)
            .await?;
        tracing::info!(share = %id, "resource share deleted");
        Ok(Self::to_share(self.share_row(id).await?))
    }

    /// Invitations the caller's account received (of shares still active).
    pub async fn list_resource_share_invitations(
        &self,
        p: &Principal,
    ) -> Result<Vec<ResourceShareInvitation>> {
        let rows = sqlx::query_as::<_, ShareRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {SHARE_COLS} FROM resource_shares WHERE principal = ? AND status = 'ACTIVE' ORDER BY seq"
        )))
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?;
        Ok(rows.iter().map(Self::to_invitation).collect())
    }

    async fn answer_invitation(
        &self,
        p: &Principal,
        invitation_id: &str,
        accept: bool,
    ) -> Result<ResourceShareInvitation> {
        Kind::ResourceShareInvitation.parse("resourceShareInvitationId", invitation_id)?;
        let r = sqlx::query_as::<_, ShareRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {SHARE_COLS} FROM resource_shares WHERE invitation_id = ?"
        )))
        .bind(invitation_id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "resource share invitation",
            id: invitation_id.to_string(),
        })?;
        let action = if accept { "accept" } else { "reject" };
        authorize(
            p,
            &r.principal,
            &format!("{action} (only the receiver account may)"),
            invitation_id,
        )?;
        if r.status != "ACTIVE" {
            return Err(Error::Conflict(format!(
                "cannot {action} {invitation_id}: resource share {} is {}",
                r.id, r.status
            )));
        }
        if r.invitation_status != "PENDING" {
            return Err(Error::Conflict(format!(
                "cannot {action} {invitation_id}: it is {}, not PENDING",
                r.invitation_status
            )));
        }
        let status = if accept { "ACCEPTED" } else { "REJECTED" };
        sqlx::query(
            "UPDATE resource_shares SET invitation_status = ?, updated_at = ? WHERE invitation_id = ?",
        )
        .bind(status)
        .bind(now())
        .bind(invitation_id)
        .execute(&self.db)
        .await?;
        tracing::info!(invitation = %invitation_id, status, "resource share invitation answered");
        let mut inv = Self::to_invitation(&r);
        inv.status = status.into();
        Ok(inv)
    }

    pub async fn accept_resource_share_invitation(
        &self,
        p: &Principal,
        invitation_id: &str,
    ) -> Result<ResourceShareInvitation> {
        self.answer_invitation(p, invitation_id, true).await
    }

    pub async fn reject_resource_share_invitation(
        &self,
        p: &Principal,
        invitation_id: &str,
    ) -> Result<ResourceShareInvitation> {
        self.answer_invitation(p, invitation_id, false).await
    }

    // ---- VPC attachments ----

    pub(crate) async fn attachment_row(&self, id: &str) -> Result<AttachmentRow> {
        Kind::TransitGatewayAttachment.parse("transitGatewayAttachmentId", id)?;
        sqlx::query_as::<_, AttachmentRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {ATT_COLS} FROM tgw_attachments WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "transit gateway attachment",
            id: id.to_string(),
        })
    }

    fn to_attachment(r: AttachmentRow) -> TransitGatewayVpcAttachment {
        TransitGatewayVpcAttachment {
            subnet_ids: serde_json::from_str(&r.subnet_ids).unwrap_or_default(),
            association: r
                .route_table_id
                .filter(|_| r.state == "available")
                .map(|t| TransitGatewayAttachmentAssociation {
                    transit_gateway_route_table_id: t,
                    state: "associated".into(),
                }),
            transit_gateway_attachment_id: r.id,
            transit_gateway_id: r.tgw_id,
            transit_gateway_owner_id: r.tgw_account,
            vpc_id: r.vpc_id,
            vpc_owner_id: r.account,
            state: r.state,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    fn attachment_party(p: &Principal, r: &AttachmentRow, action: &str) -> Result<()> {
        let me = p.account().as_str();
        if me == r.account || me == r.tgw_account {
            Ok(())
        } else {
            authorize(p, &r.account, action, &r.id)
        }
    }

    async fn set_attachment_state(&self, id: &str, state: &str) -> Result<()> {
        sqlx::query("UPDATE tgw_attachments SET state = ?, updated_at = ? WHERE id = ?")
            .bind(state)
            .bind(now())
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Attach a VPC (its owner) to a gateway it owns or accepted a share of, with one
    /// subnet per availability zone. A cross-account attachment to a gateway that does
    /// not auto-accept waits in `pendingAcceptance` for the owner; otherwise it goes
    /// `pending` → `available` (linked, associated and propagated as the defaults say).
    pub async fn create_transit_gateway_vpc_attachment(
        &self,
        p: &Principal,
        req: CreateTransitGatewayVpcAttachment,
    ) -> Result<TransitGatewayVpcAttachment> {
        let t = self.visible_tgw(p, &req.transit_gateway_id).await?;
        let vpc = self.vpc_row(&req.vpc_id).await?;
        authorize(p, &vpc.account, "attach to a transit gateway", &vpc.id)?;
        if vpc.region != t.region {
            return Err(Error::invalid(
                "vpcId",
                format!(
                    "{} is in {}, {} in {}: a VPC attachment needs both in one region",
                    vpc.id, vpc.region, t.id, t.region
                ),
            ));
        }
        if req.subnet_ids.is_empty() {
            return Err(Error::invalid(
                "subnetIds",
                "name at least one subnet (one per availability zone)",
            ));
        }
        let mut azs = BTreeMap::new();
        for (i, s) in req.subnet_ids.iter().enumerate() {
            let field = format!("subnetIds[{i}]");
            Kind::Subnet.parse(&field, s)?;
            let row = self.subnet_row(s).await?;
            if row.vpc_id != vpc.id {
                return Err(Error::invalid(
                    &field,
                    format!("{s} is in {}, not in {}", row.vpc_id, vpc.id),
                ));
            }
            if let Some(other) = azs.insert(row.az.clone(), s.clone()) {
                return Err(Error::invalid(
                    &field,
                    format!(
                        "DuplicateSubnetsInSameZone: {other} and {s} are both in {}; use one subnet per availability zone",
                        row.az
                    ),
                ));
            }
        }
        let _g = self.lock.lock().await;
        let dup: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM tgw_attachments WHERE tgw_id = ? AND vpc_id = ? AND state IN {LIVE}"
        )))
        .bind(&t.id)
        .bind(&vpc.id)
        .fetch_optional(&self.db)
        .await?;
        if let Some(d) = dup {
            return Err(Error::Conflict(format!(
                "DuplicateTransitGatewayAttachment: {} has non-deleted Transit Gateway Attachments with same VPC ID ({d})",
                t.id
            )));
        }
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM tgw_attachments WHERE tgw_id = ? AND state IN {LIVE}"
        )))
        .bind(&t.id)
        .fetch_one(&self.db)
        .await?;
        if count >= MAX_ATTACHMENTS {
            return Err(Error::Conflict(format!(
                "TransitGatewayAttachmentLimitExceeded: {} already has {count} attachments, the maximum of {MAX_ATTACHMENTS} attachments per transit gateway",
                t.id
            )));
        }
        let id = self
            .fresh_id(Kind::TransitGatewayAttachment, "tgw_attachments", "id")
            .await?;
        let needs_acceptance = vpc.account != t.account && !t.auto_accept;
        let state = if needs_acceptance {
            "pendingAcceptance"
        } else {
            "pending"
        };
        let ts = now();
        let subnets = serde_json::to_string(&req.subnet_ids).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO tgw_attachments (id, tgw_id, tgw_account, account, vpc_id, subnet_ids, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&t.id)
        .bind(&t.account)
        .bind(&vpc.account)
        .bind(&vpc.id)
        .bind(&subnets)
        .bind(state)
        .bind(&ts)
        .bind(&ts)
        .execute(&self.db)
        .await?;
        self.add_vpc_dependent(&vpc.id, &id, "transit gateway attachment")
            .await?;
        tracing::info!(attachment = %id, tgw = %t.id, vpc = %vpc.id, state, "transit gateway attachment created");
        if !needs_acceptance {
            self.activate_attachment(&id).await?;
        }
        Ok(Self::to_attachment(self.attachment_row(&id).await?))
    }

    /// `pending` → `available`: the link, the default association and propagation, the
    /// gateway tables and the VPC routes through the gateway. Called under the lock.
    async fn activate_attachment(&self, id: &str) -> Result<()> {
        let a = self.attachment_row(id).await?;
        let t = self.tgw_row(&a.tgw_id).await?;
        if let Err(e) = self.plumb_attachment(&a).await {
            self.unplumb_attachment(&a).await;
            self.set_attachment_state(id, "failed").await?;
            self.remove_vpc_dependent(id).await?;
            return Err(e);
        }
        if let Some(rtb) = t.default_route_table.as_deref() {
            if t.default_association {
                sqlx::query("UPDATE tgw_attachments SET route_table_id = ? WHERE id = ?")
                    .bind(rtb)
                    .bind(id)
                    .execute(&self.db)
                    .await?;
            }
            if t.default_propagation {
                sqlx::query(
                    "INSERT OR IGNORE INTO tgw_propagations (route_table_id, attachment_id) VALUES (?, ?)",
                )
                .bind(rtb)
                .bind(id)
                .execute(&self.db)
                .await?;
            }
        }
        self.set_attachment_state(id, "available").await?;
        self.sync_tgw(&t.id).await?;
        self.apply_routes(Some(&a.vpc_id), Some(&t.id)).await?;
        tracing::info!(attachment = %id, "transit gateway attachment available");
        Ok(())
    }

    pub(crate) async fn plumb_attachment(&self, a: &AttachmentRow) -> Result<()> {
        let (tdev, vdev) = (tgw_dev(&a.id), vpc_dev(&a.id));
        let (tgw_end, vpc_end) = attachment_link(a.seq);
        let vpc_ns = self.router_namespace(&a.vpc_id);
        netlink::with_ns(&self.tgw_namespace(&a.tgw_id), move |nl| async move {
            nl.veth(&tdev, &vdev, &vpc_ns, None).await?;
            nl.addr(&tdev, tgw_end, 30).await?;
            nl.up(&tdev).await
        })
        .await?;
        let vdev = vpc_dev(&a.id);
        netlink::with_ns(&self.router_namespace(&a.vpc_id), move |nl| async move {
            nl.addr(&vdev, vpc_end, 30).await?;
            nl.up(&vdev).await
        })
        .await
    }

    async fn unplumb_attachment(&self, a: &AttachmentRow) {
        let dev = tgw_dev(&a.id);
        let _ = netlink::with_ns(&self.tgw_namespace(&a.tgw_id), move |nl| async move {
            nl.link_del(&dev).await
        })
        .await;
        let dev = vpc_dev(&a.id);
        let _ = netlink::with_ns(&self.router_namespace(&a.vpc_id), move |nl| async move {
            nl.link_del(&dev).await
        })
        .await;
    }

    pub async fn get_transit_gateway_attachment(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<TransitGatewayVpcAttachment> {
        let r = self.attachment_row(id).await?;
        Self::attachment_party(p, &r, "describe")?;
        Ok(Self::to_attachment(r))
    }

    /// Attachments of the caller's VPCs and to the caller's gateways.
    pub async fn list_transit_gateway_attachments(
        &self,
        p: &Principal,
    ) -> Result<Vec<TransitGatewayVpcAttachment>> {
        let rows = sqlx::query_as::<_, AttachmentRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {ATT_COLS} FROM tgw_attachments WHERE account = ?1 OR tgw_account = ?1 ORDER BY seq"
        )))
        .bind(p.account().as_str())
        .fetch_all(&self.db)
        .await?;
        Ok(rows.into_iter().map(Self::to_attachment).collect())
    }

    async fn pending_for_owner(
        &self,
        p: &Principal,
        id: &str,
        action: &str,
    ) -> Result<AttachmentRow> {
        let r = self.attachment_row(id).await?;
        authorize(
            p,
            &r.tgw_account,
            &format!("{action} (only the transit gateway owner may)"),
            id,
        )?;
        if r.state != "pendingAcceptance" {
            return Err(Error::Conflict(format!(
                "IncorrectState: cannot {action} {id}: it is {}, not pendingAcceptance",
                r.state
            )));
        }
        Ok(r)
    }

    /// Accept (gateway owner only): `pendingAcceptance` → `pending` → `available`.
    pub async fn accept_transit_gateway_attachment(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<TransitGatewayVpcAttachment> {
        self.pending_for_owner(p, id, "accept").await?;
        let _g = self.lock.lock().await;
        self.pending_for_owner(p, id, "accept").await?;
        self.set_attachment_state(id, "pending").await?;
        self.activate_attachment(id).await?;
        Ok(Self::to_attachment(self.attachment_row(id).await?))
    }

    /// Reject (gateway owner only): `pendingAcceptance` → `rejected`.
    pub async fn reject_transit_gateway_attachment(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<TransitGatewayVpcAttachment> {
        self.pending_for_owner(p, id, "reject").await?;
        let _g = self.lock.lock().await;
        self.pending_for_owner(p, id, "reject").await?;
        self.set_attachment_state(id, "rejected").await?;
        self.remove_vpc_dependent(id).await?;
        tracing::info!(attachment = %id, "transit gateway attachment rejected");
        Ok(Self::to_attachment(self.attachment_row(id).await?))
    }

    /// Delete (the VPC's owner or the gateway's): `deleting` → `deleted`. The link goes,
    /// its association, propagations and the static routes to it; VPC routes through the
    /// gateway become blackholes.
    pub async fn delete_transit_gateway_attachment(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<TransitGatewayVpcAttachment> {
        let r = self.attachment_row(id).await?;
        Self::attachment_party(p, &r, "delete")?;
        let _g = self.lock.lock().await;
        let r = self.attachment_row(id).await?;
        match r.state.as_str() {
            "available" | "pending" | "pendingAcceptance" | "failed" | "rejected" => {}
            s => {
                return Err(Error::Conflict(format!(
                    "IncorrectState: {id} is already {s}"
                )));
            }
        }
        self.set_attachment_state(id, "deleting").await?;
        self.unplumb_attachment(&r).await;
        let mut tx = self.db.begin().await?;
        for sql in [
            "DELETE FROM tgw_propagations WHERE attachment_id = ?1",
            "DELETE FROM tgw_routes WHERE attachment_id = ?1",
            "UPDATE tgw_attachments SET route_table_id = NULL WHERE id = ?1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.set_attachment_state(id, "deleted").await?;
        self.remove_vpc_dependent(id).await?;
        if self.tgw_row(&r.tgw_id).await.is_ok() {
            self.sync_tgw(&r.tgw_id).await?;
        }
        self.apply_routes(Some(&r.vpc_id), Some(&r.tgw_id)).await?;
        tracing::info!(attachment = %id, "transit gateway attachment deleted");
        Ok(Self::to_attachment(self.attachment_row(id).await?))
    }

    /// Where a VPC route to `tgw_id` goes: over the VPC's attachment link when it is
    /// `available`, a blackhole while it is not; refused without an attachment.
    pub(crate) async fn tgw_hop(&self, vpc_id: &str, tgw_id: &str) -> Result<Hop> {
        Kind::TransitGateway.parse("targetId", tgw_id)?;
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM transit_gateways WHERE id = ?")
            .bind(tgw_id)
            .fetch_one(&self.db)
            .await?;
        if exists == 0 {
            return Err(Error::NotFound {
                kind: "transit gateway",
                id: tgw_id.to_string(),
            });
        }
        let rows = sqlx::query_as::<_, AttachmentRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {ATT_COLS} FROM tgw_attachments WHERE tgw_id = ? AND vpc_id = ? ORDER BY seq DESC"
        )))
        .bind(tgw_id)
        .bind(vpc_id)
        .fetch_all(&self.db)
        .await?;
        let Some(a) = rows.first() else {
            return Err(Error::invalid(
                "targetId",
                format!(
                    "{tgw_id} has no attachment of {vpc_id}: attach the VPC to the transit gateway first"
                ),
            ));
        };
        Ok(if a.state == "available" {
            Hop::Peer {
                dev: vpc_dev(&a.id),
                via: attachment_link(a.seq).0,
            }
        } else {
            Hop::Blackhole
        })
    }

    // ---- route tables ----

    async fn rtb_row(&self, id: &str) -> Result<RouteTableRow> {
        Kind::TransitGatewayRouteTable.parse("transitGatewayRouteTableId", id)?;
        sqlx::query_as::<_, RouteTableRow>(
            "SELECT seq, id, tgw_id, created_at FROM tgw_route_tables WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "transit gateway route table",
            id: id.to_string(),
        })
    }

    /// The route table and its gateway, for the gateway's owner only.
    async fn owned_rtb(
        &self,
        p: &Principal,
        id: &str,
        action: &str,
    ) -> Result<(RouteTableRow, TgwRow)> {
        let r = self.rtb_row(id).await?;
        let t = self.tgw_row(&r.tgw_id).await?;
        authorize(
            p,
            &t.account,
            &format!("{action} (only the transit gateway owner may)"),
            id,
        )?;
        Ok((r, t))
    }

    async fn to_rtb(&self, r: RouteTableRow, t: &TgwRow) -> Result<TransitGatewayRouteTable> {
        let assoc: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, vpc_id FROM tgw_attachments WHERE route_table_id = ? AND state = 'available' ORDER BY seq",
        )
        .bind(&r.id)
        .fetch_all(&self.db)
        .await?;
        let props: Vec<(String, String)> = sqlx::query_as(
            "SELECT a.id, a.vpc_id FROM tgw_propagations p JOIN tgw_attachments a ON a.id = p.attachment_id WHERE p.route_table_id = ? ORDER BY a.seq",
        )
        .bind(&r.id)
        .fetch_all(&self.db)
        .await?;
        let link = |(a, v): (String, String), state: &str| TransitGatewayRouteTableLink {
            transit_gateway_attachment_id: a,
            resource_id: v,
            resource_type: "vpc".into(),
            state: state.into(),
        };
        let is_default = t.default_route_table.as_deref() == Some(r.id.as_str());
        Ok(TransitGatewayRouteTable {
            default_association_route_table: is_default && t.default_association,
            default_propagation_route_table: is_default && t.default_propagation,
            associations: assoc.into_iter().map(|x| link(x, "associated")).collect(),
            propagations: props.into_iter().map(|x| link(x, "enabled")).collect(),
            transit_gateway_route_table_id: r.id,
            transit_gateway_id: r.tgw_id,
            state: "available".into(),
            created_at: r.created_at,
        })
    }

    /// Create a route table of a gateway (owner only; at most 20 per gateway).
    pub async fn create_transit_gateway_route_table(
        &self,
        p: &Principal,
        req: CreateTransitGatewayRouteTable,
    ) -> Result<TransitGatewayRouteTable> {
        let t = self.tgw_row(&req.transit_gateway_id).await?;
        authorize(p, &t.account, "create a route table of", &t.id)?;
        let _g = self.lock.lock().await;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tgw_route_tables WHERE tgw_id = ?")
            .bind(&t.id)
            .fetch_one(&self.db)
            .await?;
        if n >= MAX_ROUTE_TABLES {
            return Err(Error::Conflict(format!(
                "TransitGatewayRouteTableLimitExceeded: {} already has {n} route tables, the maximum of {MAX_ROUTE_TABLES}",
                t.id
            )));
        }
        let id = self
            .fresh_id(Kind::TransitGatewayRouteTable, "tgw_route_tables", "id")
            .await?;
        sqlx::query("INSERT INTO tgw_route_tables (id, tgw_id, created_at) VALUES (?, ?, ?)")
            .bind(&id)
            .bind(&t.id)
            .bind(now())
            .execute(&self.db)
            .await?;
        let r = self.rtb_row(&id).await?;
        self.to_rtb(r, &t).await
    }

    pub async fn get_transit_gateway_route_table(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<TransitGatewayRouteTable> {
        let (r, t) = self.owned_rtb(p, id, "describe").await?;
        self.to_rtb(r, &t).await
    }

    /// Route tables of the caller's gateways.
    pub async fn list_transit_gateway_route_tables(
        &self,
        p: &Principal,
    ) -> Result<Vec<TransitGatewayRouteTable>> {
        let mut out = Vec::new();
        for t in self.live_tgws().await? {
            if t.account != p.account().as_str() {
                continue;
            }
            let rows = sqlx::query_as::<_, RouteTableRow>(
                "SELECT seq, id, tgw_id, created_at FROM tgw_route_tables WHERE tgw_id = ? ORDER BY seq",
            )
            .bind(&t.id)
            .fetch_all(&self.db)
            .await?;
            for r in rows {
                out.push(self.to_rtb(r, &t).await?);
            }
        }
        Ok(out)
    }

    /// Delete a route table (owner only): refused for the default table and while
    /// attachments are associated with it.
    pub async fn delete_transit_gateway_route_table(&self, p: &Principal, id: &str) -> Result<()> {
        let (r, t) = self.owned_rtb(p, id, "delete").await?;
        let _g = self.lock.lock().await;
        if t.default_route_table.as_deref() == Some(id) {
            return Err(Error::Conflict(format!(
                "IncorrectState: {id} is the default route table of {}",
                t.id
            )));
        }
        let assoc: Vec<String> =
            sqlx::query_scalar("SELECT id FROM tgw_attachments WHERE route_table_id = ?")
                .bind(id)
                .fetch_all(&self.db)
                .await?;
        if !assoc.is_empty() {
            return Err(Error::Conflict(format!(
                "IncorrectState: {id} has associations ({}); disassociate them first",
                assoc.join(", ")
            )));
        }
        let mut tx = self.db.begin().await?;
        for sql in [
            "DELETE FROM tgw_routes WHERE route_table_id = ?",
            "DELETE FROM tgw_propagations WHERE route_table_id = ?",
            "DELETE FROM tgw_route_tables WHERE id = ?",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let table = rt_table(r.seq);
        netlink::with_ns(&self.tgw_namespace(&t.id), move |nl| async move {
            nl.forget_table("", table).await;
            Ok(())
        })
        .await
    }

    /// An attachment of the route table's gateway, for associations and propagations.
    async fn attachment_of(&self, t: &TgwRow, id: &str) -> Result<AttachmentRow> {
        let a = self.attachment_row(id).await.map_err(|e| match e {
            Error::Invalid { reason, .. } => Error::invalid("transitGatewayAttachmentId", reason),
            e => e,
        })?;
        if a.tgw_id != t.id {
            return Err(Error::invalid(
                "transitGatewayAttachmentId",
                format!("{id} is an attachment of {}, not of {}", a.tgw_id, t.id),
            ));
        }
        if a.state != "available" {
            return Err(Error::Conflict(format!(
                "IncorrectState: {id} is {}, not available",
                a.state
            )));
        }
        Ok(a)
    }

    /// Associate an attachment with a route table (owner only; an attachment has at most
    /// one association: disassociate it first).
    pub async fn associate_transit_gateway_route_table(
        &self,
        p: &Principal,
        id: &str,
        attachment_id: &str,
    ) -> Result<TransitGatewayRouteTable> {
        let (r, t) = self.owned_rtb(p, id, "associate").await?;
        let _g = self.lock.lock().await;
        let a = self.attachment_of(&t, attachment_id).await?;
        if let Some(cur) = &a.route_table_id {
            return Err(Error::Conflict(format!(
                "Resource.AlreadyAssociated: {attachment_id} is already associated with {cur}; disassociate it first"
            )));
        }
        sqlx::query("UPDATE tgw_attachments SET route_table_id = ? WHERE id = ?")
            .bind(id)
            .bind(attachment_id)
            .execute(&self.db)
            .await?;
        self.sync_tgw(&t.id).await?;
        self.to_rtb(r, &t).await
    }

    pub async fn disassociate_transit_gateway_route_table(
        &self,
        p: &Principal,
        id: &str,
        attachment_id: &str,
    ) -> Result<TransitGatewayRouteTable> {
        self.remove_from_rtb(
            p,
            id,
            attachment_id,
            "disassociate",
            "UPDATE tgw_attachments SET route_table_id = NULL WHERE route_table_id = ? AND id = ?",
            "transit gateway route table association",
        )
        .await
    }

    /// Run `sql` (binding the route table id, then the attachment id) as the route table's
    /// owner: what it removes must exist (`what` names it in the NotFound), then the
    /// gateway's kernel state follows.
    async fn remove_from_rtb(
        &self,
        p: &Principal,
        id: &str,
        attachment_id: &str,
        verb: &str,
        sql: &'static str,
        what: &'static str,
    ) -> Result<TransitGatewayRouteTable> {
        let (r, t) = self.owned_rtb(p, id, verb).await?;
        let _g = self.lock.lock().await;
        let done = sqlx::query(sql)
            .bind(id)
            .bind(attachment_id)
            .execute(&self.db)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound {
                kind: what,
                id: format!("{attachment_id} in {id}"),
            });
        }
        self.sync_tgw(&t.id).await?;
        self.to_rtb(r, &t).await
    }

    /// Propagate an attachment's VPC CIDR into a route table (owner only).
    pub async fn enable_transit_gateway_route_table_propagation(
        &self,
        p: &Principal,
        id: &str,
        attachment_id: &str,
    ) -> Result<TransitGatewayRouteTable> {
        let (r, t) = self.owned_rtb(p, id, "enable propagation in").await?;
        let _g = self.lock.lock().await;
        self.attachment_of(&t, attachment_id).await?;
        sqlx::query(
            "INSERT OR IGNORE INTO tgw_propagations (route_table_id, attachment_id) VALUES (?, ?)",
        )
        .bind(id)
        .bind(attachment_id)
        .execute(&self.db)
        .await?;
        self.sync_tgw(&t.id).await?;
        self.to_rtb(r, &t).await
    }

    pub async fn disable_transit_gateway_route_table_propagation(
        &self,
        p: &Principal,
        id: &str,
        attachment_id: &str,
    ) -> Result<TransitGatewayRouteTable> {
        self.remove_from_rtb(
            p,
            id,
            attachment_id,
            "disable propagation in",
            "DELETE FROM tgw_propagations WHERE route_table_id = ? AND attachment_id = ?",
            "transit gateway route table propagation",
        )
        .await
    }

    /// The routes of a table: static (to an attachment or blackhole) and propagated
    /// (each propagating attachment's VPC CIDR); static beats propagated for one prefix.
    /// `only` reads one destination's rows.
    async fn effective_routes(
        &self,
        rtb_id: &str,
        only: Option<Ipv4Net>,
    ) -> Result<Vec<(Ipv4Net, TransitGatewayRoute, Hop)>> {
        let only = only.map(|n| n.to_string());
        let mut out: BTreeMap<Ipv4Net, (TransitGatewayRoute, Hop)> = BTreeMap::new();
        let props: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT a.seq, a.id, a.vpc_id, v.cidr FROM tgw_propagations p JOIN tgw_attachments a ON a.id = p.attachment_id JOIN vpcs v ON v.id = a.vpc_id WHERE p.route_table_id = ? AND a.state = 'available' AND (? IS NULL OR v.cidr = ?) ORDER BY a.seq",
        )
        .bind(rtb_id)
        .bind(&only)
        .bind(&only)
        .fetch_all(&self.db)
        .await?;
        for (seq, att, vpc, cidr) in props {
            let Ok(dest) = cidr.parse::<Ipv4Net>() else {
                continue;
            };
            out.entry(dest).or_insert((
                TransitGatewayRoute {
                    destination_cidr_block: dest.to_string(),
                    transit_gateway_attachments: vec![TransitGatewayRouteAttachment {
                        transit_gateway_attachment_id: att.clone(),
                        resource_id: vpc,
                        resource_type: "vpc".into(),
                    }],
                    route_type: "propagated".into(),
                    state: "active".into(),
                },
                Hop::Peer {
                    dev: tgw_dev(&att),
                    via: attachment_link(seq).1,
                },
            ));
        }
        let statics: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT destination, attachment_id FROM tgw_routes WHERE route_table_id = ? AND (? IS NULL OR destination = ?) ORDER BY destination",
        )
        .bind(rtb_id)
        .bind(&only)
        .bind(&only)
        .fetch_all(&self.db)
        .await?;
        for (dest, att) in statics {
            let Ok(net) = dest.parse::<Ipv4Net>() else {
                continue;
            };
            let (atts, hop) = match att {
                None => (vec![], Hop::Blackhole),
                Some(att) => match self.attachment_row(&att).await {
                    Ok(a) => (
                        vec![TransitGatewayRouteAttachment {
                            transit_gateway_attachment_id: a.id.clone(),
                            resource_id: a.vpc_id.clone(),
                            resource_type: "vpc".into(),
                        }],
                        if a.state == "available" {
                            Hop::Peer {
                                dev: tgw_dev(&a.id),
                                via: attachment_link(a.seq).1,
                            }
                        } else {
                            Hop::Blackhole
                        },
                    ),
                    Err(_) => (vec![], Hop::Blackhole),
                },
            };
            out.insert(
                net,
                (
                    TransitGatewayRoute {
                        destination_cidr_block: net.to_string(),
                        transit_gateway_attachments: atts,
                        route_type: "static".into(),
                        state: if hop == Hop::Blackhole {
                            "blackhole"
                        } else {
                            "active"
                        }
                        .into(),
                    },
                    hop,
                ),
            );
        }
        Ok(out.into_iter().map(|(n, (r, h))| (n, r, h)).collect())
    }

    /// `SearchTransitGatewayRoutes` without filters (owner only).
    pub async fn list_transit_gateway_routes(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<Vec<TransitGatewayRoute>> {
        self.owned_rtb(p, id, "describe the routes of").await?;
        Ok(self
            .effective_routes(id, None)
            .await?
            .into_iter()
            .map(|(_, r, _)| r)
            .collect())
    }

    /// A static route to an available attachment of the gateway, or a blackhole (owner
    /// only; at most 10,000 static routes per gateway).
    pub async fn create_transit_gateway_route(
        &self,
        p: &Principal,
        id: &str,
        req: CreateTransitGatewayRoute,
    ) -> Result<TransitGatewayRoute> {
        let (_, t) = self.owned_rtb(p, id, "change the routes of").await?;
        let dest = net::parse_cidr("destinationCidrBlock", &req.destination_cidr_block)?;
        let _g = self.lock.lock().await;
        let att = match (&req.transit_gateway_attachment_id, req.blackhole) {
            (Some(_), true) => {
                return Err(Error::invalid(
                    "blackhole",
                    "a route is either a blackhole or goes to an attachment, not both",
                ));
            }
            (None, false) => {
                return Err(Error::invalid(
                    "transitGatewayAttachmentId",
                    "name the attachment the route goes to, or set blackhole: true",
                ));
            }
            (Some(a), false) => Some(self.attachment_of(&t, a).await?.id),
            (None, true) => None,
        };
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM tgw_routes WHERE route_table_id IN (SELECT id FROM tgw_route_tables WHERE tgw_id = ?)",
        )
        .bind(&t.id)
        .fetch_one(&self.db)
        .await?;
        if n >= MAX_ROUTES {
            return Err(Error::Conflict(format!(
                "RouteLimitExceeded: {} already has {n} static routes, the maximum of {MAX_ROUTES}",
                t.id
            )));
        }
        let exists: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM tgw_routes WHERE route_table_id = ? AND destination = ?",
        )
        .bind(id)
        .bind(dest.to_string())
        .fetch_one(&self.db)
        .await?;
        if exists > 0 {
            return Err(Error::Conflict(format!(
                "RouteAlreadyExists: {id} already has a static route to {dest}; delete it first"
            )));
        }
        sqlx::query(
            "INSERT INTO tgw_routes (route_table_id, destination, attachment_id) VALUES (?, ?, ?)",
        )
        .bind(id)
        .bind(dest.to_string())
        .bind(&att)
        .execute(&self.db)
        .await?;
        self.sync_tgw_route(&t.id, id, dest)
            .await?
            .ok_or(Error::NotFound {
                kind: "transit gateway route",
                id: format!("{dest} in {id}"),
            })
    }

    /// One destination of one route table, in the kernel as the rows say (the static route
    /// if there is one, else a propagated one, else none): a single `route replace` or
    /// `route del` after reading only that destination's rows, so adding the 10,000th route
    /// costs what the first did and the table's other routes never flap. Returns the route now in effect.
    async fn sync_tgw_route(
        &self,
        tgw_id: &str,
        rtb_id: &str,
        dest: Ipv4Net,
    ) -> Result<Option<TransitGatewayRoute>> {
        let seq: i64 = sqlx::query_scalar("SELECT seq FROM tgw_route_tables WHERE id = ?")
            .bind(rtb_id)
            .fetch_one(&self.db)
            .await?;
        let table = rt_table(seq);
        let effective = self
            .effective_routes(rtb_id, Some(dest))
            .await?
            .into_iter()
            .find(|(n, _, _)| *n == dest);
        let hop = effective.as_ref().map(|(_, _, h)| h.clone());
        netlink::with_ns(&self.tgw_namespace(tgw_id), move |nl| async move {
            match hop {
                Some(h) => nl.route(dest, table, &h).await,
                None => nl.route_del(dest, table).await,
            }
        })
        .await?;
        Ok(effective.map(|(_, r, _)| r))
    }

    pub async fn delete_transit_gateway_route(
        &self,
        p: &Principal,
        id: &str,
        destination: &str,
    ) -> Result<()> {
        let (_, t) = self.owned_rtb(p, id, "change the routes of").await?;
        let dest = net::parse_cidr("destinationCidrBlock", destination)?;
        let _g = self.lock.lock().await;
        let done =
            sqlx::query("DELETE FROM tgw_routes WHERE route_table_id = ? AND destination = ?")
                .bind(id)
                .bind(dest.to_string())
                .execute(&self.db)
                .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound {
                kind: "transit gateway route",
                id: format!("{dest} in {id}"),
            });
        }
        self.sync_tgw_route(&t.id, id, dest).await.map(drop)
    }

    /// Make the gateway router's kernel tables and rules say what the rows say: each
    /// route table's routes (rebuilt whole) and one `iif` rule per associated attachment.
    pub(crate) async fn sync_tgw(&self, tgw_id: &str) -> Result<()> {
        let tables = sqlx::query_as::<_, RouteTableRow>(
            "SELECT seq, id, tgw_id, created_at FROM tgw_route_tables WHERE tgw_id = ? ORDER BY seq",
        )
        .bind(tgw_id)
        .fetch_all(&self.db)
        .await?;
        let mut seq_of = BTreeMap::new();
        let mut wanted = Vec::new();
        for r in &tables {
            seq_of.insert(r.id.clone(), r.seq);
            let routes: Vec<(Ipv4Net, Hop)> = self
                .effective_routes(&r.id, None)
                .await?
                .into_iter()
                .map(|(n, _, h)| (n, h))
                .collect();
            wanted.push((rt_table(r.seq), routes));
        }
        let atts: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT id, route_table_id FROM tgw_attachments WHERE tgw_id = ? AND state = 'available'",
        )
        .bind(tgw_id)
        .fetch_all(&self.db)
        .await?;
        let rules: Vec<(String, Option<u32>)> = atts
            .into_iter()
            .map(|(a, r)| {
                (
                    tgw_dev(&a),
                    r.and_then(|r| seq_of.get(&r).copied()).map(rt_table),
                )
            })
            .collect();
        netlink::with_ns(&self.tgw_namespace(tgw_id), move |nl| async move {
            for (table, routes) in &wanted {
                nl.forget_table("", *table).await;
                for (dest, hop) in routes {
                    nl.route(*dest, *table, hop).await?;
                }
            }
            for (dev, table) in &rules {
                nl.forget_rules(dev).await;
                if let Some(t) = table {
                    nl.rule(Some(dev), None, Some(*t), 100).await?;
                }
            }
            Ok(())
        })
        .await
    }

    /// On start: rebuild missing gateway routers, re-link attachments whose gateway or VPC
    /// router was rebuilt, and re-render the gateway tables. Returns the VPCs whose routes
    /// need re-applying.
    pub(crate) async fn reconcile_tgws(
        &self,
        rebuilt_vpcs: &std::collections::HashSet<String>,
    ) -> Result<Vec<String>> {
        let mut relinked = Vec::new();
        for t in self.live_tgws().await? {
            let rebuilt = !kernel::netns_exists(&self.tgw_namespace(&t.id));
            if rebuilt {
                tracing::info!(tgw = %t.id, "transit gateway router missing: rebuilding");
                self.build_tgw_router(&t.id).await?;
            }
            let atts = sqlx::query_as::<_, AttachmentRow>(sqlx::AssertSqlSafe(format!(
                "SELECT {ATT_COLS} FROM tgw_attachments WHERE tgw_id = ? AND state = 'available' ORDER BY seq"
            )))
            .bind(&t.id)
            .fetch_all(&self.db)
            .await?;
            for a in &atts {
                if rebuilt || rebuilt_vpcs.contains(&a.vpc_id) {
                    self.unplumb_attachment(a).await;
                    self.plumb_attachment(a).await?;
                    relinked.push(a.vpc_id.clone());
                }
            }
            self.sync_tgw(&t.id).await?;
        }
        Ok(relinked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asns_and_links() {
        assert!(valid_asn(64512) && valid_asn(65534) && valid_asn(4_200_000_000));
        assert!(!valid_asn(65535) && !valid_asn(100) && !valid_asn(4_294_967_295));
        let (a, b) = attachment_link(1);
        assert_eq!(
            (a.to_string(), b.to_string()),
            ("198.18.0.5".into(), "198.18.0.6".into())
        );
        assert_eq!(tgw_dev("tgw-attach-0123abcd"), "a0123abcd");
        assert_eq!(vpc_dev("tgw-attach-0123abcd"), "t0123abcd");
    }
}
