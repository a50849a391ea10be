//! PROXY protocol version 2 headers as AWS PrivateLink sends them (built and parsed with
//! the `ppp` crate).
//!
//! Layout written by [`header`]:
//!
//! ```text
//! 12 bytes  signature  \r\n\r\n\0\r\nQUIT\n
//!  1 byte   0x21       version 2, command PROXY
//!  1 byte   0x11|0x21  TCP over IPv4 | IPv6
//!  2 bytes  length of what follows (big endian)
//!  12 | 36  source address, destination address, source port, destination port
//!  TLV      type 0xEA, length 1+N, value: subtype 0x01 then the endpoint id (ASCII, e.g. vpce-0a1b2c)
//! ```

use std::net::SocketAddr;

use ppp::v2::{Addresses, Builder, Command, Header, IPv4, IPv6, Protocol, Version};

/// TLV type AWS uses for its own information.
pub const PP2_TYPE_AWS: u8 = 0xEA;
/// Subtype of [`PP2_TYPE_AWS`] whose value is the VPC endpoint id.
pub const PP2_SUBTYPE_AWS_VPCE_ID: u8 = 0x01;

#[derive(Debug, thiserror::Error)]
pub enum ProxyHeaderError {
    #[error(
        "PROXY v2 needs source and destination of the same address family, got {src} and {dst}"
    )]
    MixedFamilies { src: SocketAddr, dst: SocketAddr },
    #[error("endpoint id is {0} bytes long; it must be 1..=250 ASCII bytes")]
    EndpointIdLength(usize),
    #[error("cannot encode PROXY v2 header: {0}")]
    Encode(#[from] std::io::Error),
    #[error("not a valid PROXY v2 header: {0}")]
    Parse(String),
}

/// Encode a PROXY v2 header for a TCP connection from `src` (the original client) to
/// `dst` (the address the client connected to), carrying `endpoint_id` in the AWS TLV.
pub fn header(
    src: SocketAddr,
    dst: SocketAddr,
    endpoint_id: &str,
) -> Result<Vec<u8>, ProxyHeaderError> {
    if endpoint_id.is_empty() || endpoint_id.len() > 250 || !endpoint_id.is_ascii() {
        return Err(ProxyHeaderError::EndpointIdLength(endpoint_id.len()));
    }
    let addresses: Addresses = match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            IPv4::new(*s.ip(), *d.ip(), s.port(), d.port()).into()
        }
        (SocketAddr::V6(s), SocketAddr::V6(d)) => {
            IPv6::new(*s.ip(), *d.ip(), s.port(), d.port()).into()
        }
        _ => return Err(ProxyHeaderError::MixedFamilies { src, dst }),
    };
    let mut value = Vec::with_capacity(1 + endpoint_id.len());
    value.push(PP2_SUBTYPE_AWS_VPCE_ID);
    value.extend_from_slice(endpoint_id.as_bytes());
    let bytes = Builder::with_addresses(Version::Two | Command::Proxy, Protocol::Stream, addresses)
        .write_tlv(PP2_TYPE_AWS, &value)?
        .build()?;
    Ok(bytes)
}

/// What a target learns from a PROXY v2 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyInfo {
    pub source: SocketAddr,
    pub destination: SocketAddr,
    /// The VPC endpoint id from TLV 0xEA/0x01, if present.
    pub endpoint_id: Option<String>,
    /// Total header length: the application data starts after this many bytes.
    pub header_len: usize,
}

/// Parse a PROXY v2 header at the start of `buf` (what a target does).
pub fn parse(buf: &[u8]) -> Result<ProxyInfo, ProxyHeaderError> {
    let h = Header::try_from(buf).map_err(|e| ProxyHeaderError::Parse(e.to_string()))?;
    let (source, destination) = match h.addresses {
        Addresses::IPv4(a) => (
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        ),
        Addresses::IPv6(a) => (
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        ),
        other => {
            return Err(ProxyHeaderError::Parse(format!(
                "unsupported address family {other:?}"
            )));
        }
    };
    let mut endpoint_id = None;
    for tlv in h.tlvs() {
        let tlv = tlv.map_err(|e| ProxyHeaderError::Parse(e.to_string()))?;
        if tlv.kind == PP2_TYPE_AWS && tlv.value.first() == Some(&PP2_SUBTYPE_AWS_VPCE_ID) {
            endpoint_id = Some(String::from_utf8_lossy(&tlv.value[1..]).into_owned());
        }
    }
    Ok(ProxyInfo {
        source,
        destination,
        endpoint_id,
        header_len: h.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_round_trips_with_the_endpoint_id_tlv() {
        let src: SocketAddr = "10.1.2.3:40000".parse().unwrap();
        let dst: SocketAddr = "10.9.0.5:443".parse().unwrap();
        let h = header(src, dst, "vpce-0a1b2c3d").unwrap();
        // signature, version/command, TCP over IPv4
        assert_eq!(&h[..12], b"\r\n\r\n\0\r\nQUIT\n");
        assert_eq!(h[12], 0x21);
        assert_eq!(h[13], 0x11);
        // 12 address bytes + TLV (3 + 1 + 13)
        assert_eq!(u16::from_be_bytes([h[14], h[15]]) as usize, 12 + 3 + 1 + 13);
        let tlv = &h[16 + 12..];
        assert_eq!(tlv[0], 0xEA);
        assert_eq!(u16::from_be_bytes([tlv[1], tlv[2]]), 14);
        assert_eq!(tlv[3], 0x01);
        assert_eq!(&tlv[4..], b"vpce-0a1b2c3d");
        let info = parse(&h).unwrap();
        assert_eq!(info.source, src);
        assert_eq!(info.destination, dst);
        assert_eq!(info.endpoint_id.as_deref(), Some("vpce-0a1b2c3d"));
        assert_eq!(info.header_len, h.len());
    }

    #[test]
    fn ipv6_header_round_trips() {
        let src: SocketAddr = "[fd00::1]:5000".parse().unwrap();
        let dst: SocketAddr = "[fd00::2]:80".parse().unwrap();
        let h = header(src, dst, "vpce-1").unwrap();
        assert_eq!(h[13], 0x21);
        let info = parse(&h).unwrap();
        assert_eq!((info.source, info.destination), (src, dst));
        assert_eq!(info.endpoint_id.as_deref(), Some("vpce-1"));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let v4: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let v6: SocketAddr = "[::1]:1".parse().unwrap();
        assert!(matches!(
            header(v4, v6, "vpce-1"),
            Err(ProxyHeaderError::MixedFamilies { .. })
        ));
        assert!(matches!(
            header(v4, v4, ""),
            Err(ProxyHeaderError::EndpointIdLength(0))
        ));
        assert!(header(v4, v4, &"x".repeat(251)).is_err());
        assert!(header(v4, v4, "vpce-é").is_err());
        assert!(parse(b"GET / HTTP/1.1\r\n\r\n").is_err());
        assert!(parse(&[]).is_err());
        let mut h = header(v4, v4, "vpce-1").unwrap();
        h.truncate(20);
        assert!(parse(&h).is_err(), "truncated header must not parse");
    }
}
