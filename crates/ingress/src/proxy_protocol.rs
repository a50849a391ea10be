//! How a connection arrived: PROXY protocol v2 detection on accepted streams.
//!
//! A load balancer in front of the gateway may prepend a PROXY v2 header. AWS's PrivateLink
//! adds a TLV of type `0xEA` whose value is subtype `0x01` followed by the VPC endpoint id;
//! localcloud's forwarders do the same. A TLS stream starts with `0x16` and a PROXY v2 header
//! with its 12-byte signature, so one peek tells them apart.
//!
//! Only sources in the trusted list may send a header: anyone else could otherwise claim to
//! come through an endpoint. An untrusted header ends the connection.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use ppp::v2;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The PROXY protocol v2 signature.
pub const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// AWS's TLV type for VPC endpoint information.
pub const TLV_TYPE_AWS: u8 = 0xEA;
/// AWS's subtype carrying the VPC endpoint id.
pub const AWS_SUBTYPE_VPCE_ID: u8 = 0x01;
const FIXED_LEN: usize = 16;

/// How a request reached the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Without an endpoint: directly, or through a load balancer that named no endpoint.
    Public { client: SocketAddr },
    /// Through a PrivateLink interface endpoint, named by the load balancer's PROXY header.
    Endpoint {
        endpoint_id: String,
        client: SocketAddr,
    },
}

impl Arrival {
    pub fn client(&self) -> SocketAddr {
        match self {
            Arrival::Public { client } | Arrival::Endpoint { client, .. } => *client,
        }
    }

    pub fn endpoint_id(&self) -> Option<&str> {
        match self {
            Arrival::Endpoint { endpoint_id, .. } => Some(endpoint_id),
            Arrival::Public { .. } => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyHeaderError {
    #[error("PROXY header from untrusted source {0}")]
    Untrusted(SocketAddr),
    #[error("malformed PROXY v2 header: {0}")]
    Malformed(String),
    #[error("timed out waiting for the first bytes")]
    Timeout,
    #[error("reading the PROXY header: {0}")]
    Io(#[from] std::io::Error),
}

/// Build a PROXY v2 header (PROXY, TCP) carrying `endpoint_id` in the AWS TLV.
pub fn encode(
    source: SocketAddr,
    destination: SocketAddr,
    endpoint_id: Option<&str>,
) -> std::io::Result<Vec<u8>> {
    let mut builder = v2::Builder::with_addresses(
        v2::Version::Two | v2::Command::Proxy,
        v2::Protocol::Stream,
        (source, destination),
    );
    if let Some(id) = endpoint_id {
        let mut value = Vec::with_capacity(1 + id.len());
        value.push(AWS_SUBTYPE_VPCE_ID);
        value.extend_from_slice(id.as_bytes());
        builder = builder.write_tlv(TLV_TYPE_AWS, &value)?;
    }
    builder.build()
}

/// Decide how `stream` arrived, consuming a PROXY v2 header if there is one.
pub async fn detect(
    stream: &mut TcpStream,
    peer: SocketAddr,
    trusted: &[IpNet],
    wait: Duration,
) -> Result<Arrival, ProxyHeaderError> {
    let mut head = [0u8; FIXED_LEN];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let n = tokio::time::timeout_at(deadline, stream.peek(&mut head))
            .await
            .map_err(|_| ProxyHeaderError::Timeout)??;
        if n == 0 {
            return Err(ProxyHeaderError::Io(
                std::io::ErrorKind::UnexpectedEof.into(),
            ));
        }
        let sig_len = n.min(SIGNATURE.len());
        if head[..sig_len] != SIGNATURE[..sig_len] {
            return Ok(Arrival::Public { client: peer });
        }
        if n >= FIXED_LEN {
            break;
        }
        // A partial signature: wait for more bytes.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    if !trusted.iter().any(|net| net.contains(&peer.ip())) {
        return Err(ProxyHeaderError::Untrusted(peer));
    }
    let len = u16::from_be_bytes([head[14], head[15]]) as usize;
    let mut buf = vec![0u8; FIXED_LEN + len];
    tokio::time::timeout_at(deadline, stream.read_exact(&mut buf))
        .await
        .map_err(|_| ProxyHeaderError::Timeout)??;
    parse(&buf, peer)
}

/// Parse a whole PROXY v2 header (`buf`: the 16 fixed bytes and the length they announce)
/// from `peer`: what [`detect`] does once it has read them. Public for the fuzz harness.
pub fn parse(buf: &[u8], peer: SocketAddr) -> Result<Arrival, ProxyHeaderError> {
    let header =
        v2::Header::try_from(buf).map_err(|e| ProxyHeaderError::Malformed(e.to_string()))?;
    let client = match header.addresses {
        v2::Addresses::IPv4(a) => SocketAddr::from((a.source_address, a.source_port)),
        v2::Addresses::IPv6(a) => SocketAddr::from((a.source_address, a.source_port)),
        // LOCAL command or unspecified/unix family: the connection is the load balancer's own.
        _ => peer,
    };
    let mut endpoint_id = None;
    for tlv in header.tlvs() {
        let tlv = tlv.map_err(|e| ProxyHeaderError::Malformed(e.to_string()))?;
        if tlv.kind == TLV_TYPE_AWS && tlv.value.first() == Some(&AWS_SUBTYPE_VPCE_ID) {
            let id = std::str::from_utf8(&tlv.value[1..])
                .map_err(|_| ProxyHeaderError::Malformed("endpoint id is not UTF-8".into()))?;
            endpoint_id = Some(id.to_string());
        }
    }
    Ok(match endpoint_id {
        Some(endpoint_id) => Arrival::Endpoint {
            endpoint_id,
            client,
        },
        None => Arrival::Public { client },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn endpoint_id_round_trips_through_the_aws_tlv() {
        let bytes = encode(
            addr("10.0.1.7:50000"),
            addr("10.9.0.10:443"),
            Some("vpce-0a1b2c3d"),
        )
        .unwrap();
        assert_eq!(&bytes[..12], &SIGNATURE);
        // The TLV as AWS lays it out: type 0xEA, length, subtype 0x01, id.
        let id = b"vpce-0a1b2c3d";
        let tlv_pos = bytes
            .windows(2)
            .position(|w| w == [TLV_TYPE_AWS, 0])
            .expect("TLV present");
        assert_eq!(bytes[tlv_pos + 2] as usize, id.len() + 1);
        assert_eq!(bytes[tlv_pos + 3], AWS_SUBTYPE_VPCE_ID);
        assert_eq!(&bytes[tlv_pos + 4..tlv_pos + 4 + id.len()], id);
        let arrival = parse(&bytes, addr("10.9.0.5:1234")).unwrap();
        assert_eq!(
            arrival,
            Arrival::Endpoint {
                endpoint_id: "vpce-0a1b2c3d".into(),
                client: addr("10.0.1.7:50000")
            }
        );
    }

    #[test]
    fn header_without_the_tlv_is_public_with_the_original_client() {
        let bytes = encode(addr("203.0.113.9:4000"), addr("10.9.0.10:443"), None).unwrap();
        let arrival = parse(&bytes, addr("10.9.0.5:1234")).unwrap();
        assert_eq!(
            arrival,
            Arrival::Public {
                client: addr("203.0.113.9:4000")
            }
        );
    }

    #[test]
    fn garbage_after_the_signature_is_malformed() {
        let mut bytes = SIGNATURE.to_vec();
        bytes.extend_from_slice(&[0x99, 0x11, 0, 0]);
        assert!(matches!(
            parse(&bytes, addr("10.0.0.1:1")),
            Err(ProxyHeaderError::Malformed(_))
        ));
    }
}
