//! Resource ids. An id is a DNS label (lowercase `[a-z0-9]`, starting with a letter, at
//! most 63 characters) because a cluster's host name is `<clusterId>.external.<baseDomain>`.
//! New ids are a short type prefix followed by 16 base32 characters of caller-supplied
//! randomness (randomness is I/O, so it does not live here).

use crate::schema::string_value;

/// Bytes of randomness in a new id (80 bits).
pub const ID_RANDOM_BYTES: usize = 10;

/// What a resource is; its id prefix and the kind name the store records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Organization,
    ApiToken,
    Cluster,
    Deployment,
    AgentToken,
    Agent,
    PrivateLink,
    EndpointConnection,
    VpcPeeringConnection,
    Route,
    TransitGatewayAttachment,
    OutboundEndpoint,
    VpnConnection,
    DnsResolution,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 14] = [
        Self::Organization,
        Self::ApiToken,
        Self::Cluster,
        Self::Deployment,
        Self::AgentToken,
        Self::Agent,
        Self::PrivateLink,
        Self::EndpointConnection,
        Self::VpcPeeringConnection,
        Self::Route,
        Self::TransitGatewayAttachment,
        Self::OutboundEndpoint,
        Self::VpnConnection,
        Self::DnsResolution,
    ];

    /// Id prefix. Clusters use `cl` as in the documents (`clxxxxxxxxx.external.<domain>`).
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Organization => "org",
            Self::ApiToken => "tok",
            Self::Cluster => "cl",
            Self::Deployment => "dep",
            Self::AgentToken => "agt",
            Self::Agent => "agn",
            Self::PrivateLink => "pl",
            Self::EndpointConnection => "vpce",
            Self::VpcPeeringConnection => "pcx",
            Self::Route => "rt",
            Self::TransitGatewayAttachment => "tgwa",
            Self::OutboundEndpoint => "oep",
            Self::VpnConnection => "vpn",
            Self::DnsResolution => "dns",
        }
    }

    /// Stable name used in storage and in problem details.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organization => "organization",
            Self::ApiToken => "api_token",
            Self::Cluster => "cluster",
            Self::Deployment => "deployment",
            Self::AgentToken => "agent_token",
            Self::Agent => "agent",
            Self::PrivateLink => "private_link",
            Self::EndpointConnection => "endpoint_connection",
            Self::VpcPeeringConnection => "vpc_peering_connection",
            Self::Route => "route",
            Self::TransitGatewayAttachment => "transit_gateway_attachment",
            Self::OutboundEndpoint => "outbound_endpoint",
            Self::VpnConnection => "vpn_connection",
            Self::DnsResolution => "dns_resolution",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Human name for messages ("VPC peering connection").
    pub fn title(self) -> &'static str {
        match self {
            Self::Organization => "organization",
            Self::ApiToken => "API token",
            Self::Cluster => "cluster",
            Self::Deployment => "deployment",
            Self::AgentToken => "agent token",
            Self::Agent => "agent",
            Self::PrivateLink => "private link",
            Self::EndpointConnection => "endpoint connection",
            Self::VpcPeeringConnection => "VPC peering connection",
            Self::Route => "route",
            Self::TransitGatewayAttachment => "transit gateway attachment",
            Self::OutboundEndpoint => "outbound endpoint",
            Self::VpnConnection => "VPN connection",
            Self::DnsResolution => "DNS resolution",
        }
    }
}

/// A resource id (a DNS label).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(String);

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

impl ResourceId {
    /// A new id of `kind` from `random` bytes (e.g. `cl` + 16 base32 characters).
    pub fn generate(kind: ResourceKind, random: [u8; ID_RANDOM_BYTES]) -> Self {
        Self(format!("{}{}", kind.prefix(), base32(&random)))
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.as_bytes()[0].is_ascii_lowercase()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "{s:?} is not a resource id (1–63 lowercase letters and digits, starting with a letter)"
            ))
        }
    }

    /// Parse and require the prefix of `kind`.
    pub fn parse_kind(s: &str, kind: ResourceKind) -> Result<Self, String> {
        let id = Self::parse(s)?;
        if id.kind() == Some(kind) {
            Ok(id)
        } else {
            Err(format!(
                "{s:?} is not a {} id (it starts with {:?})",
                kind.title(),
                kind.prefix()
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The kind a generated id belongs to, from its prefix (longest prefix wins).
    pub fn kind(&self) -> Option<ResourceKind> {
        ResourceKind::ALL
            .into_iter()
            .filter(|k| {
                self.0.len() == k.prefix().len() + 16
                    && self.0.starts_with(k.prefix())
                    && self.0[k.prefix().len()..]
                        .bytes()
                        .all(|b| BASE32.contains(&b))
            })
            .max_by_key(|k| k.prefix().len())
    }
}
string_value!(
    ResourceId,
    "resource id (a DNS label)",
    "cl7x2kq4m9p3rs5tuvwa"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_dns_labels_with_the_kind_prefix() {
        for kind in ResourceKind::ALL {
            let id = ResourceId::generate(kind, [0xff; ID_RANDOM_BYTES]);
            assert_eq!(ResourceId::parse(id.as_str()), Ok(id.clone()));
            assert!(id.as_str().starts_with(kind.prefix()));
            assert_eq!(id.as_str().len(), kind.prefix().len() + 16);
            assert_eq!(id.kind(), Some(kind), "{id}");
            assert_eq!(ResourceKind::from_name(kind.as_str()), Some(kind));
        }
        let a = ResourceId::generate(ResourceKind::Cluster, [0; 10]);
        let b = ResourceId::generate(ResourceKind::Cluster, [1; 10]);
        assert_ne!(a, b);
        assert_eq!(a.as_str(), "claaaaaaaaaaaaaaaa");
    }

    #[test]
    fn id_parse_rejects_non_labels() {
        for bad in [
            "",
            "Cl123",
            "1abc",
            "cl-abc",
            "cl_abc",
            "cl abc",
            &"a".repeat(64),
            "é",
        ] {
            assert!(ResourceId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ResourceId::parse(&"a".repeat(63)).is_ok());
        let dep = ResourceId::generate(ResourceKind::Deployment, [7; 10]);
        assert!(ResourceId::parse_kind(dep.as_str(), ResourceKind::Cluster).is_err());
        assert!(ResourceId::parse_kind(dep.as_str(), ResourceKind::Deployment).is_ok());
    }

    #[test]
    fn base32_matches_rfc4648_lowercase() {
        assert_eq!(base32(b"foobar"), "mzxw6ytboi");
        assert_eq!(base32(b"f"), "my");
    }
}
