use super::*;
use chrono::TimeZone;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

/// A correctly configured customer side (document 000 followed to the letter).
fn healthy_facts() -> Facts {
    Facts {
        host: "cl0abc.external.linkplane.test".into(),
        public_ips: vec![ip("203.0.113.10")],
        endpoint: Some(EndpointFacts {
            endpoint_id: "vpce-0a1b2c3d".into(),
            state: "available".into(),
            state_since: now() - chrono::Duration::minutes(3),
            private_ips: vec![ip("10.1.1.20"), ip("10.1.2.20")],
            subnet_azs: vec![
                ("subnet-1".into(), "us-east-1a".into()),
                ("subnet-2".into(), "us-east-1b".into()),
            ],
            supported_azs: vec!["us-east-1a".into(), "us-east-1b".into()],
            admits_443_from_instance: true,
            instance_subnet_cidr: "10.1.1.0/24".into(),
            connection_id: Some("vpce0a1b2c3d4e5f6g7h".into()),
            security_group_ids: vec!["sg-0a1b2c3d".into()],
            dns_names: vec!["vpce-0a1b2c3d.vpce.linkplane.test".into()],
            service_name: "com.linkplane.vpce.us-east-1.vpce-svc-0a1b".into(),
        }),
        zone: Some(ZoneFacts {
            zone_name: "external.linkplane.test".into(),
            exists: true,
            zone_id: Some("hz-0a1b2c3d".into()),
            associated_with_instance_vpc: true,
            record_values: vec!["10.1.1.20".into(), "10.1.2.20".into()],
        }),
        agents: vec![AgentFacts {
            name: "agent-1".into(),
            status: "HEALTHY".into(),
        }],
        check_agents: true,
        ids: Ids {
            cluster_id: "cl0abc".into(),
            deployment_id: "dep0abc".into(),
            api_url: "https://cl0abc.external.linkplane.test/dep0abc".into(),
            instance_id: "i-0a1b2c3d".into(),
            vpc_id: "vpc-0a1b2c3d".into(),
            cloud: "linkplane cloud --as arn:aws:iam::111122223333:root".into(),
        },
    }
}

fn healthy_seen() -> Observed {
    Observed {
        dns: DnsSeen::Addresses(vec![ip("10.1.1.20"), ip("10.1.2.20")]),
        tcp: TcpSeen::Connected(ip("10.1.1.20")),
        https: HttpsSeen::Answered {
            status: 404,
            body: "404 page not found".into(),
        },
    }
}

fn failed(report: &Report) -> Vec<(&'static str, Option<Diagnosis>)> {
    report
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| (c.name, c.diagnosis))
        .collect()
}

#[test]
fn the_documents_happy_path_passes_every_check() {
    let r = evaluate(&healthy_facts(), &healthy_seen(), now());
    assert!(r.passed, "{r:#?}");
    let names: Vec<_> = r.checks.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "endpoint-accepted",
            "endpoint-subnet-azs",
            "endpoint-security-group",
            "dns-resolves-to-endpoint",
            "tcp-443",
            "https-404",
            "agents-healthy"
        ]
    );
}

#[test]
fn pending_acceptance_is_named_with_its_age() {
    let mut f = healthy_facts();
    let ep = f.endpoint.as_mut().unwrap();
    ep.state = "pendingAcceptance".into();
    ep.state_since = now() - chrono::Duration::minutes(7);
    let mut seen = healthy_seen();
    seen.tcp = TcpSeen::Refused("connection refused".into());
    seen.https = HttpsSeen::NotTried;
    let r = evaluate(&f, &seen, now());
    assert!(!r.passed);
    let c = r
        .checks
        .iter()
        .find(|c| c.name == "endpoint-accepted")
        .unwrap();
    assert_eq!(c.diagnosis, Some(Diagnosis::EndpointPendingAcceptance));
    assert!(c.detail.contains("(7 min)"), "{}", c.detail);
    assert!(c.fix.as_ref().unwrap().contains("private-link accept"));
    let tcp = r.checks.iter().find(|c| c.name == "tcp-443").unwrap();
    assert_eq!(tcp.diagnosis, Some(Diagnosis::EndpointPendingAcceptance));
}

#[test]
fn public_answer_with_an_unassociated_zone_is_named() {
    let mut f = healthy_facts();
    f.zone.as_mut().unwrap().associated_with_instance_vpc = false;
    let mut seen = healthy_seen();
    seen.dns = DnsSeen::Addresses(vec![ip("203.0.113.10")]);
    let r = evaluate(&f, &seen, now());
    assert_eq!(
        failed(&r),
        [(
            "dns-resolves-to-endpoint",
            Some(Diagnosis::ZoneNotAssociated)
        )]
    );
    let c = &r.checks[3];
    assert!(c.detail.contains("public IP 203.0.113.10"), "{}", c.detail);
}

#[test]
fn a_record_pointing_elsewhere_is_named() {
    let mut f = healthy_facts();
    f.zone.as_mut().unwrap().record_values = vec!["10.1.9.9".into()];
    let mut seen = healthy_seen();
    seen.dns = DnsSeen::Addresses(vec![ip("10.1.9.9")]);
    seen.tcp = TcpSeen::TimedOut;
    seen.https = HttpsSeen::NotTried;
    let r = evaluate(&f, &seen, now());
    let dns = r
        .checks
        .iter()
        .find(|c| c.name == "dns-resolves-to-endpoint")
        .unwrap();
    assert_eq!(dns.diagnosis, Some(Diagnosis::RecordPointsElsewhere));
    assert!(dns.fix.as_ref().unwrap().contains("10.1.1.20"));
}

#[test]
fn a_missing_record_in_an_authoritative_zone_is_nxdomain_and_named() {
    let mut f = healthy_facts();
    f.zone.as_mut().unwrap().record_values.clear();
    let mut seen = healthy_seen();
    seen.dns = DnsSeen::NxDomain;
    let r = evaluate(&f, &seen, now());
    let dns = r
        .checks
        .iter()
        .find(|c| c.name == "dns-resolves-to-endpoint")
        .unwrap();
    assert_eq!(dns.diagnosis, Some(Diagnosis::RecordMissing));
}

#[test]
fn security_group_without_443_is_named_on_the_group_and_the_tcp_check() {
    let mut f = healthy_facts();
    f.endpoint.as_mut().unwrap().admits_443_from_instance = false;
    let mut seen = healthy_seen();
    seen.tcp = TcpSeen::TimedOut;
    seen.https = HttpsSeen::NotTried;
    let r = evaluate(&f, &seen, now());
    assert_eq!(
        failed(&r),
        [
            (
                "endpoint-security-group",
                Some(Diagnosis::SecurityGroupWithout443)
            ),
            ("tcp-443", Some(Diagnosis::SecurityGroupWithout443)),
            ("https-404", None),
        ]
    );
    assert!(r.checks[2].fix.as_ref().unwrap().contains("10.1.1.0/24"));
}

#[test]
fn subnet_in_an_unsupported_az_lists_the_supported_ones() {
    let mut f = healthy_facts();
    f.endpoint.as_mut().unwrap().subnet_azs[1] = ("subnet-2".into(), "us-east-1c".into());
    let r = evaluate(&f, &healthy_seen(), now());
    let c = r
        .checks
        .iter()
        .find(|c| c.name == "endpoint-subnet-azs")
        .unwrap();
    assert_eq!(c.diagnosis, Some(Diagnosis::SubnetAzNotSupported));
    assert!(c.detail.contains("subnet-2 (us-east-1c)"));
    assert!(c.detail.contains("us-east-1a, us-east-1b"));
}

#[test]
fn wrong_status_body_or_certificate_fails_https() {
    let f = healthy_facts();
    let mut seen = healthy_seen();
    seen.https = HttpsSeen::Answered {
        status: 200,
        body: "welcome".into(),
    };
    assert_eq!(failed(&evaluate(&f, &seen, now())), [("https-404", None)]);
    seen.https = HttpsSeen::CertificateRejected("unknown issuer".into());
    assert_eq!(
        failed(&evaluate(&f, &seen, now())),
        [("https-404", Some(Diagnosis::CertificateNotTrusted))]
    );
}

#[test]
fn agents_must_exist_and_be_healthy() {
    let mut f = healthy_facts();
    f.agents[0].status = "UNHEALTHY".into();
    assert_eq!(
        failed(&evaluate(&f, &healthy_seen(), now())),
        [("agents-healthy", Some(Diagnosis::AgentsNotHealthy))]
    );
    f.agents.clear();
    assert_eq!(
        failed(&evaluate(&f, &healthy_seen(), now())),
        [("agents-healthy", Some(Diagnosis::NoAgents))]
    );
    f.check_agents = false;
    assert!(evaluate(&f, &healthy_seen(), now()).passed);
}

#[test]
fn report_serializes_as_up_prints_it() {
    let r = evaluate(&healthy_facts(), &healthy_seen(), now());
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["passed"], true);
    assert_eq!(v["checks"][0]["name"], "endpoint-accepted");
    assert!(v["checks"][0].get("fix").is_none());
}

#[test]
fn json_names_are_the_printed_names() {
    use Diagnosis::*;
    for d in [
        EndpointPendingAcceptance,
        EndpointRejected,
        ZoneNotAssociated,
        ZoneMissing,
        RecordMissing,
        RecordPointsElsewhere,
        SecurityGroupWithout443,
        SubnetAzNotSupported,
        CertificateNotTrusted,
        NoAgents,
        AgentsNotHealthy,
    ] {
        assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
    }
}
