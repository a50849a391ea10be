//! Restart re-adoption (even after losing namespaces, as after kill -9 or a reboot), orphan
//! removal, and gc leaving nothing behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Cloud, principal};
use linkplane_localcloud::Principal;
use linkplane_localcloud::types::*;

fn ns_exists(name: &str) -> bool {
    std::path::Path::new("/run/netns").join(name).exists()
}

fn ip_netns(args: &[&str]) {
    ip_ok(&[&["netns"], args].concat());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_readopts_and_rebuilds() {
    let Some(mut c) = Cloud::new("restart_readopts_and_rebuilds").await else {
        return;
    };
    let p = principal("111111111111");
    let va = c.vpc(&p, "10.61.0.0/16").await;
    let vb = c.vpc(&p, "10.62.0.0/16").await;
    let sa = c.subnet(&p, &va, "10.61.1.0/24").await;
    let sb = c.subnet(&p, &vb, "10.62.1.0/24").await;
    let a = c.instance(&p, &sa, &[]).await;
    let b = c.instance(&p, &sa, &[]).await;
    let open = c
        .engine
        .create_security_group(
            &p,
            CreateSecurityGroup {
                vpc_id: vb.vpc_id.clone(),
                group_name: "open".into(),
                description: String::new(),
            },
        )
        .await
        .unwrap();
    c.engine
        .add_security_group_rule(
            &p,
            &open.group_id,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(7000),
                cidr_ip: Some("10.61.0.0/16".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let d = c.instance(&p, &sb, &[&open.group_id]).await;
    let pcx = c
        .engine
        .create_peering(
            &p,
            CreatePeering {
                vpc_id: va.vpc_id.clone(),
                peer_vpc_id: vb.vpc_id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let pcx = c
        .engine
        .accept_peering(&p, &pcx.vpc_peering_connection_id)
        .await
        .unwrap();
    for (s, dest) in [(&sa, "10.62.0.0/16"), (&sb, "10.61.0.0/16")] {
        c.engine
            .create_route(
                &p,
                &s.subnet_id,
                CreateRoute {
                    destination_cidr_block: dest.into(),
                    target_id: pcx.vpc_peering_connection_id.clone(),
                },
            )
            .await
            .unwrap();
    }
    c.serve(&p, &b, 7000).await;
    c.serve(&p, &d, 7000).await;
    assert!(
        c.connect(&p, &a, &b.private_ip_address, 7000)
            .await
            .is_some()
    );
    assert!(
        c.connect(&p, &a, &d.private_ip_address, 7000)
            .await
            .is_some()
    );
    let pid = c.engine.list_processes(&p, &b.instance_id).await.unwrap()[0].pid;

    // Lose kernel state as a crash or reboot would: the process's sockets and threads in
    // the namespaces go (they would keep a deleted namespace alive), then VPC A's router
    // and instance a.
    c.engine.shutdown().await;
    ip_netns(&["del", &va.namespace]);
    ip_netns(&["del", &a.namespace]);
    // And leave an orphan under the prefix that belongs to no resource.
    let orphan = format!("{}-v0badf00d", c.prefix);
    ip_netns(&["add", &orphan]);
    // The namespace goes once the engine's namespace threads have exited (asynchronously).
    let mut gone = false;
    for _ in 0..25 {
        if c.connect(&p, &b, &d.private_ip_address, 7000)
            .await
            .is_none()
        {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(gone, "router gone");

    c.reopen().await;
    assert!(
        ns_exists(&va.namespace) && ns_exists(&a.namespace),
        "rebuilt"
    );
    assert!(!ns_exists(&orphan), "orphan removed");
    // b's server was adopted, not restarted.
    let procs = c.engine.list_processes(&p, &b.instance_id).await.unwrap();
    assert!(
        procs[0].running && procs[0].pid == pid,
        "{procs:?} (was pid {pid})"
    );
    // Traffic flows again, inside the VPC and over the rebuilt peering link.
    let seen = c.connect(&p, &a, &b.private_ip_address, 7000).await;
    assert_eq!(seen, Some(format!("peer={}", a.private_ip_address)));
    assert!(
        c.connect(&p, &a, &d.private_ip_address, 7000)
            .await
            .is_some(),
        "peering"
    );
    // Opening again with everything in place changes nothing.
    c.reopen().await;
    assert!(
        c.connect(&p, &a, &b.private_ip_address, 7000)
            .await
            .is_some()
    );
    assert_eq!(
        c.engine.list_processes(&p, &b.instance_id).await.unwrap()[0].pid,
        pid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_leaves_nothing() {
    let Some(c) = Cloud::new("gc_leaves_nothing").await else {
        return;
    };
    let p = principal("111111111111");
    let v = c.vpc(&p, "10.70.0.0/16").await;
    let s = c.subnet(&p, &v, "10.70.0.0/24").await;
    let i = c.instance(&p, &s, &[]).await;
    c.engine
        .create_internet_gateway(
            &p,
            CreateInternetGateway {
                vpc_id: v.vpc_id.clone(),
            },
        )
        .await
        .unwrap();
    c.serve(&p, &i, 7000).await;
    let pid = c.engine.list_processes(&p, &i.instance_id).await.unwrap()[0].pid;
    let prefix = c.prefix.clone();
    let before = linkplane_localcloud::gc(&prefix);
    assert_eq!(before.namespaces.len(), 3, "{before:?}");
    assert!(before.processes_killed >= 1, "{before:?}");
    assert_eq!(before.etc_netns_dirs, vec![i.namespace.clone()]);
    let start = format!("{prefix}-");
    let left: Vec<_> = std::fs::read_dir("/run/netns")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&start))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(
        !std::path::Path::new("/etc/netns")
            .join(&i.namespace)
            .exists()
    );
    for _ in 0..50 {
        if std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z"))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z")),
        "process {pid} survived gc"
    );
    // A second gc finds nothing.
    let again = linkplane_localcloud::gc(&prefix);
    assert!(
        again.namespaces.is_empty() && again.processes_killed == 0,
        "{again:?}"
    );
}

/// A VPC `10.<n>.0.0/16` whose private subnet's instance reaches the internet through a NAT
/// gateway (public subnet, internet gateway, elastic IP, default routes): the VPC, the
/// instance, the NAT's elastic IP and the internet.
async fn nat_vpc(c: &Cloud, p: &Principal, n: u8) -> (Vpc, Instance, ElasticIp, Internet) {
    let v = c.vpc(p, &format!("10.{n}.0.0/16")).await;
    let public = c.subnet(p, &v, &format!("10.{n}.0.0/24")).await;
    let private = c.subnet(p, &v, &format!("10.{n}.1.0/24")).await;
    let igw = c
        .engine
        .create_internet_gateway(
            p,
            CreateInternetGateway {
                vpc_id: v.vpc_id.clone(),
            },
        )
        .await
        .unwrap();
    let eip = c.engine.allocate_elastic_ip(p).await.unwrap();
    let nat = c
        .engine
        .create_nat_gateway(
            p,
            CreateNatGateway {
                subnet_id: public.subnet_id.clone(),
                allocation_id: eip.allocation_id.clone(),
            },
        )
        .await
        .unwrap();
    for (s, target) in [
        (&public, &igw.internet_gateway_id),
        (&private, &nat.nat_gateway_id),
    ] {
        c.engine
            .create_route(
                p,
                &s.subnet_id,
                CreateRoute {
                    destination_cidr_block: "0.0.0.0/0".into(),
                    target_id: target.clone(),
                },
            )
            .await
            .unwrap();
    }
    let inst = c.instance(p, &private, &[]).await;
    let inet = c.engine.internet().await.unwrap();
    (v, inst, eip, inet)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_rebuilds_internet_and_nat_paths() {
    let Some(mut c) = Cloud::new("restart_rebuilds_internet_and_nat_paths").await else {
        return;
    };
    let p = principal("111111111111");
    let (v, inst, eip, inet) = nat_vpc(&c, &p, 71).await;
    let srv = internet_server(&c, &p, 8000).await;
    let want = Some(format!("peer={}", eip.public_ip));
    assert_eq!(c.connect(&p, &inst, &inet.host_address, 8000).await, want);

    // Lose the internet and the router.
    c.engine
        .stop_process(&p, "internet", &srv.process_id)
        .await
        .unwrap();
    ip_netns(&["del", &inet.namespace]);
    ip_netns(&["del", &v.namespace]);
    assert_eq!(c.connect(&p, &inst, &inet.host_address, 8000).await, None);

    c.reopen().await;
    internet_server(&c, &p, 8000).await;
    assert_eq!(
        c.connect(&p, &inst, &inet.host_address, 8000).await,
        want,
        "NAT rebuilt"
    );
}

/// A crash while localcloud plumbs an internet gateway leaves the pair half made: the
/// internet's end down without its address (the veth was made, the rest never ran), or one
/// end gone. The next start finishes the job, so NAT works again with nothing duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_finishes_a_half_plumbed_internet_gateway() {
    let Some(mut c) = Cloud::new("restart_finishes_a_half_plumbed_igw").await else {
        return;
    };
    let p = principal("111111111111");
    let (v, inst, eip, inet) = nat_vpc(&c, &p, 73).await;
    let port = format!("g{}", linkplane_localcloud::ids::short(&v.vpc_id));
    let want = Some(format!("peer={}", eip.public_ip));
    type Break = fn(&str, &str, &str);
    let breaks: [(&str, Break); 3] = [
        (
            "internet end down, no address, no routes",
            |inet, _router, port| {
                ip_ok(&["-n", inet, "addr", "flush", "dev", port]);
                ip_ok(&["-n", inet, "link", "set", port, "down"]);
            },
        ),
        ("router end without its address", |_inet, router, _port| {
            ip_ok(&["-n", router, "addr", "flush", "dev", "igw0"]);
        }),
        ("the pair gone", |_inet, router, _port| {
            ip_ok(&["-n", router, "link", "del", "igw0"]);
        }),
    ];
    for (what, break_it) in breaks {
        let srv = internet_server(&c, &p, 8000).await;
        assert_eq!(
            c.connect(&p, &inst, &inet.host_address, 8000).await,
            want,
            "before: {what}"
        );
        break_it(&inet.namespace, &v.namespace, &port);
        assert_eq!(
            c.connect(&p, &inst, &inet.host_address, 8000).await,
            None,
            "broken: {what}"
        );
        c.reopen().await;
        assert_eq!(
            c.connect(&p, &inst, &inet.host_address, 8000).await,
            want,
            "repaired on start: {what}"
        );
        let links = ip_out(&["-n", &inet.namespace, "-o", "link"]);
        assert_eq!(
            links.matches(&format!(" {port}@")).count(),
            1,
            "one internet port after {what}: {links}"
        );
        c.engine
            .stop_process(&p, "internet", &srv.process_id)
            .await
            .unwrap();
    }
}

fn ip_ok(args: &[&str]) {
    let st = std::process::Command::new("ip")
        .args(args)
        .status()
        .unwrap();
    assert!(st.success(), "ip {args:?}");
}

/// The test server (answers `peer=<address>`) on the internet host, listening.
async fn internet_server(c: &Cloud, p: &Principal, port: u16) -> Process {
    let srv = c
        .engine
        .internet_run(p, &common::server_cmd(port))
        .await
        .unwrap();
    for _ in 0..100 {
        let out = c
            .engine
            .internet_exec(
                &["ss".into(), "-Hltn".into(), format!("sport = :{port}")],
                b"",
                std::time::Duration::from_secs(5),
            )
            .await
            .unwrap();
        if !out.stdout.is_empty() {
            return srv;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("nothing listens on {port} in the internet");
}

fn ip_out(args: &[&str]) -> String {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnet_and_route_removal_leave_no_kernel_state() {
    let Some(c) = Cloud::new("subnet_and_route_removal_leave_no_kernel_state").await else {
        return;
    };
    let p = principal("111111111111");
    let v = c.vpc(&p, "10.72.0.0/16").await;
    let s = c.subnet(&p, &v, "10.72.5.0/24").await;
    let igw = c
        .engine
        .create_internet_gateway(
            &p,
            CreateInternetGateway {
                vpc_id: v.vpc_id.clone(),
            },
        )
        .await
        .unwrap();
    c.engine
        .create_route(
            &p,
            &s.subnet_id,
            CreateRoute {
                destination_cidr_block: "198.51.100.0/24".into(),
                target_id: igw.internet_gateway_id.clone(),
            },
        )
        .await
        .unwrap();
    let table = s.route_table.to_string();
    let rules = ip_out(&["-n", &v.namespace, "rule"]);
    assert!(
        rules.contains(&format!("iif {} lookup {table}", s.bridge)),
        "{rules}"
    );
    assert!(
        rules
            .lines()
            .any(|l| l.starts_with("101:") && l.contains(&s.bridge) && l.ends_with("prohibit")),
        "{rules}"
    );
    let routes = ip_out(&["-n", &v.namespace, "route", "show", "table", &table]);
    assert!(
        routes.contains("198.51.100.0/24 via 169.254.0.1 dev igw0"),
        "{routes}"
    );

    c.engine
        .delete_route(&p, &s.subnet_id, "198.51.100.0/24")
        .await
        .unwrap();
    let routes = ip_out(&["-n", &v.namespace, "route", "show", "table", &table]);
    assert!(routes.trim().is_empty(), "{routes}");
    let e = c
        .engine
        .delete_route(&p, &s.subnet_id, "198.51.100.0/24")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");

    c.engine.delete_subnet(&p, &s.subnet_id).await.unwrap();
    let rules = ip_out(&["-n", &v.namespace, "rule"]);
    assert!(!rules.contains(&s.bridge), "{rules}");
    let links = ip_out(&["-n", &v.namespace, "-br", "link"]);
    assert!(!links.contains(&s.bridge), "{links}");
    // The same CIDR can be used again.
    let again = c.subnet(&p, &v, "10.72.5.0/24").await;
    let i = c.instance(&p, &again, &[]).await;
    assert_eq!(i.private_ip_address, "10.72.5.4");
}
