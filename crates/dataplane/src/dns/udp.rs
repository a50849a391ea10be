//! The UDP side of a VPC DNS server.
//!
//! One task per socket drains the socket while it is readable. A request whose answer
//! is memoized ([`super::fast`]) is answered inline: no task, no allocation, no
//! decoding beyond its header and question. Every other request goes the normal way on
//! a task of its own, exactly as hickory-server's UDP loop does it (hickory's request
//! parsing, the view's handler, hickory's encoder with the same size limits), and a
//! private-zone answer produced there is memoized for the next identical request.
//! TCP is served by hickory-server unchanged.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use hickory_server::net::NetError;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};
use tokio::net::UdpSocket;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::fast;
use super::server::Handler;

/// Receive buffer: what hickory-server's UDP stream reads at most.
const RECV_BUFFER: usize = 4096;
/// Requests handled per wake-up before other tasks get a turn.
const BATCH: usize = 64;
/// Requests on the normal path at once (each a task, most waiting on an upstream); more are
/// dropped unanswered, as a full resolver does, and the client retries.
pub(crate) const MAX_SLOW: usize = 1024;

/// Serve `socket` until `cancel` fires (or the socket fails for good).
pub(crate) async fn serve(handler: Handler, socket: UdpSocket, cancel: CancellationToken) {
    let socket = Arc::new(socket);
    let handler = Arc::new(handler);
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut key = Vec::with_capacity(fast::MAX_KEY);
    let mut out = Vec::with_capacity(1232);
    let mut slow = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            r = socket.readable() => if let Err(e) = r {
                warn!(error = %e, "DNS UDP socket failed; no longer serving it");
                break;
            },
        }
        let mut drained = false;
        for _ in 0..BATCH {
            let (len, src) = match socket.try_recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    drained = true;
                    break;
                }
                Err(e) if unrecoverable(&e) => {
                    warn!(error = %e, "DNS UDP socket failed; no longer serving it");
                    return;
                }
                Err(e) => {
                    debug!(error = %e, "error receiving a DNS UDP request");
                    continue;
                }
            };
            if !answerable(src) {
                debug!(%src, "cannot answer this source address");
                continue;
            }
            let msg = &buf[..len];
            if handler.fast_answer(msg, &mut key, &mut out) {
                send(&socket, &out, src).await;
            } else if slow.len() >= MAX_SLOW && {
                while slow.try_join_next().is_some() {}
                slow.len() >= MAX_SLOW
            } {
                handler.dropped();
                debug!(%src, "{MAX_SLOW} DNS requests in flight; dropping this one");
            } else {
                let (h, s, m) = (handler.clone(), socket.clone(), msg.to_vec());
                slow.spawn(async move { normal(&h, s, m, src).await });
            }
        }
        while slow.try_join_next().is_some() {}
        // Only a full batch yields (other tasks get a turn); a drained socket simply
        // waits for readiness again. (An unconditional yield costs tokio an extra
        // non-blocking epoll_wait on every wake-up.)
        if !drained {
            tokio::task::yield_now().await;
        }
    }
}

async fn send(socket: &UdpSocket, bytes: &[u8], dst: SocketAddr) {
    let r = match socket.try_send_to(bytes, dst) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => socket.send_to(bytes, dst).await,
        r => r,
    };
    if let Err(e) = r {
        debug!(error = %e, %dst, "cannot send DNS response");
    }
}

/// The normal path for one request: what hickory-server's UDP loop does with it.
async fn normal(handler: &Handler, socket: Arc<UdpSocket>, msg: Vec<u8>, src: SocketAddr) {
    let mut responder = UdpResponder {
        socket,
        dst: src,
        limit: 512,
        sent: None,
    };
    // Fewer than 12 bytes: not a DNS message; no answer.
    let Ok(header) = Header::read(&mut BinDecoder::new(&msg)) else {
        return;
    };
    let request = match Request::from_bytes(msg.clone(), src, Protocol::Udp) {
        Ok(r) => r,
        Err(e) => {
            debug!(error = %e, id = header.metadata.id, "malformed DNS request: FORMERR");
            let Ok(queries) = Queries::read(&mut BinDecoder::new(&[]), 0) else {
                return;
            };
            let resp = MessageResponseBuilder::new(&queries, None)
                .error_msg(&header.metadata, ResponseCode::FormErr);
            if let Err(e) = responder.send_response(resp).await {
                debug!(error = %e, "cannot send FORMERR");
            }
            return;
        }
    };
    if request.metadata.message_type == MessageType::Response {
        return; // never answer a response (reflection)
    }
    // RFC 6891, 6.2.5: the answer fits the client's payload size (hickory reads values
    // below 512 as 512); without EDNS, 512 bytes (RFC 1035, 4.2.1). The response's own
    // OPT record still advertises what this server accepts.
    responder.limit = request
        .edns
        .as_ref()
        .map_or(512, |e| e.max_payload().max(512));
    let (_, memo) = handler.answer(&request, &mut responder).await;
    if let (Some(memo), Some(sent)) = (memo, &responder.sent) {
        handler.remember(memo, &msg, sent);
    }
}

/// Sends a hickory response on the shared UDP socket, encoded as hickory-server encodes
/// UDP responses (limited to the client's EDNS payload size, or 512 bytes without EDNS;
/// hickory's catalog does the same by echoing the client's size), and keeps the bytes it
/// sent.
#[derive(Clone)]
struct UdpResponder {
    socket: Arc<UdpSocket>,
    dst: SocketAddr,
    /// The client's UDP payload size (at least 512).
    limit: u16,
    sent: Option<Vec<u8>>,
}

#[async_trait::async_trait]
impl ResponseHandler for UdpResponder {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let id = response.metadata().id;
        let mut bytes = Vec::with_capacity(512);
        let mut enc = BinEncoder::new(&mut bytes);
        enc.set_max_size(self.limit);
        let info = match response.destructive_emit(&mut enc) {
            Ok(info) => info,
            Err(e) => {
                warn!(error = %e, "cannot encode a DNS response: SERVFAIL");
                bytes.clear();
                servfail(id, &mut bytes)?
            }
        };
        self.socket.send_to(&bytes, self.dst).await?;
        self.sent = Some(bytes);
        Ok(info)
    }
}

/// What hickory-server sends when a response cannot be encoded.
fn servfail(id: u16, bytes: &mut Vec<u8>) -> Result<ResponseInfo, NetError> {
    let mut metadata = Metadata::new(id, MessageType::Response, OpCode::Query);
    metadata.response_code = ResponseCode::ServFail;
    let header = Header {
        metadata,
        counts: HeaderCounts::default(),
    };
    let mut enc = BinEncoder::new(bytes);
    enc.set_max_size(512);
    header.emit(&mut enc)?;
    Ok(ResponseInfo::from(header))
}

/// hickory-server's rule: never answer port 0, an unspecified or a broadcast address.
fn answerable(src: SocketAddr) -> bool {
    src.port() != 0
        && match src.ip() {
            IpAddr::V4(a) => !a.is_unspecified() && !a.is_broadcast(),
            IpAddr::V6(a) => !a.is_unspecified(),
        }
}

fn unrecoverable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotConnected | io::ErrorKind::ConnectionAborted
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::fast::request_key;

    #[test]
    fn sources_that_cannot_be_answered() {
        for bad in ["0.0.0.0:53", "255.255.255.255:53", "10.0.0.1:0", "[::]:53"] {
            assert!(!answerable(bad.parse().unwrap()), "{bad}");
        }
        assert!(answerable("10.0.0.1:5353".parse().unwrap()));
        assert!(answerable("[fd00::1]:5353".parse().unwrap()));
        let mut k = Vec::new();
        assert!(request_key(&[0; 12], &mut k).is_none(), "no question");
    }
}
