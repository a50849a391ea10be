//! Tunnel options with the ranges EC2 accepts, and their strongSwan spelling.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::types::{TunnelOptions, TunnelOptionsRequest};
use crate::error::{Error, Result};

pub const ENCRYPTION: &[&str] = &["AES128", "AES256", "AES128-GCM-16", "AES256-GCM-16"];
pub const INTEGRITY: &[&str] = &["SHA1", "SHA2-256", "SHA2-384", "SHA2-512"];
pub const PHASE1_DH: &[u32] = &[2, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24];
pub const PHASE2_DH: &[u32] = &[2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24];
pub const IKE_VERSIONS: &[&str] = &["ikev1", "ikev2"];
/// The /30s of 169.254.0.0/16 AWS reserves (a tunnel inside CIDR may not be one of them).
pub const RESERVED_INSIDE: &[&str] = &[
    "169.254.0.0/30",
    "169.254.1.0/30",
    "169.254.2.0/30",
    "169.254.3.0/30",
    "169.254.4.0/30",
    "169.254.5.0/30",
    "169.254.169.252/30",
];
/// ASNs AWS refuses for a customer gateway.
pub const RESERVED_CGW_ASNS: &[u64] = &[7224, 9059, 10124, 17943];

/// Parsed options of one tunnel (the PSK apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub inside: Option<Ipv4Net>,
    pub ike_versions: Vec<String>,
    pub p1_enc: Vec<String>,
    pub p2_enc: Vec<String>,
    pub p1_int: Vec<String>,
    pub p2_int: Vec<String>,
    pub p1_dh: Vec<u32>,
    pub p2_dh: Vec<u32>,
    pub p1_life: u32,
    pub p2_life: u32,
    pub dpd_timeout: u32,
    pub dpd_action: String,
    pub startup_action: String,
}

fn subset(field: &str, given: &Option<Vec<String>>, allowed: &[&str]) -> Result<Vec<String>> {
    match given {
        None => Ok(allowed.iter().map(|s| s.to_string()).collect()),
        Some(v) if v.is_empty() => Err(Error::invalid(field, "give at least one value")),
        Some(v) => {
            for s in v {
                if !allowed.contains(&s.as_str()) {
                    return Err(Error::invalid(
                        field,
                        format!("{s:?} is not allowed: use {}", allowed.join(", ")),
                    ));
                }
            }
            Ok(v.clone())
        }
    }
}

fn groups(field: &str, given: &Option<Vec<u32>>, allowed: &[u32]) -> Result<Vec<u32>> {
    match given {
        None => Ok(allowed.to_vec()),
        Some(v) if v.is_empty() => Err(Error::invalid(field, "give at least one group")),
        Some(v) => {
            for g in v {
                if !allowed.contains(g) {
                    let list: Vec<String> = allowed.iter().map(u32::to_string).collect();
                    return Err(Error::invalid(
                        field,
                        format!("{g} is not allowed: use {}", list.join(", ")),
                    ));
                }
            }
            Ok(v.clone())
        }
    }
}

/// A pre-shared key as AWS accepts it: 8–64 of `[A-Za-z0-9._]`, not starting with `0`.
pub fn check_psk(field: &str, psk: &str) -> Result<()> {
    if !(8..=64).contains(&psk.len()) {
        return Err(Error::invalid(
            field,
            format!("must be 8 to 64 characters (it has {})", psk.len()),
        ));
    }
    if !psk
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
    {
        return Err(Error::invalid(
            field,
            "may contain only letters, digits, periods (.) and underscores (_)",
        ));
    }
    if psk.starts_with('0') {
        return Err(Error::invalid(field, "cannot start with zero (0)"));
    }
    Ok(())
}

/// A random pre-shared key as AWS generates one (32 characters).
pub fn generate_psk() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    let mut s = String::with_capacity(32);
    while s.len() < 32 {
        let c = ALPHABET[(rand::random::<u8>() as usize) % ALPHABET.len()] as char;
        if s.is_empty() && c == '0' {
            continue;
        }
        s.push(c);
    }
    s
}

/// A tunnel inside CIDR: a /30 of 169.254.0.0/16 that AWS does not reserve.
pub fn check_inside(field: &str, s: &str) -> Result<Ipv4Net> {
    let net: Ipv4Net = s
        .parse()
        .map_err(|_| Error::invalid(field, format!("{s:?} is not an IPv4 CIDR")))?;
    let link: Ipv4Net = "169.254.0.0/16".parse().unwrap_or_default();
    if net.prefix_len() != 30 || net.network() != net.addr() || !link.contains(&net) {
        return Err(Error::invalid(
            field,
            format!("{s} must be a /30 in 169.254.0.0/16"),
        ));
    }
    if RESERVED_INSIDE.contains(&net.to_string().as_str()) {
        return Err(Error::invalid(
            field,
            format!(
                "{s} is reserved by AWS (reserved: {})",
                RESERVED_INSIDE.join(", ")
            ),
        ));
    }
    Ok(net)
}

/// Validate one tunnel's options (`n` is 0 or 1, for the field names).
pub fn parse(n: usize, r: &TunnelOptionsRequest) -> Result<Spec> {
    let f = |name: &str| format!("options.tunnelOptions[{n}].{name}");
    let inside = r
        .tunnel_inside_cidr
        .as_deref()
        .map(|s| check_inside(&f("tunnelInsideCidr"), s))
        .transpose()?;
    if let Some(psk) = &r.pre_shared_key {
        check_psk(&f("preSharedKey"), psk)?;
    }
    let p1_life = r.phase1_lifetime_seconds.unwrap_or(28_800);
    if !(900..=28_800).contains(&p1_life) {
        return Err(Error::invalid(
            &f("phase1LifetimeSeconds"),
            format!("{p1_life} is out of range: use 900 to 28800"),
        ));
    }
    let p2_life = r.phase2_lifetime_seconds.unwrap_or(3_600);
    if !(900..=3_600).contains(&p2_life) {
        return Err(Error::invalid(
            &f("phase2LifetimeSeconds"),
            format!("{p2_life} is out of range: use 900 to 3600"),
        ));
    }
    if p2_life >= p1_life {
        return Err(Error::invalid(
            &f("phase2LifetimeSeconds"),
            format!("{p2_life} must be less than phase1LifetimeSeconds ({p1_life})"),
        ));
    }
    let dpd_timeout = r.dpd_timeout_seconds.unwrap_or(30);
    if dpd_timeout < 30 {
        return Err(Error::invalid(
            &f("dpdTimeoutSeconds"),
            format!("{dpd_timeout} is too short: use 30 or more"),
        ));
    }
    let dpd_action = r
        .dpd_timeout_action
        .clone()
        .unwrap_or_else(|| "clear".into());
    if !["clear", "none", "restart"].contains(&dpd_action.as_str()) {
        return Err(Error::invalid(
            &f("dpdTimeoutAction"),
            format!("{dpd_action:?} is not allowed: use clear, none or restart"),
        ));
    }
    let startup_action = r.startup_action.clone().unwrap_or_else(|| "add".into());
    if !["add", "start"].contains(&startup_action.as_str()) {
        return Err(Error::invalid(
            &f("startupAction"),
            format!("{startup_action:?} is not allowed: use add or start"),
        ));
    }
    Ok(Spec {
        inside,
        ike_versions: subset(&f("ikeVersions"), &r.ike_versions, IKE_VERSIONS)?,
        p1_enc: subset(
            &f("phase1EncryptionAlgorithms"),
            &r.phase1_encryption_algorithms,
            ENCRYPTION,
        )?,
        p2_enc: subset(
            &f("phase2EncryptionAlgorithms"),
            &r.phase2_encryption_algorithms,
            ENCRYPTION,
        )?,
        p1_int: subset(
            &f("phase1IntegrityAlgorithms"),
            &r.phase1_integrity_algorithms,
            INTEGRITY,
        )?,
        p2_int: subset(
            &f("phase2IntegrityAlgorithms"),
            &r.phase2_integrity_algorithms,
            INTEGRITY,
        )?,
        p1_dh: groups(
            &f("phase1DhGroupNumbers"),
            &r.phase1_dh_group_numbers,
            PHASE1_DH,
        )?,
        p2_dh: groups(
            &f("phase2DhGroupNumbers"),
            &r.phase2_dh_group_numbers,
            PHASE2_DH,
        )?,
        p1_life,
        p2_life,
        dpd_timeout,
        dpd_action,
        startup_action,
    })
}

impl Spec {
    pub fn to_options(&self, outside: Ipv4Addr, inside: Ipv4Net) -> TunnelOptions {
        TunnelOptions {
            outside_ip_address: outside.to_string(),
            tunnel_inside_cidr: inside.to_string(),
            ike_versions: self.ike_versions.clone(),
            phase1_encryption_algorithms: self.p1_enc.clone(),
            phase2_encryption_algorithms: self.p2_enc.clone(),
            phase1_integrity_algorithms: self.p1_int.clone(),
            phase2_integrity_algorithms: self.p2_int.clone(),
            phase1_dh_group_numbers: self.p1_dh.clone(),
            phase2_dh_group_numbers: self.p2_dh.clone(),
            phase1_lifetime_seconds: self.p1_life,
            phase2_lifetime_seconds: self.p2_life,
            dpd_timeout_seconds: self.dpd_timeout,
            dpd_timeout_action: self.dpd_action.clone(),
            startup_action: self.startup_action.clone(),
        }
    }
}

fn enc(a: &str) -> &'static str {
    match a {
        "AES128" => "aes128",
        "AES256" => "aes256",
        "AES128-GCM-16" => "aes128gcm16",
        _ => "aes256gcm16",
    }
}
fn integ(a: &str) -> &'static str {
    match a {
        "SHA1" => "sha1",
        "SHA2-256" => "sha256",
        "SHA2-384" => "sha384",
        _ => "sha512",
    }
}
fn dh(g: u32) -> &'static str {
    match g {
        2 => "modp1024",
        5 => "modp1536",
        14 => "modp2048",
        15 => "modp3072",
        16 => "modp4096",
        17 => "modp6144",
        18 => "modp8192",
        19 => "ecp256",
        20 => "ecp384",
        21 => "ecp521",
        22 => "modp1024s160",
        23 => "modp2048s224",
        _ => "modp2048s256",
    }
}

/// strongSwan proposals for the chosen algorithms: one for the CBC ciphers (with
/// integrity), one for the AEAD ciphers (with a PRF for IKE, nothing for ESP).
fn proposals(encs: &[String], ints: &[String], dhs: &[u32], ike: bool) -> Vec<String> {
    let mut out = Vec::new();
    let ints: Vec<&str> = ints.iter().map(|s| integ(s)).collect();
    let dhs: Vec<&str> = dhs.iter().map(|g| dh(*g)).collect();
    let cbc: Vec<&str> = encs
        .iter()
        .filter(|e| !e.contains("GCM"))
        .map(|e| enc(e))
        .collect();
    let gcm: Vec<&str> = encs
        .iter()
        .filter(|e| e.contains("GCM"))
        .map(|e| enc(e))
        .collect();
    if !cbc.is_empty() {
        let mut p = cbc.clone();
        p.extend(&ints);
        p.extend(&dhs);
        out.push(p.join("-"));
    }
    if !gcm.is_empty() {
        let mut p = gcm.clone();
        if ike {
            p.extend(ints.iter().map(|i| match *i {
                "sha1" => "prfsha1",
                "sha256" => "prfsha256",
                "sha384" => "prfsha384",
                _ => "prfsha512",
            }));
        }
        p.extend(&dhs);
        out.push(p.join("-"));
    }
    out
}

impl Spec {
    pub fn ike_proposals(&self) -> Vec<String> {
        proposals(&self.p1_enc, &self.p1_int, &self.p1_dh, true)
    }
    pub fn esp_proposals(&self) -> Vec<String> {
        proposals(&self.p2_enc, &self.p2_int, &self.p2_dh, false)
    }
    /// charon's `version`: 1, 2, or 0 for either.
    pub fn version(&self) -> &'static str {
        match (
            self.ike_versions.iter().any(|v| v == "ikev1"),
            self.ike_versions.iter().any(|v| v == "ikev2"),
        ) {
            (true, false) => "1",
            (false, true) => "2",
            _ => "0",
        }
    }
    /// charon's `start_action` for the platform side.
    pub fn start_action(&self) -> &'static str {
        if self.startup_action == "start" {
            "start"
        } else {
            "none"
        }
    }
    /// charon's child `dpd_action` (AWS's `none` keeps the SA: charon's `trap` re-creates it
    /// on demand, the closest).
    pub fn dpd_action(&self) -> &'static str {
        match self.dpd_action.as_str() {
            "restart" => "restart",
            "none" => "trap",
            _ => "clear",
        }
    }
}

impl From<&TunnelOptions> for Spec {
    fn from(o: &TunnelOptions) -> Self {
        Self {
            inside: o.tunnel_inside_cidr.parse().ok(),
            ike_versions: o.ike_versions.clone(),
            p1_enc: o.phase1_encryption_algorithms.clone(),
            p2_enc: o.phase2_encryption_algorithms.clone(),
            p1_int: o.phase1_integrity_algorithms.clone(),
            p2_int: o.phase2_integrity_algorithms.clone(),
            p1_dh: o.phase1_dh_group_numbers.clone(),
            p2_dh: o.phase2_dh_group_numbers.clone(),
            p1_life: o.phase1_lifetime_seconds,
            p2_life: o.phase2_lifetime_seconds,
            dpd_timeout: o.dpd_timeout_seconds,
            dpd_action: o.dpd_timeout_action.clone(),
            startup_action: o.startup_action.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_ranges() {
        let ok = TunnelOptionsRequest::default();
        let s = parse(0, &ok).unwrap();
        assert_eq!(s.p1_life, 28_800);
        assert_eq!(s.version(), "0");
        let bad = |r: TunnelOptionsRequest, field: &str| match parse(1, &r) {
            Err(Error::Invalid { field: f, .. }) => {
                assert_eq!(f, format!("options.tunnelOptions[1].{field}"))
            }
            other => panic!("{field}: {other:?}"),
        };
        bad(
            TunnelOptionsRequest {
                phase1_lifetime_seconds: Some(899),
                ..Default::default()
            },
            "phase1LifetimeSeconds",
        );
        bad(
            TunnelOptionsRequest {
                phase1_lifetime_seconds: Some(1000),
                phase2_lifetime_seconds: Some(1000),
                ..Default::default()
            },
            "phase2LifetimeSeconds",
        );
        bad(
            TunnelOptionsRequest {
                phase1_dh_group_numbers: Some(vec![5]),
                ..Default::default()
            },
            "phase1DhGroupNumbers",
        );
        assert!(
            parse(
                0,
                &TunnelOptionsRequest {
                    phase2_dh_group_numbers: Some(vec![5]),
                    ..Default::default()
                }
            )
            .is_ok()
        );
        bad(
            TunnelOptionsRequest {
                dpd_timeout_seconds: Some(29),
                ..Default::default()
            },
            "dpdTimeoutSeconds",
        );
        bad(
            TunnelOptionsRequest {
                pre_shared_key: Some("0abcdefgh".into()),
                ..Default::default()
            },
            "preSharedKey",
        );
        bad(
            TunnelOptionsRequest {
                pre_shared_key: Some("abc-defgh".into()),
                ..Default::default()
            },
            "preSharedKey",
        );
        bad(
            TunnelOptionsRequest {
                tunnel_inside_cidr: Some("169.254.169.252/30".into()),
                ..Default::default()
            },
            "tunnelInsideCidr",
        );
        bad(
            TunnelOptionsRequest {
                tunnel_inside_cidr: Some("169.254.10.0/29".into()),
                ..Default::default()
            },
            "tunnelInsideCidr",
        );
        bad(
            TunnelOptionsRequest {
                phase2_encryption_algorithms: Some(vec!["3DES".into()]),
                ..Default::default()
            },
            "phase2EncryptionAlgorithms",
        );
    }

    #[test]
    fn generated_psk_is_valid() {
        for _ in 0..200 {
            let k = generate_psk();
            assert_eq!(k.len(), 32);
            check_psk("k", &k).unwrap();
        }
    }

    #[test]
    fn proposals_split_aead() {
        let s = parse(0, &TunnelOptionsRequest::default()).unwrap();
        let ike = s.ike_proposals();
        assert_eq!(ike.len(), 2);
        assert!(ike[0].starts_with("aes128-aes256-sha1-sha256"), "{ike:?}");
        assert!(
            ike[1].starts_with("aes128gcm16-aes256gcm16-prfsha1"),
            "{ike:?}"
        );
        let esp = s.esp_proposals();
        assert!(!esp[1].contains("prf"), "{esp:?}");
    }
}
