//! Typed fields, parsed at the edge. Every `parse` returns the rule that was broken.

pub mod strict;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::Ipv4Net;

use crate::schema::string_value;

/// Largest accepted name, in characters.
pub const NAME_MAX_CHARS: usize = 63;

/// A display name: 1–63 characters, no control characters, no leading/trailing whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

impl Name {
    pub fn parse(s: &str) -> Result<Self, String> {
        let chars = s.chars().count();
        if chars == 0 {
            return Err("must not be empty (1–63 characters)".into());
        }
        if chars > NAME_MAX_CHARS {
            return Err(format!("must be at most 63 characters (got {chars})"));
        }
        if s.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        if s.trim() != s {
            return Err("must not start or end with whitespace".into());
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(
    Name,
    "1–63 characters, no control characters",
    "analytics-peering"
);

/// An IPv4 CIDR block in canonical form (no host bits set), e.g. `10.0.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr(Ipv4Net);

const RFC1918: [(Ipv4Addr, u8); 3] = [
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
];

/// An octet with a leading zero (`010`) reads as decimal here but as octal in
/// `inet_aton` and many tools: refuse it, so `010.0.0.0/8` never silently becomes
/// `10.0.0.0/8`. Checks every dotted-quad in `s` (before a `/` or `:port`).
pub fn refuse_leading_zero_octets(s: &str) -> Result<(), String> {
    let addr = s.split('/').next().unwrap_or(s);
    let addr = addr.rsplit_once(':').map_or(addr, |(a, _)| a);
    if addr.contains('.') && addr.split('.').any(|o| o.len() > 1 && o.starts_with('0')) {
        return Err(format!(
            "{s:?} has an IPv4 octet with a leading zero; write each octet in decimal without leading zeros (e.g. 10.77.0.0)"
        ));
    }
    Ok(())
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Self, String> {
        refuse_leading_zero_octets(s)?;
        let net: Ipv4Net = s.parse().map_err(|_| {
            format!("{s:?} is not an IPv4 CIDR block (expected a.b.c.d/len, e.g. 10.1.0.0/16)")
        })?;
        if net.network() != net.addr() {
            return Err(format!(
                "{s:?} has host bits set; the network address is {}",
                net.trunc()
            ));
        }
        Ok(Self(net))
    }
    pub fn net(&self) -> Ipv4Net {
        self.0
    }
    pub fn prefix_len(&self) -> u8 {
        self.0.prefix_len()
    }
    pub fn as_str(&self) -> String {
        self.0.to_string()
    }
    pub fn is_rfc1918(&self) -> bool {
        RFC1918
            .iter()
            .any(|(a, l)| Ipv4Net::new(*a, *l).is_ok_and(|r| r.contains(&self.0)))
    }
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.0.contains(&other.0) || other.0.contains(&self.0)
    }
    pub fn contains(&self, other: &Cidr) -> bool {
        self.0.contains(&other.0)
    }
    /// The rule for `vpcSubnetRange` and `peerCidr`: inside RFC 1918.
    pub fn require_rfc1918(self) -> Result<Self, String> {
        if self.is_rfc1918() {
            Ok(self)
        } else {
            Err(format!(
                "{self} is not inside the RFC 1918 private ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)"
            ))
        }
    }
    /// The rule for VPC ranges: prefix length /16 to /28, as AWS allows.
    pub fn require_vpc_size(self) -> Result<Self, String> {
        if (16..=28).contains(&self.prefix_len()) {
            Ok(self)
        } else {
            Err(format!(
                "{self} has prefix length /{}; a VPC range must be between /16 and /28",
                self.prefix_len()
            ))
        }
    }
}
string_value!(Cidr, "IPv4 CIDR block in canonical form", "10.1.0.0/16");

/// An AWS account id: exactly 12 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "{s:?} is not an AWS account id (exactly 12 digits)"
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(AccountId, "AWS account id, 12 digits", "123456789012");

fn prefixed_hex_id(s: &str, prefix: &str, what: &str) -> Result<String, String> {
    let ok = s.strip_prefix(prefix).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a {what} (\"{prefix}\" followed by 8 or 17 lowercase hex digits)"
        ))
    }
}

/// An AWS VPC id: `vpc-` + 8 or 17 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VpcId(String);

impl VpcId {
    pub fn parse(s: &str) -> Result<Self, String> {
        prefixed_hex_id(s, "vpc-", "VPC id").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(VpcId, "AWS VPC id", "vpc-0a1b2c3d4e5f67890");

/// A cloud id of the form `<prefix>` + 8 or 17 lowercase hex digits (AWS's and localcloud's
/// shape), one type per kind so a subnet id never stands where a peering id belongs.
macro_rules! hex_cloud_id {
    ($(#[$doc:meta])* $t:ident, $prefix:literal, $what:literal, $example:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $t(String);

        impl $t {
            pub fn parse(s: &str) -> Result<Self, String> {
                prefixed_hex_id(s, $prefix, $what).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        string_value!($t, $what, $example);
    };
}

hex_cloud_id!(
    /// A subnet id: `subnet-` + 8 or 17 hex digits.
    SubnetId, "subnet-", "subnet id", "subnet-0a1b2c3d4e5f67890"
);
hex_cloud_id!(
    /// A VPC peering connection id: `pcx-` + 8 or 17 hex digits.
    PeeringConnectionId, "pcx-", "VPC peering connection id", "pcx-0a1b2c3d4e5f67890"
);
hex_cloud_id!(
    /// A VPC endpoint id: `vpce-` + 8 or 17 hex digits.
    VpcEndpointId, "vpce-", "VPC endpoint id", "vpce-0a1b2c3d4e5f67890"
);
hex_cloud_id!(
    /// A transit gateway attachment id: `tgw-attach-` + 8 or 17 hex digits.
    TransitGatewayAttachmentId, "tgw-attach-", "transit gateway attachment id", "tgw-attach-0a1b2c3d4e5f67890"
);
hex_cloud_id!(
    /// A site-to-site VPN connection id: `vpn-` + 8 or 17 hex digits.
    VpnConnectionId, "vpn-", "VPN connection id", "vpn-0a1b2c3d4e5f67890"
);

/// An AWS transit gateway id: `tgw-` + 8 or 17 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransitGatewayId(String);

impl TransitGatewayId {
    pub fn parse(s: &str) -> Result<Self, String> {
        prefixed_hex_id(s, "tgw-", "transit gateway id").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(
    TransitGatewayId,
    "AWS transit gateway id",
    "tgw-0123456789abcdef0"
);

/// A Route 53 Resolver rule id: `rslvr-rr-` + 17 hex digits (AWS) or 8 (localcloud).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResolverRuleId(String);

impl ResolverRuleId {
    pub fn parse(s: &str) -> Result<Self, String> {
        prefixed_hex_id(s, "rslvr-rr-", "resolver rule id").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(
    ResolverRuleId,
    "Route 53 Resolver rule id",
    "rslvr-rr-0123456789abcdef0"
);

/// A private hosted zone id: Route 53's `Z` + 1 to 32 uppercase letters and digits, or
/// localcloud's `hz-` + 8 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostedZoneId(String);

impl HostedZoneId {
    pub fn parse(s: &str) -> Result<Self, String> {
        let route53 = s.strip_prefix('Z').is_some_and(|rest| {
            (1..=32).contains(&rest.len())
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        });
        if route53 || prefixed_hex_id(s, "hz-", "").is_ok_and(|_| s.len() == 11) {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "{s:?} is not a hosted zone id (Route 53: \"Z\" followed by up to 32 uppercase \
                 letters and digits; localcloud: \"hz-\" followed by 8 lowercase hex digits)"
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(
    HostedZoneId,
    "private hosted zone id",
    "Z0123456789ABCDEFGHIJ"
);

/// Which cloud a region belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegionCloud {
    Aws,
    Azure,
}

/// AWS region names (also used by localcloud).
pub const AWS_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-south-1",
    "ap-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "sa-east-1",
];

/// Azure region names.
pub const AZURE_REGIONS: &[&str] = &[
    "eastus",
    "eastus2",
    "westus",
    "westus2",
    "westus3",
    "centralus",
    "northcentralus",
    "southcentralus",
    "westcentralus",
    "canadacentral",
    "canadaeast",
    "brazilsouth",
    "northeurope",
    "westeurope",
    "uksouth",
    "ukwest",
    "francecentral",
    "germanywestcentral",
    "norwayeast",
    "swedencentral",
    "switzerlandnorth",
    "polandcentral",
    "italynorth",
    "eastasia",
    "southeastasia",
    "japaneast",
    "japanwest",
    "koreacentral",
    "centralindia",
    "southindia",
    "australiaeast",
    "australiasoutheast",
    "uaenorth",
    "southafricanorth",
    "qatarcentral",
];

/// A known AWS or Azure region name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Region {
    name: &'static str,
    cloud: RegionCloud,
}

impl Region {
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(name) = AWS_REGIONS.iter().find(|r| **r == s) {
            return Ok(Self {
                name,
                cloud: RegionCloud::Aws,
            });
        }
        if let Some(name) = AZURE_REGIONS.iter().find(|r| **r == s) {
            return Ok(Self {
                name,
                cloud: RegionCloud::Azure,
            });
        }
        Err(format!(
            "{s:?} is not a known AWS region (e.g. us-east-1) or Azure region (e.g. eastus)"
        ))
    }
    /// Parse and require a region of the given cloud.
    pub fn parse_in(s: &str, cloud: RegionCloud) -> Result<Self, String> {
        let r = Self::parse(s)?;
        if r.cloud == cloud {
            Ok(r)
        } else {
            let want = match cloud {
                RegionCloud::Aws => "an AWS region (e.g. us-east-1)",
                RegionCloud::Azure => "an Azure region (e.g. eastus)",
            };
            Err(format!("{s:?} is not {want}"))
        }
    }
    pub fn as_str(&self) -> &'static str {
        self.name
    }
    pub fn cloud(&self) -> RegionCloud {
        self.cloud
    }
    /// The availability zones a service in this region supports: `<region>a|b|c` on AWS,
    /// zones `1`, `2`, `3` on Azure.
    pub fn availability_zones(&self) -> Vec<String> {
        match self.cloud {
            RegionCloud::Aws => ["a", "b", "c"]
                .iter()
                .map(|z| format!("{}{z}", self.name))
                .collect(),
            RegionCloud::Azure => ["1", "2", "3"].iter().map(|z| (*z).to_owned()).collect(),
        }
    }
}
string_value!(Region, "AWS or Azure region name", "us-east-1");

fn iam_path_ok(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 512
        && !path.starts_with('/')
        && !path.ends_with('/')
        && !path.contains("//")
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
}

/// An IAM principal ARN: `arn:aws:iam::<12 digits>:root`, `:role/<path>` or `:user/<path>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrincipalArn {
    arn: String,
    account: AccountId,
}

impl PrincipalArn {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{s:?} is not an IAM principal ARN (arn:aws:iam::<12-digit account>:root, :role/<name> or :user/<name>)"
            )
        };
        let rest = s.strip_prefix("arn:aws:iam::").ok_or_else(bad)?;
        let (account, resource) = rest.split_once(':').ok_or_else(bad)?;
        let account = AccountId::parse(account).map_err(|_| bad())?;
        let ok = resource == "root"
            || resource.strip_prefix("role/").is_some_and(iam_path_ok)
            || resource.strip_prefix("user/").is_some_and(iam_path_ok);
        if !ok {
            return Err(bad());
        }
        Ok(Self {
            arn: s.to_owned(),
            account,
        })
    }
    pub fn as_str(&self) -> &str {
        &self.arn
    }
    pub fn account(&self) -> &AccountId {
        &self.account
    }
}
string_value!(
    PrincipalArn,
    "IAM principal ARN",
    "arn:aws:iam::123456789012:root"
);

/// An Azure subscription id (a GUID), normalised to lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AzureSubscriptionId(String);

impl AzureSubscriptionId {
    pub fn parse(s: &str) -> Result<Self, String> {
        let groups: Vec<&str> = s.split('-').collect();
        let lens = [8, 4, 4, 4, 12];
        let ok = groups.len() == 5
            && groups
                .iter()
                .zip(lens)
                .all(|(g, l)| g.len() == l && g.bytes().all(|b| b.is_ascii_hexdigit()));
        if ok {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(format!(
                "{s:?} is not an Azure subscription id (a GUID like 00000000-0000-0000-0000-000000000000)"
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(
    AzureSubscriptionId,
    "Azure subscription id (GUID)",
    "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"
);

/// Who may connect to a cluster's endpoint service: `*`, an IAM principal (AWS and
/// localcloud clusters) or an Azure subscription (Azure clusters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AllowedPrincipal {
    Any,
    Aws(PrincipalArn),
    Azure(AzureSubscriptionId),
}

impl AllowedPrincipal {
    /// Parse by cloud: AWS-shaped clusters take `*` or ARNs, Azure clusters `*` or GUIDs.
    pub fn parse_for(s: &str, cloud: RegionCloud) -> Result<Self, String> {
        if s == "*" {
            return Ok(Self::Any);
        }
        match cloud {
            RegionCloud::Aws => PrincipalArn::parse(s)
                .map(Self::Aws)
                .map_err(|e| format!("{e}, or \"*\" for everyone")),
            RegionCloud::Azure => AzureSubscriptionId::parse(s)
                .map(Self::Azure)
                .map_err(|e| format!("{e}; Azure clusters allow subscriptions, or \"*\"")),
        }
    }
    /// Parse whatever shape it has (used when reading stored data back).
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::parse_for(s, RegionCloud::Aws).or_else(|_| Self::parse_for(s, RegionCloud::Azure))
    }
    pub fn as_str(&self) -> String {
        match self {
            Self::Any => "*".into(),
            Self::Aws(a) => a.as_str().into(),
            Self::Azure(z) => z.as_str().into(),
        }
    }
}
string_value!(
    AllowedPrincipal,
    "\"*\", an IAM principal ARN, or an Azure subscription id",
    "arn:aws:iam::123456789012:root"
);

/// A DNS domain name per RFC 1035 (labels 1–63 of letters, digits and hyphens, not
/// starting or ending with a hyphen; total at most 253), lowercased, no trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainName(String);

fn label_ok(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && !l.starts_with('-')
        && !l.ends_with('-')
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl DomainName {
    pub fn parse(s: &str) -> Result<Self, String> {
        let trimmed = s.strip_suffix('.').unwrap_or(s);
        if trimmed.is_empty() {
            return Err("must not be empty".into());
        }
        if trimmed.len() > 253 {
            return Err(format!(
                "is {} characters; a domain name has at most 253",
                trimmed.len()
            ));
        }
        if let Some(bad) = trimmed.split('.').find(|l| !label_ok(l)) {
            return Err(format!(
                "label {bad:?} is invalid: labels are 1–63 letters, digits or hyphens and do not start or end with a hyphen"
            ));
        }
        Ok(Self(trimmed.to_ascii_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Whether `self` equals `zone` or lies below it.
    pub fn is_within(&self, zone: &DomainName) -> bool {
        self.0 == zone.0 || self.0.ends_with(&format!(".{}", zone.0))
    }
}
string_value!(DomainName, "DNS domain name (RFC 1035)", "corp.example.com");

/// A BGP autonomous system number: 1–4294967294, not one AWS reserves (7224, 9059, 10124, 17493).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Asn(u32);

/// ASNs AWS reserves for itself.
pub const RESERVED_ASNS: [u32; 4] = [7224, 9059, 10124, 17493];

impl Asn {
    pub fn parse(n: i64) -> Result<Self, String> {
        let asn = u32::try_from(n)
            .ok()
            .filter(|a| (1..=4_294_967_294).contains(a))
            .ok_or_else(|| format!("{n} is outside the BGP ASN range 1–4294967294"))?;
        if RESERVED_ASNS.contains(&asn) {
            return Err(format!(
                "{asn} is reserved by AWS (7224, 9059, 10124 and 17493 cannot be used)"
            ));
        }
        Ok(Self(asn))
    }
    pub fn get(&self) -> u32 {
        self.0
    }
}
impl TryFrom<i64> for Asn {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        Self::parse(n)
    }
}
impl From<Asn> for u32 {
    fn from(a: Asn) -> u32 {
        a.0
    }
}
impl utoipa::PartialSchema for Asn {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .description(Some("BGP ASN 1–4294967294, not 7224, 9059, 10124 or 17493"))
            .examples([serde_json::json!(65000)])
            .into()
    }
}
impl utoipa::ToSchema for Asn {}

/// An IKE pre-shared key: 8–64 characters of `[A-Za-z0-9._]`, not starting with `0`.
/// A secret: `Debug` and `Display` never reveal it and it has no `Serialize`; it is held
/// in a [`secrecy::SecretString`] (zeroed when dropped).
#[derive(Clone)]
pub struct PreSharedKey(secrecy::SecretString);

impl PartialEq for PreSharedKey {
    fn eq(&self, other: &Self) -> bool {
        use secrecy::ExposeSecret as _;
        self.0.expose_secret() == other.0.expose_secret()
    }
}
impl Eq for PreSharedKey {}

impl PreSharedKey {
    pub fn parse(s: &str) -> Result<Self, String> {
        // Error messages never echo the key.
        let len = s.chars().count();
        if !(8..=64).contains(&len) {
            return Err(format!("must be 8–64 characters (got {len})"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        {
            return Err("may contain only letters, digits, periods (.) and underscores (_)".into());
        }
        if s.starts_with('0') {
            return Err("must not start with 0".into());
        }
        Ok(Self(secrecy::SecretString::from(s)))
    }
    /// The key itself; call only to hand it to a VPN provider.
    pub fn expose_secret(&self) -> &str {
        use secrecy::ExposeSecret as _;
        self.0.expose_secret()
    }
    /// The key as a wrapped secret (what the store seals).
    pub fn into_secret(self) -> secrecy::SecretString {
        self.0
    }
}

impl std::fmt::Debug for PreSharedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreSharedKey(<redacted>)")
    }
}

/// A VPN gateway's public IPv4 address: not private, loopback, link-local, multicast,
/// shared (100.64/10), benchmarking (198.18/15), broadcast, unspecified or reserved.
/// The documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24) are accepted on
/// purpose: they are localcloud's "internet".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GatewayIp(Ipv4Addr);

impl GatewayIp {
    pub fn parse(s: &str) -> Result<Self, String> {
        refuse_leading_zero_octets(s)?;
        let ip: Ipv4Addr = s
            .parse()
            .map_err(|_| format!("{s:?} is not an IPv4 address"))?;
        let o = ip.octets();
        let why = if ip.is_private() {
            Some("private (RFC 1918)")
        } else if ip.is_loopback() {
            Some("loopback")
        } else if ip.is_link_local() {
            Some("link-local")
        } else if ip.is_multicast() {
            Some("multicast")
        } else if ip.is_broadcast() || o[0] >= 240 {
            Some("reserved (240.0.0.0/4)")
        } else if o[0] == 0 {
            Some("unspecified (0.0.0.0/8)")
        } else if o[0] == 100 && (64..128).contains(&o[1]) {
            Some("shared address space (100.64.0.0/10)")
        } else if o[0] == 198 && (18..20).contains(&o[1]) {
            Some("benchmarking (198.18.0.0/15)")
        } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
            Some("IETF protocol assignments (192.0.0.0/24)")
        } else {
            None
        };
        match why {
            Some(why) => Err(format!(
                "{ip} is {why}; a VPN gateway needs a public IPv4 address"
            )),
            None => Ok(Self(ip)),
        }
    }
    pub fn ip(&self) -> Ipv4Addr {
        self.0
    }
    pub fn as_str(&self) -> String {
        self.0.to_string()
    }
}
string_value!(
    GatewayIp,
    "public IPv4 address of a VPN gateway",
    "203.0.113.10"
);

/// A VPN tunnel inside CIDR: a /30 inside 169.254.0.0/16, not one AWS reserves
/// (169.254.0.0/30 … 169.254.5.0/30 and 169.254.169.252/30).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InsideCidr(Cidr);

impl InsideCidr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let c = Cidr::parse(s)?;
        if c.prefix_len() != 30 {
            return Err(format!("{c} must be a /30"));
        }
        let o = c.net().network().octets();
        if o[0] != 169 || o[1] != 254 {
            return Err(format!("{c} must be inside 169.254.0.0/16"));
        }
        if (o[2] <= 5 && o[3] == 0) || (o[2] == 169 && o[3] == 252) {
            return Err(format!(
                "{c} is reserved by AWS (169.254.0.0/30 … 169.254.5.0/30 and 169.254.169.252/30 cannot be used)"
            ));
        }
        Ok(Self(c))
    }
    pub fn cidr(&self) -> Cidr {
        self.0
    }
    pub fn as_str(&self) -> String {
        self.0.as_str()
    }
}
string_value!(InsideCidr, "/30 inside 169.254.0.0/16", "169.254.10.0/30");

/// A DNS forwarding target: an IP address with an optional port (`10.0.0.2`,
/// `10.0.0.2:5353`, `[fd00::2]:53`). Port defaults to 53.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForwardTarget {
    pub ip: IpAddr,
    pub port: u16,
}

impl ForwardTarget {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad =
            || format!("{s:?} is not an IP address with optional port (10.0.0.2 or 10.0.0.2:53)");
        if !s.contains('[') {
            refuse_leading_zero_octets(s)?;
        }
        let (ip, port) = match s.parse::<IpAddr>() {
            Ok(ip) => (ip, 53),
            Err(_) => {
                let sa: std::net::SocketAddr = s.parse().map_err(|_| bad())?;
                (sa.ip(), sa.port())
            }
        };
        if port == 0 {
            return Err(format!("{s:?}: port must be 1–65535"));
        }
        let unusable = match ip {
            IpAddr::V4(v4) => v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast(),
            IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast(),
        };
        if unusable {
            return Err(format!(
                "{s:?}: a resolver's address must be a unicast host address, not unspecified, multicast or broadcast"
            ));
        }
        Ok(Self { ip, port })
    }
    pub fn as_str(&self) -> String {
        std::net::SocketAddr::new(self.ip, self.port).to_string()
    }
}
string_value!(
    ForwardTarget,
    "IP address with optional port (default 53)",
    "10.20.0.2:53"
);

/// An `http://` or `https://` URL with a host, no whitespace or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpUrl(String);

impl HttpUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .ok_or_else(|| format!("{s:?} must start with http:// or https://"))?;
        if s.len() > 2048 {
            return Err("must be at most 2048 characters".into());
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain whitespace or control characters".into());
        }
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() || host.starts_with(':') {
            return Err(format!("{s:?} has no host"));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(HttpUrl, "http(s) URL", "http://10.40.0.10:8080");

/// An AWS endpoint service name: `com.amazonaws.<region>.<service>` or a custom
/// `com.amazonaws.vpce.<region>.vpce-svc-<17 hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointServiceName(String);

impl EndpointServiceName {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{s:?} is not an endpoint service name (com.amazonaws.<region>.<service> or com.amazonaws.vpce.<region>.vpce-svc-<17 hex digits>)"
            )
        };
        let rest = s.strip_prefix("com.amazonaws.").ok_or_else(bad)?;
        if let Some(custom) = rest.strip_prefix("vpce.") {
            let (region, svc) = custom.split_once('.').ok_or_else(bad)?;
            Region::parse_in(region, RegionCloud::Aws).map_err(|_| bad())?;
            let ok = svc.strip_prefix("vpce-svc-").is_some_and(|h| {
                h.len() == 17
                    && h.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
            return if ok {
                Ok(Self(s.to_owned()))
            } else {
                Err(bad())
            };
        }
        let (region, svc) = rest.split_once('.').ok_or_else(bad)?;
        Region::parse_in(region, RegionCloud::Aws).map_err(|_| bad())?;
        if svc.split('.').all(label_ok) {
            Ok(Self(s.to_owned()))
        } else {
            Err(bad())
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_custom(&self) -> bool {
        self.0.starts_with("com.amazonaws.vpce.")
    }
}
string_value!(
    EndpointServiceName,
    "AWS endpoint service name",
    "com.amazonaws.us-east-1.sts"
);

/// Parse an IPv4 address for an A record.
pub fn parse_ipv4(s: &str) -> Result<Ipv4Addr, String> {
    refuse_leading_zero_octets(s)?;
    s.parse()
        .map_err(|_| format!("{s:?} is not an IPv4 address (an A record needs one)"))
}

/// Parse an IPv6 address for an AAAA record.
pub fn parse_ipv6(s: &str) -> Result<Ipv6Addr, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not an IPv6 address (an AAAA record needs one)"))
}
