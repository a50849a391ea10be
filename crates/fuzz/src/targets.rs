//! The fuzz targets: each takes raw bytes from outside and must never panic.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use linkplane_dataplane::dns::{DnsServerHandle, DnsView, LocalSockets, PrivateZone, ZoneRecord};
use linkplane_model as m;

/// A target: its name, a dictionary of tokens for the mutator, and the function.
pub struct Target {
    pub name: &'static str,
    pub dict: &'static [&'static [u8]],
    pub run: fn(&[u8]),
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "proxy_v2",
        dict: &[
            b"\r\n\r\n\x00\r\nQUIT\n",
            b"\x21\x11",
            b"\x21\x21",
            b"\x20\x00",
            b"\xea",
            b"\x01vpce-",
        ],
        run: proxy_v2,
    },
    Target {
        name: "dns_udp",
        dict: &[
            b"\x00\x00\x29\x04\xd0",
            b"\x03db\x04fuzz\x08internal\x00",
            b"\x00\x01\x00\x01",
            b"\xc0\x0c",
        ],
        run: dns_udp,
    },
    Target {
        name: "bodies",
        dict: &[
            b"\"name\"",
            b"\"cloudProvider\"",
            b"\"AWS\"",
            b"\"LOCAL\"",
            b"\"vpcSubnetRange\"",
            b"\"10.0.0.0/16\"",
            b"\"region\"",
            b"\"us-east-1\"",
            b"null",
            b"true",
            b"[]",
            b"{}",
            b"\"kind\"",
            b"\"PRIVATE_ZONE\"",
            b"\"records\"",
            b"\"targets\"",
            b"\"peerCidr\"",
            b"\"arn:aws:iam::222222222222:root\"",
            b"\"allowedPrincipals\"",
            b"1e309",
            b"-1",
        ],
        run: bodies,
    },
    Target {
        name: "fields",
        dict: &[
            b"/",
            b".",
            b":",
            b"arn:aws:iam::",
            b":root",
            b"vpc-",
            b"tgw-",
            b"rslvr-rr-",
            b"hz-",
            b"10.",
            b"0/16",
            b"us-east-1",
            b"eastus",
            b"vpce-svc-",
            b"https://",
            b"\x00",
        ],
        run: fields,
    },
];

/// The ingress gateway's PROXY v2 parser (after its 16-byte peek and length read).
fn proxy_v2(input: &[u8]) {
    let peer: SocketAddr = ([10, 9, 0, 5], 40000).into();
    let _ = linkplane_ingress::proxy_protocol::parse(input, peer);
}

struct Dns {
    view: DnsView,
    _server: DnsServerHandle,
    _rt: tokio::runtime::Runtime,
}

/// A view with a zone, served once over loopback so its memo holds real answers (plain,
/// with EDNS): what the fast path answers from.
fn dns() -> &'static Dns {
    static DNS: OnceLock<Dns> = OnceLock::new();
    DNS.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let view = DnsView::new(Arc::new(LocalSockets));
        let zone = PrivateZone::new(
            "fuzz.internal",
            vec![
                ZoneRecord::a("db.fuzz.internal", 60, [10, 0, 0, 5].into()).expect("record"),
                ZoneRecord::cname("www.fuzz.internal", 60, "db.fuzz.internal").expect("record"),
            ],
        )
        .expect("zone");
        view.set_zones(vec![zone]).expect("zones");
        let server = rt.block_on(async {
            let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
                .await
                .expect("udp");
            let addr = udp.local_addr().expect("addr");
            let tcp = tokio::net::TcpListener::bind(addr).await.expect("tcp");
            let server = view.serve(udp, tcp);
            let client = tokio::net::UdpSocket::bind("127.0.0.1:0")
                .await
                .expect("client");
            for seed in crate::harness::load_corpus(&corpus_dir("dns_udp")) {
                for _ in 0..2 {
                    let _ = client.send_to(&seed, addr).await;
                    let mut buf = [0u8; 2048];
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_millis(200),
                        client.recv_from(&mut buf),
                    )
                    .await;
                }
            }
            server
        });
        Dns {
            view,
            _server: server,
            _rt: rt,
        }
    })
}

/// The DNS UDP loop's fast path on one datagram, and hickory's parse of it. An answer the
/// memo gives must carry the question's id.
fn dns_udp(input: &[u8]) {
    let d = dns();
    if let Some(answer) = linkplane_dataplane::dns::fuzzing::udp_fast_path(&d.view, input) {
        assert!(
            input.len() >= 2 && answer.len() >= 2,
            "an answer without an id"
        );
        assert_eq!(answer[..2], input[..2], "the memo answered with another id");
    }
    let _ = hickory_proto::op::Message::from_vec(input);
}

fn cluster_spec() -> &'static m::ClusterSpec {
    static SPEC: OnceLock<m::ClusterSpec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let req: m::CreateClusterRequest = serde_json::from_value(serde_json::json!({
            "name": "fuzz", "cloudProvider": "AWS", "type": "DEDICATED",
            "region": "us-east-1", "vpcSubnetRange": "10.0.0.0/16"}))
        .expect("cluster request");
        req.validate().expect("valid cluster")
    })
}

fn ctx() -> m::ClusterContext {
    m::ClusterContext {
        cluster_id: m::ResourceId::parse("cl0000000000000000").expect("id"),
        cluster: cluster_spec().clone(),
        taken: Vec::new(),
        route_targets: Vec::new(),
    }
}

/// A request body as the API reads it: JSON into the model's request type, then its
/// validation. The first byte picks the type.
fn bodies(input: &[u8]) {
    let Some((&which, json)) = input.split_first() else {
        return;
    };
    macro_rules! parse {
        ($t:ty) => {
            serde_json::from_slice::<$t>(json).ok()
        };
    }
    match which % 14 {
        0 => {
            if let Some(r) = parse!(m::CreateClusterRequest) {
                let _ = r.validate();
            }
        }
        1 => {
            if let Some(r) = parse!(m::UpdateClusterRequest) {
                let _ = r.apply(cluster_spec());
            }
        }
        2 => {
            if let Some(r) = parse!(m::CreateDeploymentRequest) {
                let _ = r.validate();
            }
        }
        3 => {
            if let Some(r) = parse!(m::CreateApiTokenRequest) {
                let _ = r.validate();
            }
        }
        4 => {
            if let Some(r) = parse!(m::CreateAgentTokenRequest) {
                let _ = r.validate();
            }
        }
        5 => {
            if let Some(r) = parse!(m::PutPrivateLinkRequest) {
                let _ = r.validate(cluster_spec());
            }
        }
        6 => {
            if let Some(r) = parse!(m::CreateVpcPeeringRequest) {
                let _ = r.validate(&ctx());
            }
        }
        7 => {
            if let Some(r) = parse!(m::CreateRouteRequest) {
                let _ = r.validate(&ctx());
            }
        }
        8 => {
            if let Some(r) = parse!(m::CreateTransitGatewayAttachmentRequest) {
                let _ = r.validate(&ctx());
            }
        }
        9 => {
            if let Some(r) = parse!(m::CreateOutboundEndpointRequest) {
                let _ = r.validate(&ctx());
            }
        }
        10 => {
            if let Some(r) = parse!(m::CreateVpnConnectionRequest) {
                let _ = r.validate(&ctx());
            }
        }
        11 => {
            if let Some(r) = parse!(m::CreateDnsResolutionRequest) {
                let _ = r.validate();
            }
        }
        _ => {
            let _ = parse!(serde_json::Value);
        }
    }
}

/// Every field parser, on the input as text (the first byte picks the parser).
fn fields(input: &[u8]) {
    let Some((&which, rest)) = input.split_first() else {
        return;
    };
    let s = String::from_utf8_lossy(rest);
    let s = s.as_ref();
    match which % 18 {
        0 => drop(m::Cidr::parse(s)),
        1 => drop(m::Cidr::parse(s).and_then(m::Cidr::require_rfc1918)),
        2 => drop(m::PrincipalArn::parse(s)),
        3 => drop(m::AccountId::parse(s)),
        4 => drop(m::VpcId::parse(s)),
        5 => drop(m::ResourceId::parse(s)),
        6 => drop(m::DomainName::parse(s)),
        7 => drop(m::Region::parse(s)),
        8 => drop(m::Region::parse_in(s, m::RegionCloud::Aws)),
        9 => drop(m::TransitGatewayId::parse(s)),
        10 => drop(m::ResolverRuleId::parse(s)),
        11 => drop(m::HostedZoneId::parse(s)),
        12 => drop(m::GatewayIp::parse(s)),
        13 => drop(m::InsideCidr::parse(s)),
        14 => drop(m::HttpUrl::parse(s)),
        15 => drop(m::EndpointServiceName::parse(s)),
        16 => drop(m::Name::parse(s)),
        _ => drop(m::ForwardTarget::parse(s)),
    }
}

/// `crates/fuzz/corpus/<target>`.
pub fn corpus_dir(target: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}
