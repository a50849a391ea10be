//! Identifiers parsed at the edge: installation prefix, accounts, principals, resource ids,
//! regions and availability zones.

use std::fmt;

use crate::error::{Error, Result};

/// The installation prefix every kernel object name starts with (`lp` by default).
/// 1–5 characters, lowercase ASCII letters and digits, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Prefix(String);

impl Prefix {
    pub fn parse(s: &str) -> Result<Self> {
        let ok = (1..=5).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(Error::invalid(
                "prefix",
                format!(
                    "{s:?} must be 1-5 lowercase letters or digits starting with a letter (e.g. lp)"
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Prefix {
    fn default() -> Self {
        Self("lp".to_string())
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 12-digit account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(s: &str) -> Result<Self> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_string()))
        } else {
            Err(Error::invalid(
                "accountId",
                format!("{s:?} must be exactly 12 digits (e.g. 000000000001)"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The principal localcloud calls are made as when none is given.
pub const DEFAULT_PRINCIPAL: &str = "arn:aws:iam::000000000001:root";

/// `arn:aws:iam::<account>:root` or `arn:aws:iam::<account>:role/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    arn: String,
    account: AccountId,
}

impl Principal {
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "principal",
                format!(
                    "{s:?} is not a principal ARN; use arn:aws:iam::<12-digit account>:root or arn:aws:iam::<account>:role/<name>"
                ),
            )
        };
        let rest = s.strip_prefix("arn:aws:iam::").ok_or_else(bad)?;
        let (account, resource) = rest.split_once(':').ok_or_else(bad)?;
        let account = AccountId::parse(account).map_err(|_| bad())?;
        let ok = resource == "root"
            || resource.strip_prefix("role/").is_some_and(|name| {
                (1..=64).contains(&name.len())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
            });
        if !ok {
            return Err(bad());
        }
        Ok(Self {
            arn: s.to_string(),
            account,
        })
    }

    /// The root principal of an account.
    pub fn root(account: &AccountId) -> Self {
        Self {
            arn: format!("arn:aws:iam::{account}:root"),
            account: account.clone(),
        }
    }

    pub fn default_local() -> Self {
        Self::root(&AccountId("000000000001".to_string()))
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    pub fn account(&self) -> &AccountId {
        &self.account
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// Kinds of resources and their id prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Vpc,
    Subnet,
    Instance,
    SecurityGroup,
    SecurityGroupRule,
    Peering,
    InternetGateway,
    NatGateway,
    ElasticIp,
    Process,
    LoadBalancer,
    TargetGroup,
    Listener,
    EndpointService,
    Endpoint,
    HostedZone,
    ResolverRule,
    TransitGateway,
    TransitGatewayAttachment,
    TransitGatewayRouteTable,
    ResourceShare,
    ResourceShareInvitation,
}

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Vpc => "vpc-",
            Kind::Subnet => "subnet-",
            Kind::Instance => "i-",
            Kind::SecurityGroup => "sg-",
            Kind::SecurityGroupRule => "sgr-",
            Kind::Peering => "pcx-",
            Kind::InternetGateway => "igw-",
            Kind::NatGateway => "nat-",
            Kind::ElasticIp => "eipalloc-",
            Kind::Process => "proc-",
            Kind::LoadBalancer => "nlb-",
            Kind::TargetGroup => "tg-",
            Kind::Listener => "lsnr-",
            Kind::EndpointService => "vpce-svc-",
            Kind::Endpoint => "vpce-",
            Kind::HostedZone => "hz-",
            Kind::ResolverRule => "rslvr-rr-",
            Kind::TransitGateway => "tgw-",
            Kind::TransitGatewayAttachment => "tgw-attach-",
            Kind::TransitGatewayRouteTable => "tgw-rtb-",
            Kind::ResourceShare => "rs-",
            Kind::ResourceShareInvitation => "rsi-",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Kind::Vpc => "VPC",
            Kind::Subnet => "subnet",
            Kind::Instance => "instance",
            Kind::SecurityGroup => "security group",
            Kind::SecurityGroupRule => "security group rule",
            Kind::Peering => "VPC peering connection",
            Kind::InternetGateway => "internet gateway",
            Kind::NatGateway => "NAT gateway",
            Kind::ElasticIp => "elastic IP allocation",
            Kind::Process => "process",
            Kind::LoadBalancer => "load balancer",
            Kind::TargetGroup => "target group",
            Kind::Listener => "listener",
            Kind::EndpointService => "endpoint service",
            Kind::Endpoint => "VPC endpoint",
            Kind::HostedZone => "hosted zone",
            Kind::ResolverRule => "resolver rule",
            Kind::TransitGateway => "transit gateway",
            Kind::TransitGatewayAttachment => "transit gateway attachment",
            Kind::TransitGatewayRouteTable => "transit gateway route table",
            Kind::ResourceShare => "resource share",
            Kind::ResourceShareInvitation => "resource share invitation",
        }
    }

    /// A new random id: the prefix and 8 lowercase hex digits.
    pub fn new_id(self) -> String {
        format!("{}{:08x}", self.prefix(), rand::random::<u32>())
    }

    /// Check that `s` is an id of this kind (prefix + 8 hex) and return its 8 hex digits.
    pub fn parse<'a>(self, field: &str, s: &'a str) -> Result<&'a str> {
        match s.strip_prefix(self.prefix()) {
            Some(hex)
                if hex.len() == 8
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
            {
                Ok(hex)
            }
            _ => Err(Error::invalid(
                field,
                format!(
                    "{s:?} is not a {} id ({}followed by 8 lowercase hex digits)",
                    self.noun(),
                    self.prefix()
                ),
            )),
        }
    }
}

/// The 8 hex digits of an id already known to be well formed.
pub fn short(id: &str) -> &str {
    id.rsplit('-').next().unwrap_or(id)
}

/// Regions localcloud knows, with their availability zones' letters.
pub const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
];

pub const DEFAULT_REGION: &str = "us-east-1";

pub fn parse_region(s: &str) -> Result<String> {
    if REGIONS.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(Error::invalid(
            "region",
            format!(
                "{s:?} is not a known region; use one of {}",
                REGIONS.join(", ")
            ),
        ))
    }
}

/// An availability zone must be the VPC's region followed by a letter a–f.
pub fn parse_az(region: &str, s: &str) -> Result<String> {
    let ok = s
        .strip_prefix(region)
        .is_some_and(|l| l.len() == 1 && ('a'..='f').contains(&l.chars().next().unwrap_or('z')));
    if ok {
        Ok(s.to_string())
    } else {
        Err(Error::invalid(
            "availabilityZone",
            format!("{s:?} is not an availability zone of {region}; use {region}a … {region}f"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert!(Prefix::parse("lp").is_ok());
        assert!(Prefix::parse("t1k3z").is_ok());
        for bad in ["", "1ab", "toolong", "LP", "a-b", "a b"] {
            assert!(Prefix::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn principals() {
        let p = Principal::parse("arn:aws:iam::123456789012:root").unwrap();
        assert_eq!(p.account().as_str(), "123456789012");
        let r = Principal::parse("arn:aws:iam::123456789012:role/agent-runner").unwrap();
        assert_eq!(r.account().as_str(), "123456789012");
        for bad in [
            "arn:aws:iam::12345678901:root",
            "arn:aws:iam::123456789012:user/bob",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a b",
            "123456789012",
            "arn:aws:iam::abcdefghijkl:root",
        ] {
            let e = Principal::parse(bad).unwrap_err().to_string();
            assert!(e.contains("principal"), "{bad}: {e}");
        }
        assert_eq!(Principal::default_local().arn(), DEFAULT_PRINCIPAL);
    }

    #[test]
    fn ids_are_prefix_and_8_hex() {
        for k in [Kind::Vpc, Kind::Subnet, Kind::Instance, Kind::Peering] {
            let id = k.new_id();
            assert_eq!(k.parse("id", &id).unwrap().len(), 8, "{id}");
            assert_eq!(short(&id).len(), 8);
        }
        assert!(Kind::Vpc.parse("vpcId", "vpc-1234567").is_err());
        assert!(Kind::Vpc.parse("vpcId", "vpc-1234567g").is_err());
        assert!(Kind::Vpc.parse("vpcId", "subnet-12345678").is_err());
        assert!(Kind::Vpc.parse("vpcId", "vpc-0123456789abcdef0").is_err());
    }

    #[test]
    fn regions_and_azs() {
        assert!(parse_region("us-east-1").is_ok());
        assert!(parse_region("mars-1").is_err());
        assert!(parse_az("us-east-1", "us-east-1a").is_ok());
        assert!(parse_az("us-east-1", "us-east-1g").is_err());
        assert!(parse_az("us-east-1", "us-west-2a").is_err());
    }
}
