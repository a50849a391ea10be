//! Pure rendering of kernel configuration: nftables scripts, names and route hops.
//! Unit tested without a kernel; the engine feeds them to `nft -f -`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// Name of the router's end of the internet gateway link.
pub const IGW_DEV: &str = "igw0";
/// The instance's interface.
pub const INSTANCE_DEV: &str = "eth0";

pub fn bridge(subnet_id: &str) -> String {
    format!("s{}", crate::ids::short(subnet_id))
}
pub fn instance_port(instance_id: &str) -> String {
    format!("i{}", crate::ids::short(instance_id))
}
pub fn peering_dev(pcx_id: &str) -> String {
    format!("p{}", crate::ids::short(pcx_id))
}
pub fn internet_port(vpc_id: &str) -> String {
    format!("g{}", crate::ids::short(vpc_id))
}
/// The kernel routing table of a subnet (its `seq` keeps it unique).
pub fn route_table(subnet_seq: i64) -> u32 {
    1000 + subnet_seq as u32
}

/// The router's nftables table: NAT maps (public IP ↔ private IP, NAT realm → elastic IP)
/// and the forward filter that makes peering non-transitive.
pub fn router_table(
    table: &str,
    public: &[(Ipv4Addr, Ipv4Addr)],
    nat: &[(i64, Ipv4Addr)],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "table ip {table}\ndelete table ip {table}\ntable ip {table} {{"
    );
    let pairs = |f: &dyn Fn(&(Ipv4Addr, Ipv4Addr)) -> String| {
        public.iter().map(f).collect::<Vec<_>>().join(", ")
    };
    let _ = writeln!(s, "  map pub2priv {{ type ipv4_addr : ipv4_addr;");
    if !public.is_empty() {
        let _ = writeln!(
            s,
            "    elements = {{ {} }}",
            pairs(&|(p, v)| format!("{p} : {v}"))
        );
    }
    let _ = writeln!(s, "  }}\n  map priv2pub {{ type ipv4_addr : ipv4_addr;");
    if !public.is_empty() {
        let _ = writeln!(
            s,
            "    elements = {{ {} }}",
            pairs(&|(p, v)| format!("{v} : {p}"))
        );
    }
    let _ = writeln!(s, "  }}\n  map nat_eip {{ type realm : ipv4_addr;");
    if !nat.is_empty() {
        let e: Vec<String> = nat.iter().map(|(r, ip)| format!("{r} : {ip}")).collect();
        let _ = writeln!(s, "    elements = {{ {} }}", e.join(", "));
    }
    let _ = write!(
        s,
        r#"  }}
  chain forward {{
    type filter hook forward priority 0; policy accept;
    iifname "p*" oifname "p*" drop comment "peering is not transitive"
    iifname "p*" oifname "{IGW_DEV}" drop comment "no edge-to-edge routing"
    iifname "{IGW_DEV}" oifname "p*" drop comment "no edge-to-edge routing"
    iifname "t*" oifname "p*" drop comment "no edge-to-edge routing"
    iifname "p*" oifname "t*" drop comment "no edge-to-edge routing"
    iifname "t*" oifname "{IGW_DEV}" drop comment "no edge-to-edge routing"
    iifname "{IGW_DEV}" oifname "t*" drop comment "no edge-to-edge routing"
  }}
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    iifname "{IGW_DEV}" dnat ip to ip daddr map @pub2priv
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname "{IGW_DEV}" snat ip to meta rtclassid map @nat_eip
    oifname "{IGW_DEV}" snat ip to ip saddr map @priv2pub
  }}
}}
"#
    );
    s
}

/// One security-group rule ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterRule {
    pub ingress: bool,
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    /// A CIDR, or `None` with `group` set.
    pub cidr: Option<String>,
    /// Source/destination security group (rendered as the set `g_<hex>`).
    pub group: Option<String>,
}

pub fn group_set(group_id: &str) -> String {
    format!("g_{}", crate::ids::short(group_id))
}

fn rule_line(r: &FilterRule) -> String {
    let dir = if r.ingress { "saddr" } else { "daddr" };
    let mut s = String::new();
    match (&r.cidr, &r.group) {
        (Some(c), _) if c != "0.0.0.0/0" => {
            let _ = write!(s, "ip {dir} {c} ");
        }
        (None, Some(g)) => {
            let _ = write!(s, "ip {dir} @{} ", group_set(g));
        }
        _ => {}
    }
    let ports = if r.from_port == r.to_port {
        r.from_port.to_string()
    } else {
        format!("{}-{}", r.from_port, r.to_port)
    };
    match r.protocol.as_str() {
        "tcp" | "udp" => {
            let _ = write!(s, "{} dport {ports} ", r.protocol);
        }
        "icmp" if r.from_port >= 0 => {
            let _ = write!(s, "icmp type {} ", r.from_port);
        }
        "icmp" => s.push_str("meta l4proto icmp "),
        _ => {}
    }
    s.push_str("accept");
    s
}

/// Where an ENI's security groups are enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attachment {
    /// The whole namespace is the ENI (an instance): input/output hooks, default drop.
    Instance,
    /// One address among others in a namespace (an endpoint ENI on a VPC router): only
    /// traffic to/from `addr` goes through the rules; the rest of the router is untouched.
    Address(Ipv4Addr),
}

/// The nftables table of an ENI's security groups: stateful, default deny ingress; egress
/// only as the rules allow (a new group allows all egress, as in AWS). The same rules serve
/// an instance and, through [`Attachment::Address`], an endpoint ENI on a router.
pub fn filter_table(
    family_table: &str,
    attachment: &Attachment,
    resolver: Ipv4Addr,
    rules: &[FilterRule],
    sets: &BTreeMap<String, Vec<Ipv4Addr>>,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "table {family_table}\ndelete table {family_table}\ntable {family_table} {{"
    );
    for (group, members) in sets {
        let _ = write!(s, "  set {} {{ type ipv4_addr;", group_set(group));
        if !members.is_empty() {
            let m: Vec<String> = members.iter().map(Ipv4Addr::to_string).collect();
            let _ = write!(s, " elements = {{ {} }};", m.join(", "));
        }
        s.push_str(" }\n");
    }
    let (in_head, out_head) = match attachment {
        Attachment::Instance => (
            "  chain ingress {\n    type filter hook input priority 0; policy drop;\n    iif \"lo\" accept\n".to_string(),
            "  chain egress {\n    type filter hook output priority 0; policy drop;\n    oif \"lo\" accept\n".to_string(),
        ),
        Attachment::Address(addr) => {
            let _ = writeln!(
                s,
                "  chain eni_in {{\n    type filter hook input priority 0; policy accept;\n    ip daddr {addr} jump ingress\n  }}\n  chain eni_out {{\n    type filter hook output priority 0; policy accept;\n    ip saddr {addr} jump egress\n  }}"
            );
            ("  chain ingress {\n".to_string(), "  chain egress {\n".to_string())
        }
    };
    s.push_str(&in_head);
    s.push_str("    ct state established,related accept\n    ct state invalid drop\n");
    for r in rules.iter().filter(|r| r.ingress) {
        let _ = writeln!(s, "    {}", rule_line(r));
    }
    if matches!(attachment, Attachment::Address(_)) {
        s.push_str("    drop\n");
    }
    s.push_str("  }\n");
    s.push_str(&out_head);
    let _ = writeln!(
        s,
        "    ct state established,related accept\n    ip daddr {resolver} udp dport 53 accept comment \"VPC resolver\"\n    ip daddr {resolver} tcp dport 53 accept comment \"VPC resolver\""
    );
    for r in rules.iter().filter(|r| !r.ingress) {
        let _ = writeln!(s, "    {}", rule_line(r));
    }
    if matches!(attachment, Attachment::Address(_)) {
        s.push_str("    drop\n");
    }
    s.push_str("  }\n}\n");
    s
}

/// Where a route's packets go in the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hop {
    /// Through the internet gateway link; `realm` set for NAT gateways (SNAT by realm).
    Internet { realm: Option<i64> },
    /// Over a peering link to the peer router's end.
    Peer { dev: String, via: Ipv4Addr },
    /// Target unusable (peering not active, gateway gone).
    Blackhole,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_rules_render() {
        let rules = vec![
            FilterRule {
                ingress: true,
                protocol: "tcp".into(),
                from_port: 80,
                to_port: 90,
                cidr: Some("10.0.0.0/16".into()),
                group: None,
            },
            FilterRule {
                ingress: true,
                protocol: "-1".into(),
                from_port: -1,
                to_port: -1,
                cidr: None,
                group: Some("sg-0000abcd".into()),
            },
            FilterRule {
                ingress: false,
                protocol: "-1".into(),
                from_port: -1,
                to_port: -1,
                cidr: Some("0.0.0.0/0".into()),
                group: None,
            },
        ];
        let mut sets = BTreeMap::new();
        sets.insert("sg-0000abcd".to_string(), vec![Ipv4Addr::new(10, 0, 1, 4)]);
        let t = filter_table(
            "inet lp",
            &Attachment::Instance,
            Ipv4Addr::new(10, 0, 0, 2),
            &rules,
            &sets,
        );
        assert!(
            t.contains("ip saddr 10.0.0.0/16 tcp dport 80-90 accept"),
            "{t}"
        );
        assert!(t.contains("ip saddr @g_0000abcd accept"), "{t}");
        assert!(
            t.contains("set g_0000abcd { type ipv4_addr; elements = { 10.0.1.4 }; }"),
            "{t}"
        );
        assert!(t.contains("policy drop"));
        // The egress allow-all rule renders without an address match.
        let egress = t.split("chain egress").nth(1).unwrap();
        assert!(egress.contains("\n    accept\n"), "{egress}");
    }

    #[test]
    fn an_eni_address_on_a_router_gets_its_own_chains() {
        let rules = vec![FilterRule {
            ingress: true,
            protocol: "tcp".into(),
            from_port: 443,
            to_port: 443,
            cidr: Some("10.0.0.0/16".into()),
            group: None,
        }];
        let t = filter_table(
            "inet lp_eni",
            &Attachment::Address(Ipv4Addr::new(10, 0, 1, 9)),
            Ipv4Addr::new(10, 0, 0, 2),
            &rules,
            &BTreeMap::new(),
        );
        assert!(t.contains("ip daddr 10.0.1.9 jump ingress"), "{t}");
        assert!(t.contains("ip saddr 10.0.1.9 jump egress"), "{t}");
        assert!(
            !t.contains("policy drop"),
            "the router's other traffic is untouched: {t}"
        );
        let ingress = t.split("chain ingress {").nth(1).unwrap();
        assert!(ingress.contains("tcp dport 443 accept\n    drop"), "{t}");
    }
}
