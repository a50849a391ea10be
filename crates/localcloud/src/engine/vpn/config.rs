//! The downloadable customer gateway configuration: strongSwan's `swanctl.conf` for the
//! customer's side, and a generic text with every parameter.

use std::fmt::Write;

use ipnet::Ipv4Net;

use super::options::Spec;
use super::types::TunnelOptions;

pub struct Tunnel {
    pub idx: i64,
    pub outside_ip: String,
    pub inside: Ipv4Net,
    pub psk: String,
    pub options: TunnelOptions,
}

pub struct Info {
    pub connection_id: String,
    pub cgw_ip: String,
    pub cgw_asn: u64,
    pub vgw_asn: u64,
    pub static_routes_only: bool,
    pub vpc_cidr: Option<String>,
    pub customer_prefixes: Vec<Ipv4Net>,
    pub tunnels: Vec<Tunnel>,
}

fn inside_pair(n: Ipv4Net) -> (String, String) {
    // AWS: the first usable address is the AWS side, the second the customer's.
    (
        crate::net::nth(n, 1).to_string(),
        crate::net::nth(n, 2).to_string(),
    )
}

/// `swanctl.conf` for the customer gateway: both tunnels, started from the customer side and
/// restarted when a peer dies (DPD), the PSKs in `secrets`.
pub fn strongswan(i: &Info) -> String {
    let mut s = String::new();
    let remote_ts = i.vpc_cidr.clone().unwrap_or_else(|| "0.0.0.0/0".into());
    let local_ts = if i.customer_prefixes.is_empty() {
        "0.0.0.0/0".to_string()
    } else {
        i.customer_prefixes
            .iter()
            .map(Ipv4Net::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let _ = writeln!(
        s,
        "# strongSwan swanctl.conf for customer gateway {cgw} of VPN connection {id}.\n\
         # Apply with: swanctl --load-all --file <this file>\n\
         # charon needs kernel-libipsec (userspace ESP) or a kernel with ESP; UDP encapsulation\n\
         # is forced (encap = yes). Routing: {routing}.\n\
         connections {{",
        cgw = i.cgw_ip,
        id = i.connection_id,
        routing = if i.static_routes_only {
            "static (the connection's static routes)".to_string()
        } else {
            format!(
                "BGP, customer ASN {} with the AWS side's ASN {} over each tunnel's inside addresses",
                i.cgw_asn, i.vgw_asn
            )
        }
    );
    for t in &i.tunnels {
        let spec = Spec::from(&t.options);
        let name = format!("{}-{}", i.connection_id, t.idx);
        let _ = writeln!(
            s,
            "  {name} {{\n    version = {version}\n    local_addrs = {cgw}\n    remote_addrs = {out}\n    encap = yes\n    mobike = no\n    proposals = {ike}\n    rekey_time = {p1}s\n    dpd_delay = 2s\n    local {{\n      auth = psk\n      id = {cgw}\n    }}\n    remote {{\n      auth = psk\n      id = {out}\n    }}\n    children {{\n      {name} {{\n        local_ts = {local_ts}\n        remote_ts = {remote_ts}\n        esp_proposals = {esp}\n        rekey_time = {p2}s\n        start_action = start\n        dpd_action = restart\n        close_action = start\n      }}\n    }}\n  }}",
            version = if spec.version() == "1" { "1" } else { "2" },
            cgw = i.cgw_ip,
            out = t.outside_ip,
            ike = spec.ike_proposals().join(","),
            esp = spec.esp_proposals().join(","),
            p1 = spec.p1_life,
            p2 = spec.p2_life,
        );
    }
    s.push_str("}\nsecrets {\n");
    for t in &i.tunnels {
        let _ = writeln!(
            s,
            "  ike-{id}-{n} {{\n    id-1 = {cgw}\n    id-2 = {out}\n    secret = \"{psk}\"\n  }}",
            id = i.connection_id,
            n = t.idx,
            cgw = i.cgw_ip,
            out = t.outside_ip,
            psk = t.psk,
        );
    }
    s.push_str("}\n");
    s
}

/// Every parameter in words, for any IPsec device.
pub fn generic(i: &Info) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Amazon-style VPN connection {id}\nCustomer gateway: {cgw} (ASN {asn})\nRouting: {routing}\nVPC network: {vpc}\n",
        id = i.connection_id,
        cgw = i.cgw_ip,
        asn = i.cgw_asn,
        routing = if i.static_routes_only {
            "static"
        } else {
            "BGP"
        },
        vpc = i.vpc_cidr.as_deref().unwrap_or("(gateway not attached)"),
    );
    for t in &i.tunnels {
        let o = &t.options;
        let (aws, cust) = inside_pair(t.inside);
        let _ = writeln!(
            s,
            "Tunnel {n}\n  Virtual private gateway outside IP: {out}\n  Customer gateway outside IP: {cgw}\n  Pre-shared key: {psk}\n  IKE versions: {ike}\n  Phase 1 encryption: {p1e}\n  Phase 1 integrity: {p1i}\n  Phase 1 DH groups: {p1d}\n  Phase 1 lifetime: {p1l} seconds\n  Phase 2 encryption: {p2e}\n  Phase 2 integrity: {p2i}\n  Phase 2 DH groups (PFS): {p2d}\n  Phase 2 lifetime: {p2l} seconds\n  Mode: tunnel, ESP in UDP (NAT-T, port 4500)\n  DPD timeout: {dpd} seconds, action {dpda}\n  Startup action (AWS side): {start}\n  Inside CIDR: {inside}\n  Inside IP, AWS side: {aws}/30\n  Inside IP, customer side: {cust}/30",
            n = t.idx,
            out = t.outside_ip,
            cgw = i.cgw_ip,
            psk = t.psk,
            ike = o.ike_versions.join(", "),
            p1e = o.phase1_encryption_algorithms.join(", "),
            p1i = o.phase1_integrity_algorithms.join(", "),
            p1d = join_n(&o.phase1_dh_group_numbers),
            p1l = o.phase1_lifetime_seconds,
            p2e = o.phase2_encryption_algorithms.join(", "),
            p2i = o.phase2_integrity_algorithms.join(", "),
            p2d = join_n(&o.phase2_dh_group_numbers),
            p2l = o.phase2_lifetime_seconds,
            dpd = o.dpd_timeout_seconds,
            dpda = o.dpd_timeout_action,
            start = o.startup_action,
            inside = t.inside,
        );
        if !i.static_routes_only {
            let _ = writeln!(
                s,
                "  BGP: neighbor {aws} remote-as {}, local-as {}, hold time 30 s",
                i.vgw_asn, i.cgw_asn
            );
        }
        s.push('\n');
    }
    if i.static_routes_only {
        let p: Vec<String> = i.customer_prefixes.iter().map(|n| n.to_string()).collect();
        let _ = writeln!(
            s,
            "Static routes (customer prefixes): {}",
            if p.is_empty() {
                "none yet".to_string()
            } else {
                p.join(", ")
            }
        );
    }
    s
}

fn join_n(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}
