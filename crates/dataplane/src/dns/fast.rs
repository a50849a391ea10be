//! Memoized UDP answers for private-zone names (the resolver's hot path).
//!
//! A private-zone answer depends only on the view's configuration and on the request's
//! header (id, flags, counts), its question, whether it carries an EDNS (OPT) record, and
//! the client's UDP payload size (RFC 6891: the answer never exceeds it, 512 without EDNS
//! or below 512, so a large answer is truncated differently per size): the response's EDNS
//! record is the server's own (payload 1232, no options), whatever the client's DO bit or
//! options (a DNS cookie, say). So once the normal path (hickory's request parsing,
//! [`super::server`]'s resolution, hickory's encoder) has answered a request from private
//! zones alone, the encoded response is kept under a key made of the request's flags,
//! counts and question (its name's ASCII letters lowercased), one byte for "has EDNS" and
//! two for the payload size it was encoded for. A later request with the same key
//! gets that response with its own id and its own question bytes (the name in the
//! client's case: DNS 0x20) copied in. Nothing else can differ: hickory echoes the
//! question verbatim and never compresses answer names against it, and zone records
//! carry fixed TTLs.
//!
//! Entries belong to one configuration generation: a lookup under any other generation
//! misses, and the first insert under a newer one empties the map. Answers that involved
//! an upstream (forwarded or public names, a CNAME leaving the private zones) are never
//! memoized here: their TTLs run down (see [`super::cache`]).

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::RwLock;

use hickory_proto::op::{Header, MessageType, OpCode, Query};
use hickory_proto::rr::{Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

/// Requests longer than this are never memoized (a normal query is well under 100 bytes).
pub(crate) const MAX_KEY: usize = 512;
/// Bytes of keys and responses one view keeps; beyond that the map starts over.
const MAX_BYTES: usize = 4 << 20;
/// Offset of the question in a DNS message (after the 12-byte header).
const QUESTION: usize = 12;

/// Where the parts of a memoizable request are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// End of the question (name, type, class).
    pub(crate) question_end: usize,
    /// The largest UDP answer the client takes: its EDNS payload size, at least 512
    /// (RFC 6891, 6.2.5), or 512 without EDNS (RFC 1035, 4.2.1).
    pub(crate) udp_limit: u16,
}

/// Parse `msg` with hickory-proto and, when it is a plain query (one uncompressed
/// question, no answer or authority records, at most one additional record and that one
/// an OPT record), write its memo key into `key`.
pub(crate) fn request_key(msg: &[u8], key: &mut Vec<u8>) -> Option<Shape> {
    if msg.len() > MAX_KEY {
        return None;
    }
    let mut d = BinDecoder::new(msg);
    let header = Header::read(&mut d).ok()?;
    let md = &header.metadata;
    let c = &header.counts;
    if md.message_type != MessageType::Query
        || md.op_code != OpCode::Query
        || c.queries != 1
        || c.answers != 0
        || c.authorities != 0
        || c.additionals > 1
    {
        return None;
    }
    let query = Query::read(&mut d).ok()?;
    let question_end = d.index();
    // The name's wire length when written out in full: a compression pointer in the
    // question would make the question shorter (and its bytes not a name to lowercase).
    let name_len = query.name().iter().map(|l| l.len() + 1).sum::<usize>() + 1;
    if QUESTION + name_len + 4 != question_end {
        return None;
    }
    // The additional record must be what hickory's request parser accepts as EDNS (the
    // same `Record::read`), or a request the normal path refuses could share a key with
    // one it answered.
    let (edns, udp_limit) = if c.additionals == 1 {
        let opt = Record::read(&mut d).ok()?;
        if opt.record_type() != RecordType::OPT {
            return None;
        }
        // The OPT record's class is the payload size (hickory reads it as at least 512).
        (1, u16::from(opt.dns_class).max(512))
    } else {
        (0, 512)
    };
    key.clear();
    key.extend_from_slice(&msg[2..question_end]);
    key.push(edns);
    key.extend_from_slice(&udp_limit.to_be_bytes());
    // Label length bytes are at most 63, below b'A': only letters change.
    key[QUESTION - 2..QUESTION - 2 + name_len].make_ascii_lowercase();
    Some(Shape {
        question_end,
        udp_limit,
    })
}

/// One memoized answer: its key and its response in one allocation (one cache miss
/// fewer per lookup than two boxes). Hashes and compares as its key.
struct Entry {
    bytes: Box<[u8]>,
    key_len: usize,
    /// How many private-zone lookups the normal path counted for this answer.
    private_hits: u8,
}

impl Entry {
    fn key(&self) -> &[u8] {
        &self.bytes[..self.key_len]
    }
    fn response(&self) -> &[u8] {
        &self.bytes[self.key_len..]
    }
}

impl Borrow<[u8]> for Entry {
    fn borrow(&self) -> &[u8] {
        self.key()
    }
}

impl Hash for Entry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Entry {}

#[derive(Default)]
struct Map {
    generation: u64,
    entries: HashSet<Entry>,
    bytes: usize,
}

/// The memo of one view.
#[derive(Default)]
pub(crate) struct FastAnswers {
    map: RwLock<Map>,
}

impl FastAnswers {
    /// The memoized response to `msg` (whose key and shape `request_key` gave) under
    /// configuration `generation`, written into `out` with the request's id and question.
    /// Returns the private-zone lookups it stands for.
    pub(crate) fn answer(
        &self,
        generation: u64,
        msg: &[u8],
        key: &[u8],
        shape: Shape,
        out: &mut Vec<u8>,
    ) -> Option<u8> {
        let map = self.map.read().ok()?;
        if map.generation != generation {
            return None;
        }
        let e = map.entries.get(key)?;
        // The key holds the payload size the answer was encoded for; never send more.
        if e.response().len() > usize::from(shape.udp_limit) {
            return None;
        }
        out.clear();
        out.extend_from_slice(e.response());
        let q = QUESTION..shape.question_end;
        out.get_mut(..2)?.copy_from_slice(msg.get(..2)?);
        out.get_mut(q.clone())?.copy_from_slice(msg.get(q)?);
        Some(e.private_hits)
    }

    /// Keep `response`, the normal path's answer to the request `msg`, computed under
    /// configuration `generation` from private zones only.
    pub(crate) fn insert(
        &self,
        generation: u64,
        msg: &[u8],
        response: &[u8],
        private_hits: u8,
    ) -> bool {
        let mut key = Vec::with_capacity(msg.len() + response.len());
        let Some(shape) = request_key(msg, &mut key) else {
            return false;
        };
        // The response must start with the request's id and question, verbatim: that is
        // what `answer` replaces.
        let q = QUESTION..shape.question_end;
        if response.get(..2) != msg.get(..2) || response.get(q.clone()) != msg.get(q) {
            return false;
        }
        let Ok(mut map) = self.map.write() else {
            return false;
        };
        if generation < map.generation {
            return false;
        }
        let key_len = key.len();
        if generation > map.generation || map.bytes + key_len + response.len() > MAX_BYTES {
            map.entries.clear();
            map.bytes = 0;
            map.generation = generation;
        }
        key.extend_from_slice(response);
        let entry = Entry {
            bytes: key.into_boxed_slice(),
            key_len,
            private_hits,
        };
        map.bytes += entry.bytes.len();
        if let Some(old) = map.entries.replace(entry) {
            map.bytes -= old.bytes.len();
        }
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.read().map(|m| m.entries.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Edns, Message};
    use hickory_proto::rr::rdata::opt::EdnsOption;
    use hickory_proto::rr::{Name, RecordType};
    use std::str::FromStr;

    fn query(id: u16, name: &str, t: RecordType, edns: bool) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = id;
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_str(name).unwrap(), t));
        if edns {
            m.edns = Some(Edns::new());
        }
        m.to_vec().unwrap()
    }

    #[test]
    fn keys_ignore_id_and_name_case_but_nothing_else() {
        let k = |m: &[u8]| {
            let mut key = Vec::new();
            request_key(m, &mut key).map(|_| key)
        };
        let base = k(&query(1, "Host1.Corp.Internal.", RecordType::A, false)).unwrap();
        assert_eq!(
            base,
            k(&query(2, "hOST1.corp.INTERNAL.", RecordType::A, false)).unwrap()
        );
        let mut no_rd = query(1, "host1.corp.internal.", RecordType::A, false);
        no_rd[2] &= !1;
        for other in [
            query(1, "host2.corp.internal.", RecordType::A, false),
            query(1, "host1.corp.internal.", RecordType::AAAA, false),
            query(1, "host1.corp.internal.", RecordType::A, true),
            no_rd,
        ] {
            assert_ne!(base, k(&other).unwrap());
        }
        // EDNS: present or not is in the key, and so is the client's payload size (the
        // answer's size limit); its DO bit and options (the server's answer does not
        // depend on them) are not.
        let with_edns = |size: u16, dnssec_ok: bool, cookie: Option<&[u8]>| {
            let mut m = Message::query();
            m.metadata.recursion_desired = true;
            m.add_query(Query::query(
                Name::from_str("host1.corp.internal.").unwrap(),
                RecordType::A,
            ));
            let mut e = Edns::new();
            e.set_max_payload(size);
            e.set_dnssec_ok(dnssec_ok);
            if let Some(c) = cookie {
                e.options_mut().insert(EdnsOption::Unknown(10, c.to_vec()));
            }
            m.edns = Some(e);
            k(&m.to_vec().unwrap()).unwrap()
        };
        let e = with_edns(1232, false, None);
        assert_eq!(e, with_edns(1232, true, None));
        assert_eq!(e, with_edns(1232, false, Some(&[7; 8])));
        assert_ne!(e, with_edns(4096, false, None));
        assert_ne!(e, with_edns(512, false, None));
        // Below 512 counts as 512 (RFC 6891).
        assert_eq!(
            with_edns(512, false, None),
            with_edns(100, true, Some(&[9; 24]))
        );
        assert_ne!(e, base);
        // qtype 65 (HTTPS) is 0x0041, an ASCII 'A': it must not be lowercased.
        let https = k(&query(1, "x.corp.internal.", RecordType::HTTPS, false)).unwrap();
        let other = k(&query(
            1,
            "x.corp.internal.",
            RecordType::Unknown(0x61),
            false,
        ))
        .unwrap();
        assert_ne!(https, other);
    }

    #[test]
    fn only_plain_queries_have_keys() {
        let mut key = Vec::new();
        let ok = query(7, "a.corp.internal.", RecordType::A, true);
        assert!(request_key(&ok, &mut key).is_some());
        // A response, a NOTIFY, two questions, a compressed question, junk, a cut
        // question, a cut OPT record, a non-OPT additional record, too long.
        let mut resp = ok.clone();
        resp[2] |= 0x80;
        let mut notify = ok.clone();
        notify[2] |= 4 << 3;
        let mut two = ok.clone();
        two[5] = 2;
        let pointer = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
        let long = query(
            1,
            &format!("{}.corp.internal.", "a".repeat(60)),
            RecordType::A,
            true,
        );
        // An A record in the additional section (not EDNS).
        let mut not_opt = query(7, "a.corp.internal.", RecordType::A, false);
        not_opt[11] = 1;
        not_opt.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]);
        let mut huge = long.clone();
        huge.resize(MAX_KEY + 1, 0);
        for bad in [
            resp,
            notify,
            two,
            pointer,
            vec![],
            vec![0; 11],
            ok[..20].to_vec(),
            ok[..ok.len() - 3].to_vec(),
            not_opt,
            huge,
        ] {
            assert!(request_key(&bad, &mut key).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn answers_patch_id_and_question_and_follow_the_generation() {
        let fast = FastAnswers::default();
        let first = query(0x1111, "DB.corp.internal.", RecordType::A, false);
        // A stand-in response: the request with the QR bit and a trailing answer.
        let mut resp = first.clone();
        resp[2] |= 0x80;
        resp.extend_from_slice(b"answer");
        assert!(fast.insert(5, &first, &resp, 1));
        let later = query(0x2222, "db.CORP.internal.", RecordType::A, false);
        let mut key = Vec::new();
        let shape = request_key(&later, &mut key).unwrap();
        let mut out = Vec::new();
        assert_eq!(fast.answer(5, &later, &key, shape, &mut out), Some(1));
        let mut want = later.clone();
        want[2] |= 0x80;
        want.extend_from_slice(b"answer");
        assert_eq!(out, want);
        assert_eq!(fast.answer(6, &later, &key, shape, &mut out), None);
        // An older generation never replaces a newer one; a newer one starts over.
        assert!(!fast.insert(4, &first, &resp, 1));
        let other = query(3, "x.corp.internal.", RecordType::A, false);
        let mut oresp = other.clone();
        oresp[2] |= 0x80;
        assert!(fast.insert(6, &other, &oresp, 1));
        assert_eq!(fast.len(), 1);
        assert_eq!(fast.answer(6, &later, &key, shape, &mut out), None);
    }

    #[test]
    fn a_response_that_does_not_echo_the_question_is_not_kept() {
        let fast = FastAnswers::default();
        let q = query(9, "db.corp.internal.", RecordType::A, false);
        let mut other_id = q.clone();
        other_id[0] ^= 1;
        let mut other_q = q.clone();
        other_q[14] = b'x';
        for bad in [other_id, other_q, q[..12].to_vec()] {
            assert!(!fast.insert(1, &q, &bad, 1));
        }
        assert_eq!(fast.len(), 0);
    }

    #[test]
    fn the_memo_is_bounded() {
        let fast = FastAnswers::default();
        let mut n = 0;
        for i in 0..100_000u32 {
            let q = query(1, &format!("h{i}.corp.internal."), RecordType::A, true);
            let mut r = q.clone();
            r.resize(1000, 0);
            assert!(fast.insert(1, &q, &r, 1));
            n = n.max(fast.len());
        }
        assert!(n * 1000 <= MAX_BYTES, "{n} entries");
        assert!(fast.len() <= n);
    }
}
