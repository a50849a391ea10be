//! What a cluster's network looks like, as a pure function of its range and region.
//!
//! The range is cut into four equal quarters: two private subnets (one per availability
//! zone, where the cluster's workloads run) and two public subnets (NAT gateways, later the
//! ingress load balancer).
//!
//! ```text
//!   vpcSubnetRange  e.g. 10.20.0.0/16
//!   ├── private-a  10.20.0.0/18    <region>a   0.0.0.0/0 → NAT gateway a
//!   ├── private-b  10.20.64.0/18   <region>b   0.0.0.0/0 → NAT gateway b
//!   ├── public-a   10.20.128.0/18  <region>a   0.0.0.0/0 → internet gateway   (NAT a, EIP a)
//!   └── public-b   10.20.192.0/18  <region>b   0.0.0.0/0 → internet gateway   (NAT b, EIP b)
//! ```

use ipnet::Ipv4Net;
use linkplane_model::{Cidr, Region, ResourceId};

/// The smallest subnet a provider accepts (AWS and localcloud: /28).
pub const SMALLEST_SUBNET_PREFIX: u8 = 28;
/// The smallest cluster range: four /28 subnets.
pub const SMALLEST_CLUSTER_PREFIX: u8 = SMALLEST_SUBNET_PREFIX - 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetPlan {
    /// `private-a`, `private-b`, `public-a`, `public-b`.
    pub role: String,
    pub cidr: Ipv4Net,
    pub availability_zone: String,
    pub public: bool,
}

/// The four subnets of a cluster, or why the range cannot hold them.
pub fn plan_subnets(cidr: &Cidr, region: &Region) -> Result<Vec<SubnetPlan>, String> {
    let net = cidr.net();
    if net.prefix_len() > SMALLEST_CLUSTER_PREFIX {
        return Err(format!(
            "vpcSubnetRange {cidr} is too small: a LOCAL cluster needs at least a /{SMALLEST_CLUSTER_PREFIX} \
             (two private and two public /{SMALLEST_SUBNET_PREFIX} subnets in two availability zones); \
             create the cluster again with a larger range"
        ));
    }
    let zones = region.availability_zones();
    if zones.len() < 2 {
        return Err(format!(
            "region {region} has fewer than two availability zones"
        ));
    }
    let quarters: Vec<Ipv4Net> = net
        .subnets(net.prefix_len() + 2)
        .map_err(|e| format!("cannot split {cidr}: {e}"))?
        .collect();
    let roles = [
        ("private-a", 0, false),
        ("private-b", 1, false),
        ("public-a", 0, true),
        ("public-b", 1, true),
    ];
    Ok(roles
        .iter()
        .zip(quarters)
        .map(|((role, az, public), cidr)| SubnetPlan {
            role: (*role).to_owned(),
            cidr,
            availability_zone: zones[*az].clone(),
            public: *public,
        })
        .collect())
}

/// The name a provider gives a cluster's network (VPC), so it can be found again.
pub fn vpc_name(cluster_id: &ResourceId) -> String {
    format!("linkplane/{cluster_id}")
}

/// The name of one of a cluster's subnets.
pub fn subnet_name(cluster_id: &ResourceId, role: &str) -> String {
    format!("linkplane/{cluster_id}/{role}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> Region {
        Region::parse("us-east-1").unwrap()
    }

    #[test]
    fn a_16_becomes_four_18s_in_two_zones() {
        let plan = plan_subnets(&Cidr::parse("10.20.0.0/16").unwrap(), &region()).unwrap();
        let got: Vec<(String, String, String, bool)> = plan
            .iter()
            .map(|s| {
                (
                    s.role.clone(),
                    s.cidr.to_string(),
                    s.availability_zone.clone(),
                    s.public,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("private-a", "10.20.0.0/18", "us-east-1a", false),
                ("private-b", "10.20.64.0/18", "us-east-1b", false),
                ("public-a", "10.20.128.0/18", "us-east-1a", true),
                ("public-b", "10.20.192.0/18", "us-east-1b", true),
            ]
            .map(|(a, b, c, d)| (a.to_owned(), b.to_owned(), c.to_owned(), d))
        );
    }

    #[test]
    fn the_smallest_range_is_a_26() {
        let plan = plan_subnets(&Cidr::parse("192.168.5.0/26").unwrap(), &region()).unwrap();
        assert!(plan.iter().all(|s| s.cidr.prefix_len() == 28));
        for bad in ["192.168.5.0/27", "192.168.5.0/28"] {
            let e = plan_subnets(&Cidr::parse(bad).unwrap(), &region()).unwrap_err();
            assert!(e.contains("too small"), "{e}");
            assert!(e.contains("at least a /26"), "{e}");
        }
    }

    #[test]
    fn names_carry_the_cluster_id() {
        let id = ResourceId::generate(
            linkplane_model::ResourceKind::Cluster,
            [7; linkplane_model::ID_RANDOM_BYTES],
        );
        assert_eq!(vpc_name(&id), format!("linkplane/{id}"));
        assert_eq!(
            subnet_name(&id, "public-b"),
            format!("linkplane/{id}/public-b")
        );
    }
}
