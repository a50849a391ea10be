//! A small, TTL-honouring cache of upstream answers (forwarding rules and public DNS).
//!
//! Private-zone answers are never cached (they are computed from the live configuration).
//! Entries are keyed by the configuration generation, so a zone or rule change makes
//! every older entry unreachable at once. A served entry's TTLs are decreased by the time
//! it spent in the cache; an entry is never served once its TTL has passed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};

use super::server::Resolution;

/// Beyond this many entries the cache is emptied (simple and bounded).
const MAX_ENTRIES: usize = 10_000;
/// Never keep an answer longer than this, whatever its TTL.
const MAX_TTL: u32 = 3600;

type Key = (u64, Name, RecordType);

struct Entry {
    resolution: Resolution,
    stored: Instant,
    ttl: u32,
}

#[derive(Default)]
pub(crate) struct AnswerCache {
    map: Mutex<HashMap<Key, Entry>>,
}

impl AnswerCache {
    pub(crate) fn get(
        &self,
        generation: u64,
        name: &Name,
        qtype: RecordType,
    ) -> Option<Resolution> {
        let mut map = self.map.lock().ok()?;
        let key = (generation, name.clone(), qtype);
        let e = map.get(&key)?;
        let age = u32::try_from(e.stored.elapsed().as_secs()).unwrap_or(u32::MAX);
        if age >= e.ttl {
            map.remove(&key);
            return None;
        }
        let mut r = e.resolution.clone();
        for rec in r.answers.iter_mut().chain(r.authorities.iter_mut()) {
            rec.ttl = rec.ttl.saturating_sub(age);
        }
        Some(r)
    }

    pub(crate) fn put(&self, generation: u64, name: &Name, qtype: RecordType, r: &Resolution) {
        let Some(ttl) = cache_ttl(r) else { return };
        let Ok(mut map) = self.map.lock() else { return };
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            (generation, name.clone(), qtype),
            Entry {
                resolution: r.clone(),
                stored: Instant::now(),
                ttl,
            },
        );
    }
}

/// How long `r` may be cached: the smallest TTL of its answers; for a negative answer
/// the SOA's (RFC 2308); `None` for failures, TTL 0 or negative answers without SOA.
fn cache_ttl(r: &Resolution) -> Option<u32> {
    let ttl = match r.rcode {
        ResponseCode::NoError if !r.answers.is_empty() => r.answers.iter().map(|a| a.ttl).min(),
        ResponseCode::NoError | ResponseCode::NXDomain => r
            .authorities
            .iter()
            .filter_map(|a| match &a.data {
                RData::SOA(soa) => Some(a.ttl.min(soa.minimum)),
                _ => None,
            })
            .min(),
        _ => None,
    }?;
    (ttl > 0).then_some(ttl.min(MAX_TTL))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::A;

    fn res(rcode: ResponseCode, ttls: &[u32]) -> Resolution {
        Resolution {
            rcode,
            answers: ttls
                .iter()
                .map(|t| {
                    Record::from_rdata(
                        Name::from_ascii("a.example.").unwrap(),
                        *t,
                        RData::A(A(std::net::Ipv4Addr::new(10, 0, 0, 1))),
                    )
                })
                .collect(),
            authorities: vec![],
            authoritative: false,
        }
    }

    #[test]
    fn ttl_is_the_smallest_and_failures_are_not_cached() {
        assert_eq!(
            cache_ttl(&res(ResponseCode::NoError, &[30, 10, 20])),
            Some(10)
        );
        assert_eq!(cache_ttl(&res(ResponseCode::NoError, &[0])), None);
        assert_eq!(cache_ttl(&res(ResponseCode::ServFail, &[])), None);
        assert_eq!(cache_ttl(&res(ResponseCode::NXDomain, &[])), None, "no SOA");
        assert_eq!(
            cache_ttl(&res(ResponseCode::NoError, &[999_999])),
            Some(MAX_TTL)
        );
    }

    #[test]
    fn entries_are_per_generation_and_expire() {
        let c = AnswerCache::default();
        let n = Name::from_ascii("a.example.").unwrap();
        c.put(1, &n, RecordType::A, &res(ResponseCode::NoError, &[1]));
        assert!(c.get(1, &n, RecordType::A).is_some());
        assert!(c.get(2, &n, RecordType::A).is_none(), "other generation");
        assert!(c.get(1, &n, RecordType::AAAA).is_none(), "other type");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(c.get(1, &n, RecordType::A).is_none(), "expired");
    }
}
