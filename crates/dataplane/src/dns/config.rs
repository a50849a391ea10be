//! The configuration of one VPC's DNS view: private zones, forwarding rules, public
//! upstreams. Parsed and validated when built; immutable afterwards.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0:?} is not a valid DNS name: {1}")]
    Name(String, String),
    #[error("record {record} is not inside zone {zone}")]
    OutsideZone { record: String, zone: String },
    #[error(
        "{name} has a CNAME or alias and other records; a CNAME/alias must be the only record of its name"
    )]
    CnameConflict { name: String },
    #[error("the zone {0} is listed twice")]
    DuplicateZone(String),
    #[error("the forwarding rule for {0} is listed twice")]
    DuplicateRule(String),
    #[error("the forwarding rule for {0} has no target; give at least one IP:port")]
    NoTargets(String),
}

/// Parse a domain name, case-folded and fully qualified (`corp.internal` = `corp.internal.`).
pub fn parse_name(s: &str) -> Result<Name, ConfigError> {
    let mut n =
        Name::from_ascii(s.trim()).map_err(|e| ConfigError::Name(s.to_string(), e.to_string()))?;
    if s.trim().is_empty() {
        return Err(ConfigError::Name(s.to_string(), "empty".into()));
    }
    n.set_fqdn(true);
    Ok(n.to_lowercase())
}

/// The data of one record in a private zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(Name),
    /// Route 53 alias: answer the target's A/AAAA records under this name.
    Alias(Name),
}

/// One record as the caller gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRecord {
    pub name: Name,
    pub ttl: u32,
    pub data: RecordData,
}

impl ZoneRecord {
    pub fn a(name: &str, ttl: u32, ip: Ipv4Addr) -> Result<Self, ConfigError> {
        Ok(Self {
            name: parse_name(name)?,
            ttl,
            data: RecordData::A(ip),
        })
    }
    pub fn aaaa(name: &str, ttl: u32, ip: Ipv6Addr) -> Result<Self, ConfigError> {
        Ok(Self {
            name: parse_name(name)?,
            ttl,
            data: RecordData::Aaaa(ip),
        })
    }
    pub fn cname(name: &str, ttl: u32, target: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            name: parse_name(name)?,
            ttl,
            data: RecordData::Cname(parse_name(target)?),
        })
    }
    pub fn alias(name: &str, target: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            name: parse_name(name)?,
            ttl: 0,
            data: RecordData::Alias(parse_name(target)?),
        })
    }
}

/// What a zone knows about one name.
#[derive(Debug, Clone, Default)]
pub(crate) struct NameEntry {
    pub records: Vec<Record>,
    pub cname: Option<Record>,
    pub alias: Option<Name>,
}

/// A private hosted zone, indexed for lookups.
#[derive(Debug, Clone)]
pub struct PrivateZone {
    name: Name,
    names: HashMap<Name, NameEntry>,
    soa: Record,
    record_count: usize,
}

/// TTL of the synthesized SOA, and so of negative answers.
pub const NEGATIVE_TTL: u32 = 60;

/// Result of looking a name up in one zone.
#[derive(Debug)]
pub(crate) enum ZoneLookup<'a> {
    Records(&'a [Record]),
    Cname(&'a Record),
    Alias(&'a Name),
    /// The name exists (or has names below it) but not with this type.
    NoData,
    NxDomain,
}

impl PrivateZone {
    pub fn new(name: &str, records: Vec<ZoneRecord>) -> Result<Self, ConfigError> {
        let zone = parse_name(name)?;
        let mut names: HashMap<Name, NameEntry> = HashMap::new();
        let record_count = records.len();
        for r in records {
            if !zone.zone_of(&r.name) {
                return Err(ConfigError::OutsideZone {
                    record: r.name.to_string(),
                    zone: zone.to_string(),
                });
            }
            let e = names.entry(r.name.clone()).or_default();
            match r.data {
                RecordData::A(ip) => {
                    e.records
                        .push(Record::from_rdata(r.name, r.ttl, RData::A(A(ip))))
                }
                RecordData::Aaaa(ip) => {
                    e.records
                        .push(Record::from_rdata(r.name, r.ttl, RData::AAAA(AAAA(ip))))
                }
                RecordData::Cname(t) => {
                    e.cname = Some(Record::from_rdata(r.name, r.ttl, RData::CNAME(CNAME(t))))
                }
                RecordData::Alias(t) => e.alias = Some(t),
            }
        }
        for e in names.values_mut() {
            e.records.sort_by_key(|r| u16::from(r.record_type()));
        }
        for (n, e) in &names {
            let kinds = usize::from(!e.records.is_empty())
                + usize::from(e.cname.is_some())
                + usize::from(e.alias.is_some());
            if kinds > 1 {
                return Err(ConfigError::CnameConflict {
                    name: n.to_string(),
                });
            }
        }
        let soa = Record::from_rdata(
            zone.clone(),
            NEGATIVE_TTL,
            RData::SOA(SOA::new(
                Name::from_ascii("ns.linkplane.internal.").unwrap_or_else(|_| Name::root()),
                Name::from_ascii("hostmaster.linkplane.internal.").unwrap_or_else(|_| Name::root()),
                1,
                7200,
                900,
                1_209_600,
                NEGATIVE_TTL,
            )),
        );
        Ok(Self {
            name: zone,
            names,
            soa,
            record_count,
        })
    }

    pub fn name(&self) -> &Name {
        &self.name
    }

    pub fn record_count(&self) -> usize {
        self.record_count
    }

    pub(crate) fn soa(&self) -> &Record {
        &self.soa
    }

    pub(crate) fn lookup(&self, qname: &Name, qtype: RecordType) -> ZoneLookup<'_> {
        let Some(e) = self.names.get(qname) else {
            // An empty non-terminal (a name with names below it) exists: NODATA.
            return if self.names.keys().any(|n| qname.zone_of(n)) || *qname == self.name {
                ZoneLookup::NoData
            } else {
                ZoneLookup::NxDomain
            };
        };
        if let Some(c) = &e.cname {
            return if qtype == RecordType::CNAME {
                ZoneLookup::Records(std::slice::from_ref(c))
            } else {
                ZoneLookup::Cname(c)
            };
        }
        if let Some(t) = &e.alias {
            return ZoneLookup::Alias(t);
        }
        // Records of one name are sorted by type in `new`: one contiguous slice per type.
        let Some(i) = e.records.iter().position(|r| r.record_type() == qtype) else {
            return ZoneLookup::NoData;
        };
        let end = e.records[i..]
            .iter()
            .position(|r| r.record_type() != qtype)
            .map_or(e.records.len(), |k| i + k);
        ZoneLookup::Records(&e.records[i..end])
    }
}

/// What a forwarding rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleAction {
    /// Send queries to these servers (tried in order).
    Forward(Vec<SocketAddr>),
    /// Route 53's `SYSTEM` rule: resolve with the next stage (public DNS), overriding a
    /// broader `Forward` rule.
    System,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardRule {
    pub domain: Name,
    pub action: RuleAction,
}

impl ForwardRule {
    pub fn forward(domain: &str, targets: Vec<SocketAddr>) -> Result<Self, ConfigError> {
        if targets.is_empty() {
            return Err(ConfigError::NoTargets(domain.to_string()));
        }
        Ok(Self {
            domain: parse_name(domain)?,
            action: RuleAction::Forward(targets),
        })
    }
    pub fn system(domain: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            domain: parse_name(domain)?,
            action: RuleAction::System,
        })
    }
}

/// Everything one VPC's resolver knows. Build a new one and swap it in with
/// [`crate::dns::DnsView::set_config`] (or use the `set_*` helpers).
#[derive(Debug, Clone, Default)]
pub struct ViewConfig {
    zones: Vec<PrivateZone>,
    rules: Vec<ForwardRule>,
    public: Vec<SocketAddr>,
    /// Unique per built configuration: keys the answer cache, so a change of zones or
    /// rules never serves an answer cached under the previous configuration.
    generation: u64,
}

fn next_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl ViewConfig {
    pub fn new(
        zones: Vec<PrivateZone>,
        rules: Vec<ForwardRule>,
        public: Vec<SocketAddr>,
    ) -> Result<Self, ConfigError> {
        for (i, z) in zones.iter().enumerate() {
            if zones[..i].iter().any(|o| o.name == z.name) {
                return Err(ConfigError::DuplicateZone(z.name.to_string()));
            }
        }
        for (i, r) in rules.iter().enumerate() {
            if rules[..i].iter().any(|o| o.domain == r.domain) {
                return Err(ConfigError::DuplicateRule(r.domain.to_string()));
            }
            if let RuleAction::Forward(t) = &r.action
                && t.is_empty()
            {
                return Err(ConfigError::NoTargets(r.domain.to_string()));
            }
        }
        Ok(Self {
            zones,
            rules,
            public,
            generation: next_generation(),
        })
    }

    pub fn zones(&self) -> &[PrivateZone] {
        &self.zones
    }
    pub fn rules(&self) -> &[ForwardRule] {
        &self.rules
    }
    pub fn public_upstreams(&self) -> &[SocketAddr] {
        &self.public
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The most specific zone containing `name`.
    pub(crate) fn zone_for(&self, name: &Name) -> Option<&PrivateZone> {
        self.zones
            .iter()
            .filter(|z| z.name.zone_of(name))
            .max_by_key(|z| z.name.num_labels())
    }

    /// The most specific rule containing `name`.
    pub(crate) fn rule_for(&self, name: &Name) -> Option<&ForwardRule> {
        self.rules
            .iter()
            .filter(|r| r.domain.zone_of(name))
            .max_by_key(|r| r.domain.num_labels())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        parse_name(s).unwrap()
    }

    fn zone() -> PrivateZone {
        PrivateZone::new(
            "corp.internal",
            vec![
                ZoneRecord::a("db.corp.internal", 30, Ipv4Addr::new(10, 0, 0, 5)).unwrap(),
                ZoneRecord::a("db.corp.internal", 30, Ipv4Addr::new(10, 0, 0, 6)).unwrap(),
                ZoneRecord::aaaa("db.corp.internal", 30, "fd00::5".parse().unwrap()).unwrap(),
                ZoneRecord::a("x.deep.corp.internal", 30, Ipv4Addr::new(10, 0, 0, 7)).unwrap(),
                ZoneRecord::cname("www.corp.internal", 30, "db.corp.internal").unwrap(),
                ZoneRecord::alias("api.corp.internal", "vpce-1.example.com").unwrap(),
            ],
        )
        .unwrap()
    }

    #[test]
    fn lookups_follow_dns_semantics() {
        let z = zone();
        assert!(
            matches!(z.lookup(&n("DB.corp.internal").to_lowercase(), RecordType::A), ZoneLookup::Records(r) if r.len() == 2)
        );
        assert!(
            matches!(z.lookup(&n("db.corp.internal"), RecordType::AAAA), ZoneLookup::Records(r) if r.len() == 1)
        );
        assert!(matches!(
            z.lookup(&n("db.corp.internal"), RecordType::TXT),
            ZoneLookup::NoData
        ));
        assert!(matches!(
            z.lookup(&n("nope.corp.internal"), RecordType::A),
            ZoneLookup::NxDomain
        ));
        assert!(
            matches!(
                z.lookup(&n("deep.corp.internal"), RecordType::A),
                ZoneLookup::NoData
            ),
            "empty non-terminal"
        );
        assert!(
            matches!(
                z.lookup(&n("corp.internal"), RecordType::A),
                ZoneLookup::NoData
            ),
            "apex exists"
        );
        assert!(matches!(
            z.lookup(&n("www.corp.internal"), RecordType::A),
            ZoneLookup::Cname(_)
        ));
        assert!(matches!(
            z.lookup(&n("www.corp.internal"), RecordType::CNAME),
            ZoneLookup::Records(_)
        ));
        assert!(
            matches!(z.lookup(&n("api.corp.internal"), RecordType::A), ZoneLookup::Alias(t) if *t == n("vpce-1.example.com"))
        );
    }

    #[test]
    fn bad_zones_are_refused() {
        let e = PrivateZone::new(
            "corp.internal",
            vec![ZoneRecord::a("db.other.internal", 30, Ipv4Addr::LOCALHOST).unwrap()],
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::OutsideZone { .. }), "{e}");
        let e = PrivateZone::new(
            "corp.internal",
            vec![
                ZoneRecord::a("db.corp.internal", 30, Ipv4Addr::LOCALHOST).unwrap(),
                ZoneRecord::cname("db.corp.internal", 30, "x.corp.internal").unwrap(),
            ],
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::CnameConflict { .. }), "{e}");
        assert!(parse_name("").is_err());
        assert!(parse_name("a..b").is_err());
        assert!(parse_name(&"a".repeat(64)).is_err(), "label over 63 bytes");
        let z = || PrivateZone::new("corp.internal", vec![]).unwrap();
        assert!(matches!(
            ViewConfig::new(vec![z(), z()], vec![], vec![]),
            Err(ConfigError::DuplicateZone(_))
        ));
        assert!(ForwardRule::forward("corp", vec![]).is_err());
    }

    #[test]
    fn most_specific_zone_and_rule_win() {
        let t1: SocketAddr = "10.0.0.1:53".parse().unwrap();
        let cfg = ViewConfig::new(
            vec![
                PrivateZone::new("internal", vec![]).unwrap(),
                PrivateZone::new("corp.internal", vec![]).unwrap(),
            ],
            vec![
                ForwardRule::forward("example.com", vec![t1]).unwrap(),
                ForwardRule::system("public.example.com").unwrap(),
            ],
            vec![],
        )
        .unwrap();
        assert_eq!(
            cfg.zone_for(&n("a.corp.internal")).unwrap().name(),
            &n("corp.internal")
        );
        assert_eq!(
            cfg.zone_for(&n("a.other.internal")).unwrap().name(),
            &n("internal")
        );
        assert!(cfg.zone_for(&n("example.com")).is_none());
        assert_eq!(
            cfg.rule_for(&n("a.example.com")).unwrap().action,
            RuleAction::Forward(vec![t1])
        );
        assert_eq!(
            cfg.rule_for(&n("x.public.example.com")).unwrap().action,
            RuleAction::System
        );
        assert!(cfg.rule_for(&n("example.org")).is_none());
        // "notexample.com" is not inside "example.com"
        assert!(cfg.rule_for(&n("notexample.com")).is_none());
    }
}
