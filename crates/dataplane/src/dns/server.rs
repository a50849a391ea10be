//! The per-VPC view (resolution logic) and its hickory-server request handler.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::cache::AnswerCache;
use super::config::{ConfigError, ForwardRule, PrivateZone, RuleAction, ViewConfig, ZoneLookup};
use super::fast::{FastAnswers, request_key};
use super::upstream::{self, FactoryRuntime, SocketFactory};

/// How many CNAME / alias hops one answer may follow.
const MAX_CHAIN: u8 = 8;

/// The answer to one question, before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    /// Answered from a private zone of this view.
    pub authoritative: bool,
}

impl Resolution {
    fn fail(rcode: ResponseCode) -> Self {
        Self {
            rcode,
            answers: Vec::new(),
            authorities: Vec::new(),
            authoritative: false,
        }
    }
}

/// Counters of one view.
#[derive(Debug, Default)]
struct Counters {
    queries: AtomicU64,
    private: AtomicU64,
    forwarded: AtomicU64,
    public: AtomicU64,
    failed: AtomicU64,
    cache_hits: AtomicU64,
    memo_hits: AtomicU64,
    dropped: AtomicU64,
}

/// A snapshot of a view's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DnsStats {
    pub queries: u64,
    /// Answered from a private zone.
    pub private: u64,
    /// Sent to a forwarding rule's targets.
    pub forwarded: u64,
    /// Sent to the public upstream.
    pub public: u64,
    /// Answered SERVFAIL (upstream unreachable, chain too long, no public upstream).
    pub failed: u64,
    /// Forwarded or public questions answered from the cache (counted in
    /// `forwarded`/`public` too).
    pub cache_hits: u64,
    /// UDP questions answered from the memo of encoded private-zone answers (counted in
    /// `queries` and `private` too).
    pub memo_hits: u64,
    /// UDP requests dropped unanswered because 1,024 were already on the normal path
    /// (waiting on upstreams); the clients retry.
    pub dropped: u64,
}

pub(crate) struct Inner {
    config: ArcSwap<ViewConfig>,
    runtime: FactoryRuntime,
    upstream_timeout: Duration,
    counters: Counters,
    cache: AnswerCache,
    fast: FastAnswers,
}

impl Inner {
    pub(crate) fn stats(&self) -> DnsStats {
        let c = &self.counters;
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DnsStats {
            queries: r(&c.queries),
            private: r(&c.private),
            forwarded: r(&c.forwarded),
            public: r(&c.public),
            failed: r(&c.failed),
            cache_hits: r(&c.cache_hits),
            memo_hits: r(&c.memo_hits),
            dropped: r(&c.dropped),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        crate::metrics::dns_view_retired(self.stats());
    }
}

/// A resolution and, when it came from private zones alone, how many zone lookups it
/// took (`None`: an upstream was involved, or it failed).
type Resolved = (Resolution, Option<u8>);

/// An answer the UDP path may memoize: computed from private zones alone under this
/// configuration generation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Memo {
    generation: u64,
    private_hits: u8,
}

/// The DNS view of one VPC: its configuration and resolution logic. Cheap to clone;
/// serve it on as many sockets as needed with [`DnsView::serve`].
#[derive(Clone)]
pub struct DnsView {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DnsView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsView")
            .field("config", &self.inner.config.load())
            .finish()
    }
}

impl DnsView {
    /// A view with no zones, no rules and no public upstream. Upstream queries leave
    /// from sockets made by `sockets` (use [`super::NsSockets`] for a VPC namespace).
    pub fn new(sockets: Arc<dyn SocketFactory>) -> Self {
        let view = Self {
            inner: Arc::new(Inner {
                config: ArcSwap::from_pointee(ViewConfig::default()),
                runtime: FactoryRuntime::new(sockets),
                upstream_timeout: Duration::from_secs(2),
                counters: Counters::default(),
                cache: AnswerCache::default(),
                fast: FastAnswers::default(),
            }),
        };
        crate::metrics::dns_view_started(&view.inner);
        view
    }

    pub fn config(&self) -> Arc<ViewConfig> {
        self.inner.config.load_full()
    }

    /// Replace the whole configuration; the next query sees it.
    pub fn set_config(&self, config: ViewConfig) {
        self.inner.config.store(Arc::new(config));
    }

    fn update(
        &self,
        mut f: impl FnMut(&ViewConfig) -> Result<ViewConfig, ConfigError>,
    ) -> Result<(), ConfigError> {
        let mut err = None;
        self.inner.config.rcu(|cur| match f(cur) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                err = Some(e);
                cur.clone()
            }
        });
        err.map_or(Ok(()), Err)
    }

    /// Replace the private zones associated with this VPC.
    pub fn set_zones(&self, zones: Vec<PrivateZone>) -> Result<(), ConfigError> {
        self.update(|c| {
            ViewConfig::new(
                zones.clone(),
                c.rules().to_vec(),
                c.public_upstreams().to_vec(),
            )
        })
    }

    /// Add a zone, or replace the zone of the same name (record changes).
    pub fn upsert_zone(&self, zone: PrivateZone) -> Result<(), ConfigError> {
        self.update(|c| {
            let mut zones: Vec<_> = c
                .zones()
                .iter()
                .filter(|z| z.name() != zone.name())
                .cloned()
                .collect();
            zones.push(zone.clone());
            ViewConfig::new(zones, c.rules().to_vec(), c.public_upstreams().to_vec())
        })
    }

    /// Disassociate a zone. Returns false when it was not associated.
    pub fn remove_zone(&self, name: &str) -> Result<bool, ConfigError> {
        let name = super::config::parse_name(name)?;
        let mut found = false;
        self.update(|c| {
            found = c.zones().iter().any(|z| z.name() == &name);
            let zones = c
                .zones()
                .iter()
                .filter(|z| z.name() != &name)
                .cloned()
                .collect();
            ViewConfig::new(zones, c.rules().to_vec(), c.public_upstreams().to_vec())
        })?;
        Ok(found)
    }

    /// Replace the forwarding rules associated with this VPC.
    pub fn set_rules(&self, rules: Vec<ForwardRule>) -> Result<(), ConfigError> {
        self.update(|c| {
            ViewConfig::new(
                c.zones().to_vec(),
                rules.clone(),
                c.public_upstreams().to_vec(),
            )
        })
    }

    /// Set the public DNS servers (the internet namespace's resolver).
    pub fn set_public_upstreams(&self, servers: Vec<SocketAddr>) {
        let _ = self
            .update(|c| ViewConfig::new(c.zones().to_vec(), c.rules().to_vec(), servers.clone()));
    }

    pub fn stats(&self) -> DnsStats {
        self.inner.stats()
    }

    /// Resolve one question through this view (what the server does per query).
    pub async fn resolve(&self, name: &Name, qtype: RecordType) -> Resolution {
        let cfg = self.inner.config.load_full();
        self.resolve_in(&cfg, name, qtype).await.0
    }

    /// Resolve through one configuration snapshot (every hop of a chain sees the same).
    async fn resolve_in(&self, cfg: &ViewConfig, name: &Name, qtype: RecordType) -> Resolved {
        let name = name.to_lowercase();
        let r = self.resolve_at(cfg, &name, qtype, 0).await;
        if r.0.rcode == ResponseCode::ServFail {
            self.inner.counters.failed.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    fn resolve_at<'a>(
        &'a self,
        cfg: &'a ViewConfig,
        name: &'a Name,
        qtype: RecordType,
        depth: u8,
    ) -> futures::future::BoxFuture<'a, Resolved> {
        Box::pin(async move {
            if depth > MAX_CHAIN {
                return (Resolution::fail(ResponseCode::ServFail), None);
            }
            if let Some(zone) = cfg.zone_for(name) {
                self.inner.counters.private.fetch_add(1, Ordering::Relaxed);
                let (res, hits) = self.answer_from_zone(cfg, zone, name, qtype, depth).await;
                return (res, hits.and_then(|h| h.checked_add(1)));
            }
            let c = &self.inner.counters;
            let servers = match cfg.rule_for(name).map(|r| &r.action) {
                Some(RuleAction::Forward(targets)) => {
                    c.forwarded.fetch_add(1, Ordering::Relaxed);
                    targets.as_slice()
                }
                Some(RuleAction::System) | None => {
                    c.public.fetch_add(1, Ordering::Relaxed);
                    cfg.public_upstreams()
                }
            };
            let res = self.forward(cfg.generation(), servers, name, qtype).await;
            (res, None)
        })
    }

    /// The answer of a zone that contains `name`; with the zone lookups of the chain it
    /// followed when it stayed inside private zones.
    async fn answer_from_zone(
        &self,
        cfg: &ViewConfig,
        zone: &PrivateZone,
        name: &Name,
        qtype: RecordType,
        depth: u8,
    ) -> Resolved {
        let negative = |rcode| Resolution {
            rcode,
            answers: Vec::new(),
            authorities: vec![zone.soa().clone()],
            authoritative: true,
        };
        match zone.lookup(name, qtype) {
            ZoneLookup::Records(r) => (
                Resolution {
                    rcode: ResponseCode::NoError,
                    answers: r.to_vec(),
                    authorities: Vec::new(),
                    authoritative: true,
                },
                Some(0),
            ),
            ZoneLookup::NoData => (negative(ResponseCode::NoError), Some(0)),
            ZoneLookup::NxDomain => (negative(ResponseCode::NXDomain), Some(0)),
            ZoneLookup::Cname(c) => {
                let RData::CNAME(target) = &c.data else {
                    return (Resolution::fail(ResponseCode::ServFail), None);
                };
                let (sub, hits) = self.resolve_at(cfg, &target.0, qtype, depth + 1).await;
                let mut answers = Vec::with_capacity(1 + sub.answers.len());
                answers.push(c.clone());
                answers.extend(sub.answers);
                let res = Resolution {
                    rcode: sub.rcode,
                    answers,
                    authorities: sub.authorities,
                    authoritative: true,
                };
                (res, hits)
            }
            ZoneLookup::Alias(target) => {
                let (sub, hits) = self.resolve_at(cfg, target, qtype, depth + 1).await;
                if sub.rcode == ResponseCode::ServFail {
                    return (sub, None);
                }
                // The target's final records, under the alias's own name.
                let answers: Vec<Record> = sub
                    .answers
                    .into_iter()
                    .filter(|r| r.record_type() == qtype)
                    .map(|mut r| {
                        r.name = name.clone();
                        r
                    })
                    .collect();
                if answers.is_empty() {
                    return (negative(ResponseCode::NoError), hits);
                }
                let res = Resolution {
                    rcode: ResponseCode::NoError,
                    answers,
                    authorities: Vec::new(),
                    authoritative: true,
                };
                (res, hits)
            }
        }
    }

    async fn forward(
        &self,
        generation: u64,
        servers: &[SocketAddr],
        name: &Name,
        qtype: RecordType,
    ) -> Resolution {
        if let Some(hit) = self.inner.cache.get(generation, name, qtype) {
            self.inner
                .counters
                .cache_hits
                .fetch_add(1, Ordering::Relaxed);
            return hit;
        }
        if servers.is_empty() {
            debug!(%name, "no upstream configured for this name");
            return Resolution::fail(ResponseCode::ServFail);
        }
        let r = upstream::query(
            &self.inner.runtime,
            servers,
            name,
            qtype,
            self.inner.upstream_timeout,
        )
        .await;
        match r {
            Ok(resp) => {
                let keep =
                    |r: &&Record| !matches!(r.record_type(), RecordType::OPT | RecordType::SIG);
                let res = Resolution {
                    rcode: resp.response_code,
                    answers: resp.answers.iter().filter(keep).cloned().collect(),
                    authorities: resp.authorities.iter().filter(keep).cloned().collect(),
                    authoritative: false,
                };
                self.inner.cache.put(generation, name, qtype, &res);
                res
            }
            Err(e) => {
                warn!(error = %e, "upstream DNS query failed");
                Resolution::fail(ResponseCode::ServFail)
            }
        }
    }

    /// Serve this view on a bound UDP socket and a listening TCP socket (created by the
    /// caller, e.g. inside the VPC namespace at base+2:53). Must be called in a runtime.
    ///
    /// UDP requests are read by this crate's loop (`udp.rs`): private-zone answers are
    /// memoized in wire format and served from there; everything else, and all of TCP,
    /// goes through hickory-server's request parsing and encoding.
    pub fn serve(
        &self,
        udp: tokio::net::UdpSocket,
        tcp: tokio::net::TcpListener,
    ) -> DnsServerHandle {
        let mut server = Server::new(Handler { view: self.clone() });
        server.register_listener(tcp, Duration::from_secs(10), 64);
        let cancel = CancellationToken::new();
        let udp = tokio::spawn(super::udp::serve(
            Handler { view: self.clone() },
            udp,
            cancel.clone(),
        ));
        DnsServerHandle {
            server,
            udp: Some(udp),
            cancel,
        }
    }
}

/// A running DNS server. Dropping it aborts its tasks (the sockets close);
/// [`DnsServerHandle::stop`] shuts down gracefully and waits.
pub struct DnsServerHandle {
    server: Server<Handler>,
    udp: Option<tokio::task::JoinHandle<()>>,
    cancel: CancellationToken,
}

impl DnsServerHandle {
    /// Stop serving and wait until the sockets are closed.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(udp) = self.udp.take()
            && let Err(e) = udp.await
        {
            debug!(error = %e, "DNS UDP loop ended with an error");
        }
        if let Err(e) = self.server.shutdown_gracefully().await {
            debug!(error = %e, "DNS server ended with an error");
        }
    }
}

impl Drop for DnsServerHandle {
    fn drop(&mut self) {
        if let Some(udp) = self.udp.take() {
            udp.abort();
        }
    }
}

pub(crate) struct Handler {
    view: DnsView,
}

impl Handler {
    pub(crate) fn of(view: DnsView) -> Self {
        Self { view }
    }

    /// Answer `msg` from the UDP memo into `out` (key: scratch space). False: not
    /// memoized (yet), take the normal path.
    pub(crate) fn fast_answer(&self, msg: &[u8], key: &mut Vec<u8>, out: &mut Vec<u8>) -> bool {
        let Some(shape) = request_key(msg, key) else {
            return false;
        };
        let inner = &self.view.inner;
        let generation = inner.config.load().generation();
        let Some(hits) = inner.fast.answer(generation, msg, key, shape, out) else {
            return false;
        };
        let c = &inner.counters;
        c.queries.fetch_add(1, Ordering::Relaxed);
        c.private.fetch_add(u64::from(hits), Ordering::Relaxed);
        c.memo_hits.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Count a UDP request dropped because the normal path is full.
    pub(crate) fn dropped(&self) {
        self.view
            .inner
            .counters
            .dropped
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Memoize `response`, the normal path's answer to `request`.
    pub(crate) fn remember(&self, memo: Memo, request: &[u8], response: &[u8]) {
        self.view
            .inner
            .fast
            .insert(memo.generation, request, response, memo.private_hits);
    }

    /// Answer one request through the view (UDP's normal path and TCP). Also says
    /// whether the answer may be memoized.
    pub(crate) async fn answer<R: ResponseHandler>(
        &self,
        request: &Request,
        response_handle: &mut R,
    ) -> (ResponseInfo, Option<Memo>) {
        let counters = &self.view.inner.counters;
        counters.queries.fetch_add(1, Ordering::Relaxed);
        let mut md = Metadata::response_from_request(&request.metadata);
        md.recursion_available = true;
        let edns = request.edns.as_ref().map(|_| {
            let mut e = Edns::new();
            e.set_max_payload(EDNS_PAYLOAD);
            e
        });
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(e) = &edns {
            builder.edns(e);
        }
        let question = (request.metadata.message_type == MessageType::Query
            && request.metadata.op_code == OpCode::Query)
            .then(|| request.request_info().ok())
            .flatten();
        let Some(info) = question else {
            md.response_code = if request.metadata.op_code == OpCode::Query {
                ResponseCode::FormErr
            } else {
                ResponseCode::NotImp
            };
            let info = send(response_handle, builder.build_no_records(md), md).await;
            return (info, None);
        };
        if info.query.query_class() != DNSClass::IN {
            md.response_code = ResponseCode::Refused;
            let info = send(response_handle, builder.build_no_records(md), md).await;
            return (info, None);
        }
        let name: Name = info.query.name().into();
        let cfg = self.view.inner.config.load_full();
        let (res, hits) = self
            .view
            .resolve_in(&cfg, &name, info.query.query_type())
            .await;
        md.response_code = res.rcode;
        md.authoritative = res.authoritative;
        let resp = builder.build(
            md,
            res.answers.iter(),
            std::iter::empty(),
            res.authorities.iter(),
            std::iter::empty(),
        );
        let sent = send(response_handle, resp, md).await;
        let memo = hits
            .filter(|_| matches!(res.rcode, ResponseCode::NoError | ResponseCode::NXDomain))
            .filter(|_| sent.response_code == res.rcode)
            .map(|private_hits| Memo {
                generation: cfg.generation(),
                private_hits,
            });
        (sent, memo)
    }
}

/// What a normal DNS response advertises as its EDNS payload size.
const EDNS_PAYLOAD: u16 = 1232;

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        self.answer(request, &mut response_handle).await.0
    }
}

async fn send<'a, R: ResponseHandler>(
    handle: &mut R,
    resp: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    md: Metadata,
) -> ResponseInfo {
    match handle.send_response(resp).await {
        Ok(info) => info,
        Err(e) => {
            debug!(error = %e, "cannot send DNS response");
            let mut md = md;
            md.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata: md,
                counts: HeaderCounts::default(),
            })
        }
    }
}
