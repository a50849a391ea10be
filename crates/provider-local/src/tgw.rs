//! [`TransitGateways`] on localcloud (documents 002 and 003, self-service): as the platform's
//! account, accept the customer's RAM share of their transit gateway, attach the cluster's
//! private subnets (one per availability zone), wait for the owner's acceptance when the
//! gateway does not auto-accept, then route every customer CIDR through the gateway in every
//! route table of the cluster. The attachment is found again by (cluster VPC, gateway), so a
//! restart adopts it instead of creating a second one.

use std::collections::BTreeSet;

use linkplane_localcloud::Error as CloudError;
use linkplane_localcloud::types::{CreateTransitGatewayVpcAttachment, TransitGatewayVpcAttachment};
use linkplane_model::{AccountId, Cidr, TransitGatewayAttachmentId, TransitGatewayId};
use linkplane_provider::*;

use crate::{LocalProvider, PLATFORM_ACCOUNT, map_err, parsed};

/// States in which an attachment still stands for the cluster (not rejected, failed or
/// deleted).
fn is_live(a: &TransitGatewayVpcAttachment) -> bool {
    matches!(
        a.state.as_str(),
        "pendingAcceptance" | "pending" | "modifying" | "available" | "deleting"
    )
}

/// The customer's command that shares their transit gateway with the platform's account.
pub fn share_step(owner: &AccountId, tgw: &TransitGatewayId) -> String {
    format!(
        "linkplane cloud --as arn:aws:iam::{owner}:root ram create-resource-share --resource-id {tgw} --principals {PLATFORM_ACCOUNT}"
    )
}

/// The customer's command that routes one of their subnets to the cluster's CIDR through
/// the transit gateway (a back route; repeat for each subnet that talks to the cluster). The
/// platform cannot see the customer's subnets, so the subnet is the one placeholder.
pub fn back_route_step(owner: &AccountId, tgw: &TransitGatewayId, cluster_cidr: &Cidr) -> String {
    format!(
        "linkplane cloud --as arn:aws:iam::{owner}:root route add --subnet <your-subnet-id> --destination {cluster_cidr} --target {tgw}"
    )
}

/// The owner's command that accepts the cluster's attachment.
pub fn accept_step(owner: &AccountId, attachment: &str) -> String {
    format!("linkplane cloud --as arn:aws:iam::{owner}:root tgw accept-attachment {attachment}")
}

impl LocalProvider {
    /// The cluster VPC's attachments to `tgw`, newest last.
    async fn attachments_to(
        &self,
        net: &ClusterNetwork,
        tgw: &TransitGatewayId,
    ) -> Result<Vec<TransitGatewayVpcAttachment>, ProviderError> {
        Ok(self
            .engine
            .list_transit_gateway_attachments(&self.principal)
            .await
            .map_err(map_err)?
            .into_iter()
            .filter(|a| a.vpc_id == net.vpc_id.as_str() && a.transit_gateway_id == tgw.as_str())
            .collect())
    }

    /// Accept the owner's pending invitation for `tgw` if there is one. `Ok(true)` when the
    /// platform may use the gateway now.
    async fn accept_share(
        &self,
        req: &TransitGatewayAttachmentRequest,
    ) -> Result<bool, ProviderError> {
        let p = &self.principal;
        let tgw = req.transit_gateway_id.as_str();
        match self.engine.get_transit_gateway(p, tgw).await {
            Ok(_) => return Ok(true),
            Err(CloudError::NotFound { .. }) => {}
            Err(e) => return Err(map_err(e)),
        }
        let invitations = self
            .engine
            .list_resource_share_invitations(p)
            .await
            .map_err(map_err)?;
        let Some(inv) = invitations.iter().find(|i| {
            i.resource_id == tgw
                && i.sender_account_id == req.owner_account_id.as_str()
                && i.status == "PENDING"
        }) else {
            return Ok(false);
        };
        self.engine
            .accept_resource_share_invitation(p, &inv.resource_share_invitation_id)
            .await
            .map_err(map_err)?;
        tracing::info!(tgw, invitation = %inv.resource_share_invitation_id, "accepted the transit gateway share");
        Ok(true)
    }

    async fn route_cidrs(
        &self,
        net: &ClusterNetwork,
        req: &TransitGatewayAttachmentRequest,
    ) -> Result<(), ProviderError> {
        let via = RouteTarget::TransitGateway(req.transit_gateway_id.clone());
        for cidr in &req.cidrs {
            ClusterNetworks::ensure_route(self, net, cidr, &via).await?;
        }
        Ok(())
    }
}

fn observe(
    a: &TransitGatewayVpcAttachment,
    owner: &AccountId,
    net: &ClusterNetwork,
) -> Result<TransitGatewayAttachmentObservation, ProviderError> {
    use TransitGatewayAttachmentState as S;
    let id = parsed(
        "transit gateway attachment id",
        TransitGatewayAttachmentId::parse(&a.transit_gateway_attachment_id),
    )?;
    let state = match a.state.as_str() {
        "pendingAcceptance" => S::PendingAcceptance {
            steps: vec![accept_step(owner, &a.transit_gateway_attachment_id)],
        },
        "initiating" | "pending" | "modifying" => S::Pending,
        "available" => S::Available {
            back_routes: TransitGatewayId::parse(&a.transit_gateway_id)
                .map(|tgw| vec![back_route_step(owner, &tgw, &net.cidr)])
                .unwrap_or_default(),
        },
        "rejected" => S::Rejected(format!(
            "account {owner} rejected transit gateway attachment {} (state rejected)",
            a.transit_gateway_attachment_id
        )),
        "failed" => S::Failed(format!(
            "transit gateway attachment {} failed",
            a.transit_gateway_attachment_id
        )),
        s => S::Deleted(format!(
            "transit gateway attachment {} is {s}",
            a.transit_gateway_attachment_id
        )),
    };
    Ok(TransitGatewayAttachmentObservation {
        id: Some(id),
        state,
    })
}

#[async_trait::async_trait]
impl TransitGateways for LocalProvider {
    async fn ensure_attachment(
        &self,
        net: &ClusterNetwork,
        req: &TransitGatewayAttachmentRequest,
    ) -> Result<TransitGatewayAttachmentObservation, ProviderError> {
        let tgw = &req.transit_gateway_id;
        let owner = &req.owner_account_id;
        let existing = self.attachments_to(net, tgw).await?;
        let attachment = match existing.iter().rev().find(|a| is_live(a)) {
            // An attachment keeps working after the share is gone (RAM's semantics).
            Some(a) => a.clone(),
            None => {
                if let Some(r) = existing.iter().rev().find(|a| a.state == "rejected") {
                    return observe(r, owner, net);
                }
                if !self.accept_share(req).await? {
                    return Ok(TransitGatewayAttachmentObservation {
                        id: None,
                        state: TransitGatewayAttachmentState::WaitingForShare {
                            reason: format!(
                                "transit gateway {tgw} is not shared with the platform's account {PLATFORM_ACCOUNT} yet: account {owner} shares it with AWS RAM"
                            ),
                            steps: vec![share_step(owner, tgw)],
                        },
                    });
                }
                let t = self
                    .engine
                    .get_transit_gateway(&self.principal, tgw.as_str())
                    .await
                    .map_err(map_err)?;
                if t.owner_id != owner.as_str() {
                    return Ok(TransitGatewayAttachmentObservation {
                        id: None,
                        state: TransitGatewayAttachmentState::Failed(format!(
                            "transit gateway {tgw} belongs to account {}, not to {owner}",
                            t.owner_id
                        )),
                    });
                }
                let mut zones = BTreeSet::new();
                let subnet_ids: Vec<String> = net
                    .subnets
                    .iter()
                    .filter(|s| !s.public && zones.insert(s.availability_zone.clone()))
                    .map(|s| s.id.as_str().to_owned())
                    .collect();
                let a = self
                    .engine
                    .create_transit_gateway_vpc_attachment(
                        &self.principal,
                        CreateTransitGatewayVpcAttachment {
                            transit_gateway_id: tgw.as_str().to_owned(),
                            vpc_id: net.vpc_id.as_str().to_owned(),
                            subnet_ids,
                        },
                    )
                    .await
                    .map_err(map_err)?;
                tracing::info!(tgw = %tgw, attachment = %a.transit_gateway_attachment_id, state = %a.state, "attached the cluster's private subnets");
                a
            }
        };
        let obs = observe(&attachment, owner, net)?;
        if matches!(obs.state, TransitGatewayAttachmentState::Available { .. }) {
            self.route_cidrs(net, req).await?;
        }
        Ok(obs)
    }

    async fn delete_attachment(
        &self,
        net: &ClusterNetwork,
        req: &TransitGatewayAttachmentRequest,
    ) -> Result<(), ProviderError> {
        let via = RouteTarget::TransitGateway(req.transit_gateway_id.clone());
        for cidr in &req.cidrs {
            ClusterNetworks::remove_route(self, net, cidr, Some(&via)).await?;
        }
        for a in self.attachments_to(net, &req.transit_gateway_id).await? {
            if a.state == "deleting" || a.state == "deleted" {
                continue;
            }
            match self
                .engine
                .delete_transit_gateway_attachment(
                    &self.principal,
                    &a.transit_gateway_attachment_id,
                )
                .await
            {
                Ok(_) | Err(CloudError::NotFound { .. }) | Err(CloudError::Conflict(_)) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_cli_commands_as_the_owner() {
        let owner = AccountId::parse("222222222222").unwrap();
        let tgw = TransitGatewayId::parse("tgw-0123abcd").unwrap();
        assert_eq!(
            share_step(&owner, &tgw),
            "linkplane cloud --as arn:aws:iam::222222222222:root ram create-resource-share --resource-id tgw-0123abcd --principals 100000000000"
        );
        assert_eq!(
            accept_step(&owner, "tgw-attach-0123abcd"),
            "linkplane cloud --as arn:aws:iam::222222222222:root tgw accept-attachment tgw-attach-0123abcd"
        );
        assert_eq!(
            back_route_step(&owner, &tgw, &Cidr::parse("10.71.0.0/16").unwrap()),
            "linkplane cloud --as arn:aws:iam::222222222222:root route add --subnet <your-subnet-id> --destination 10.71.0.0/16 --target tgw-0123abcd"
        );
    }
}
