//! The plane's listener: TCP connections whose HTTP/1 errors that hyper answers itself
//! (before any router runs) are RFC 9457 problems like every other error.
//!
//! hyper refuses a request it cannot parse with an empty answer of its own: `414 URI Too
//! Long` for a request target over 65,534 bytes, `431 Request Header Fields Too Large` for a
//! head over its buffer, `400 Bad Request` for a malformed request line or header. No router
//! or layer sees those requests, and hyper has no hook for the answer, so the connection's
//! write side recognises hyper's own error head (one of those statuses, `content-length: 0`,
//! no `content-type`: the router's answers always carry one) and sends a problem in its
//! place. hyper closes the connection after such an answer, so nothing follows it.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A [`TcpListener`] for `axum::serve` whose connections are [`ProblemStream`]s.
pub struct ProblemListener {
    inner: TcpListener,
}

impl ProblemListener {
    pub fn new(inner: TcpListener) -> Self {
        Self { inner }
    }
}

impl axum::serve::Listener for ProblemListener {
    type Io = ProblemStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        (ProblemStream::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection that replaces hyper's empty error answers with problems (see the module).
pub struct ProblemStream<T> {
    inner: T,
    /// The problem answer still to be written, and how much of it was.
    pending: Option<(Vec<u8>, usize)>,
}

impl<T> ProblemStream<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

/// The problem to send instead of hyper's answer `head`, if it is one of hyper's own.
fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&head[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.strip_prefix("HTTP/1.1 ")?;
    let (code, field, detail) = match status {
        "414 URI Too Long" => (
            414,
            "path",
            "the request target (path and query) is over 65534 bytes; ids, names and query \
             parameters are far shorter",
        ),
        "431 Request Header Fields Too Large" => (
            431,
            "headers",
            "the request's header section is larger than the server reads; send fewer or \
             smaller headers",
        ),
        "400 Bad Request" => (
            400,
            "request",
            "the request line or a header is not valid HTTP/1.1 (RFC 9112)",
        ),
        _ => return None,
    };
    let mut empty = false;
    for line in lines {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("content-type:") {
            return None;
        }
        empty |= lower == "content-length: 0";
    }
    if !empty {
        return None;
    }
    let (title, kind) = match code {
        414 => ("URI too long", "uri-too-long"),
        431 => ("Request header fields too large", "headers-too-large"),
        _ => ("Malformed request", "bad-request"),
    };
    let body = serde_json::json!({
        "type": format!("urn:linkplane:problem:{kind}"),
        "title": title,
        "status": code,
        "detail": detail,
        "errors": [{"field": field, "message": detail}],
    })
    .to_string();
    Some(
        format!(
            "{status_line}\r\ncontent-type: application/problem+json\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n{body}",
            status_line = head.split("\r\n").next().unwrap_or_default(),
            len = body.len(),
        )
        .into_bytes(),
    )
}

impl<T: AsyncWrite + Unpin> ProblemStream<T> {
    /// Write out the pending problem, if any.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, done)) = &mut self.pending {
            if *done == bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Take `len` bytes of hyper's error answer as written, queueing `problem` instead.
    fn substitute(&mut self, cx: &mut Context<'_>, problem: Vec<u8>, len: usize) -> usize {
        self.pending = Some((problem, 0));
        // Start writing at once; a flush or shutdown (hyper sends both) finishes it.
        if let Poll::Ready(Err(e)) = self.poll_pending(cx) {
            tracing::debug!(error = %e, "writing a problem answer");
        }
        len
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemStream<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemStream<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(problem) = replacement(buf) {
            return Poll::Ready(Ok(self.substitute(cx, problem, buf.len())));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(first) = bufs.iter().find(|b| !b.is_empty())
            && let Some(problem) = replacement(first)
        {
            let len = bufs.iter().map(|b| b.len()).sum();
            return Poll::Ready(Ok(self.substitute(cx, problem, len)));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_own_empty_error_heads_are_replaced() {
        let hyper = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 17:00:00 GMT\r\n\r\n";
        let got = String::from_utf8(replacement(hyper).unwrap()).unwrap();
        assert!(
            got.starts_with(
                "HTTP/1.1 414 URI Too Long\r\ncontent-type: application/problem+json\r\n"
            ),
            "{got}"
        );
        let body: serde_json::Value =
            serde_json::from_str(got.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(body["status"], 414);
        assert_eq!(body["errors"][0]["field"], "path");
        // The router's own answers carry a content type (and a body): left alone.
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement(ours).is_none());
        assert!(replacement(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n").is_none());
        assert!(replacement(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        // A head split over writes is never a prefix match of a whole head.
        assert!(replacement(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n").is_none());
    }
}
