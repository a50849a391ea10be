//! The OpenAPI document, generated from the handlers and types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::handlers::{agents, clusters, connections, deployments, organizations};
use crate::{problem, views};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (organization APIs) or an agent token (agent protocol)",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "linkplane control plane API",
        description = "Self-service private connectivity: clusters, deployments, agents and every network connection, validated up front. Errors are RFC 9457 application/problem+json.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    paths(
        crate::healthz, crate::ca_pem,
        organizations::list_organizations, organizations::get_organization,
        organizations::list_api_tokens, organizations::create_api_token,
        organizations::get_api_token, organizations::revoke_api_token,
        clusters::list_clusters, clusters::create_cluster, clusters::get_cluster,
        clusters::update_cluster, clusters::delete_cluster,
        clusters::get_private_link, clusters::put_private_link, clusters::delete_private_link,
        clusters::list_endpoint_connections, clusters::get_endpoint_connection,
        clusters::accept_endpoint_connection, clusters::reject_endpoint_connection,
        connections::list_peerings, connections::create_peering, connections::get_peering,
        connections::delete_peering,
        connections::list_routes, connections::create_route, connections::get_route,
        connections::delete_route,
        connections::list_tgw_attachments, connections::create_tgw_attachment,
        connections::get_tgw_attachment, connections::delete_tgw_attachment,
        connections::list_outbound_endpoints, connections::create_outbound_endpoint,
        connections::get_outbound_endpoint, connections::delete_outbound_endpoint,
        connections::list_vpns, connections::create_vpn, connections::get_vpn,
        connections::delete_vpn,
        connections::list_dns, connections::create_dns, connections::get_dns,
        connections::delete_dns,
        deployments::list_deployments, deployments::create_deployment,
        deployments::get_deployment, deployments::update_deployment,
        deployments::delete_deployment,
        deployments::list_agent_tokens, deployments::create_agent_token,
        deployments::get_agent_token, deployments::revoke_agent_token,
        deployments::list_agents,
        agents::register, agents::heartbeat,
    ),
    components(schemas(
        problem::Problem,
        linkplane_model::FieldError,
        linkplane_model::Name, linkplane_model::Cidr, linkplane_model::AccountId,
        linkplane_model::VpcId, linkplane_model::TransitGatewayId, linkplane_model::Region,
        linkplane_model::PrincipalArn, linkplane_model::AzureSubscriptionId,
        linkplane_model::AllowedPrincipal, linkplane_model::DomainName, linkplane_model::Asn,
        linkplane_model::GatewayIp, linkplane_model::InsideCidr, linkplane_model::ForwardTarget,
        linkplane_model::HttpUrl, linkplane_model::EndpointServiceName,
        linkplane_model::ResolverRuleId, linkplane_model::HostedZoneId,
        linkplane_model::ResourceId,
        views::Meta, views::ClusterRef,
    )),
    tags(
        (name = "organizations"), (name = "api-tokens"), (name = "clusters"),
        (name = "deployments"), (name = "agents", description = "Agent tokens and agents of a deployment"),
        (name = "agent-protocol", description = "Called by `linkplane agent run` with an agent token"),
        (name = "private-link", description = "The cluster's endpoint service (documents 000, 001)"),
        (name = "vpc-peering", description = "Document 002; dedicated clusters only"),
        (name = "routes"), (name = "transit-gateways", description = "Dedicated clusters only"),
        (name = "outbound-endpoints"), (name = "vpn", description = "Dedicated clusters only"),
        (name = "dns", description = "Shared resolver rule, DNS forwarding, private zone, association of your private hosted zone"),
    )
)]
pub struct ApiDoc;
