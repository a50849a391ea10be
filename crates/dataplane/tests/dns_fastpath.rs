//! The UDP memo of private-zone answers (the resolver's fast path), on loopback.
//!
//! The reference for "what the answer must be" is hickory-server's own path: the same
//! request bytes sent over TCP (which never uses the memo), or the first UDP answer (the
//! normal path) for answers that only UDP can give (truncation).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use linkplane_dataplane::dns::{
    DnsServerHandle, DnsView, ForwardRule, LocalSockets, PrivateZone, ViewConfig, ZoneRecord,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Running {
    view: DnsView,
    addr: SocketAddr,
    _server: DnsServerHandle,
}

async fn serve(view: DnsView) -> Running {
    for _ in 0..20 {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        let Ok(tcp) = tokio::net::TcpListener::bind(addr).await else {
            continue;
        };
        let server = view.serve(udp, tcp);
        return Running {
            view,
            addr,
            _server: server,
        };
    }
    panic!("no free port pair");
}

fn view() -> DnsView {
    DnsView::new(Arc::new(LocalSockets))
}

fn corp() -> PrivateZone {
    let a = |n: &str, ip: &str| ZoneRecord::a(n, 42, ip.parse().unwrap()).unwrap();
    PrivateZone::new(
        "corp.internal",
        vec![
            a("db.corp.internal", "10.0.0.5"),
            a("db.corp.internal", "10.0.0.6"),
            ZoneRecord::aaaa("db.corp.internal", 43, "fd00::5".parse().unwrap()).unwrap(),
            ZoneRecord::cname("www.corp.internal", 300, "db.corp.internal").unwrap(),
            ZoneRecord::cname("chain.corp.internal", 30, "www.corp.internal").unwrap(),
            ZoneRecord::alias("api.corp.internal", "db.corp.internal").unwrap(),
            a("x.deep.corp.internal", "10.0.0.7"),
        ],
    )
    .unwrap()
}

/// A query as a stub resolver sends it.
#[derive(Clone, Copy)]
struct Q<'a> {
    id: u16,
    name: &'a str,
    qtype: RecordType,
    rd: bool,
    cd: bool,
    /// EDNS payload size and DO bit.
    edns: Option<(u16, bool)>,
}

impl<'a> Q<'a> {
    fn new(name: &'a str, qtype: RecordType) -> Self {
        Self {
            id: 0x4242,
            name,
            qtype,
            rd: true,
            cd: false,
            edns: None,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = self.id;
        m.metadata.recursion_desired = self.rd;
        m.metadata.checking_disabled = self.cd;
        // from_ascii keeps the letter case (from_str would lowercase through IDNA).
        m.add_query(Query::query(
            Name::from_ascii(self.name).unwrap(),
            self.qtype,
        ));
        if let Some((size, dnssec_ok)) = self.edns {
            let mut e = Edns::new();
            e.set_max_payload(size);
            e.set_dnssec_ok(dnssec_ok);
            m.edns = Some(e);
        }
        m.to_vec().unwrap()
    }
}

async fn udp(server: SocketAddr, req: &[u8]) -> Vec<u8> {
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.connect(server).await.unwrap();
    s.send(req).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let n = tokio::time::timeout(Duration::from_secs(5), s.recv(&mut buf))
        .await
        .expect("no UDP answer within 5 s")
        .unwrap();
    buf.truncate(n);
    buf
}

async fn tcp(server: SocketAddr, req: &[u8]) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(server).await.unwrap();
    let len = u16::try_from(req.len()).unwrap().to_be_bytes();
    s.write_all(&[&len[..], req].concat()).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), s.read_u16())
        .await
        .expect("no TCP answer within 5 s")
        .unwrap();
    let mut buf = vec![0u8; usize::from(n)];
    s.read_exact(&mut buf).await.unwrap();
    buf
}

fn parse(b: &[u8]) -> Message {
    Message::from_vec(b).unwrap()
}

fn ips(m: &Message) -> Vec<String> {
    let mut v: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            RData::AAAA(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

/// Flip the case of every other ASCII letter of a name (as DNS 0x20 clients do).
fn mixed_case(name: &str, phase: usize) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if (i + phase).is_multiple_of(2) {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

#[tokio::test]
async fn memoized_answers_are_hickorys_answers_byte_for_byte() {
    let v = view();
    v.set_zones(vec![corp()]).unwrap();
    let vpc = serve(v).await;
    let cases = [
        ("db.corp.internal.", RecordType::A),
        ("db.corp.internal.", RecordType::AAAA),
        ("db.corp.internal.", RecordType::TXT), // NODATA: SOA, NOERROR
        ("www.corp.internal.", RecordType::A),  // CNAME inside the zone
        ("www.corp.internal.", RecordType::CNAME),
        ("chain.corp.internal.", RecordType::AAAA), // two hops
        ("api.corp.internal.", RecordType::A),      // alias
        ("nope.corp.internal.", RecordType::A),     // NXDOMAIN with SOA
        ("deep.corp.internal.", RecordType::A),     // empty non-terminal
        ("corp.internal.", RecordType::A),          // apex
    ];
    // (RD, CD, EDNS payload and DO bit)
    type Variant = (bool, bool, Option<(u16, bool)>);
    let variants: [Variant; 5] = [
        (true, false, None),
        (false, false, None),
        (true, true, None),
        (true, false, Some((1232, false))),
        (true, false, Some((4096, true))),
    ];
    let mut udp_queries = 0;
    for (name, qtype) in cases {
        for (rd, cd, edns) in variants {
            // The first asks the normal path (and fills the memo); the others, with other
            // ids and other letter cases, are answered from the memo.
            for round in 0..3u16 {
                let n = mixed_case(name, usize::from(round));
                let q = Q {
                    id: 0x1000 + round * 7 + u16::from(rd),
                    name: &n,
                    qtype,
                    rd,
                    cd,
                    edns,
                };
                let req = q.bytes();
                let over_udp = udp(vpc.addr, &req).await;
                let over_tcp = tcp(vpc.addr, &req).await;
                udp_queries += 1;
                assert_eq!(
                    over_udp,
                    over_tcp,
                    "{n} {qtype} rd={rd} cd={cd} edns={edns:?} round {round}:\nudp {:?}\ntcp {:?}",
                    parse(&over_udp),
                    parse(&over_tcp)
                );
                let m = parse(&over_udp);
                assert_eq!(m.metadata.id, q.id);
                assert_eq!(m.queries[0].name().to_string(), n, "the client's case");
                assert!(m.metadata.authoritative && m.metadata.recursion_available);
                assert_eq!(m.metadata.recursion_desired, rd);
                assert_eq!(m.metadata.checking_disabled, cd);
                assert_eq!(m.edns.is_some(), edns.is_some());
            }
        }
    }
    let s = vpc.view.stats();
    // Every question but the first of each (name, type, variant) came from the memo; the
    // two EDNS variants are two (the payload size is the answer's size limit, RFC 6891).
    let firsts = (cases.len() * variants.len()) as u64;
    assert_eq!(s.memo_hits, udp_queries - firsts, "{s:?}");
    assert_eq!(s.queries, 2 * udp_queries, "UDP and TCP both counted");
    assert_eq!(s.public + s.forwarded + s.failed, 0, "{s:?}");
}

#[tokio::test]
async fn edns_options_such_as_cookies_do_not_defeat_the_memo() {
    let v = view();
    v.set_zones(vec![corp()]).unwrap();
    let vpc = serve(v).await;
    for (i, cookie) in [[1u8; 8], [2; 8], [3; 8]].iter().enumerate() {
        let mut m = Message::query();
        m.metadata.id = 500 + u16::try_from(i).unwrap();
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(
            Name::from_ascii("Db.corp.internal.").unwrap(),
            RecordType::A,
        ));
        let mut e = Edns::new();
        e.set_max_payload(1232);
        e.options_mut()
            .insert(EdnsOption::Unknown(10, cookie.to_vec())); // COOKIE, as dig sends
        m.edns = Some(e);
        let req = m.to_vec().unwrap();
        let got = udp(vpc.addr, &req).await;
        assert_eq!(got, tcp(vpc.addr, &req).await, "cookie {i}");
        let r = parse(&got);
        assert_eq!(ips(&r), ["10.0.0.5", "10.0.0.6"]);
        assert!(r.edns.is_some(), "EDNS in, EDNS out");
    }
    assert_eq!(vpc.view.stats().memo_hits, 2);
}

#[tokio::test]
async fn the_memo_answers_what_dig_expects() {
    let v = view();
    v.set_zones(vec![corp()]).unwrap();
    let vpc = serve(v).await;
    for _ in 0..3 {
        let m = parse(
            &udp(
                vpc.addr,
                &Q::new("DB.corp.internal.", RecordType::A).bytes(),
            )
            .await,
        );
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(ips(&m), ["10.0.0.5", "10.0.0.6"]);
        assert!(m.answers.iter().all(|r| r.ttl == 42), "the zone's TTL");
        let m = parse(
            &udp(
                vpc.addr,
                &Q::new("Nope.corp.internal.", RecordType::A).bytes(),
            )
            .await,
        );
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert!(m.answers.is_empty());
        assert!(m.metadata.authoritative);
        assert_eq!(m.authorities.len(), 1);
        assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
        assert_eq!(m.authorities[0].name.to_string(), "corp.internal.");
        let m = parse(
            &udp(
                vpc.addr,
                &Q::new("api.corp.internal.", RecordType::A).bytes(),
            )
            .await,
        );
        assert_eq!(ips(&m), ["10.0.0.5", "10.0.0.6"]);
        assert!(
            m.answers
                .iter()
                .all(|r| r.name.to_string() == "api.corp.internal.")
        );
    }
    let s = vpc.view.stats();
    assert_eq!(s.memo_hits, 6, "{s:?}");
    // The alias counts two zone lookups, on the normal path and from the memo alike.
    assert_eq!(s.private, 3 * (1 + 1 + 2), "{s:?}");
}

#[tokio::test]
async fn a_configuration_change_is_seen_by_the_next_query() {
    let v = view();
    v.set_zones(vec![corp()]).unwrap();
    let vpc = serve(v).await;
    let q = Q::new("db.corp.internal.", RecordType::A).bytes();
    let ask = || async { parse(&udp(vpc.addr, &q).await) };
    for _ in 0..2 {
        assert_eq!(ips(&ask().await), ["10.0.0.5", "10.0.0.6"]);
    }
    assert_eq!(vpc.view.stats().memo_hits, 1);
    // Records change (upsert): the very next answer is the new one.
    vpc.view
        .upsert_zone(
            PrivateZone::new(
                "corp.internal",
                vec![ZoneRecord::a("db.corp.internal", 42, "10.9.9.9".parse().unwrap()).unwrap()],
            )
            .unwrap(),
        )
        .unwrap();
    for _ in 0..2 {
        assert_eq!(ips(&ask().await), ["10.9.9.9"]);
    }
    // The record goes away: NXDOMAIN at once.
    vpc.view
        .set_zones(vec![PrivateZone::new("corp.internal", vec![]).unwrap()])
        .unwrap();
    for _ in 0..2 {
        let m = ask().await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    }
    // The zone is disassociated: no longer authoritative (no public DNS here: SERVFAIL).
    assert!(vpc.view.remove_zone("corp.internal").unwrap());
    let m = ask().await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(!m.metadata.authoritative);
    // A whole new configuration (set_config) is seen at once too.
    vpc.view
        .set_config(ViewConfig::new(vec![corp()], vec![], vec![]).unwrap());
    for _ in 0..2 {
        assert_eq!(ips(&ask().await), ["10.0.0.5", "10.0.0.6"]);
    }
}

#[tokio::test]
async fn upstream_answers_never_come_from_the_memo() {
    // The upstream (a forwarding target) serves TTL 0 records: nothing may keep them.
    let rec = |ip: &str| {
        PrivateZone::new(
            "onprem.example",
            vec![ZoneRecord::a("db.onprem.example", 0, ip.parse().unwrap()).unwrap()],
        )
        .unwrap()
    };
    let onprem = view();
    onprem.set_zones(vec![rec("10.1.1.1")]).unwrap();
    let onprem = serve(onprem).await;
    let v = view();
    v.set_zones(vec![
        PrivateZone::new(
            "corp.internal",
            vec![ZoneRecord::cname("db.corp.internal", 60, "db.onprem.example").unwrap()],
        )
        .unwrap(),
    ])
    .unwrap();
    v.set_rules(vec![
        ForwardRule::forward("onprem.example", vec![onprem.addr]).unwrap(),
    ])
    .unwrap();
    let vpc = serve(v).await;
    let direct = Q::new("db.onprem.example.", RecordType::A).bytes();
    let via_cname = Q::new("db.corp.internal.", RecordType::A).bytes();
    for _ in 0..2 {
        assert_eq!(ips(&parse(&udp(vpc.addr, &direct).await)), ["10.1.1.1"]);
        assert_eq!(ips(&parse(&udp(vpc.addr, &via_cname).await)), ["10.1.1.1"]);
    }
    onprem.view.set_zones(vec![rec("10.1.1.2")]).unwrap();
    assert_eq!(ips(&parse(&udp(vpc.addr, &direct).await)), ["10.1.1.2"]);
    let m = parse(&udp(vpc.addr, &via_cname).await);
    assert_eq!(ips(&m), ["10.1.1.2"], "the CNAME's target is asked again");
    assert_eq!(m.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(vpc.view.stats().memo_hits, 0);
    assert_eq!(vpc.view.stats().forwarded, 6);
    // The upstream itself answers its own zone from its memo (TTL 0 stays 0).
    assert!(onprem.view.stats().memo_hits >= 4);
}

#[tokio::test]
async fn truncation_over_udp_is_kept_and_tcp_gets_everything() {
    let recs = (1..=60u8)
        .map(|i| ZoneRecord::a("big.corp.internal", 60, [10, 0, 1, i].into()).unwrap())
        .collect();
    let v = view();
    v.set_zones(vec![PrivateZone::new("corp.internal", recs).unwrap()])
        .unwrap();
    let vpc = serve(v).await;
    // Without EDNS: 512 bytes at most, TC set. With EDNS (we advertise 1232): all 60.
    for (edns, truncated) in [(None, true), (Some((1232, false)), false)] {
        let mut first = None;
        for round in 0..3u16 {
            let n = mixed_case("big.corp.internal.", usize::from(round));
            let q = Q {
                id: 77 + round,
                edns,
                ..Q::new(&n, RecordType::A)
            };
            let req = q.bytes();
            let got = udp(vpc.addr, &req).await;
            let m = parse(&got);
            assert_eq!(m.metadata.truncation, truncated, "edns {edns:?}");
            assert!(got.len() <= if truncated { 512 } else { 1232 });
            if !truncated {
                assert_eq!(m.answers.len(), 60);
                assert_eq!(got, tcp(vpc.addr, &req).await);
            }
            // Later rounds (from the memo) are the first (normal path) with this id and
            // this question (header, then the name in full: its text plus one, then type
            // and class).
            let question = 12..12 + n.len() + 1 + 4;
            let first = first.get_or_insert_with(|| got.clone());
            let mut want = first.clone();
            want[..2].copy_from_slice(&req[..2]);
            want[question.clone()].copy_from_slice(&req[question]);
            assert_eq!(got, want, "round {round}");
        }
        let m = parse(
            &tcp(
                vpc.addr,
                &Q::new("big.corp.internal.", RecordType::A).bytes(),
            )
            .await,
        );
        assert!(!m.metadata.truncation);
        assert_eq!(m.answers.len(), 60, "TCP is not limited");
    }
    assert_eq!(vpc.view.stats().memo_hits, 4);
}

/// RFC 6891, 6.2.5 (and 7): a UDP answer never exceeds the client's advertised payload size
/// (values below 512 count as 512), and uses it when it is larger than ours: a 512-byte
/// client gets a truncated answer (TC set, retry over TCP), a 4096-byte one gets 100 A
/// records (3.3 KB) whole, each from the normal path and again from the memo, in any order.
#[tokio::test]
async fn udp_answers_honour_the_clients_edns_payload_size() {
    let recs = (1..=100u8)
        .map(|i| ZoneRecord::a("big.corp.internal", 60, [10, 0, 2, i].into()).unwrap())
        .collect();
    let v = view();
    v.set_zones(vec![PrivateZone::new("corp.internal", recs).unwrap()])
        .unwrap();
    let vpc = serve(v).await;
    let full = parse(
        &tcp(
            vpc.addr,
            &Q::new("big.corp.internal.", RecordType::A).bytes(),
        )
        .await,
    );
    assert_eq!(full.answers.len(), 100);
    // (advertised size, the limit it means, whether 100 records fit)
    let cases = [
        (4096, 4096, true),
        (512, 512, false),
        (100, 512, false),
        (1232, 1232, false),
        (4096, 4096, true),
        (65535, 65535, true),
        (512, 512, false),
    ];
    for round in 0..2 {
        for (i, (size, limit, whole)) in cases.into_iter().enumerate() {
            let q = Q {
                id: 300 + i as u16,
                edns: Some((size, false)),
                ..Q::new("big.corp.internal.", RecordType::A)
            };
            let got = udp(vpc.addr, &q.bytes()).await;
            let m = parse(&got);
            let what = format!("round {round}, EDNS payload {size}: {} bytes", got.len());
            assert!(got.len() <= limit, "{what}");
            assert_eq!(m.metadata.truncation, !whole, "{what}");
            if whole {
                assert_eq!(m.answers.len(), 100, "{what}");
            } else {
                assert!(m.answers.len() < 100, "{what}");
            }
            // The answer's OPT record is this server's own size, not the client's.
            assert_eq!(
                m.edns.as_ref().map(|e| e.max_payload()),
                Some(1232),
                "{what}"
            );
        }
    }
    assert!(
        vpc.view.stats().memo_hits >= 7,
        "the second round came from the memo"
    );
}

#[tokio::test]
async fn requests_outside_the_fast_path_get_the_normal_answers() {
    let v = view();
    v.set_zones(vec![corp()]).unwrap();
    let vpc = serve(v).await;
    // Class CH: REFUSED, every time, never memoized.
    let mut m = Message::query();
    m.metadata.id = 9;
    let mut q = Query::query(Name::from_str("db.corp.internal.").unwrap(), RecordType::A);
    q.set_query_class(DNSClass::CH);
    m.add_query(q);
    let ch = m.to_vec().unwrap();
    for _ in 0..2 {
        let r = parse(&udp(vpc.addr, &ch).await);
        assert_eq!(r.metadata.response_code, ResponseCode::Refused);
        assert!(r.answers.is_empty());
    }
    // Two questions: FORMERR (hickory's request_info refuses them).
    let mut m = Message::query();
    m.metadata.id = 10;
    m.add_query(Query::query(
        Name::from_str("db.corp.internal.").unwrap(),
        RecordType::A,
    ));
    m.add_query(Query::query(
        Name::from_str("www.corp.internal.").unwrap(),
        RecordType::A,
    ));
    let two = m.to_vec().unwrap();
    for _ in 0..2 {
        let r = parse(&udp(vpc.addr, &two).await);
        assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    }
    // A question whose name is a compression pointer to the header: FORMERR or no
    // answer, never an address.
    let mut ptr = Q::new("db.corp.internal.", RecordType::A).bytes();
    ptr.truncate(12);
    ptr.extend_from_slice(&[0xc0, 0x00, 0, 1, 0, 1]);
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.send_to(&ptr, vpc.addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    if let Ok(Ok((n, _))) =
        tokio::time::timeout(Duration::from_millis(300), s.recv_from(&mut buf)).await
    {
        assert_ne!(
            parse(&buf[..n]).metadata.response_code,
            ResponseCode::NoError
        );
    }
    assert_eq!(vpc.view.stats().memo_hits, 0);
    // A broken OPT record after the same question with a good one was memoized: FORMERR
    // (the normal path's answer), not the memoized NOERROR.
    let good = Q {
        edns: Some((1232, false)),
        ..Q::new("db.corp.internal.", RecordType::A)
    }
    .bytes();
    for _ in 0..2 {
        assert_eq!(ips(&parse(&udp(vpc.addr, &good).await)).len(), 2);
    }
    assert_eq!(vpc.view.stats().memo_hits, 1);
    let cut = &good[..good.len() - 3];
    let r = parse(&udp(vpc.addr, cut).await);
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(vpc.view.stats().memo_hits, 1);
    // And the server still answers normally.
    let r = parse(
        &udp(
            vpc.addr,
            &Q::new("db.corp.internal.", RecordType::A).bytes(),
        )
        .await,
    );
    assert_eq!(ips(&r), ["10.0.0.5", "10.0.0.6"]);
}

#[tokio::test]
async fn many_clients_at_once_get_their_own_answers() {
    let v = view();
    let recs = (0..200u32)
        .map(|i| {
            ZoneRecord::a(
                &format!("h{i}.corp.internal"),
                60,
                std::net::Ipv4Addr::from(0x0a00_0000 + i),
            )
            .unwrap()
        })
        .collect();
    v.set_zones(vec![PrivateZone::new("corp.internal", recs).unwrap()])
        .unwrap();
    let vpc = serve(v).await;
    let addr = vpc.addr;
    // Each name once, so that every question below is answered from the memo.
    for i in 0..200 {
        let q = Q::new(&format!("h{i}.corp.internal."), RecordType::A).bytes();
        assert_eq!(ips(&parse(&udp(addr, &q).await)).len(), 1);
    }
    let mut tasks = Vec::new();
    for c in 0..16u32 {
        tasks.push(tokio::spawn(async move {
            let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            s.connect(addr).await.unwrap();
            // 50 questions, up to 8 in flight per client (16 clients: 128 in flight, well
            // inside the server socket's receive buffer: this is not a loss test).
            let ask = |k: u32| {
                let i = (c * 50 + k) % 200;
                let name = mixed_case(&format!("h{i}.corp.internal."), k as usize);
                Q {
                    id: u16::try_from(k).unwrap(),
                    ..Q::new(&name, RecordType::A)
                }
                .bytes()
            };
            for k in 0..8 {
                s.send(&ask(k)).await.unwrap();
            }
            let mut buf = vec![0u8; 4096];
            for done in 0..50 {
                let n = tokio::time::timeout(Duration::from_secs(5), s.recv(&mut buf))
                    .await
                    .expect("answer lost")
                    .unwrap();
                let m = parse(&buf[..n]);
                let k = u32::from(m.metadata.id);
                let i = (c * 50 + k) % 200;
                assert_eq!(
                    m.queries[0].name().to_string(),
                    mixed_case(&format!("h{i}.corp.internal."), k as usize)
                );
                assert_eq!(
                    ips(&m),
                    [std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string()]
                );
                if done + 8 < 50 {
                    s.send(&ask(done + 8)).await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let s = vpc.view.stats();
    assert_eq!((s.queries, s.memo_hits), (1000, 800), "{s:?}");
}
