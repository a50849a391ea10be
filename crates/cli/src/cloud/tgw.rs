//! `linkplane cloud tgw …` and `cloud ram …`: transit gateways, their attachments and route
//! tables (EC2's names), and RAM resource shares that let another account attach to one.
//! Every command the control plane prints for a transit gateway attachment (share the
//! gateway, accept the attachment, add the back routes) is one of these.

use clap::Subcommand;
use serde_json::json;

use super::Outcome;
use super::client::CloudApi;

#[derive(Debug, Subcommand)]
pub enum TgwCmd {
    /// Create a transit gateway (CreateTransitGateway): a router namespace with its own ASN.
    ///
    /// Defaults are AWS's: ASN 64512, auto-accept of shared attachments `disable`, default
    /// route table association and propagation `enable`.
    ///   linkplane cloud tgw create --description hub
    #[command(verbatim_doc_comment)]
    Create {
        #[arg(long)]
        description: Option<String>,
        /// Region (default: the server's default region).
        #[arg(long)]
        region: Option<String>,
        /// 64512–65534 or 4200000000–4294967294.
        #[arg(long)]
        amazon_side_asn: Option<u64>,
        #[arg(long, value_parser = ["enable", "disable"])]
        auto_accept_shared_attachments: Option<String>,
        #[arg(long, value_parser = ["enable", "disable"])]
        default_route_table_association: Option<String>,
        #[arg(long, value_parser = ["enable", "disable"])]
        default_route_table_propagation: Option<String>,
    },
    /// Transit gateways of your account and those shared with it (after accepting the share).
    List,
    Show {
        tgw_id: String,
    },
    /// Delete (refused while attachments use it).
    Delete {
        tgw_id: String,
    },
    /// Attach a VPC (CreateTransitGatewayVpcAttachment): one subnet per availability zone.
    ///
    /// On a gateway shared with you whose owner does not auto-accept, the attachment is
    /// `pendingAcceptance` until the owner runs `tgw accept-attachment`.
    ///   linkplane cloud tgw attach tgw-… --vpc vpc-… --subnet subnet-a --subnet subnet-b
    #[command(verbatim_doc_comment)]
    Attach {
        tgw_id: String,
        #[arg(long)]
        vpc: String,
        /// Repeat for each availability zone.
        #[arg(long = "subnet", required = true)]
        subnets: Vec<String>,
    },
    /// Attachments you own or that are attached to your gateways (states pendingAcceptance,
    /// pending, available, rejected, deleting, deleted, failed).
    Attachments,
    ShowAttachment {
        attachment_id: String,
    },
    /// Accept a pendingAcceptance attachment (the gateway owner only).
    AcceptAttachment {
        attachment_id: String,
    },
    /// Reject a pendingAcceptance attachment (the gateway owner only): it becomes rejected.
    RejectAttachment {
        attachment_id: String,
    },
    /// Delete an attachment (either side): deleting, then deleted.
    DeleteAttachment {
        attachment_id: String,
    },
    /// Create a route table on your gateway (at most 20 per gateway).
    CreateRouteTable {
        tgw_id: String,
    },
    RouteTables,
    ShowRouteTable {
        route_table_id: String,
    },
    DeleteRouteTable {
        route_table_id: String,
    },
    /// Associate an attachment with a route table (each attachment with exactly one).
    Associate {
        route_table_id: String,
        #[arg(long)]
        attachment: String,
    },
    Disassociate {
        route_table_id: String,
        #[arg(long)]
        attachment: String,
    },
    /// Propagate an attachment's VPC CIDR into a route table (a `propagated` route).
    EnablePropagation {
        route_table_id: String,
        #[arg(long)]
        attachment: String,
    },
    DisablePropagation {
        route_table_id: String,
        #[arg(long)]
        attachment: String,
    },
    /// Add a static route to an attachment, or a blackhole (the most specific route wins; a
    /// static route beats a propagated one for the same prefix).
    ///   linkplane cloud tgw create-route tgw-rtb-… --destination 10.1.0.0/16 --attachment tgw-attach-…
    ///   linkplane cloud tgw create-route tgw-rtb-… --destination 10.9.0.0/16 --blackhole
    #[command(verbatim_doc_comment)]
    CreateRoute {
        route_table_id: String,
        #[arg(long)]
        destination: String,
        #[arg(
            long,
            conflicts_with = "blackhole",
            required_unless_present = "blackhole"
        )]
        attachment: Option<String>,
        #[arg(long)]
        blackhole: bool,
    },
    /// A route table's routes (types static / propagated, states active / blackhole).
    Routes {
        route_table_id: String,
    },
    DeleteRoute {
        route_table_id: String,
        #[arg(long)]
        destination: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RamCmd {
    /// Share a transit gateway with another account (RAM's CreateResourceShare). The
    /// recipient sees an invitation (PENDING) and can attach its VPCs after accepting it.
    ///   linkplane cloud --as arn:aws:iam::<owner>:root ram create-resource-share \
    ///       --resource-id tgw-… --principals <account>
    #[command(verbatim_doc_comment)]
    CreateResourceShare {
        #[arg(long)]
        resource_id: String,
        /// The 12-digit account to share with (RAM's --principals; one account here).
        #[arg(long = "principals", value_name = "ACCOUNT_ID")]
        principals: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Shares you own (status ACTIVE, DELETED).
    List,
    Show {
        share_id: String,
    },
    /// Unshare: existing attachments keep working; new ones are refused.
    Delete {
        share_id: String,
    },
    /// Invitations to shares sent to your account (PENDING, ACCEPTED, REJECTED).
    Invitations,
    AcceptInvitation {
        invitation_id: String,
    },
    RejectInvitation {
        invitation_id: String,
    },
}

pub async fn tgw(c: &CloudApi, cmd: &TgwCmd) -> anyhow::Result<Outcome> {
    use TgwCmd as T;
    let rtb = |id: &str| format!("/transit-gateway-route-tables/{id}");
    let att = |id: &str| format!("/transit-gateway-attachments/{id}");
    match cmd {
        T::Create {
            description,
            region,
            amazon_side_asn,
            auto_accept_shared_attachments,
            default_route_table_association,
            default_route_table_propagation,
        } => {
            c.post(
                "/transit-gateways",
                json!({
                    "description": description,
                    "region": region,
                    "options": {
                        "amazonSideAsn": amazon_side_asn,
                        "autoAcceptSharedAttachments": auto_accept_shared_attachments,
                        "defaultRouteTableAssociation": default_route_table_association,
                        "defaultRouteTablePropagation": default_route_table_propagation,
                    },
                }),
            )
            .await
        }
        T::List => c.get("/transit-gateways").await,
        T::Show { tgw_id } => c.get(&format!("/transit-gateways/{tgw_id}")).await,
        T::Delete { tgw_id } => {
            c.delete(&format!("/transit-gateways/{tgw_id}"), tgw_id)
                .await
        }
        T::Attach {
            tgw_id,
            vpc,
            subnets,
        } => {
            c.post(
                "/transit-gateway-attachments",
                json!({"transitGatewayId": tgw_id, "vpcId": vpc, "subnetIds": subnets}),
            )
            .await
        }
        T::Attachments => c.get("/transit-gateway-attachments").await,
        T::ShowAttachment { attachment_id } => c.get(&att(attachment_id)).await,
        T::AcceptAttachment { attachment_id } => {
            c.post(&format!("{}/accept", att(attachment_id)), json!({}))
                .await
        }
        T::RejectAttachment { attachment_id } => {
            c.post(&format!("{}/reject", att(attachment_id)), json!({}))
                .await
        }
        T::DeleteAttachment { attachment_id } => c.delete(&att(attachment_id), attachment_id).await,
        T::CreateRouteTable { tgw_id } => {
            c.post(
                "/transit-gateway-route-tables",
                json!({"transitGatewayId": tgw_id}),
            )
            .await
        }
        T::RouteTables => c.get("/transit-gateway-route-tables").await,
        T::ShowRouteTable { route_table_id } => c.get(&rtb(route_table_id)).await,
        T::DeleteRouteTable { route_table_id } => {
            c.delete(&rtb(route_table_id), route_table_id).await
        }
        T::Associate {
            route_table_id,
            attachment,
        } => {
            c.post(
                &format!("{}/associations", rtb(route_table_id)),
                json!({"transitGatewayAttachmentId": attachment}),
            )
            .await
        }
        T::Disassociate {
            route_table_id,
            attachment,
        } => {
            c.delete_with(
                &format!("{}/associations/{attachment}", rtb(route_table_id)),
                None,
            )
            .await
        }
        T::EnablePropagation {
            route_table_id,
            attachment,
        } => {
            c.post(
                &format!("{}/propagations", rtb(route_table_id)),
                json!({"transitGatewayAttachmentId": attachment}),
            )
            .await
        }
        T::DisablePropagation {
            route_table_id,
            attachment,
        } => {
            c.delete_with(
                &format!("{}/propagations/{attachment}", rtb(route_table_id)),
                None,
            )
            .await
        }
        T::CreateRoute {
            route_table_id,
            destination,
            attachment,
            blackhole,
        } => {
            c.post(
                &format!("{}/routes", rtb(route_table_id)),
                json!({
                    "destinationCidrBlock": destination,
                    "transitGatewayAttachmentId": attachment,
                    "blackhole": blackhole,
                }),
            )
            .await
        }
        T::Routes { route_table_id } => c.get(&format!("{}/routes", rtb(route_table_id))).await,
        T::DeleteRoute {
            route_table_id,
            destination,
        } => {
            c.delete(
                &format!(
                    "{}/routes?destinationCidrBlock={destination}",
                    rtb(route_table_id)
                ),
                destination,
            )
            .await
        }
    }
}

pub async fn ram(c: &CloudApi, cmd: &RamCmd) -> anyhow::Result<Outcome> {
    use RamCmd as R;
    match cmd {
        R::CreateResourceShare {
            resource_id,
            principals,
            name,
        } => {
            c.post(
                "/resource-shares",
                json!({"resourceId": resource_id, "principal": principals, "name": name}),
            )
            .await
        }
        R::List => c.get("/resource-shares").await,
        R::Show { share_id } => c.get(&format!("/resource-shares/{share_id}")).await,
        R::Delete { share_id } => {
            c.delete(&format!("/resource-shares/{share_id}"), share_id)
                .await
        }
        R::Invitations => c.get("/resource-share-invitations").await,
        R::AcceptInvitation { invitation_id } => {
            c.post(
                &format!("/resource-share-invitations/{invitation_id}/accept"),
                json!({}),
            )
            .await
        }
        R::RejectInvitation { invitation_id } => {
            c.post(
                &format!("/resource-share-invitations/{invitation_id}/reject"),
                json!({}),
            )
            .await
        }
    }
}
