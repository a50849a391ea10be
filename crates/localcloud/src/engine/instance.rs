//! Instances (a namespace with a veth into the subnet bridge), commands and processes in them.

use std::net::Ipv4Addr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::render;
use super::vpc::SubnetRow;
use super::{Engine, authorize, now};
use crate::error::{Error, Result};
use crate::ids::{Kind, Principal};
use crate::kernel;
use crate::net;
use crate::netlink;
use crate::types::{CreateInstance, ExecOutput, Instance, Process};

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct InstanceRow {
    pub id: String,
    pub account: String,
    pub vpc_id: String,
    pub subnet_id: String,
    pub private_ip: String,
    pub public_ip: Option<String>,
    pub name: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ProcessRow {
    pub id: String,
    pub owner_id: String,
    pub account: String,
    pub namespace: String,
    pub pid: i64,
    pub command: String,
    pub log_path: String,
    pub started_at: String,
}

const INSTANCE_COLS: &str =
    "id, account, vpc_id, subnet_id, private_ip, public_ip, name, created_at";
const PROCESS_COLS: &str = "id, owner_id, account, namespace, pid, command, log_path, started_at";

/// Where `internet run` processes are recorded as running.
pub(crate) const INTERNET_OWNER: &str = "internet";

impl Engine {
    pub(crate) async fn instance_row(&self, id: &str) -> Result<InstanceRow> {
        Kind::Instance.parse("instanceId", id)?;
        sqlx::query_as::<_, InstanceRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {INSTANCE_COLS} FROM instances WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "instance",
            id: id.to_string(),
        })
    }

    pub(crate) async fn all_instances(&self) -> Result<Vec<InstanceRow>> {
        Ok(
            sqlx::query_as::<_, InstanceRow>(sqlx::AssertSqlSafe(format!(
                "SELECT {INSTANCE_COLS} FROM instances ORDER BY seq"
            )))
            .fetch_all(&self.db)
            .await?,
        )
    }

    pub(crate) async fn groups_of(&self, instance_id: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT group_id FROM instance_groups WHERE instance_id = ? ORDER BY group_id",
        )
        .bind(instance_id)
        .fetch_all(&self.db)
        .await?)
    }

    async fn to_instance(&self, r: InstanceRow) -> Result<Instance> {
        let vpc = self.vpc_row(&r.vpc_id).await?;
        let names = super::hostnames::InstanceNames::of(
            &r.private_ip,
            r.public_ip.as_deref(),
            &vpc.region,
            vpc.enable_dns_hostnames,
        );
        Ok(Instance {
            private_dns_name: names.private,
            public_dns_name: names.public,
            security_group_ids: self.groups_of(&r.id).await?,
            namespace: self.instance_namespace_name(&r.id),
            state: "running".into(),
            instance_id: r.id,
            owner_id: r.account,
            vpc_id: r.vpc_id,
            subnet_id: r.subnet_id,
            private_ip_address: r.private_ip,
            public_ip_address: r.public_ip,
            name: r.name,
            created_at: r.created_at,
        })
    }

    async fn pick_private_ip(&self, s: &SubnetRow, wanted: Option<&str>) -> Result<Ipv4Addr> {
        let used: std::collections::HashSet<String> =
            sqlx::query_scalar(
                "SELECT private_ip FROM instances WHERE subnet_id = ? UNION SELECT ip FROM enis WHERE subnet_id = ?",
            )
            .bind(&s.id)
            .bind(&s.id)
            .fetch_all(&self.db)
                .await?
                .into_iter()
                .collect();
        match wanted {
            Some(w) => {
                let ip: Ipv4Addr = w.parse().map_err(|_| {
                    Error::invalid("privateIpAddress", format!("{w:?} is not an IPv4 address"))
                })?;
                if !net::assignable(s.net(), ip) {
                    return Err(Error::invalid(
                        "privateIpAddress",
                        format!(
                            "{ip} is not assignable in {} ({}): the first four and the last address are reserved",
                            s.id, s.cidr
                        ),
                    ));
                }
                if used.contains(&ip.to_string()) {
                    return Err(Error::Conflict(format!(
                        "{ip} is already in use in {}",
                        s.id
                    )));
                }
                Ok(ip)
            }
            None => net::assignable_range(s.net())
                .find(|ip| !used.contains(&ip.to_string()))
                .ok_or_else(|| {
                    Error::Conflict(format!("subnet {} ({}) has no free address", s.id, s.cidr))
                }),
        }
    }

    /// Launch an instance: its own namespace, a veth into the subnet's bridge, an address,
    /// a default route via the gateway, resolv.conf pointing at the VPC resolver, and the
    /// nftables table of its security groups.
    pub async fn create_instance(&self, p: &Principal, req: CreateInstance) -> Result<Instance> {
        let s = self.subnet_row(&req.subnet_id).await?;
        authorize(p, &s.account, "launch an instance in", &s.id)?;
        let mut groups = req.security_group_ids.clone();
        groups.sort();
        groups.dedup();
        for g in &groups {
            let row = self.group_row(g).await?;
            authorize(p, &row.account, "use", g)?;
            if row.vpc_id != s.vpc_id {
                return Err(Error::invalid(
                    "securityGroupIds",
                    format!(
                        "{g} belongs to {}, not to the subnet's VPC {}",
                        row.vpc_id, s.vpc_id
                    ),
                ));
            }
        }
        let _g = self.lock.lock().await;
        if groups.is_empty() {
            let d: String = sqlx::query_scalar(
                "SELECT id FROM security_groups WHERE vpc_id = ? AND name = 'default'",
            )
            .bind(&s.vpc_id)
            .fetch_one(&self.db)
            .await?;
            groups.push(d);
        }
        let ip = self
            .pick_private_ip(&s, req.private_ip_address.as_deref())
            .await?;
        let public = if req.associate_public_ip_address.unwrap_or(s.map_public_ip) {
            Some(self.pick_public_ip().await?)
        } else {
            None
        };
        let id = self.fresh_id(Kind::Instance, "instances", "id").await?;
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO instances (id, account, vpc_id, subnet_id, private_ip, public_ip, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&s.account)
        .bind(&s.vpc_id)
        .bind(&s.id)
        .bind(ip.to_string())
        .bind(public.map(|p| p.to_string()))
        .bind(&req.name)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if let Some(pub_ip) = public {
            sqlx::query("INSERT INTO public_ips (ip, owner_id) VALUES (?, ?)")
                .bind(pub_ip.to_string())
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        for g in &groups {
            sqlx::query("INSERT INTO instance_groups (instance_id, group_id) VALUES (?, ?)")
                .bind(&id)
                .bind(g)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let row = self.instance_row(&id).await?;
        let built = async {
            self.build_instance(&row, &s).await?;
            self.membership_changed(&groups, &row.private_ip, true, &id)
                .await?;
            if let Some(pub_ip) = public {
                self.publish_public_ip(&s.vpc_id, pub_ip, Some(ip)).await?;
            }
            self.instance_dns_changed(&s.vpc_id, public.is_some())
                .await?;
            Ok::<(), Error>(())
        }
        .await;
        if let Err(e) = built {
            let _ = self.destroy_instance(&row).await;
            return Err(e);
        }
        tracing::info!(instance = %id, subnet = %s.id, %ip, "instance launched");
        self.to_instance(row).await
    }

    /// Namespace, plumbing, resolv.conf and security groups of an instance.
    pub(crate) async fn build_instance(&self, r: &InstanceRow, s: &SubnetRow) -> Result<()> {
        let ns = self.instance_namespace_name(&r.id);
        kernel::netns_add(&ns).await?;
        self.plumb_instance(r, s).await?;
        let vpc = self.vpc_row(&r.vpc_id).await?;
        kernel::write_resolv_conf(&ns, net::resolver(vpc.net()))?;
        self.render_instance_nft(&r.id).await
    }

    /// The veth into the subnet bridge, the address and the default route.
    pub(crate) async fn plumb_instance(&self, r: &InstanceRow, s: &SubnetRow) -> Result<()> {
        let ns = self.instance_namespace_name(&r.id);
        let port = render::instance_port(&r.id);
        let bridge = render::bridge(&s.id);
        let peer_ns = ns.clone();
        netlink::with_ns(&self.router_namespace(&r.vpc_id), move |nl| async move {
            let master = nl.index(&bridge).await?;
            nl.veth(&port, render::INSTANCE_DEV, &peer_ns, Some(master))
                .await
        })
        .await?;
        let ip: Ipv4Addr = r.private_ip.parse().map_err(|_| {
            Error::kernel(
                "plumb instance",
                format!("bad stored address {}", r.private_ip),
            )
        })?;
        let (len, gw) = (s.net().prefix_len(), net::gateway(s.net()));
        netlink::with_ns(&ns, move |nl| async move {
            nl.up("lo").await?;
            nl.addr(render::INSTANCE_DEV, ip, len).await?;
            nl.up(render::INSTANCE_DEV).await?;
            nl.default_route(gw).await
        })
        .await
    }

    pub async fn get_instance(&self, p: &Principal, id: &str) -> Result<Instance> {
        let row = self.instance_row(id).await?;
        authorize(p, &row.account, "describe", id)?;
        self.to_instance(row).await
    }

    /// The caller's instances, optionally of one VPC.
    pub async fn list_instances(
        &self,
        p: &Principal,
        vpc_id: Option<&str>,
    ) -> Result<Vec<Instance>> {
        let rows = sqlx::query_as::<_, InstanceRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {INSTANCE_COLS} FROM instances WHERE account = ?1 AND (?2 IS NULL OR vpc_id = ?2) ORDER BY seq"
        )))
        .bind(p.account().as_str())
        .bind(vpc_id)
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.to_instance(r).await?);
        }
        Ok(out)
    }

    /// Terminate an instance: stop its processes, remove its namespace and addresses.
    pub async fn delete_instance(&self, p: &Principal, id: &str) -> Result<()> {
        let row = self.instance_row(id).await?;
        authorize(p, &row.account, "terminate", id)?;
        let _g = self.lock.lock().await;
        self.destroy_instance(&row).await?;
        tracing::info!(instance = %id, "instance terminated");
        Ok(())
    }

    async fn destroy_instance(&self, row: &InstanceRow) -> Result<()> {
        let ns = self.instance_namespace_name(&row.id);
        let procs = self.processes_of(&row.id).await?;
        for pr in &procs {
            if kernel::pid_in_ns(pr.pid as i32, &ns) {
                kernel::stop_process(pr.pid as i32, Duration::from_secs(3)).await;
            }
        }
        // Anything else still inside (e.g. an exec'd daemon) goes too.
        if let Some(pids) = kernel::pids_in(std::slice::from_ref(&ns)).get(&ns) {
            for pid in pids {
                kernel::stop_process(*pid, Duration::from_millis(500)).await;
            }
        }
        let groups = self.groups_of(&row.id).await?;
        kernel::netns_del(std::slice::from_ref(&ns)).await;
        kernel::remove_etc_netns(&ns);
        let mut tx = self.db.begin().await?;
        for sql in [
            "DELETE FROM processes WHERE owner_id = ?",
            "DELETE FROM instance_groups WHERE instance_id = ?",
            "DELETE FROM public_ips WHERE owner_id = ?",
            "DELETE FROM instances WHERE id = ?",
        ] {
            sqlx::query(sql).bind(&row.id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.membership_changed(&groups, &row.private_ip, false, &row.id)
            .await?;
        if let Some(public) = &row.public_ip
            && let Ok(public) = public.parse()
        {
            self.unpublish_public_ip(&row.vpc_id, public, row.private_ip.parse().ok())
                .await;
        }
        self.instance_dns_changed(&row.vpc_id, row.public_ip.is_some())
            .await
    }

    /// Run a command inside an instance (the bastion host): stdin given, stdout, stderr and
    /// exit code returned. The command sees the instance's resolv.conf as /etc/resolv.conf.
    pub async fn exec(
        &self,
        p: &Principal,
        instance_id: &str,
        command: &[String],
        stdin: &[u8],
        timeout: Duration,
    ) -> Result<ExecOutput> {
        check_command(command)?;
        let row = self.instance_row(instance_id).await?;
        authorize(p, &row.account, "run commands on", instance_id)?;
        exec_in(
            &self.instance_namespace_name(instance_id),
            command,
            stdin,
            timeout,
        )
        .await
    }

    /// Start a long-running process in an instance; its output goes to a log file in the
    /// data directory; it is stopped when the instance is terminated.
    pub async fn run_process(
        &self,
        p: &Principal,
        instance_id: &str,
        command: &[String],
    ) -> Result<Process> {
        check_command(command)?;
        let row = self.instance_row(instance_id).await?;
        authorize(p, &row.account, "run processes on", instance_id)?;
        let _g = self.lock.lock().await;
        self.spawn_recorded(
            &row.id,
            &row.account,
            &self.instance_namespace_name(&row.id),
            command,
        )
        .await
    }

    pub(crate) async fn spawn_recorded(
        &self,
        owner: &str,
        account: &str,
        ns: &str,
        command: &[String],
    ) -> Result<Process> {
        check_command(command)?;
        let id = self.fresh_id(Kind::Process, "processes", "id").await?;
        let log_path = self.data_dir.join("logs").join(format!("{id}.log"));
        let log = std::fs::File::create(&log_path)
            .map_err(Error::io(format!("create {}", log_path.display())))?;
        let err = log
            .try_clone()
            .map_err(Error::io(format!("open {}", log_path.display())))?;
        let mut cmd = tokio::process::Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .args(command)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::kernel(format!("start {command:?} in {ns}"), e.to_string()))?;
        let pid = child.id().map(|p| p as i64).unwrap_or(0);
        // Reap it when it exits so it does not linger as a zombie.
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        let started = now();
        let cmd_json = serde_json::to_string(command).unwrap_or_default();
        sqlx::query(
            "INSERT INTO processes (id, owner_id, account, namespace, pid, command, log_path, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(owner)
        .bind(account)
        .bind(ns)
        .bind(pid)
        .bind(&cmd_json)
        .bind(log_path.display().to_string())
        .bind(&started)
        .execute(&self.db)
        .await?;
        let pidfile = self.data_dir.join("logs").join(format!("{id}.pid"));
        let _ = std::fs::write(&pidfile, format!("{pid}\n"));
        tracing::info!(process = %id, pid, ns, ?command, "process started");
        Ok(Process {
            process_id: id,
            owner_id: owner.to_string(),
            namespace: ns.to_string(),
            pid: pid as i32,
            command: command.to_vec(),
            log_path: log_path.display().to_string(),
            running: true,
            started_at: started,
        })
    }

    pub(crate) async fn processes_of(&self, owner: &str) -> Result<Vec<ProcessRow>> {
        Ok(sqlx::query_as::<_, ProcessRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {PROCESS_COLS} FROM processes WHERE owner_id = ? ORDER BY started_at"
        )))
        .bind(owner)
        .fetch_all(&self.db)
        .await?)
    }

    pub(crate) fn to_process(r: ProcessRow) -> Process {
        let running = kernel::pid_in_ns(r.pid as i32, &r.namespace);
        Process {
            process_id: r.id,
            owner_id: r.owner_id,
            namespace: r.namespace,
            pid: r.pid as i32,
            command: serde_json::from_str(&r.command).unwrap_or_default(),
            log_path: r.log_path,
            running,
            started_at: r.started_at,
        }
    }

    /// Processes started in an instance with [`Engine::run_process`] (running or not).
    pub async fn list_processes(&self, p: &Principal, instance_id: &str) -> Result<Vec<Process>> {
        let row = self.instance_row(instance_id).await?;
        authorize(p, &row.account, "list processes of", instance_id)?;
        Ok(self
            .processes_of(instance_id)
            .await?
            .into_iter()
            .map(Self::to_process)
            .collect())
    }

    /// Stop a process started with `run` (SIGTERM, then SIGKILL) and forget it.
    pub async fn stop_process(&self, p: &Principal, owner: &str, process_id: &str) -> Result<()> {
        Kind::Process.parse("processId", process_id)?;
        let row = sqlx::query_as::<_, ProcessRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {PROCESS_COLS} FROM processes WHERE id = ? AND owner_id = ?"
        )))
        .bind(process_id)
        .bind(owner)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "process",
            id: format!("{process_id} of {owner}"),
        })?;
        authorize(p, &row.account, "stop", process_id)?;
        if kernel::pid_in_ns(row.pid as i32, &row.namespace) {
            kernel::stop_process(row.pid as i32, Duration::from_secs(3)).await;
        }
        sqlx::query("DELETE FROM processes WHERE id = ?")
            .bind(process_id)
            .execute(&self.db)
            .await?;
        Ok(())
    }
}

/// Most arguments of one command.
pub const MAX_COMMAND_ARGS: usize = 1024;
/// Most bytes of all arguments of one command together.
pub const MAX_COMMAND_BYTES: usize = 128 * 1024;
/// Most bytes of stdout (and, separately, of stderr) an `exec` keeps; the rest is read and
/// discarded, so a chatty command cannot grow the server.
pub const MAX_EXEC_OUTPUT_BYTES: usize = 4 * 1024 * 1024;

/// The rules for a command given to `exec` or `processes`: a program and its arguments, no
/// NUL byte (a C string cannot hold one), bounded in count and size. Errors name the field
/// (`command[2]`), never the namespace.
pub(crate) fn check_command(command: &[String]) -> Result<()> {
    if command.is_empty() || command[0].is_empty() {
        return Err(Error::invalid(
            "command",
            "give the program and its arguments",
        ));
    }
    if command.len() > MAX_COMMAND_ARGS {
        return Err(Error::invalid(
            "command",
            format!("{} arguments; at most {MAX_COMMAND_ARGS}", command.len()),
        ));
    }
    if let Some(i) = command.iter().position(|a| a.contains('\0')) {
        return Err(Error::invalid(
            &format!("command[{i}]"),
            "contains a NUL byte, which no program argument can hold",
        ));
    }
    let total: usize = command.iter().map(String::len).sum();
    if total > MAX_COMMAND_BYTES {
        return Err(Error::invalid(
            "command",
            format!("{total} bytes of arguments; at most {MAX_COMMAND_BYTES}"),
        ));
    }
    Ok(())
}

/// Read `r` to its end, keeping at most `cap` bytes; whether anything was discarded.
async fn read_capped<R: AsyncRead + Unpin>(mut r: R, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut over = false;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
                over |= n > room;
            }
        }
    }
    (kept, over)
}

/// Run `command` with `ip netns exec` (so /etc/netns/<ns>/resolv.conf is /etc/resolv.conf).
/// stdout and stderr keep at most [`MAX_EXEC_OUTPUT_BYTES`] each; a note on stderr says
/// when output was discarded.
pub(crate) async fn exec_in(
    ns: &str,
    command: &[String],
    stdin: &[u8],
    timeout: Duration,
) -> Result<ExecOutput> {
    check_command(command)?;
    if !kernel::netns_exists(ns) {
        return Err(Error::Conflict(format!(
            "namespace {ns} is missing; restart linkplane serve to rebuild it"
        )));
    }
    let program = &command[0];
    let mut child = tokio::process::Command::new("ip")
        .args(["netns", "exec", ns])
        .args(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::kernel(format!("run {program:?}"), e.to_string()))?;
    let pid = child.id();
    if let Some(mut input) = child.stdin.take() {
        let data = stdin.to_vec();
        tokio::spawn(async move {
            let _ = input.write_all(&data).await;
        });
    }
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(Error::kernel(
            format!("run {program:?}"),
            "the child's output pipes are missing",
        ));
    };
    let run = async {
        let (out, err, status) = tokio::join!(
            read_capped(stdout, MAX_EXEC_OUTPUT_BYTES),
            read_capped(stderr, MAX_EXEC_OUTPUT_BYTES),
            child.wait()
        );
        (out, err, status)
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(((stdout, out_over), (mut stderr, err_over), status)) => {
            let status =
                status.map_err(|e| Error::kernel(format!("run {program:?}"), e.to_string()))?;
            use std::os::unix::process::ExitStatusExt;
            let code = status
                .code()
                .or_else(|| status.signal().map(|s| 128 + s))
                .unwrap_or(1);
            for (over, what) in [(out_over, "stdout"), (err_over, "stderr")] {
                if over {
                    stderr.extend_from_slice(
                        format!(
                            "\nlocalcloud: {what} was over {MAX_EXEC_OUTPUT_BYTES} bytes; the rest was discarded\n"
                        )
                        .as_bytes(),
                    );
                }
            }
            Ok(ExecOutput {
                exit_code: code,
                stdout,
                stderr,
                timed_out: false,
            })
        }
        Err(_) => {
            if let Some(pid) = pid {
                kernel::stop_process(pid as i32, Duration::from_millis(200)).await;
            }
            Ok(ExecOutput {
                exit_code: 124,
                stdout: Vec::new(),
                stderr: format!("timed out after {}s\n", timeout.as_secs()).into_bytes(),
                timed_out: true,
            })
        }
    }
}
