//! Real traffic inside one VPC: same subnet, across subnets, security groups (deny, allow,
//! live change, source group), resolv.conf, exec, processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Cloud, principal};
use linkplane_localcloud::types::{CreateSecurityGroup, CreateSecurityGroupRule};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_subnet_and_across_subnets() {
    let Some(c) = Cloud::new("same_subnet_and_across_subnets").await else {
        return;
    };
    let p = principal("111111111111");
    let vpc = c.vpc(&p, "10.10.0.0/16").await;
    assert_eq!(vpc.dns_resolver, "10.10.0.2");
    let s1 = c.subnet(&p, &vpc, "10.10.1.0/24").await;
    let s2 = c.subnet(&p, &vpc, "10.10.2.0/24").await;
    let a = c.instance(&p, &s1, &[]).await;
    let b = c.instance(&p, &s1, &[]).await;
    let d = c.instance(&p, &s2, &[]).await;
    assert_eq!(
        a.private_ip_address, "10.10.1.4",
        "first 4 addresses are reserved"
    );
    assert_eq!(b.private_ip_address, "10.10.1.5");
    assert_eq!(
        a.security_group_ids,
        vec![vpc.default_security_group_id.clone()]
    );

    c.serve(&p, &b, 7001).await;
    c.serve(&p, &d, 7001).await;
    // The default group allows traffic from its own members.
    let same = c.connect(&p, &a, &b.private_ip_address, 7001).await;
    assert_eq!(same.as_deref(), Some("peer=10.10.1.4"), "same subnet");
    let across = c.connect(&p, &a, &d.private_ip_address, 7001).await;
    assert_eq!(across.as_deref(), Some("peer=10.10.1.4"), "across subnets");

    // The instance sees the VPC resolver as /etc/resolv.conf.
    let (_, resolv, _) = c.sh(&p, &a, "cat /etc/resolv.conf").await;
    assert!(resolv.contains("nameserver 10.10.0.2"), "{resolv}");
    // So does a process started with `run`.
    let pr = c
        .engine
        .run_process(
            &p,
            &a.instance_id,
            &["cat".into(), "/etc/resolv.conf".into()],
        )
        .await
        .unwrap();
    let mut logged = String::new();
    for _ in 0..100 {
        logged = std::fs::read_to_string(&pr.log_path).unwrap_or_default();
        if logged.contains("nameserver") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(logged.contains("nameserver 10.10.0.2"), "{logged}");
    // exec passes the exit code and both streams through.
    let (code, out, err) = c.sh(&p, &a, "echo out; echo err >&2; exit 7").await;
    assert_eq!((code, out.as_str(), err.as_str()), (7, "out\n", "err\n"));
    // stdin reaches the command.
    let out = c
        .engine
        .exec(
            &p,
            &a.instance_id,
            &["cat".into()],
            b"hello",
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(out.stdout, b"hello");

    // Another account cannot touch the VPC; the error names both accounts.
    let other = principal("222222222222");
    let err = c
        .engine
        .get_vpc(&other, &vpc.vpc_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("222222222222") && err.contains("111111111111"),
        "{err}"
    );
    let err = c
        .engine
        .exec(
            &other,
            &a.instance_id,
            &["true".into()],
            b"",
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("111111111111"), "{err}");

    // Dependents recorded by other parts of linkplane (endpoints) block deletion too.
    c.engine
        .add_vpc_dependent(&vpc.vpc_id, "vpce-0123456789abcdef0", "VPC endpoint")
        .await
        .unwrap();
    let err = c
        .engine
        .delete_vpc(&p, &vpc.vpc_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("VPC endpoint vpce-0123456789abcdef0"), "{err}");
    c.engine
        .remove_vpc_dependent("vpce-0123456789abcdef0")
        .await
        .unwrap();
    // A VPC with instances cannot be deleted; a subnet with instances neither.
    let err = c
        .engine
        .delete_vpc(&p, &vpc.vpc_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&a.instance_id), "{err}");
    let err = c
        .engine
        .delete_subnet(&p, &s2.subnet_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&d.instance_id), "{err}");

    // Terminating an instance stops its processes and removes its namespace.
    let procs = c.engine.list_processes(&p, &b.instance_id).await.unwrap();
    assert!(procs[0].running);
    let pid = procs[0].pid;
    c.engine.delete_instance(&p, &b.instance_id).await.unwrap();
    assert!(!std::path::Path::new(&format!("/run/netns/{}", b.namespace)).exists());
    assert!(
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z")),
        "server process {pid} must be gone"
    );
    for i in [&a, &d] {
        c.engine.delete_instance(&p, &i.instance_id).await.unwrap();
    }
    c.engine.delete_vpc(&p, &vpc.vpc_id).await.unwrap();
    assert!(!std::path::Path::new(&format!("/run/netns/{}", vpc.namespace)).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_groups_deny_allow_and_live_change() {
    let Some(c) = Cloud::new("security_groups_deny_allow_and_live_change").await else {
        return;
    };
    let p = principal("111111111111");
    let vpc = c.vpc(&p, "10.20.0.0/16").await;
    let s = c.subnet(&p, &vpc, "10.20.1.0/24").await;
    let web = c
        .engine
        .create_security_group(
            &p,
            CreateSecurityGroup {
                vpc_id: vpc.vpc_id.clone(),
                group_name: "web".into(),
                description: "web servers".into(),
            },
        )
        .await
        .unwrap();
    let clients = c
        .engine
        .create_security_group(
            &p,
            CreateSecurityGroup {
                vpc_id: vpc.vpc_id.clone(),
                group_name: "clients".into(),
                description: String::new(),
            },
        )
        .await
        .unwrap();
    let server = c.instance(&p, &s, &[&web.group_id]).await;
    let client = c.instance(&p, &s, &[&clients.group_id]).await;
    let other = c.instance(&p, &s, &[]).await;
    c.serve(&p, &server, 8080).await;
    c.serve(&p, &server, 9090).await;
    let ip = server.private_ip_address.clone();

    // Default deny ingress.
    assert_eq!(
        c.connect(&p, &client, &ip, 8080).await,
        None,
        "no rule: denied"
    );

    // Allow tcp 7000-8080 from the subnet CIDR: new connections work at once, 9090 stays
    // closed.
    c.engine
        .run_process(
            &p,
            &server.instance_id,
            &[
                "socat".into(),
                "TCP-LISTEN:7777,fork,reuseaddr".into(),
                "EXEC:cat".into(),
            ],
        )
        .await
        .unwrap();
    c.wait_listening(&p, &server, 7777).await;
    let rule = c
        .engine
        .add_security_group_rule(
            &p,
            &web.group_id,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(7000),
                to_port: Some(8080),
                cidr_ip: Some("10.20.1.0/24".into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
    assert!(
        c.connect(&p, &client, &ip, 8080).await.is_some(),
        "allowed by CIDR rule"
    );
    assert_eq!(
        c.connect(&p, &client, &ip, 9090).await,
        None,
        "other port still denied"
    );

    // An established connection survives a revoke; a new one is refused.
    let hold = c
        .engine
        .run_process(
            &p,
            &client.instance_id,
            &[
                "bash".into(),
                "-c".into(),
                format!(
                    "exec 3<>/dev/tcp/{ip}/7777; echo one >&3; read -t 3 a <&3; echo got=$a; sleep 2; echo two >&3; read -t 3 b <&3; echo got=$b"
                ),
            ],
        )
        .await
        .unwrap();
    let log = std::path::PathBuf::from(&hold.log_path);
    wait_for_log(&log, "got=one").await;
    c.engine
        .revoke_security_group_rule(&p, &web.group_id, &rule.rule_id)
        .await
        .unwrap();
    assert_eq!(
        c.connect(&p, &client, &ip, 8080).await,
        None,
        "revoked: denied"
    );
    wait_for_log(&log, "got=two").await;

    // A source-group rule: members of `clients` may reach 9090, others may not.
    c.engine
        .add_security_group_rule(
            &p,
            &web.group_id,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(9000),
                to_port: Some(9100),
                cidr_ip: None,
                source_security_group_id: Some(clients.group_id.clone()),
            },
        )
        .await
        .unwrap();
    assert!(
        c.connect(&p, &client, &ip, 9090).await.is_some(),
        "member of source group"
    );
    assert_eq!(c.connect(&p, &other, &ip, 9090).await, None, "not a member");
    // A client launched later joins the set at once.
    let late = c.instance(&p, &s, &[&clients.group_id]).await;
    assert!(
        c.connect(&p, &late, &ip, 9090).await.is_some(),
        "new member"
    );
    // Moving `other` into the group opens the door for it too.
    c.engine
        .set_instance_security_groups(
            &p,
            &other.instance_id,
            std::slice::from_ref(&clients.group_id),
        )
        .await
        .unwrap();
    assert!(
        c.connect(&p, &other, &ip, 9090).await.is_some(),
        "moved into group"
    );

    // Egress: removing the allow-all egress rule of `clients` stops new outbound connections.
    let g = c
        .engine
        .get_security_group(&p, &clients.group_id)
        .await
        .unwrap();
    let egress = g.rules.iter().find(|r| r.direction == "egress").unwrap();
    c.engine
        .revoke_security_group_rule(&p, &clients.group_id, &egress.rule_id)
        .await
        .unwrap();
    assert_eq!(
        c.connect(&p, &client, &ip, 9090).await,
        None,
        "no egress rule"
    );

    // Bad rules are refused with the field named.
    for (req, field) in [
        (
            CreateSecurityGroupRule {
                direction: "sideways".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(1),
                ..Default::default()
            },
            "direction",
        ),
        (
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(90),
                to_port: Some(80),
                cidr_ip: Some("0.0.0.0/0".into()),
                ..Default::default()
            },
            "fromPort",
        ),
        (
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(80),
                to_port: Some(80),
                cidr_ip: Some("10.0.0.1/8".into()),
                ..Default::default()
            },
            "cidrIp",
        ),
    ] {
        let e = c
            .engine
            .add_security_group_rule(&p, &web.group_id, req)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(field), "{e}");
    }
    // A group in use cannot be deleted.
    let e = c
        .engine
        .delete_security_group(&p, &clients.group_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(&client.instance_id), "{e}");
}

async fn wait_for_log(path: &std::path::Path, want: &str) {
    for _ in 0..100 {
        if std::fs::read_to_string(path).is_ok_and(|s| s.contains(want)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "{} never showed {want:?}: {:?}",
        path.display(),
        std::fs::read_to_string(path)
    );
}
