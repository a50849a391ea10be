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

/// The answers and limits the server enforces that the handlers' annotations do not say:
/// 400 and 401 problems on every authenticated operation, `limit` 1–500,
/// `Idempotency-Key` and `If-Match` formats, names 1–63 characters, CIDR blocks in decimal
/// dotted quads without leading zeros, the known regions.
struct Limits;

/// A dotted-quad octet 0–255 without leading zeros.
const OCTET: &str = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";

impl Modify for Limits {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let Ok(mut v) = serde_json::to_value(&*doc) else {
            return;
        };
        limit_operations(&mut v);
        limit_schemas(&mut v);
        if let Ok(new) = serde_json::from_value(v) {
            *doc = new;
        }
    }
}

fn problem_response(description: &str) -> serde_json::Value {
    serde_json::json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

fn limit_operations(v: &mut serde_json::Value) {
    use serde_json::json;
    let Some(paths) = v.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for ops in paths.values_mut().filter_map(|o| o.as_object_mut()) {
        for op in ops.values_mut().filter_map(|o| o.as_object_mut()) {
            let secured = op.contains_key("security");
            if let Some(params) = op.get_mut("parameters").and_then(|p| p.as_array_mut()) {
                for p in params.iter_mut() {
                    let name = p["name"].as_str().unwrap_or("").to_owned();
                    match name.as_str() {
                        "limit" => {
                            p["schema"] = json!({"type": "integer", "minimum": 1, "maximum": 500, "default": 100});
                        }
                        "Idempotency-Key" => {
                            p["schema"] = json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]{1,255}$"});
                            p["description"] = json!(
                                "1–255 visible ASCII characters (e.g. a UUID); a retry with the same key and body within 24 hours replays the first answer, another body is a 422"
                            );
                        }
                        "If-Match" => {
                            p["schema"] = json!({"type": "string", "pattern": "^(\\*|\"[a-z0-9]+-g[0-9]+\")$"});
                            p["description"] = json!(
                                "An ETag from a previous answer (\"<id>-g<generation>\") or *; 412 if the resource changed, 400 if malformed"
                            );
                        }
                        _ => {}
                    }
                }
            }
            if !secured {
                continue;
            }
            let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut()) else {
                continue;
            };
            responses.entry("400").or_insert_with(|| {
                problem_response("Malformed request: bad JSON, a wrong type or shape (an array where an object is required), a missing or unknown field, a bad query parameter or header; errors[] names the field")
            });
            responses.entry("401").or_insert_with(|| {
                problem_response("Missing, invalid or revoked token (WWW-Authenticate: Bearer)")
            });
            responses
                .entry("413")
                .or_insert_with(|| problem_response("The body is over 1 MiB"));
        }
    }
}

fn limit_schemas(v: &mut serde_json::Value) {
    use serde_json::json;
    let Some(schemas) = v
        .pointer_mut("/components/schemas")
        .and_then(|s| s.as_object_mut())
    else {
        return;
    };
    let quad = format!("{OCTET}(\\.{OCTET}){{3}}");
    let cidr = format!("^{quad}/([0-9]|[12][0-9]|3[0-2])$");
    let set = |schemas: &mut serde_json::Map<String, serde_json::Value>,
               name: &str,
               extra: serde_json::Value| {
        if let (Some(s), Some(extra)) = (
            schemas.get_mut(name).and_then(|s| s.as_object_mut()),
            extra.as_object(),
        ) {
            for (k, x) in extra {
                s.insert(k.clone(), x.clone());
            }
        }
    };
    set(
        schemas,
        "Name",
        json!({"minLength": 1, "maxLength": linkplane_model::NAME_MAX_CHARS}),
    );
    set(
        schemas,
        "Cidr",
        json!({"pattern": cidr, "description": "IPv4 CIDR block in canonical form (no host bits set), octets in decimal without leading zeros"}),
    );
    set(
        schemas,
        "InsideCidr",
        json!({"pattern": format!("^169\\.254\\.{OCTET}\\.{OCTET}/30$")}),
    );
    set(
        schemas,
        "GatewayIp",
        json!({"pattern": format!("^{quad}$")}),
    );
    let regions: Vec<&str> = linkplane_model::AWS_REGIONS
        .iter()
        .chain(linkplane_model::AZURE_REGIONS)
        .copied()
        .collect();
    set(schemas, "Region", json!({"enum": regions}));
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "linkplane control plane API",
        description = "Self-service private connectivity: clusters, deployments, agents and every network connection, validated up front. Errors are RFC 9457 application/problem+json.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth, &Limits),
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
