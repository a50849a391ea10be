//! Every validation rule, failing and passing.

use crate::*;

fn cluster(t: ClusterType, provider: CloudProvider) -> ClusterContext {
    let region = if provider == CloudProvider::Azure {
        "eastus"
    } else {
        "us-east-1"
    };
    ClusterContext {
        cluster_id: ResourceId::generate(ResourceKind::Cluster, [1; 10]),
        cluster: ClusterSpec {
            name: Name::parse("prod").unwrap(),
            cloud_provider: provider,
            cluster_type: t,
            region: Region::parse(region).unwrap(),
            vpc_subnet_range: Cidr::parse("10.0.0.0/16").unwrap(),
            private_only: false,
        },
        taken: vec![],
        route_targets: vec![],
    }
}

fn dedicated() -> ClusterContext {
    cluster(ClusterType::Dedicated, CloudProvider::Aws)
}

fn fields(e: &ValidationErrors) -> Vec<&str> {
    e.0.iter().map(|f| f.field.as_str()).collect()
}

#[test]
fn names_are_1_to_63_chars_without_control_characters() {
    assert!(Name::parse("a").is_ok());
    assert!(Name::parse(&"é".repeat(63)).is_ok());
    assert!(Name::parse("日本語の名前 ✓").is_ok());
    assert!(Name::parse("x'; DROP TABLE resources; --").is_ok());
    assert!(Name::parse("").unwrap_err().contains("empty"));
    assert!(Name::parse(&"a".repeat(64)).unwrap_err().contains("63"));
    assert!(Name::parse("a\u{0}b").unwrap_err().contains("control"));
    assert!(Name::parse("a\nb").unwrap_err().contains("control"));
    assert!(Name::parse("a\u{7f}").unwrap_err().contains("control"));
    assert!(Name::parse(" padded").unwrap_err().contains("whitespace"));
}

#[test]
fn cidrs_parse_canonical_ipv4_only() {
    assert_eq!(
        Cidr::parse("10.1.0.0/16").unwrap().to_string(),
        "10.1.0.0/16"
    );
    assert!(
        Cidr::parse("10.1.0.1/16")
            .unwrap_err()
            .contains("host bits")
    );
    assert!(Cidr::parse("10.1.0.0").is_err());
    assert!(Cidr::parse("10.1.0.0/33").is_err());
    assert!(Cidr::parse("fd00::/8").is_err());
    assert!(Cidr::parse("ten/8").is_err());
    assert!(Cidr::parse("").is_err());
}

#[test]
fn rfc1918_rule() {
    for ok in [
        "10.0.0.0/8",
        "10.5.0.0/16",
        "172.16.0.0/12",
        "172.31.255.0/24",
        "192.168.0.0/16",
    ] {
        assert!(Cidr::parse(ok).unwrap().require_rfc1918().is_ok(), "{ok}");
    }
    for bad in [
        "172.32.0.0/16",
        "8.8.8.0/24",
        "0.0.0.0/0",
        "192.169.0.0/16",
        "10.0.0.0/7",
        "100.64.0.0/16",
    ] {
        let e = Cidr::parse(bad).unwrap().require_rfc1918().unwrap_err();
        assert!(e.contains("RFC 1918"), "{bad}: {e}");
    }
}

#[test]
fn vpc_size_rule_is_16_to_28() {
    assert!(
        Cidr::parse("10.0.0.0/16")
            .unwrap()
            .require_vpc_size()
            .is_ok()
    );
    assert!(
        Cidr::parse("10.0.0.0/28")
            .unwrap()
            .require_vpc_size()
            .is_ok()
    );
    assert!(
        Cidr::parse("10.0.0.0/15")
            .unwrap()
            .require_vpc_size()
            .unwrap_err()
            .contains("/16 and /28")
    );
    assert!(
        Cidr::parse("10.0.0.0/29")
            .unwrap()
            .require_vpc_size()
            .is_err()
    );
}

#[test]
fn account_vpc_tgw_ids() {
    assert!(AccountId::parse("123456789012").is_ok());
    for bad in [
        "12345678901",
        "1234567890123",
        "12345678901a",
        "",
        " 123456789012",
    ] {
        assert!(
            AccountId::parse(bad).unwrap_err().contains("12 digits"),
            "{bad}"
        );
    }
    assert!(VpcId::parse("vpc-0a1b2c3d").is_ok());
    assert!(VpcId::parse("vpc-0a1b2c3d4e5f67890").is_ok());
    for bad in [
        "vpc-0a1b2c3",
        "vpc-0a1b2c3d4e",
        "vpc-0A1B2C3D",
        "vpc-0a1b2c3g",
        "tgw-0a1b2c3d",
        "vpc0a1b2c3d",
    ] {
        assert!(VpcId::parse(bad).unwrap_err().contains("8 or 17"), "{bad}");
    }
    assert!(TransitGatewayId::parse("tgw-0123456789abcdef0").is_ok());
    assert!(TransitGatewayId::parse("tgw-01234567").is_ok());
    assert!(TransitGatewayId::parse("vpc-01234567").is_err());
    assert!(TransitGatewayId::parse("tgw-0123456789abcdef").is_err());
}

#[test]
fn regions_are_known_aws_and_azure_names() {
    assert_eq!(
        Region::parse("us-east-1").unwrap().cloud(),
        RegionCloud::Aws
    );
    assert_eq!(
        Region::parse("westeurope").unwrap().cloud(),
        RegionCloud::Azure
    );
    assert!(Region::parse("us-east-9").unwrap_err().contains("known"));
    assert!(Region::parse("US-EAST-1").is_err());
    assert!(
        Region::parse_in("eastus", RegionCloud::Aws)
            .unwrap_err()
            .contains("AWS")
    );
    assert!(
        Region::parse_in("us-east-1", RegionCloud::Azure)
            .unwrap_err()
            .contains("Azure")
    );
    assert_eq!(
        Region::parse("eu-west-1").unwrap().availability_zones(),
        ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    );
}

#[test]
fn principals() {
    for ok in [
        "arn:aws:iam::123456789012:root",
        "arn:aws:iam::123456789012:role/astronomer-remote-management",
        "arn:aws:iam::123456789012:role/path/to/role",
        "arn:aws:iam::123456789012:user/alice",
    ] {
        assert!(PrincipalArn::parse(ok).is_ok(), "{ok}");
        assert!(AllowedPrincipal::parse_for(ok, RegionCloud::Aws).is_ok());
    }
    for bad in [
        "arn:aws:iam::12345678901:root",
        "arn:aws:iam::123456789012:group/x",
        "arn:aws:iam::123456789012:role/",
        "arn:aws:s3:::bucket",
        "arn:aws:iam::123456789012:role/a b",
        "root",
    ] {
        assert!(PrincipalArn::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        AllowedPrincipal::parse_for("*", RegionCloud::Aws),
        Ok(AllowedPrincipal::Any)
    );
    let guid = "6F1C2A3B-4D5E-4F60-8A9B-0C1D2E3F4A5B";
    assert_eq!(
        AzureSubscriptionId::parse(guid).unwrap().as_str(),
        guid.to_ascii_lowercase()
    );
    assert!(AllowedPrincipal::parse_for(guid, RegionCloud::Azure).is_ok());
    assert!(AllowedPrincipal::parse_for(guid, RegionCloud::Aws).is_err());
    assert!(
        AllowedPrincipal::parse_for("arn:aws:iam::123456789012:root", RegionCloud::Azure).is_err()
    );
    assert!(AzureSubscriptionId::parse("6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5").is_err());
    assert!(AzureSubscriptionId::parse("6f1c2a3b4d5e4f608a9b0c1d2e3f4a5b").is_err());
}

#[test]
fn domain_names_rfc1035() {
    assert_eq!(
        DomainName::parse("Corp.Example.COM.").unwrap().as_str(),
        "corp.example.com"
    );
    assert!(DomainName::parse("a-b.c1").is_ok());
    assert!(DomainName::parse(&format!("{}.com", "a".repeat(63))).is_ok());
    assert!(
        DomainName::parse(&format!("{}.com", "a".repeat(64)))
            .unwrap_err()
            .contains("1–63")
    );
    let long = vec!["abcdefghi"; 26].join(".");
    assert!(long.len() > 253);
    assert!(DomainName::parse(&long).unwrap_err().contains("253"));
    for bad in [
        "",
        ".",
        "a..b",
        "-a.com",
        "a-.com",
        "a_b.com",
        "exa mple.com",
        "ex\u{0}.com",
        "é.com",
    ] {
        assert!(DomainName::parse(bad).is_err(), "{bad:?}");
    }
    let zone = DomainName::parse("external.linkplane.test").unwrap();
    assert!(
        DomainName::parse("cl1.external.linkplane.test")
            .unwrap()
            .is_within(&zone)
    );
    assert!(
        !DomainName::parse("xexternal.linkplane.test")
            .unwrap()
            .is_within(&zone)
    );
}

#[test]
fn asn_rule() {
    assert_eq!(Asn::parse(65000).unwrap().get(), 65000);
    assert!(Asn::parse(1).is_ok());
    assert!(Asn::parse(4_294_967_294).is_ok());
    assert!(Asn::parse(0).unwrap_err().contains("range"));
    assert!(Asn::parse(-1).unwrap_err().contains("range"));
    assert!(Asn::parse(4_294_967_295).unwrap_err().contains("range"));
    for reserved in [7224, 9059, 10124, 17493] {
        assert!(
            Asn::parse(reserved).unwrap_err().contains("reserved"),
            "{reserved}"
        );
    }
}

#[test]
fn psk_rule_and_secrecy() {
    assert!(PreSharedKey::parse("abcdEFGH.123_").is_ok());
    assert!(PreSharedKey::parse(&"a".repeat(64)).is_ok());
    assert!(PreSharedKey::parse("short7c").unwrap_err().contains("8–64"));
    assert!(
        PreSharedKey::parse(&"a".repeat(65))
            .unwrap_err()
            .contains("8–64")
    );
    assert!(
        PreSharedKey::parse("0abcdefgh")
            .unwrap_err()
            .contains("start with 0")
    );
    let e = PreSharedKey::parse("secret-with-dash").unwrap_err();
    assert!(e.contains("only letters"));
    assert!(
        !e.contains("secret-with-dash"),
        "error must not echo the key"
    );
    let k = PreSharedKey::parse("SuperSecret123").unwrap();
    assert!(!format!("{k:?}").contains("SuperSecret123"));
    assert_eq!(k.expose_secret(), "SuperSecret123");
}

#[test]
fn gateway_ips_must_be_public() {
    for ok in ["203.0.113.10", "198.51.100.7", "8.8.8.8", "52.1.2.3"] {
        assert!(GatewayIp::parse(ok).is_ok(), "{ok}");
    }
    for (bad, why) in [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("169.254.1.1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "shared"),
        ("198.18.0.1", "benchmarking"),
        ("::1", "IPv4"),
        ("not-an-ip", "IPv4"),
    ] {
        let e = GatewayIp::parse(bad).unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
}

#[test]
fn inside_cidr_rule() {
    assert!(InsideCidr::parse("169.254.10.0/30").is_ok());
    assert!(InsideCidr::parse("169.254.6.0/30").is_ok());
    assert!(
        InsideCidr::parse("169.254.10.0/29")
            .unwrap_err()
            .contains("/30")
    );
    assert!(
        InsideCidr::parse("10.0.0.0/30")
            .unwrap_err()
            .contains("169.254.0.0/16")
    );
    for reserved in [
        "169.254.0.0/30",
        "169.254.1.0/30",
        "169.254.2.0/30",
        "169.254.3.0/30",
        "169.254.4.0/30",
        "169.254.5.0/30",
        "169.254.169.252/30",
    ] {
        assert!(
            InsideCidr::parse(reserved)
                .unwrap_err()
                .contains("reserved"),
            "{reserved}"
        );
    }
    assert!(InsideCidr::parse("169.254.5.4/30").is_ok());
}

#[test]
fn forward_targets() {
    assert_eq!(ForwardTarget::parse("10.0.0.2").unwrap().port, 53);
    assert_eq!(ForwardTarget::parse("10.0.0.2:5353").unwrap().port, 5353);
    assert_eq!(
        ForwardTarget::parse("[fd00::2]:53").unwrap().to_string(),
        "[fd00::2]:53"
    );
    assert!(ForwardTarget::parse("fd00::2").is_ok());
    for bad in [
        "10.0.0.2:0",
        "10.0.0.2:70000",
        "dns.example.com",
        "10.0.0.256",
        "",
    ] {
        assert!(ForwardTarget::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn http_urls() {
    assert!(HttpUrl::parse("http://10.40.0.10:8080").is_ok());
    assert!(HttpUrl::parse("https://airflow.example.com/api").is_ok());
    assert!(HttpUrl::parse("ftp://x").is_err());
    assert!(HttpUrl::parse("http://").is_err());
    assert!(HttpUrl::parse("http://a b").is_err());
}

#[test]
fn create_cluster_validates_every_field_at_once() {
    let mut req = CreateClusterRequest {
        name: "prod".into(),
        cloud_provider: CloudProvider::Aws,
        cluster_type: ClusterType::Dedicated,
        region: "us-east-1".into(),
        vpc_subnet_range: "10.0.0.0/16".into(),
        private_only: false,
    };
    let spec = req.validate().unwrap();
    assert_eq!(spec.vpc_subnet_range.to_string(), "10.0.0.0/16");
    req.name = String::new();
    req.region = "eastus".into();
    req.vpc_subnet_range = "8.8.0.0/16".into();
    let e = req.validate().unwrap_err();
    assert_eq!(fields(&e), ["name", "region", "vpcSubnetRange"]);
    req = CreateClusterRequest {
        cloud_provider: CloudProvider::Azure,
        region: "eastus".into(),
        name: "az".into(),
        vpc_subnet_range: "192.168.0.0/12".into(),
        ..req
    };
    assert_eq!(fields(&req.validate().unwrap_err()), ["vpcSubnetRange"]);
    req.vpc_subnet_range = "192.168.0.0/24".into();
    assert!(req.validate().is_ok());
}

#[test]
fn local_and_aws_clusters_need_a_slash_26_for_their_four_subnets() {
    for (cloud, region, word) in [
        (CloudProvider::Local, "us-east-1", "LOCAL"),
        (CloudProvider::Aws, "us-east-1", "AWS"),
    ] {
        let mut req = CreateClusterRequest {
            name: "small".into(),
            cloud_provider: cloud,
            cluster_type: ClusterType::Dedicated,
            region: region.into(),
            vpc_subnet_range: "10.0.0.0/26".into(),
            private_only: false,
        };
        assert!(req.validate().is_ok(), "{word} /26");
        for small in ["10.0.0.0/27", "10.0.0.0/28"] {
            req.vpc_subnet_range = small.into();
            let e = req.validate().unwrap_err();
            assert_eq!(fields(&e), ["vpcSubnetRange"]);
            assert_eq!(
                e.0[0].message,
                format!(
                    "{small} is too small: a {word} cluster needs at least a /26 (two private and \
                     two public /28 subnets in two availability zones)"
                )
            );
        }
    }
    // Azure's layout is not localcloud's: a /28 stays valid there.
    let req = CreateClusterRequest {
        name: "az".into(),
        cloud_provider: CloudProvider::Azure,
        cluster_type: ClusterType::Dedicated,
        region: "eastus".into(),
        vpc_subnet_range: "10.0.0.0/28".into(),
        private_only: false,
    };
    assert!(req.validate().is_ok());
}

#[test]
fn cluster_json_rejects_unknown_fields_and_wrong_enums() {
    let e = serde_json::from_str::<CreateClusterRequest>(
        r#"{"name":"a","cloudProvider":"AWS","type":"STANDARD","region":"us-east-1","vpcSubnetRange":"10.0.0.0/16","colour":"red"}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("colour"));
    let e = serde_json::from_str::<CreateClusterRequest>(
        r#"{"name":"a","cloudProvider":"GCP","type":"STANDARD","region":"us-east-1","vpcSubnetRange":"10.0.0.0/16"}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("GCP"));
}

#[test]
fn update_cluster_keeps_fixed_fields() {
    let ctx = dedicated();
    let upd = UpdateClusterRequest {
        name: Some("renamed".into()),
        private_only: Some(true),
    };
    let s = upd.apply(&ctx.cluster).unwrap();
    assert_eq!(s.name.as_str(), "renamed");
    assert!(s.private_only);
    assert_eq!(s.vpc_subnet_range, ctx.cluster.vpc_subnet_range);
    let bad = UpdateClusterRequest {
        name: Some("\u{7}".into()),
        private_only: None,
    };
    assert_eq!(fields(&bad.apply(&ctx.cluster).unwrap_err()), ["name"]);
}

fn peering(cidr: &str) -> CreateVpcPeeringRequest {
    CreateVpcPeeringRequest {
        name: "analytics".into(),
        peer_account_id: "123456789012".into(),
        peer_vpc_id: "vpc-0a1b2c3d".into(),
        peer_region: "us-east-1".into(),
        peer_cidr: cidr.into(),
    }
}

#[test]
fn peering_only_on_dedicated_clusters() {
    // "This connection option is only available for dedicated Astro Hosted clusters"
    let std = cluster(ClusterType::Standard, CloudProvider::Aws);
    let e = peering("10.1.0.0/16").validate(&std).unwrap_err();
    assert_eq!(fields(&e), ["clusterId"]);
    assert!(
        e.0[0]
            .message
            .contains("only available for dedicated clusters")
    );
    assert!(peering("10.1.0.0/16").validate(&dedicated()).is_ok());
    let az = cluster(ClusterType::Dedicated, CloudProvider::Azure);
    assert!(
        peering("10.1.0.0/16").validate(&az).unwrap_err().0[0]
            .message
            .contains("AWS")
    );
}

#[test]
fn peering_fields_and_cidr_rules() {
    // "A CIDR block for your external VPC in the RFC 1918 range"
    let ctx = dedicated();
    let e = peering("8.8.0.0/16").validate(&ctx).unwrap_err();
    assert_eq!(fields(&e), ["peerCidr"]);
    let e = peering("10.0.128.0/20").validate(&ctx).unwrap_err();
    assert!(e.0[0].message.contains("overlaps the cluster's VPC range"));
    let mut ctx2 = dedicated();
    ctx2.taken.push(TakenCidr {
        owner: ResourceId::generate(ResourceKind::VpcPeeringConnection, [2; 10]),
        cidr: Cidr::parse("10.1.0.0/16").unwrap(),
    });
    let e = peering("10.1.4.0/24").validate(&ctx2).unwrap_err();
    assert!(e.0[0].message.contains("of connection pcx"));
    assert!(peering("10.2.0.0/16").validate(&ctx2).is_ok());
    let mut bad = peering("10.2.0.0/16");
    bad.peer_account_id = "1".into();
    bad.peer_vpc_id = "vpc-x".into();
    bad.peer_region = "eastus".into();
    bad.name = "a\tb".into();
    assert_eq!(
        fields(&bad.validate(&ctx).unwrap_err()),
        ["name", "peerAccountId", "peerVpcId", "peerRegion"]
    );
}

#[test]
fn routes_need_an_existing_target_of_the_cluster() {
    let mut ctx = dedicated();
    let target = ResourceId::generate(ResourceKind::VpcPeeringConnection, [3; 10]);
    let req = CreateRouteRequest {
        name: "extra".into(),
        destination_cidr: "10.9.1.0/24".into(),
        target_id: target.to_string(),
    };
    let e = req.validate(&ctx).unwrap_err();
    assert_eq!(fields(&e), ["targetId"]);
    ctx.route_targets.push(target.clone());
    assert_eq!(req.validate(&ctx).unwrap().target_id, target);
    let overlapping = CreateRouteRequest {
        destination_cidr: "10.0.1.0/24".into(),
        ..req.clone()
    };
    assert_eq!(
        fields(&overlapping.validate(&ctx).unwrap_err()),
        ["destinationCidr"]
    );
    let malformed = CreateRouteRequest {
        destination_cidr: "10.0.1.0/99".into(),
        target_id: "Not An Id".into(),
        ..req
    };
    assert_eq!(
        fields(&malformed.validate(&ctx).unwrap_err()),
        ["destinationCidr", "targetId"]
    );
}

#[test]
fn transit_gateway_rules() {
    let req = CreateTransitGatewayAttachmentRequest {
        name: "corp".into(),
        transit_gateway_id: "tgw-0123456789abcdef0".into(),
        peer_account_id: "123456789012".into(),
        cidrs: vec!["172.20.0.0/16".into(), "192.168.10.0/24".into()],
    };
    assert!(req.validate(&dedicated()).is_ok());
    let std = cluster(ClusterType::Standard, CloudProvider::Local);
    assert!(
        req.validate(&std).unwrap_err().0[0]
            .message
            .contains("only available for dedicated")
    );
    let bad = CreateTransitGatewayAttachmentRequest {
        transit_gateway_id: "tgw-1".into(),
        cidrs: vec![
            "172.20.0.0/16".into(),
            "172.20.1.0/24".into(),
            "10.0.0.0/24".into(),
        ],
        ..req.clone()
    };
    assert_eq!(
        fields(&bad.validate(&dedicated()).unwrap_err()),
        ["transitGatewayId", "cidrs[1]", "cidrs[2]"]
    );
    let empty = CreateTransitGatewayAttachmentRequest {
        cidrs: vec![],
        ..req
    };
    assert_eq!(
        fields(&empty.validate(&dedicated()).unwrap_err()),
        ["cidrs"]
    );
}

fn vpn() -> CreateVpnConnectionRequest {
    CreateVpnConnectionRequest {
        name: "onprem".into(),
        gateway_ips: vec!["203.0.113.10".into(), "203.0.113.11".into()],
        pre_shared_key: "Abcdefgh123".into(),
        bgp_asn: Some(65000),
        static_prefixes: None,
        inside_cidr: Some("169.254.10.0/30".into()),
    }
}

#[test]
fn vpn_rules() {
    let ctx = dedicated();
    let (spec, psk) = vpn().validate(&ctx).unwrap();
    assert_eq!(spec.bgp_asn.unwrap().get(), 65000);
    assert_eq!(psk.expose_secret(), "Abcdefgh123");
    let json = serde_json::to_string(&spec).unwrap();
    assert!(
        !json.contains("Abcdefgh123"),
        "spec JSON must not carry the PSK"
    );
    let std = cluster(ClusterType::Standard, CloudProvider::Aws);
    assert!(
        vpn().validate(&std).unwrap_err().0[0]
            .message
            .contains("only available for dedicated")
    );

    let mut r = vpn();
    r.gateway_ips = vec![];
    assert_eq!(fields(&r.validate(&ctx).unwrap_err()), ["gatewayIps"]);
    r.gateway_ips = vec!["1.1.1.1".into(), "1.1.1.2".into(), "1.1.1.3".into()];
    assert_eq!(fields(&r.validate(&ctx).unwrap_err()), ["gatewayIps"]);
    r.gateway_ips = vec!["1.1.1.1".into(), "1.1.1.1".into()];
    assert_eq!(fields(&r.validate(&ctx).unwrap_err()), ["gatewayIps[1]"]);
    r.gateway_ips = vec!["10.0.0.1".into()];
    assert_eq!(fields(&r.validate(&ctx).unwrap_err()), ["gatewayIps[0]"]);

    let mut r = vpn();
    r.static_prefixes = Some(vec!["172.30.0.0/16".into()]);
    assert_eq!(fields(&r.validate(&ctx).unwrap_err()), ["staticPrefixes"]);
    r.bgp_asn = None;
    let (spec, _) = r.validate(&ctx).unwrap();
    assert_eq!(spec.static_prefixes.len(), 1);
    r.static_prefixes = Some(vec![]);
    assert_eq!(fields(&r.validate(&ctx).unwrap_err()), ["staticPrefixes"]);
    r.static_prefixes = Some(vec!["10.0.5.0/24".into()]);
    assert_eq!(
        fields(&r.validate(&ctx).unwrap_err()),
        ["staticPrefixes[0]"]
    );
    r.static_prefixes = None;
    assert_eq!(fields(&r.validate(&ctx).unwrap_err()), ["bgpAsn"]);

    let mut r = vpn();
    r.bgp_asn = Some(7224);
    r.pre_shared_key = "0badkey123".into();
    r.inside_cidr = Some("169.254.169.252/30".into());
    assert_eq!(
        fields(&r.validate(&ctx).unwrap_err()),
        ["preSharedKey", "bgpAsn", "insideCidr"]
    );
    r.inside_cidr = None;
    r.bgp_asn = Some(64512);
    r.pre_shared_key = "GoodKey_1.".into();
    assert!(r.validate(&ctx).unwrap().0.inside_cidr.is_none());
}

#[test]
fn outbound_endpoints() {
    // "All Astro clusters are pre-configured with the following AWS PrivateLink endpoint
    // services: Amazon S3 - Gateway Endpoint ... AWS STS - Interface Endpoint"
    let pre = preconfigured_outbound_endpoints(&Region::parse("us-east-1").unwrap());
    let names: Vec<&str> = pre.iter().map(|e| e.service_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "com.amazonaws.us-east-1.s3",
            "com.amazonaws.us-east-1.autoscaling",
            "com.amazonaws.us-east-1.ecr.api",
            "com.amazonaws.us-east-1.ecr.dkr",
            "com.amazonaws.us-east-1.elasticloadbalancing",
            "com.amazonaws.us-east-1.sts",
        ]
    );
    assert_eq!(pre[0].endpoint_type, OutboundEndpointType::Gateway);
    assert!(
        pre[1..]
            .iter()
            .all(|e| e.endpoint_type == OutboundEndpointType::Interface)
    );
    assert!(pre.iter().all(|e| e.preconfigured));

    let req = CreateOutboundEndpointRequest {
        name: "snowflake".into(),
        service_name: "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0".into(),
        endpoint_type: None,
        private_dns_enabled: None,
        dns_name: Some("account.privatelink.snowflakecomputing.com".into()),
    };
    let spec = req.validate(&dedicated()).unwrap();
    assert_eq!(spec.endpoint_type, OutboundEndpointType::Interface);
    assert!(spec.private_dns_enabled && !spec.preconfigured);
    let std = cluster(ClusterType::Standard, CloudProvider::Aws);
    assert!(
        req.validate(&std).unwrap_err().0[0]
            .message
            .contains("only available for dedicated")
    );
    let other_region = CreateOutboundEndpointRequest {
        service_name: "com.amazonaws.eu-west-1.sqs".into(),
        ..req.clone()
    };
    assert!(
        other_region.validate(&dedicated()).unwrap_err().0[0]
            .message
            .contains("inter-Region")
    );
    let bad = CreateOutboundEndpointRequest {
        service_name: "com.example.sqs".into(),
        endpoint_type: Some(OutboundEndpointType::Gateway),
        private_dns_enabled: Some(true),
        dns_name: Some("bad..name".into()),
        ..req
    };
    assert_eq!(
        fields(&bad.validate(&dedicated()).unwrap_err()),
        ["serviceName", "dnsName", "privateDnsEnabled"]
    );
}

#[test]
fn private_link_principals_follow_the_cloud() {
    let aws = dedicated();
    let req = PutPrivateLinkRequest {
        allowed_principals: vec!["arn:aws:iam::123456789012:root".into(), "*".into()],
        regions: vec!["us-west-2".into()],
        auto_accept: false,
    };
    let spec = req.validate(&aws.cluster).unwrap();
    assert_eq!(spec.allowed_principals[1], AllowedPrincipal::Any);
    let az = cluster(ClusterType::Standard, CloudProvider::Azure);
    let e = req.validate(&az.cluster).unwrap_err();
    assert_eq!(fields(&e), ["allowedPrincipals[0]", "regions[0]"]);
    let azreq = PutPrivateLinkRequest {
        allowed_principals: vec!["6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b".into()],
        regions: vec![],
        auto_accept: true,
    };
    assert!(azreq.validate(&az.cluster).is_ok());
    let dup = PutPrivateLinkRequest {
        allowed_principals: vec!["*".into(), "*".into()],
        regions: vec![],
        auto_accept: false,
    };
    assert_eq!(
        fields(&dup.validate(&aws.cluster).unwrap_err()),
        ["allowedPrincipals[1]"]
    );
    let empty = PutPrivateLinkRequest {
        allowed_principals: vec![],
        regions: vec![],
        auto_accept: false,
    };
    assert_eq!(
        fields(&empty.validate(&aws.cluster).unwrap_err()),
        ["allowedPrincipals"]
    );
    let id = aws.cluster_id.clone();
    let base = DomainName::parse("linkplane.test").unwrap();
    assert_eq!(
        private_link_service_name(&id, &aws.cluster, &base),
        format!("com.linkplane.vpce.us-east-1.{id}")
    );
    assert_eq!(
        cluster_host_name(&id, &base),
        format!("{id}.external.linkplane.test")
    );
}

fn dns(kind: DnsResolutionKind) -> CreateDnsResolutionRequest {
    CreateDnsResolutionRequest {
        name: "corp".into(),
        kind,
        domain: "corp.example.com".into(),
        targets: vec![],
        records: vec![],
        resolver_rule_id: None,
        hosted_zone_id: None,
    }
}

fn record(name: &str, t: RecordType, value: &str) -> DnsRecordRequest {
    DnsRecordRequest {
        name: name.into(),
        record_type: t,
        value: value.into(),
        ttl: None,
    }
}

#[test]
fn dns_forwarding_rules() {
    let mut r = dns(DnsResolutionKind::Forwarding);
    assert_eq!(fields(&r.validate().unwrap_err()), ["targets"]);
    r.targets = vec!["10.20.0.2".into(), "10.20.0.3:5353".into()];
    assert_eq!(r.validate().unwrap().targets[1].port, 5353);
    r.targets.push("resolver.corp".into());
    assert_eq!(fields(&r.validate().unwrap_err()), ["targets[2]"]);
    r.targets = vec!["10.20.0.2".into()];
    r.records = vec![record("db", RecordType::A, "10.1.1.1")];
    r.resolver_rule_id = Some("rslvr-rr-0123456789abcdef0".into());
    assert_eq!(
        fields(&r.validate().unwrap_err()),
        ["records", "resolverRuleId"]
    );
}

#[test]
fn dns_resolver_rule_rules() {
    let mut r = dns(DnsResolutionKind::ResolverRule);
    assert_eq!(fields(&r.validate().unwrap_err()), ["resolverRuleId"]);
    r.resolver_rule_id = Some("rslvr-rr-0123456789abcdef0".into());
    assert!(r.validate().is_ok());
    r.resolver_rule_id = Some("rslvr-rr-xyz".into());
    assert_eq!(fields(&r.validate().unwrap_err()), ["resolverRuleId"]);
    // localcloud's rule ids have 8 hex digits.
    r.resolver_rule_id = Some("rslvr-rr-0123abcd".into());
    assert!(r.validate().is_ok());
}

#[test]
fn dns_hosted_zone_association_rules() {
    // "If your external VPC resolves DNS hostnames using private hosted zones, then you must
    // associate your Route53 private hosted zone with the Astro VPC."
    let mut r = dns(DnsResolutionKind::HostedZoneAssociation);
    let e = r.validate().unwrap_err();
    assert_eq!(fields(&e), ["hostedZoneId"]);
    assert!(e.0[0].message.contains("private hosted zone"), "{e:?}");
    for ok in ["Z0123456789ABCDEFGHIJ", "Z1", "hz-0123abcd"] {
        r.hosted_zone_id = Some(ok.into());
        let spec = r.validate().unwrap();
        assert_eq!(spec.hosted_zone_id.unwrap().as_str(), ok);
    }
    for bad in [
        "z0123",
        "Z",
        "Zabc",
        "hz-0123ABCD",
        "hz-0123abc",
        "hz-0123abcde",
        "",
    ] {
        r.hosted_zone_id = Some(bad.into());
        assert_eq!(
            fields(&r.validate().unwrap_err()),
            ["hostedZoneId"],
            "{bad}"
        );
    }
    r.hosted_zone_id = Some("hz-0123abcd".into());
    r.targets = vec!["10.0.0.2".into()];
    r.records = vec![record("db", RecordType::A, "10.1.1.1")];
    assert_eq!(fields(&r.validate().unwrap_err()), ["targets", "records"]);
    // Only this kind takes a hosted zone id.
    let mut f = dns(DnsResolutionKind::Forwarding);
    f.targets = vec!["10.0.0.2".into()];
    f.hosted_zone_id = Some("hz-0123abcd".into());
    assert_eq!(fields(&f.validate().unwrap_err()), ["hostedZoneId"]);
}

#[test]
fn dns_private_zone_records() {
    let mut r = dns(DnsResolutionKind::PrivateZone);
    assert_eq!(fields(&r.validate().unwrap_err()), ["records"]);
    r.records = vec![
        record("db", RecordType::A, "10.1.1.1"),
        record("@", RecordType::AAAA, "fd00::1"),
        record("www", RecordType::CNAME, "db.corp.example.com"),
    ];
    let spec = r.validate().unwrap();
    assert_eq!(spec.records[0].ttl, 300);
    r.records = vec![
        record("db", RecordType::A, "fd00::1"),
        record("db6", RecordType::AAAA, "10.1.1.1"),
        record("@", RecordType::CNAME, "x.example.com"),
        record("bad name", RecordType::A, "10.0.0.1"),
        record("c", RecordType::CNAME, "1.2.3.4 5"),
    ];
    assert_eq!(
        fields(&r.validate().unwrap_err()),
        [
            "records[0].value",
            "records[1].value",
            "records[2].name",
            "records[3].name",
            "records[4].value"
        ]
    );
    r.records = vec![
        record("www", RecordType::CNAME, "db.corp.example.com"),
        record("www", RecordType::A, "10.0.0.1"),
    ];
    assert_eq!(fields(&r.validate().unwrap_err()), ["records[0].name"]);
    r.records = vec![record("db", RecordType::A, "10.0.0.1")];
    r.targets = vec!["10.0.0.2".into()];
    r.domain = "-bad".into();
    assert_eq!(fields(&r.validate().unwrap_err()), ["domain", "targets"]);
}

#[test]
fn deployments() {
    let cl = ResourceId::generate(ResourceKind::Cluster, [9; 10]);
    let mut req = CreateDeploymentRequest {
        name: "etl".into(),
        cluster_id: cl.to_string(),
        remote_execution: Some(RemoteExecutionRequest {
            enabled: true,
            allowed_ip_address_ranges: vec!["203.0.113.0/24".into()],
        }),
        airflow_api_url: Some("http://10.40.0.10:8080".into()),
    };
    let spec = req.validate().unwrap();
    assert!(spec.remote_execution.enabled);
    req.cluster_id = "dep1".into();
    req.airflow_api_url = Some("gopher://x".into());
    req.remote_execution = Some(RemoteExecutionRequest {
        enabled: true,
        allowed_ip_address_ranges: vec!["203.0.113.1/24".into()],
    });
    assert_eq!(
        fields(&req.validate().unwrap_err()),
        [
            "clusterId",
            "remoteExecution.allowedIpAddressRanges[0]",
            "airflowApiUrl"
        ]
    );
    let upd: UpdateDeploymentRequest = serde_json::from_str(r#"{"airflowApiUrl":null}"#).unwrap();
    assert_eq!(upd.apply(&spec).unwrap().airflow_api_url, None);
    let keep: UpdateDeploymentRequest = serde_json::from_str(r#"{"name":"etl2"}"#).unwrap();
    let kept = keep.apply(&spec).unwrap();
    assert_eq!(kept.airflow_api_url, spec.airflow_api_url);
    assert_eq!(kept.name.as_str(), "etl2");
    let base = DomainName::parse("linkplane.test").unwrap();
    let dep = ResourceId::generate(ResourceKind::Deployment, [4; 10]);
    assert_eq!(
        deployment_api_url(&cl, &dep, &base),
        format!("https://{cl}.external.linkplane.test/{dep}")
    );
}

#[test]
fn tokens_requests() {
    let r: CreateApiTokenRequest =
        serde_json::from_str(r#"{"name":"ci","role":"ORGANIZATION_MEMBER"}"#).unwrap();
    assert_eq!(r.validate().unwrap().1, Role::OrganizationMember);
    assert!(
        serde_json::from_str::<CreateApiTokenRequest>(r#"{"name":"ci","role":"ADMIN"}"#).is_err()
    );
    let a = CreateAgentTokenRequest {
        name: String::new(),
    };
    assert_eq!(fields(&a.validate().unwrap_err()), ["name"]);
}

#[test]
fn typed_fields_round_trip_through_json() {
    let ctx = dedicated();
    let v = serde_json::to_value(&ctx.cluster).unwrap();
    assert_eq!(v["type"], "DEDICATED");
    assert_eq!(v["cloudProvider"], "AWS");
    assert_eq!(v["vpcSubnetRange"], "10.0.0.0/16");
    let back: ClusterSpec = serde_json::from_value(v).unwrap();
    assert_eq!(back, ctx.cluster);
    // Stored data that breaks a rule does not deserialize into a spec.
    let mut bad = serde_json::to_value(&ctx.cluster).unwrap();
    bad["vpcSubnetRange"] = "10.0.0.1/16".into();
    assert!(serde_json::from_value::<ClusterSpec>(bad).is_err());
    let asn: Asn = serde_json::from_str("65000").unwrap();
    assert_eq!(serde_json::to_string(&asn).unwrap(), "65000");
    assert!(serde_json::from_str::<Asn>("7224").is_err());
}

#[test]
fn a_vpn_request_never_prints_its_pre_shared_key() {
    let req: CreateVpnConnectionRequest = serde_json::from_value(serde_json::json!({
        "name": "v", "gatewayIps": ["203.0.113.10"], "preSharedKey": "TopSecret_42",
        "staticPrefixes": ["172.30.0.0/16"]
    }))
    .unwrap();
    let printed = format!("{req:?} {req:#?}");
    assert!(!printed.contains("TopSecret_42"), "{printed}");
    assert!(printed.contains("<redacted>"), "{printed}");
}
