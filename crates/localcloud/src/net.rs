//! Address arithmetic: CIDR parsing and rules, reserved addresses, link addressing.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::error::{Error, Result};

/// The pool public IPs (instance public IPs, elastic IPs) come from.
pub const PUBLIC_POOL: &str = "198.51.100.0/24";
/// The internet's own hosts (test servers); the internet namespace answers at the first one.
pub const INTERNET_HOSTS: &str = "203.0.113.0/24";
/// The internet namespace's own address, where `internet run` servers listen.
pub const INTERNET_HOST: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// Router end and internet end of every internet gateway link.
pub const IGW_ROUTER: Ipv4Addr = Ipv4Addr::new(169, 254, 0, 2);
pub const IGW_INTERNET: Ipv4Addr = Ipv4Addr::new(169, 254, 0, 1);

/// Parse a CIDR in canonical form (host bits zero).
pub fn parse_cidr(field: &str, s: &str) -> Result<Ipv4Net> {
    linkplane_model::refuse_leading_zero_octets(s).map_err(|m| Error::invalid(field, m))?;
    let net: Ipv4Net = s.parse().map_err(|_| {
        Error::invalid(
            field,
            format!("{s:?} is not an IPv4 CIDR such as 10.0.0.0/16"),
        )
    })?;
    if net.trunc() != net {
        return Err(Error::invalid(
            field,
            format!("{s} has host bits set; did you mean {}?", net.trunc()),
        ));
    }
    Ok(net)
}

fn rfc1918() -> [Ipv4Net; 3] {
    [
        Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 8),
        Ipv4Net::new_assert(Ipv4Addr::new(172, 16, 0, 0), 12),
        Ipv4Net::new_assert(Ipv4Addr::new(192, 168, 0, 0), 16),
    ]
}

/// A VPC CIDR: RFC 1918, /16 to /28.
pub fn parse_vpc_cidr(s: &str) -> Result<Ipv4Net> {
    let net = parse_cidr("cidrBlock", s)?;
    if !(16..=28).contains(&net.prefix_len()) {
        return Err(Error::invalid(
            "cidrBlock",
            format!("{s}: a VPC CIDR must be between /16 and /28"),
        ));
    }
    if !rfc1918().iter().any(|r| r.contains(&net)) {
        return Err(Error::invalid(
            "cidrBlock",
            format!(
                "{s} is not private: use RFC 1918 space (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)"
            ),
        ));
    }
    Ok(net)
}

/// A subnet CIDR: inside the VPC, /16 to /28.
pub fn parse_subnet_cidr(vpc: Ipv4Net, s: &str) -> Result<Ipv4Net> {
    let net = parse_cidr("cidrBlock", s)?;
    if !(16..=28).contains(&net.prefix_len()) {
        return Err(Error::invalid(
            "cidrBlock",
            format!("{s}: a subnet CIDR must be between /16 and /28"),
        ));
    }
    if !vpc.contains(&net) {
        return Err(Error::invalid(
            "cidrBlock",
            format!("{s} is not inside the VPC's CIDR {vpc}"),
        ));
    }
    Ok(net)
}

pub fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

pub fn nth(net: Ipv4Net, n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()).wrapping_add(n))
}

/// The subnet's gateway (base+1), held by its bridge in the VPC router.
pub fn gateway(subnet: Ipv4Net) -> Ipv4Addr {
    nth(subnet, 1)
}

/// The VPC resolver address (VPC base+2).
pub fn resolver(vpc: Ipv4Net) -> Ipv4Addr {
    nth(vpc, 2)
}

/// Whether an address may be given to an instance: inside the subnet, not one of the first
/// four (network, gateway, DNS, reserved) nor the last (broadcast), as AWS reserves.
pub fn assignable(subnet: Ipv4Net, ip: Ipv4Addr) -> bool {
    let first = u32::from(subnet.network());
    let last = u32::from(subnet.broadcast());
    let x = u32::from(ip);
    subnet.contains(&ip) && x >= first + 4 && x < last
}

/// Candidate instance addresses of a subnet in order.
pub fn assignable_range(subnet: Ipv4Net) -> impl Iterator<Item = Ipv4Addr> {
    let first = u32::from(subnet.network()) + 4;
    let last = u32::from(subnet.broadcast());
    (first..last).map(Ipv4Addr::from)
}

/// The /30 of peering link number `seq` in 100.64.0.0/10 (never a VPC CIDR, which is RFC 1918):
/// (requester end, accepter end).
pub fn peering_link(seq: i64) -> (Ipv4Addr, Ipv4Addr) {
    let base = u32::from(Ipv4Addr::new(100, 64, 0, 0)) + ((seq as u32) & 0x000f_ffff) * 4;
    (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vpc_cidrs() {
        assert!(parse_vpc_cidr("10.0.0.0/16").is_ok());
        assert!(parse_vpc_cidr("192.168.10.0/28").is_ok());
        assert!(parse_vpc_cidr("10.0.0.0/8").is_err());
        assert!(parse_vpc_cidr("10.0.0.0/29").is_err());
        assert!(parse_vpc_cidr("8.8.0.0/16").is_err());
        assert!(
            parse_vpc_cidr("10.0.0.1/16")
                .unwrap_err()
                .to_string()
                .contains("10.0.0.0/16")
        );
        assert!(parse_vpc_cidr("garbage").is_err());
    }

    #[test]
    fn subnets_and_reserved_addresses() {
        let vpc = parse_vpc_cidr("10.1.0.0/16").unwrap();
        let s = parse_subnet_cidr(vpc, "10.1.2.0/24").unwrap();
        assert!(parse_subnet_cidr(vpc, "10.2.0.0/24").is_err());
        assert_eq!(gateway(s).to_string(), "10.1.2.1");
        assert_eq!(resolver(vpc).to_string(), "10.1.0.2");
        for bad in [
            "10.1.2.0",
            "10.1.2.1",
            "10.1.2.2",
            "10.1.2.3",
            "10.1.2.255",
            "10.1.3.4",
        ] {
            assert!(!assignable(s, bad.parse().unwrap()), "{bad}");
        }
        assert!(assignable(s, "10.1.2.4".parse().unwrap()));
        assert!(assignable(s, "10.1.2.254".parse().unwrap()));
        assert_eq!(assignable_range(s).count(), 251);
        let a: Ipv4Net = "10.0.0.0/16".parse().unwrap();
        let b: Ipv4Net = "10.0.128.0/17".parse().unwrap();
        let c: Ipv4Net = "10.1.0.0/16".parse().unwrap();
        assert!(overlaps(a, b) && overlaps(b, a) && !overlaps(a, c));
    }

    #[test]
    fn peering_links_are_distinct_30s() {
        let (a1, a2) = peering_link(1);
        let (b1, _) = peering_link(2);
        assert_eq!(a1.to_string(), "100.64.0.5");
        assert_eq!(a2.to_string(), "100.64.0.6");
        assert_eq!(b1.to_string(), "100.64.0.9");
    }
}
