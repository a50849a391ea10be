//! Site-to-site VPN with real IKEv2 tunnels (strongSwan charon, userspace ESP over UDP):
//! a customer on-premises site applies the downloaded `swanctl.conf`, both tunnels come
//! `UP`, an instance reaches the site's host through them, killing one tunnel's charon
//! keeps traffic flowing over the other, a restart re-adopts running daemons, a wrong
//! pre-shared key keeps a tunnel `DOWN` with a clear message, and a delete leaves no
//! namespace or process behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Cloud, principal};
use linkplane_localcloud::types::*;
use linkplane_localcloud::{Engine, Error, Principal};

const A: &str = "111111111111";
const LAN: &str = "172.16.5.0/24";

struct Setup {
    subnet: Subnet,
    inst: Instance,
    site: OnpremSite,
    vgw: VpnGateway,
    vpn: VpnConnection,
}

async fn setup(c: &Cloud, p: &Principal, psk1: &str) -> Setup {
    let e = &c.engine;
    let vpc = c.vpc(p, "10.30.0.0/16").await;
    let subnet = c.subnet(p, &vpc, "10.30.1.0/24").await;
    // The instance lets the on-premises LAN in (the site's host pings it back).
    let sg = c
        .engine
        .create_security_group(
            p,
            CreateSecurityGroup {
                vpc_id: vpc.vpc_id.clone(),
                group_name: "onprem".into(),
                description: String::new(),
            },
        )
        .await
        .unwrap();
    c.engine
        .add_security_group_rule(
            p,
            &sg.group_id,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "-1".into(),
                from_port: None,
                to_port: None,
                cidr_ip: Some(LAN.into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
    let inst = c.instance(p, &subnet, &[&sg.group_id]).await;
    let site = e
        .create_onprem_site(
            p,
            CreateOnpremSite {
                name: Some("hq".into()),
                lan_cidr: Some(LAN.into()),
            },
        )
        .await
        .unwrap();
    let cgw = e
        .create_customer_gateway(
            p,
            CreateCustomerGateway {
                ip_address: site.public_ip.clone(),
                bgp_asn: Some(65010),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let vgw = e
        .create_vpn_gateway(p, CreateVpnGateway::default())
        .await
        .unwrap();
    let vgw = e
        .attach_vpn_gateway(
            p,
            &vgw.vpn_gateway_id,
            AttachVpnGateway {
                vpc_id: vpc.vpc_id.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(vgw.vpc_attachments[0].state, "attached");
    let vpn = e
        .create_vpn_connection(
            p,
            CreateVpnConnection {
                customer_gateway_id: cgw.customer_gateway_id.clone(),
                vpn_gateway_id: vgw.vpn_gateway_id.clone(),
                kind: Some("ipsec.1".into()),
                options: VpnConnectionOptionsRequest {
                    static_routes_only: true,
                    tunnel_options: vec![TunnelOptionsRequest {
                        pre_shared_key: Some(psk1.into()),
                        tunnel_inside_cidr: Some("169.254.44.0/30".into()),
                        ..Default::default()
                    }],
                },
            },
        )
        .await
        .unwrap();
    assert_eq!(vpn.state, "available");
    assert_eq!(
        vpn.vgw_telemetry.len(),
        2,
        "a VPN connection has two tunnels"
    );
    let outs: Vec<&str> = vpn
        .vgw_telemetry
        .iter()
        .map(|t| t.outside_ip_address.as_str())
        .collect();
    assert_ne!(outs[0], outs[1], "each tunnel has its own outside IP");
    assert_eq!(
        vpn.options.tunnel_options[0].tunnel_inside_cidr,
        "169.254.44.0/30"
    );
    let vpn = e
        .create_vpn_connection_route(
            p,
            &vpn.vpn_connection_id,
            CreateVpnConnectionRoute {
                destination_cidr_block: LAN.into(),
            },
        )
        .await
        .unwrap();
    e.create_route(
        p,
        &subnet.subnet_id,
        CreateRoute {
            destination_cidr_block: LAN.into(),
            target_id: vgw.vpn_gateway_id.clone(),
        },
    )
    .await
    .unwrap();
    Setup {
        subnet,
        inst,
        site,
        vgw,
        vpn,
    }
}

async fn ping(c: &Cloud, p: &Principal, inst: &Instance, ip: &str) -> bool {
    c.sh(p, inst, &format!("ping -c1 -W1 {ip}")).await.0 == 0
}

async fn telemetry(e: &Engine, p: &Principal, id: &str) -> Vec<VgwTelemetry> {
    e.get_vpn_connection(p, id).await.unwrap().vgw_telemetry
}

/// Wait until tunnel statuses are `want` (tunnel 1, tunnel 2); the telemetry on timeout.
async fn wait_status(e: &Engine, p: &Principal, id: &str, want: [&str; 2]) -> Vec<VgwTelemetry> {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let t = telemetry(e, p, id).await;
        if t[0].status == want[0] && t[1].status == want[1] {
            return t;
        }
        if Instant::now() > deadline {
            dump_logs(e);
            panic!("tunnels never became {want:?}: {t:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every charon's log, for a failure's diagnosis.
fn dump_logs(e: &Engine) {
    let dir = e.data_dir().join("vpn");
    for d in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let log = std::fs::read_to_string(d.path().join("charon.log")).unwrap_or_default();
        eprintln!("==== {}", d.path().display());
        let keep =
            |l: &&str| !l.contains("INFORMATIONAL") && !l.contains("DPD") && !l.contains("[NET]");
        for l in log.lines().filter(keep).take(80) {
            eprintln!("{l}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_ikev2_tunnels_carry_traffic_and_fail_over() {
    let Some(mut c) = Cloud::new("two_ikev2_tunnels_carry_traffic_and_fail_over").await else {
        return;
    };
    let p = principal(A);
    let s = setup(&c, &p, "first.tunnel_key1").await;
    let id = s.vpn.vpn_connection_id.clone();

    // Before the customer side is configured nothing answers, and the telemetry says why.
    let t = telemetry(&c.engine, &p, &id).await;
    assert!(t.iter().all(|t| t.status == "DOWN"), "{t:?}");
    assert!(
        !ping(&c, &p, &s.inst, &s.site.host_ip).await,
        "no tunnel yet, yet the host answered"
    );

    // The customer's engineer downloads the configuration and applies it on the site.
    let conf = c
        .engine
        .vpn_connection_configuration(&p, &id, ConfigFormat::Strongswan)
        .await
        .unwrap();
    assert!(
        conf.contains("first.tunnel_key1"),
        "the download carries the PSK"
    );
    assert!(conf.contains(&s.vpn.vgw_telemetry[1].outside_ip_address));
    let generic = c
        .engine
        .vpn_connection_configuration(&p, &id, ConfigFormat::Generic)
        .await
        .unwrap();
    assert!(
        generic.contains("Inside IP, customer side: 169.254.44.2/30"),
        "{generic}"
    );
    c.engine
        .apply_onprem_vpn_config(&p, &s.site.site_id, ApplyVpnConfig { swanctl_conf: conf })
        .await
        .unwrap();
    let t = wait_status(&c.engine, &p, &id, ["UP", "UP"]).await;
    assert_eq!(t[0].status_message, "IPSEC IS UP");
    assert_eq!(t[0].accepted_route_count, 1);

    // Real packets through the tunnels: instance → on-premises host and back.
    assert!(ping(&c, &p, &s.inst, &s.site.host_ip).await);
    let out = c
        .engine
        .onprem_exec(
            &p,
            &s.site.site_id,
            false,
            &[
                "ping".into(),
                "-c1".into(),
                "-W2".into(),
                s.inst.private_ip_address.clone(),
            ],
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0, "the host reaches the instance back");
    // The packets crossed a TUN device of charon's (userspace ESP), not a kernel shortcut.
    let ns1 = c.engine.vpn_tunnel_namespace(&id, 1);
    let tun = std::process::Command::new("ip")
        .args(["-n", &ns1, "-s", "link", "show", "ipsec0"])
        .output()
        .unwrap();
    assert!(tun.status.success(), "tunnel 1 has charon's TUN device");

    // A restart re-adopts the running daemons: same pids, tunnels stay up, traffic flows.
    let pids = [
        c.engine.vpn_tunnel_charon_pid(&id, 1).unwrap(),
        c.engine.vpn_tunnel_charon_pid(&id, 2).unwrap(),
    ];
    c.reopen().await;
    assert_eq!(
        [
            c.engine.vpn_tunnel_charon_pid(&id, 1).unwrap(),
            c.engine.vpn_tunnel_charon_pid(&id, 2).unwrap(),
        ],
        pids,
        "restart adopts the running charons"
    );
    assert!(ping(&c, &p, &s.inst, &s.site.host_ip).await);

    // Failover: kill tunnel 1's charon; traffic continues over tunnel 2.
    let dead = pids[0];
    let _ = std::process::Command::new("kill")
        .args(["-9", &dead.to_string()])
        .status();
    let killed = Instant::now();
    let mut recovered = None;
    while killed.elapsed() < Duration::from_secs(40) {
        if ping(&c, &p, &s.inst, &s.site.host_ip).await {
            recovered = Some(killed.elapsed());
            break;
        }
    }
    let recovered = recovered.expect("traffic never moved to tunnel 2");
    eprintln!("failover after killing tunnel 1's charon: {recovered:?}");
    let t = wait_status(&c.engine, &p, &id, ["DOWN", "UP"]).await;
    assert_eq!(
        t[0].status_message,
        "the tunnel endpoint's IKE daemon is not running"
    );
    for _ in 0..5 {
        assert!(
            ping(&c, &p, &s.inst, &s.site.host_ip).await,
            "traffic keeps flowing"
        );
    }

    // A restart starts the dead charon again and tunnel 1 comes back.
    c.reopen().await;
    wait_status(&c.engine, &p, &id, ["UP", "UP"]).await;
    assert_ne!(c.engine.vpn_tunnel_charon_pid(&id, 1), Some(dead));

    // Routes that name the gateway refuse its detach; delete leaves nothing behind.
    assert!(matches!(
        c.engine.detach_vpn_gateway(&p, &s.vgw.vpn_gateway_id).await,
        Err(Error::Conflict(_))
    ));
    let ns2 = c.engine.vpn_tunnel_namespace(&id, 2);
    let gone = c.engine.delete_vpn_connection(&p, &id).await.unwrap();
    assert_eq!(gone.state, "deleted");
    for ns in [&ns1, &ns2] {
        assert!(
            !std::path::Path::new(&format!("/run/netns/{ns}")).exists(),
            "{ns} is left"
        );
    }
    assert!(
        c.engine.vpn_tunnel_charon_pid(&id, 1).is_none()
            && c.engine.vpn_tunnel_charon_pid(&id, 2).is_none(),
        "no charon of the connection runs"
    );
    assert!(!ping(&c, &p, &s.inst, &s.site.host_ip).await);
    let _ = s.subnet;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_pre_shared_key_keeps_the_tunnel_down() {
    let Some(c) = Cloud::new("a_wrong_pre_shared_key_keeps_the_tunnel_down").await else {
        return;
    };
    let p = principal(A);
    let s = setup(&c, &p, "right.key_1234").await;
    let id = s.vpn.vpn_connection_id.clone();
    let conf = c
        .engine
        .vpn_connection_configuration(&p, &id, ConfigFormat::Strongswan)
        .await
        .unwrap()
        .replace("right.key_1234", "wrong.key_1234");
    c.engine
        .apply_onprem_vpn_config(&p, &s.site.site_id, ApplyVpnConfig { swanctl_conf: conf })
        .await
        .unwrap();
    wait_status(&c.engine, &p, &id, ["DOWN", "UP"]).await;
    // Give tunnel 1 a few attempts; it stays down, and the message names the key.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let t = telemetry(&c.engine, &p, &id).await;
    assert_eq!(t[0].status, "DOWN");
    assert!(
        t[0].status_message.contains("pre-shared key"),
        "{:?}",
        t[0].status_message
    );
    assert!(
        !t[0].status_message.contains("wrong.key") && !t[0].status_message.contains("right.key"),
        "the key never appears in a status"
    );
    // Tunnel 2 alone carries the traffic.
    assert!(ping(&c, &p, &s.inst, &s.site.host_ip).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn vpn_requests_are_validated_with_aws_rules() {
    let Some(c) = Cloud::new("vpn_requests_are_validated_with_aws_rules").await else {
        return;
    };
    let p = principal(A);
    let e = &c.engine;
    let field = |r: Result<CustomerGateway, Error>| match r {
        Err(Error::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    for asn in [7224, 9059, 10124, 17943, 0] {
        let r = e
            .create_customer_gateway(
                &p,
                CreateCustomerGateway {
                    ip_address: "203.0.113.50".into(),
                    bgp_asn: Some(asn),
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(field(r), "bgpAsn", "ASN {asn}");
    }
    let r = e
        .create_customer_gateway(
            &p,
            CreateCustomerGateway {
                ip_address: "not-an-ip".into(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(field(r), "ipAddress");
    let cgw = e
        .create_customer_gateway(
            &p,
            CreateCustomerGateway {
                ip_address: "203.0.113.50".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cgw.bgp_asn, 65000);
    let vgw = e
        .create_vpn_gateway(&p, CreateVpnGateway::default())
        .await
        .unwrap();
    let req = |o: TunnelOptionsRequest| CreateVpnConnection {
        customer_gateway_id: cgw.customer_gateway_id.clone(),
        vpn_gateway_id: vgw.vpn_gateway_id.clone(),
        kind: None,
        options: VpnConnectionOptionsRequest {
            static_routes_only: true,
            tunnel_options: vec![TunnelOptionsRequest::default(), o],
        },
    };
    let cases: Vec<(TunnelOptionsRequest, &str)> = vec![
        (
            TunnelOptionsRequest {
                pre_shared_key: Some("short".into()),
                ..Default::default()
            },
            "options.tunnelOptions[1].preSharedKey",
        ),
        (
            TunnelOptionsRequest {
                tunnel_inside_cidr: Some("169.254.5.0/30".into()),
                ..Default::default()
            },
            "options.tunnelOptions[1].tunnelInsideCidr",
        ),
        (
            TunnelOptionsRequest {
                phase2_lifetime_seconds: Some(3601),
                ..Default::default()
            },
            "options.tunnelOptions[1].phase2LifetimeSeconds",
        ),
        (
            TunnelOptionsRequest {
                startup_action: Some("later".into()),
                ..Default::default()
            },
            "options.tunnelOptions[1].startupAction",
        ),
    ];
    for (o, want) in cases {
        match e.create_vpn_connection(&p, req(o)).await {
            Err(Error::Invalid { field, .. }) => assert_eq!(field, want),
            other => panic!("{want}: {other:?}"),
        }
    }
    // A gateway that is not attached to a VPC cannot take a connection.
    match e
        .create_vpn_connection(&p, req(TunnelOptionsRequest::default()))
        .await
    {
        Err(Error::Conflict(m)) => assert!(m.contains("not attached"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Another account sees none of it.
    let other = principal("222222222222");
    assert!(matches!(
        e.get_customer_gateway(&other, &cgw.customer_gateway_id)
            .await,
        Err(Error::NotFound { .. })
    ));
}
