//! `linkplane up` / `linkplane down`: one command to a working private link (issue 6).
//!
//! `up` performs document 000 end to end through the real APIs: it starts (or reuses) a
//! background `linkplane serve`, then, on the control plane's `/v1` API, a LOCAL DEDICATED
//! cluster, a deployment and an agent token; on localcloud's `/cloud/v1` API, as the
//! customer's account, a VPC with two subnets in two zones, the endpoint in them with a
//! security group allowing 443 from the agents' subnet, a private hosted zone
//! `external.<baseDomain>` with the record `<clusterId>` → the endpoint, and an instance
//! running `linkplane agent run`; the provider accepts the endpoint on `/v1`; finally
//! `linkplane verify` runs the document's checks from the customer's instance. Every object
//! is found by name before it is created, so running `up` twice changes nothing.
//!
//! `down` stops the background control plane, removes every kernel object of the prefix
//! (`linkplane local gc`) and deletes the data directory `up` made.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use linkplane_client::{Client, Method};
use serde::Serialize;
use serde_json::{Value, json};

/// The customer's account in localcloud (document 000's "your AWS account").
pub const CUSTOMER_PRINCIPAL: &str = "arn:aws:iam::111122223333:root";
const CLUSTER_NAME: &str = "playground";
const CLUSTER_CIDR: &str = "10.20.0.0/16";
const DEPLOYMENT_NAME: &str = "etl";
const AGENT_TOKEN_NAME: &str = "playground-agents";
const AGENT_NAME: &str = "playground-agent-1";
const VPC_NAME: &str = "customer";
const VPC_CIDR: &str = "10.1.0.0/16";
/// (name, CIDR) of the customer's two subnets; the first holds the agents.
const SUBNETS: [(&str, &str); 2] = [
    ("customer-agents", "10.1.1.0/24"),
    ("customer-b", "10.1.2.0/24"),
];
const ENDPOINT_SG: &str = "privatelink-endpoint";
const INSTANCE_NAME: &str = "agent-host";
/// Written into the data directory by `up`; `down` deletes only a directory that has it.
const MARKER: &str = "up.json";
const PID_FILE: &str = "serve.pid";
const LOG_FILE: &str = "serve.log";
const AGENT_TOKEN_FILE: &str = "agent.token";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples (as root):\n  linkplane up\n  linkplane up --output json | jq .verify\n  linkplane down"
)]
pub struct UpArgs {
    /// Installation prefix of localcloud's kernel objects (1-5 lowercase letters/digits).
    #[arg(long, default_value = "lp", env = "LINKPLANE_PREFIX")]
    pub prefix: String,
    /// The control plane's data directory (database, CA, tokens, serve.log, serve.pid).
    #[arg(long, default_value = "./.linkplane")]
    pub data_dir: PathBuf,
    /// Address of the control plane (started there in the background if nothing answers).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Output format of the summary (progress lines always go to stderr).
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// How often agents heartbeat, for a control plane `up` starts (`serve
    /// --agent-heartbeat-interval`): short, so the agent shows HEALTHY within seconds.
    #[arg(long, default_value = "5s")]
    pub agent_heartbeat_interval: String,
    /// Seconds to wait for each step that converges (cluster, endpoint, agent).
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

#[derive(Debug, clap::Args)]
pub struct DownArgs {
    /// Installation prefix `up` used [default: the one recorded in <data-dir>/up.json, else
    /// lp].
    #[arg(long, env = "LINKPLANE_PREFIX")]
    pub prefix: Option<String>,
    /// Data directory `up` used; deleted (only when `up` made it).
    #[arg(long, default_value = "./.linkplane")]
    pub data_dir: PathBuf,
}

/// One check of the verification, as `linkplane verify --output json` prints it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
    /// Which troubleshooting case of the document a failure matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Value>,
    /// What to do about a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Verification {
    pub passed: bool,
    pub checks: Vec<Check>,
}

/// What `up --output json` prints.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub control_plane_url: String,
    pub data_dir: String,
    pub organization_id: String,
    pub token_file: String,
    pub cluster_id: String,
    pub deployment_id: String,
    pub api_url: String,
    /// The cluster's ingress address on the public path (its public DNS record).
    pub public_ip: Option<String>,
    /// The cluster's external (egress) IPs that customers allowlist.
    pub external_ips: Vec<String>,
    pub customer_principal: String,
    pub customer_vpc: String,
    pub customer_instance: String,
    pub endpoint_id: String,
    pub endpoint_ips: Vec<String>,
    pub service_name: String,
    pub ca_file: String,
    pub agent_token_file: String,
    pub verify: Verification,
}

// ------------------------------------------------------------------------------ HTTP

/// One API of the server through `linkplane-client`: `/v1/organizations/{org}` with an API
/// token, or `/cloud/v1` with the operator token as the customer's principal. Paths are
/// relative to it; answers are JSON values.
#[derive(Clone)]
struct Api {
    client: Client,
    /// `/v1/organizations/{org}`, or `None` for `/cloud/v1`.
    prefix: Option<String>,
}

impl Api {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut call = match &self.prefix {
            Some(prefix) => self
                .client
                .call_path(method.clone(), &format!("{prefix}{path}")),
            None => self.client.cloud().call(method.clone(), path),
        };
        if let Some(b) = body {
            call = call.json(b);
        }
        match call.send().await {
            Ok(reply) => Ok(reply.body),
            Err(e @ linkplane_client::Error::Status { .. }) => {
                let code = e.status().map_or(0, |s| s.as_u16());
                bail!(
                    "{method} {path} answered {code}: {}",
                    e.detail().unwrap_or_default().trim()
                )
            }
            Err(e @ linkplane_client::Error::Unreachable { .. }) => Err(anyhow::Error::new(e)
                .context(format!(
                    "{method} {}{path}: cannot reach the control plane",
                    self.client.base_url()
                ))),
            Err(e) => Err(anyhow::Error::new(e).context(format!("{method} {path}: not JSON"))),
        }
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Items of a list: `{"items":[…]}` on `/v1`, a bare array on `/cloud/v1`.
    async fn list(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let v = self.get(path).await?;
        let items = v.get("items").cloned().unwrap_or(v);
        match items {
            Value::Array(a) => Ok(a),
            other => bail!("GET {path}: expected a list, got {other}"),
        }
    }
}

fn text(v: &Value, key: &str) -> anyhow::Result<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the answer has no {key:?}: {v}"))
}

fn field_is(v: &Value, key: &str, want: &str) -> bool {
    v.get(key).and_then(Value::as_str) == Some(want)
}

fn find_by<'a>(items: &'a [Value], key: &str, want: &str) -> Option<&'a Value> {
    items.iter().find(|i| field_is(i, key, want))
}

/// First and longest pause between two probes of [`until`].
const POLL_FIRST: Duration = Duration::from_millis(100);
const POLL_MAX: Duration = Duration::from_secs(1);

/// The pause after `previous`: half as long again, up to [`POLL_MAX`].
fn next_poll(previous: Duration) -> Duration {
    previous.saturating_add(previous / 2).min(POLL_MAX)
}

/// Polls `probe` until it returns `Some`, or fails after `timeout`: at once, then after
/// 100 ms, each pause half as long again as the last, up to 1 s. A state that is about to
/// change is seen within ~100 ms; a long wait costs about one request a second.
async fn until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let start = Instant::now();
    let mut pause = POLL_FIRST;
    loop {
        if let Some(t) = probe().await? {
            return Ok(t);
        }
        if start.elapsed() > timeout {
            bail!("{what}: still not there after {}s", timeout.as_secs());
        }
        tokio::time::sleep(pause).await;
        pause = next_poll(pause);
    }
}

// ------------------------------------------------------------------------------ progress

struct Progress {
    step: usize,
    total: usize,
    started: Instant,
}

impl Progress {
    /// Runs one step and prints `[ n/total] name: detail (1.2s)` on stderr.
    async fn run<T, Fut>(&mut self, name: &str, fut: Fut) -> anyhow::Result<T>
    where
        Fut: std::future::Future<Output = anyhow::Result<(T, String)>>,
    {
        self.step += 1;
        let t = Instant::now();
        eprint!("[{:>2}/{}] {name} … ", self.step, self.total);
        let _ = std::io::stderr().flush();
        match fut.await {
            Ok((v, detail)) => {
                eprintln!("{detail} ({:.2}s)", t.elapsed().as_secs_f64());
                Ok(v)
            }
            Err(e) => {
                eprintln!("FAILED ({:.1}s)", t.elapsed().as_secs_f64());
                Err(e.context(format!("step {} ({name}) failed", self.step)))
            }
        }
    }
}

fn made(created: bool) -> &'static str {
    if created { "created" } else { "exists" }
}

// ------------------------------------------------------------------------------ up

/// Refuses to start without root or the kernel features and programs localcloud needs.
fn preflight() -> anyhow::Result<()> {
    if !linkplane_localcloud::running_as_root() {
        bail!(
            "linkplane up needs root (it builds namespaces, veths and nftables): run it as root, e.g. sudo linkplane up"
        );
    }
    for prog in ["ip", "nft", "nsenter"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
            .unwrap_or(false);
        if !found {
            bail!(
                "`{prog}` is missing: install the Debian packages iproute2, nftables and util-linux (./scripts/install-deps does)"
            );
        }
    }
    for (path, what) in [
        ("/proc/self/ns/net", "network namespaces (CONFIG_NET_NS)"),
        ("/proc/sys/net/ipv4/ip_forward", "IPv4 forwarding"),
    ] {
        if !Path::new(path).exists() {
            bail!("this kernel lacks {what} ({path} is missing): localcloud cannot run here");
        }
    }
    Ok(())
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

fn pid_alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

fn read_pid(data_dir: &Path) -> Option<i32> {
    std::fs::read_to_string(data_dir.join(PID_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

async fn healthy(server: &Client) -> bool {
    server.healthy().await
}

/// Reuses a control plane answering at `--listen`, or starts `linkplane serve` detached.
async fn ensure_serve(
    args: &UpArgs,
    data_dir: &Path,
    server: &Client,
) -> anyhow::Result<(String, String)> {
    let url = format!("http://{}", args.listen);
    if healthy(server).await {
        if !data_dir.join("admin.token").exists() {
            bail!(
                "a control plane already answers at {url}, but {} has none of its files: give its \
                 --data-dir, or another --listen for a new one",
                data_dir.display()
            );
        }
        return Ok((url.clone(), format!("reusing {url}")));
    }
    // `down` deletes the directory only when `up` made it (or found it empty).
    let ours = data_dir.join(MARKER).exists()
        || std::fs::read_dir(data_dir).map_or(true, |mut d| d.next().is_none());
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    if ours {
        std::fs::write(
            data_dir.join(MARKER),
            json!({"prefix": args.prefix, "listen": args.listen.to_string()}).to_string(),
        )?;
    }
    let log_path = data_dir.join(LOG_FILE);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let exe = linkplane_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("serve")
        .arg("--listen")
        .arg(args.listen.to_string())
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--prefix")
        .arg(&args.prefix)
        .arg("--agent-heartbeat-interval")
        .arg(&args.agent_heartbeat_interval)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().context("cannot start linkplane serve")?;
    std::fs::write(data_dir.join(PID_FILE), child.id().to_string())?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Some(status) = child.try_wait()? {
            let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
            let last = tail
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            bail!(
                "linkplane serve exited ({status}); the end of {}:\n{last}",
                log_path.display()
            );
        }
        if healthy(server).await {
            return Ok((
                url,
                format!("started pid {} (log {})", child.id(), log_path.display()),
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!(
        "linkplane serve did not answer on {url} within 60s; see {}",
        log_path.display()
    )
}

/// This binary's path, read once: a rebuild that replaces the file while `up` runs must not
/// leave later steps with `/proc/self/exe`'s "(deleted)" name.
fn linkplane_exe() -> anyhow::Result<PathBuf> {
    static EXE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    EXE.get_or_init(|| std::env::current_exe().ok())
        .clone()
        .ok_or_else(|| anyhow!("cannot find the linkplane binary (/proc/self/exe)"))
}

fn read_secret(path: &Path) -> anyhow::Result<String> {
    let t = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading {} (written by `linkplane serve` on first start)",
            path.display()
        )
    })?;
    let t = t.trim().to_owned();
    if t.is_empty() {
        bail!("{} is empty", path.display());
    }
    Ok(t)
}

/// Everything `up` found or created, filled step by step.
#[derive(Default)]
struct State {
    cluster_id: String,
    public_ip: Option<String>,
    external_ips: Vec<String>,
    deployment_id: String,
    api_url: String,
    host: String,
    service_name: String,
    zones: Vec<String>,
    vpc_id: String,
    subnet_ids: Vec<String>,
    sg_id: String,
    endpoint_id: String,
    endpoint_dns: String,
    endpoint_ips: Vec<String>,
    instance_id: String,
}

pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    linkplane_localcloud::Prefix::parse(&args.prefix).map_err(|e| anyhow!("--prefix: {e}"))?;
    preflight()?;
    linkplane_exe()?;
    let data_dir = absolute(&args.data_dir)?;
    let timeout = Duration::from_secs(args.timeout);
    let client = |token: Option<String>, principal: Option<&str>| {
        let mut b = Client::builder(format!("http://{}", args.listen))
            .token_opt(token)
            .timeout(Duration::from_secs(120));
        if let Some(p) = principal {
            b = b.principal(p);
        }
        b.build().map_err(|e| anyhow!("--listen {e}"))
    };
    let server = client(None, None)?;
    let mut p = Progress {
        step: 0,
        total: 13,
        started: Instant::now(),
    };

    let url = p
        .run("control plane", async {
            ensure_serve(&args, &data_dir, &server)
                .await
                .map(|(u, d)| (u.clone(), d))
        })
        .await?;
    let token_file = data_dir.join("admin.token");
    let org = read_secret(&data_dir.join("organization-id"))?;
    let plane = Api {
        client: client(Some(read_secret(&token_file)?), None)?,
        prefix: Some(format!("/v1/organizations/{org}")),
    };
    let cloud = Api {
        client: client(
            Some(read_secret(
                &data_dir.join(linkplane_localcloud::TOKEN_FILE),
            )?),
            Some(CUSTOMER_PRINCIPAL),
        )?,
        prefix: None,
    };
    let mut s = State::default();

    p.run(
        "cluster (LOCAL, DEDICATED)",
        cluster(&plane, &mut s, timeout),
    )
    .await?;
    p.run("deployment", deployment(&plane, &mut s)).await?;
    let agent_token_file = data_dir.join(AGENT_TOKEN_FILE);
    p.run("agent token", agent_token(&plane, &s, &agent_token_file))
        .await?;
    p.run("PrivateLink service", private_link(&plane, &mut s, timeout))
        .await?;
    p.run("customer VPC and subnets", customer_vpc(&cloud, &mut s))
        .await?;
    p.run(
        "endpoint security group (443 from the agents' subnet)",
        endpoint_sg(&cloud, &mut s),
    )
    .await?;
    p.run("customer endpoint", endpoint(&cloud, &mut s)).await?;
    p.run("private hosted zone and record", zone(&cloud, &s))
        .await?;
    p.run(
        "accept the endpoint",
        accept(&plane, &cloud, &mut s, timeout),
    )
    .await?;
    let ca_file = data_dir.join("ca.pem");
    p.run(
        "customer instance running the agent",
        instance(&cloud, &mut s, &agent_token_file, &ca_file),
    )
    .await?;
    p.run("agent heartbeating", agent_healthy(&plane, &s, timeout))
        .await?;
    let verify = p
        .run("verify", async {
            let v = verify(&url, &data_dir, &org, &s).await;
            let d = format!(
                "{} ({} checks)",
                if v.passed { "passed" } else { "FAILED" },
                v.checks.len()
            );
            Ok((v, d))
        })
        .await?;

    s.public_ip = public_ip(&cloud, &s.host).await;
    let summary = Summary {
        control_plane_url: url,
        data_dir: data_dir.display().to_string(),
        organization_id: org,
        token_file: token_file.display().to_string(),
        cluster_id: s.cluster_id,
        deployment_id: s.deployment_id,
        api_url: s.api_url,
        public_ip: s.public_ip,
        external_ips: s.external_ips,
        customer_principal: CUSTOMER_PRINCIPAL.to_owned(),
        customer_vpc: s.vpc_id,
        customer_instance: s.instance_id,
        endpoint_id: s.endpoint_id,
        endpoint_ips: s.endpoint_ips,
        service_name: s.service_name,
        ca_file: ca_file.display().to_string(),
        agent_token_file: agent_token_file.display().to_string(),
        verify,
    };
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        Output::Table => print_summary(&summary, &s.host, p.started.elapsed()),
    }
    if !summary.verify.passed {
        bail!("verification failed: see the checks above");
    }
    Ok(())
}

fn print_summary(s: &Summary, host: &str, took: Duration) {
    println!();
    println!(
        "linkplane is up ({:.0}s). Document 000, working:",
        took.as_secs_f64()
    );
    println!(
        "  control plane     {}  (token file {})",
        s.control_plane_url, s.token_file
    );
    println!("  organization      {}", s.organization_id);
    println!(
        "  cluster           {}  public IP {}, external IPs {}",
        s.cluster_id,
        s.public_ip.as_deref().unwrap_or("-"),
        s.external_ips.join(", ")
    );
    println!(
        "  deployment        {}  API URL {}",
        s.deployment_id, s.api_url
    );
    println!("  service name      {}", s.service_name);
    println!(
        "  customer          {}  VPC {}",
        s.customer_principal, s.customer_vpc
    );
    println!(
        "  endpoint          {}  private IPs {}",
        s.endpoint_id,
        s.endpoint_ips.join(", ")
    );
    println!("  agent instance    {}", s.customer_instance);
    println!();
    if let Ok(exe) = linkplane_exe() {
        let on_path = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| Some(d.as_path()) == exe.parent()));
        if !on_path {
            println!("(`linkplane` below is {})", exe.display());
        }
    }
    println!("Try it from the customer's instance:");
    let cloud = format!(
        "linkplane cloud --url {} --cloud-token-file {}/cloud.token --as {}",
        s.control_plane_url, s.data_dir, s.customer_principal
    );
    println!(
        "  {cloud} exec {} -- dig +short {host}",
        s.customer_instance
    );
    println!(
        "  {cloud} exec {} -- curl -sS --cacert {} https://{host}/    # 404 page not found",
        s.customer_instance, s.ca_file
    );
    if let Some(ip) = &s.public_ip {
        println!();
        println!(
            "The public path (from the internet namespace; refused once the cluster is --private-only):"
        );
        println!(
            "  {cloud} internet exec -- curl -sS --cacert {} --resolve {host}:443:{ip} https://{host}/",
            s.ca_file
        );
    }
    println!();
    println!("The control plane, with the CLI:");
    println!(
        "  export LINKPLANE_URL={} LINKPLANE_TOKEN_FILE={}",
        s.control_plane_url, s.token_file
    );
    println!("  linkplane agent list --deployment {}", s.deployment_id);
    println!();
    println!(
        "Verification: {}",
        if s.verify.passed { "PASSED" } else { "FAILED" }
    );
    for c in &s.verify.checks {
        println!(
            "  [{}] {}: {}",
            if c.passed { "ok" } else { "FAIL" },
            c.name,
            c.detail
        );
        if let Some(fix) = c.fix.as_deref().filter(|_| !c.passed) {
            println!("         fix: {fix}");
        }
    }
    println!();
    println!(
        "Remove everything with: linkplane down --data-dir {}",
        s.data_dir
    );
}

async fn cluster(plane: &Api, s: &mut State, timeout: Duration) -> anyhow::Result<((), String)> {
    let existing = plane.list("/clusters").await?;
    let (id, created) = match find_by(&existing, "name", CLUSTER_NAME) {
        Some(c) => (text(c, "id")?, false),
        None => {
            let c = plane
                .post(
                    "/clusters",
                    json!({"name": CLUSTER_NAME, "cloudProvider": "LOCAL", "type": "DEDICATED",
                           "region": "us-east-1", "vpcSubnetRange": CLUSTER_CIDR}),
                )
                .await?;
            (text(&c, "id")?, true)
        }
    };
    let path = format!("/clusters/{id}");
    let c = until("cluster CREATED", timeout, || async {
        let c = plane.get(&path).await?;
        match c.get("status").and_then(Value::as_str) {
            Some("CREATED") => Ok(Some(c)),
            Some("CREATE_FAILED") => bail!(
                "cluster {id} CREATE_FAILED: {}",
                c.get("statusReason")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given")
            ),
            _ => Ok(None),
        }
    })
    .await?;
    s.external_ips = c
        .get("externalIps")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    s.cluster_id = id;
    Ok(((), format!("{} {} CREATED", s.cluster_id, made(created))))
}

async fn deployment(plane: &Api, s: &mut State) -> anyhow::Result<((), String)> {
    let existing = plane.list("/deployments").await?;
    let found = existing
        .iter()
        .find(|d| field_is(d, "name", DEPLOYMENT_NAME) && field_is(d, "clusterId", &s.cluster_id));
    let (d, created) = match found {
        Some(d) => (d.clone(), false),
        None => (
            plane
                .post(
                    "/deployments",
                    json!({"name": DEPLOYMENT_NAME, "clusterId": s.cluster_id, "remoteExecution": {"enabled": true}}),
                )
                .await?,
            true,
        ),
    };
    s.deployment_id = text(&d, "id")?;
    s.api_url = text(&d, "apiUrl")?;
    s.host = s
        .api_url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_owned();
    Ok((
        (),
        format!("{} {}, {}", s.deployment_id, made(created), s.api_url),
    ))
}

/// The token is shown once: reuse the file while its token is live, else revoke and renew.
async fn agent_token(plane: &Api, s: &State, file: &Path) -> anyhow::Result<((), String)> {
    let path = format!("/deployments/{}/agent-tokens", s.deployment_id);
    let tokens = plane.list(&path).await?;
    let live = tokens.iter().find(|t| {
        field_is(t, "name", AGENT_TOKEN_NAME) && t.get("revokedAt").is_none_or(Value::is_null)
    });
    if let Some(t) = live {
        let id = text(t, "id")?;
        if file.exists() {
            return Ok(((), format!("{id} exists ({})", file.display())));
        }
        plane
            .call(Method::DELETE, &format!("{path}/{id}"), None)
            .await?;
    }
    let created = plane.post(&path, json!({"name": AGENT_TOKEN_NAME})).await?;
    let token = text(&created, "token")?;
    let id = created
        .get("agentToken")
        .and_then(|t| t.get("id"))
        .or_else(|| created.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    write_private(file, &token)?;
    Ok((
        (),
        format!("{id} created, written to {} (0600)", file.display()),
    ))
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    writeln!(f, "{content}")?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

async fn private_link(
    plane: &Api,
    s: &mut State,
    timeout: Duration,
) -> anyhow::Result<((), String)> {
    let path = format!("/clusters/{}/private-link", s.cluster_id);
    let current = plane.get(&path).await.ok();
    let has_customer = current
        .as_ref()
        .and_then(|c| c.get("allowedPrincipals"))
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|p| p.as_str() == Some(CUSTOMER_PRINCIPAL)));
    if !has_customer {
        plane
            .call(
                Method::PUT,
                &path,
                Some(json!({"allowedPrincipals": [CUSTOMER_PRINCIPAL]})),
            )
            .await?;
    }
    let plane_last = std::sync::Mutex::new(Value::Null);
    let pl = until("PrivateLink service AVAILABLE", timeout, || async {
        let pl = plane.get(&path).await?;
        if let Ok(mut last) = plane_last.lock() {
            *last = pl.clone();
        }
        match pl.get("status").and_then(Value::as_str) {
            Some("AVAILABLE") => Ok(Some(pl)),
            Some("FAILED") => bail!(
                "the PrivateLink service FAILED: {}",
                pl.get("statusReason")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given")
            ),
            _ => Ok(None),
        }
    })
    .await
    .map_err(|e| match last_status(&plane_last) {
        Some(st) => e.context(format!("the control plane reports it {st}")),
        None => e,
    })?;
    s.service_name = text(&pl, "serviceName")?;
    s.zones = pl
        .get("availabilityZones")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if s.zones.len() < 2 {
        bail!(
            "the service supports fewer than two availability zones: {:?}",
            s.zones
        );
    }
    Ok((
        (),
        format!(
            "{} in {} ({})",
            s.service_name,
            s.zones.join(", "),
            made(!has_customer)
        ),
    ))
}

async fn customer_vpc(cloud: &Api, s: &mut State) -> anyhow::Result<((), String)> {
    let vpcs = cloud.list("/vpcs").await?;
    let (vpc, created) = match find_by(&vpcs, "name", VPC_NAME) {
        Some(v) => (v.clone(), false),
        None => (
            cloud
                .post(
                    "/vpcs",
                    json!({"cidrBlock": VPC_CIDR, "region": "us-east-1", "name": VPC_NAME}),
                )
                .await?,
            true,
        ),
    };
    s.vpc_id = text(&vpc, "vpcId")?;
    let subnets = cloud.list(&format!("/subnets?vpcId={}", s.vpc_id)).await?;
    s.subnet_ids.clear();
    for ((name, cidr), az) in SUBNETS.iter().zip(&s.zones) {
        let sn = match find_by(&subnets, "name", name) {
            Some(sn) => sn.clone(),
            None => cloud.post("/subnets", json!({"vpcId": s.vpc_id, "cidrBlock": cidr, "availabilityZone": az, "name": name})).await?,
        };
        s.subnet_ids.push(text(&sn, "subnetId")?);
    }
    Ok((
        (),
        format!(
            "{} {} ({VPC_CIDR}), subnets {}",
            s.vpc_id,
            made(created),
            s.subnet_ids.join(", ")
        ),
    ))
}

async fn endpoint_sg(cloud: &Api, s: &mut State) -> anyhow::Result<((), String)> {
    let groups = cloud
        .list(&format!("/security-groups?vpcId={}", s.vpc_id))
        .await?;
    let (g, created) = match find_by(&groups, "groupName", ENDPOINT_SG) {
        Some(g) => (g.clone(), false),
        None => (
            cloud
                .post("/security-groups", json!({"vpcId": s.vpc_id, "groupName": ENDPOINT_SG, "description": "HTTPS from the agents' subnet"}))
                .await?,
            true,
        ),
    };
    s.sg_id = text(&g, "groupId")?;
    let agents = SUBNETS[0].1;
    let has_rule = g
        .get("rules")
        .and_then(Value::as_array)
        .is_some_and(|rules| {
            rules.iter().any(|r| {
                field_is(r, "direction", "ingress")
                    && field_is(r, "cidrIp", agents)
                    && r.get("fromPort") == Some(&json!(443))
            })
        });
    if !has_rule {
        cloud
            .post(
                &format!("/security-groups/{}/rules", s.sg_id),
                json!({"direction": "ingress", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIp": agents}),
            )
            .await?;
    }
    Ok((
        (),
        format!("{} {}, tcp/443 from {agents}", s.sg_id, made(created)),
    ))
}

/// The address the platform publishes for the host name on the public path, if any.
async fn public_ip(cloud: &Api, host: &str) -> Option<String> {
    let records = cloud.list("/public-records").await.ok()?;
    let record = records.iter().find(|r| {
        r.get("name")
            .and_then(Value::as_str)
            .map(|n| n.trim_end_matches('.'))
            == Some(host)
    })?;
    record.get("values")?.get(0)?.as_str().map(str::to_owned)
}

/// `STATUS (reason)` of the last answer seen, if any.
fn last_status(last: &std::sync::Mutex<Value>) -> Option<String> {
    let v = last.lock().ok()?.clone();
    let status = v.get("status")?.as_str()?.to_owned();
    Some(match v.get("statusReason").and_then(Value::as_str) {
        Some(r) => format!("{status} ({r})"),
        None => status,
    })
}

fn endpoint_facts(s: &mut State, e: &Value) -> anyhow::Result<()> {
    s.endpoint_id = text(e, "vpcEndpointId")?;
    s.endpoint_ips = e
        .get("networkInterfaces")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|n| n.get("privateIpAddress").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    s.endpoint_dns = e
        .get("dnsEntries")
        .and_then(|d| d.get(0))
        .and_then(|d| d.get("dnsName"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(())
}

async fn endpoint(cloud: &Api, s: &mut State) -> anyhow::Result<((), String)> {
    let endpoints = cloud.list("/vpc-endpoints").await?;
    let live = endpoints.iter().find(|e| {
        field_is(e, "serviceName", &s.service_name)
            && field_is(e, "vpcId", &s.vpc_id)
            && matches!(
                e.get("state").and_then(Value::as_str),
                Some("pendingAcceptance" | "available")
            )
    });
    let (e, created) = match live {
        Some(e) => (e.clone(), false),
        None => (
            cloud
                .post(
                    "/vpc-endpoints",
                    json!({"vpcId": s.vpc_id, "serviceName": s.service_name, "subnetIds": s.subnet_ids,
                           "securityGroupIds": [s.sg_id], "privateDnsEnabled": false}),
                )
                .await?,
            true,
        ),
    };
    endpoint_facts(s, &e)?;
    Ok((
        (),
        format!(
            "{} {}, {} ({})",
            s.endpoint_id,
            made(created),
            s.endpoint_ips.join(", "),
            text(&e, "state")?
        ),
    ))
}

async fn zone(cloud: &Api, s: &State) -> anyhow::Result<((), String)> {
    let Some((_, base)) = s.host.split_once(".external.") else {
        bail!(
            "the API URL's host {:?} is not <clusterId>.external.<baseDomain>",
            s.host
        );
    };
    let name = format!("external.{base}");
    let zones = cloud.list("/hosted-zones").await?;
    let found = zones.iter().find(|z| {
        z.get("name")
            .and_then(Value::as_str)
            .map(|n| n.trim_end_matches('.'))
            == Some(name.as_str())
    });
    let (z, created) = match found {
        Some(z) => (z.clone(), false),
        None => (
            cloud
                .post("/hosted-zones", json!({"name": name, "vpcIds": [s.vpc_id]}))
                .await?,
            true,
        ),
    };
    let zone_id = text(&z, "hostedZoneId")?;
    let associated = z
        .get("vpcIds")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(&s.vpc_id)));
    if !associated {
        cloud
            .post(
                &format!("/hosted-zones/{zone_id}/vpcs"),
                json!({"vpcId": s.vpc_id}),
            )
            .await?;
    }
    if s.endpoint_dns.is_empty() {
        bail!(
            "endpoint {} has no DNS name to point the record at",
            s.endpoint_id
        );
    }
    let record = json!({"name": s.host, "type": "ALIAS", "ttl": 60, "values": [s.endpoint_dns]});
    let has = z
        .get("recordSets")
        .and_then(Value::as_array)
        .is_some_and(|r| {
            r.iter().any(|r| {
                r.get("name")
                    .and_then(Value::as_str)
                    .map(|n| n.trim_end_matches('.'))
                    == Some(s.host.as_str())
                    && r.get("values") == record.get("values")
            })
        });
    if !has {
        cloud
            .post(&format!("/hosted-zones/{zone_id}/records"), record)
            .await?;
    }
    Ok((
        (),
        format!(
            "{zone_id} {name} {}, {} → {}",
            made(created),
            s.host,
            s.endpoint_dns
        ),
    ))
}

async fn accept(
    plane: &Api,
    cloud: &Api,
    s: &mut State,
    timeout: Duration,
) -> anyhow::Result<((), String)> {
    let path = format!("/clusters/{}/private-link/connections", s.cluster_id);
    let endpoint_id = s.endpoint_id.clone();
    let conn = until(
        "the endpoint's connection on the control plane",
        timeout,
        || async {
            let conns = plane.list(&path).await?;
            Ok(find_by(&conns, "cloudEndpointId", &endpoint_id).cloned())
        },
    )
    .await?;
    let id = text(&conn, "id")?;
    let accepted = if field_is(&conn, "status", "PENDING_ACCEPTANCE") {
        plane
            .post(&format!("{path}/{id}/accept"), json!({}))
            .await?;
        true
    } else {
        false
    };
    let e = until("the endpoint available", timeout, || async {
        let e = cloud.get(&format!("/vpc-endpoints/{endpoint_id}")).await?;
        match e.get("state").and_then(Value::as_str) {
            Some("available") => Ok(Some(e)),
            Some(st @ ("rejected" | "failed" | "deleted")) => {
                bail!("endpoint {endpoint_id} is {st}")
            }
            _ => Ok(None),
        }
    })
    .await?;
    endpoint_facts(s, &e)?;
    Ok((
        (),
        format!(
            "{id} {}, endpoint available",
            if accepted {
                "accepted"
            } else {
                "already accepted"
            }
        ),
    ))
}

async fn instance(
    cloud: &Api,
    s: &mut State,
    token_file: &Path,
    ca_file: &Path,
) -> anyhow::Result<((), String)> {
    let instances = cloud
        .list(&format!("/instances?vpcId={}", s.vpc_id))
        .await?;
    let running = instances
        .iter()
        .find(|i| field_is(i, "name", INSTANCE_NAME) && !field_is(i, "state", "terminated"));
    let (i, created) = match running {
        Some(i) => (i.clone(), false),
        None => (
            cloud
                .post(
                    "/instances",
                    json!({"subnetId": s.subnet_ids[0], "name": INSTANCE_NAME}),
                )
                .await?,
            true,
        ),
    };
    s.instance_id = text(&i, "instanceId")?;
    let procs = cloud
        .list(&format!("/instances/{}/processes", s.instance_id))
        .await?;
    let agent_running = procs.iter().any(|p| {
        p.get("running") == Some(&Value::Bool(true))
            && p.get("command")
                .and_then(Value::as_array)
                .is_some_and(|c| c.iter().any(|a| a.as_str() == Some("agent")))
    });
    if !agent_running {
        let exe = linkplane_exe()?.display().to_string();
        let command = json!([
            exe,
            "agent",
            "run",
            "--api-url",
            s.api_url,
            "--token-file",
            token_file.display().to_string(),
            "--ca-file",
            ca_file.display().to_string(),
            "--name",
            AGENT_NAME
        ]);
        cloud
            .post(
                &format!("/instances/{}/processes", s.instance_id),
                json!({"command": command}),
            )
            .await?;
    }
    Ok((
        (),
        format!(
            "{} {} at {}, agent {}",
            s.instance_id,
            made(created),
            text(&i, "privateIpAddress")?,
            if agent_running { "running" } else { "started" }
        ),
    ))
}

async fn agent_healthy(plane: &Api, s: &State, timeout: Duration) -> anyhow::Result<((), String)> {
    let path = format!("/deployments/{}/agents", s.deployment_id);
    let agent = until("agent HEALTHY", timeout, || async {
        let agents = plane.list(&path).await?;
        Ok(agents
            .into_iter()
            .find(|a| field_is(a, "name", AGENT_NAME) && field_is(a, "status", "HEALTHY")))
    })
    .await?;
    Ok(((), format!("{} HEALTHY", text(&agent, "id")?)))
}

/// Runs `linkplane verify --deployment D --from INSTANCE --output json` as a user would.
async fn verify(url: &str, data_dir: &Path, org: &str, s: &State) -> Verification {
    let failed = |detail: String| Verification {
        passed: false,
        checks: vec![Check {
            name: "verify".into(),
            passed: false,
            detail,
            diagnosis: None,
            fix: None,
        }],
    };
    let exe = match linkplane_exe() {
        Ok(e) => e,
        Err(e) => return failed(format!("cannot find the linkplane binary: {e}")),
    };
    let out = tokio::process::Command::new(exe)
        .args([
            "verify",
            "--deployment",
            &s.deployment_id,
            "--from",
            &s.instance_id,
            "--output",
            "json",
        ])
        .env("LINKPLANE_URL", url)
        .env("LINKPLANE_DATA_DIR", data_dir)
        .env("LINKPLANE_TOKEN_FILE", data_dir.join("admin.token"))
        .env("LINKPLANE_ORG", org)
        .env("LINKPLANE_CLOUD_PRINCIPAL", CUSTOMER_PRINCIPAL)
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    let out = match out {
        Ok(o) => o,
        Err(e) => return failed(format!("cannot run linkplane verify: {e}")),
    };
    match serde_json::from_slice::<Verification>(&out.stdout) {
        Ok(v) => v,
        Err(_) => failed(format!(
            "linkplane verify gave no report ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

// ------------------------------------------------------------------------------ down

/// The prefix `up` recorded in the data directory, if any.
fn recorded_prefix(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(MARKER)).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.get("prefix")?.as_str().map(str::to_owned)
}

pub async fn down(args: DownArgs) -> anyhow::Result<()> {
    let data_dir = absolute(&args.data_dir)?;
    let prefix_name = args
        .prefix
        .clone()
        .or_else(|| recorded_prefix(&data_dir))
        .unwrap_or_else(|| "lp".to_owned());
    let prefix =
        linkplane_localcloud::Prefix::parse(&prefix_name).map_err(|e| anyhow!("--prefix: {e}"))?;
    if !linkplane_localcloud::running_as_root() {
        bail!("linkplane down needs root (it deletes network namespaces): run it as root");
    }
    match read_pid(&data_dir) {
        Some(pid) if pid_alive(pid) && is_serve(pid) => {
            stop(pid).await;
            eprintln!("stopped linkplane serve (pid {pid})");
        }
        _ => eprintln!(
            "no background linkplane serve of {} is running",
            data_dir.display()
        ),
    }
    let report = tokio::task::spawn_blocking(move || linkplane_localcloud::gc(&prefix)).await?;
    eprintln!(
        "removed {} namespaces, killed {} processes (prefix {})",
        report.namespaces.len(),
        report.processes_killed,
        prefix_name
    );
    if data_dir.join(MARKER).exists() {
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("removing {}", data_dir.display()))?;
        eprintln!("removed {}", data_dir.display());
    } else if data_dir.exists() {
        eprintln!(
            "kept {}: `linkplane up` did not create it",
            data_dir.display()
        );
    }
    Ok(())
}

fn is_serve(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| c.split(|b| *b == 0).any(|a| a == b"serve"))
        .unwrap_or(false)
}

/// SIGTERM (graceful shutdown), then SIGKILL after 20 s.
async fn stop(pid: i32) {
    use nix::sys::signal::{Signal, kill};
    let p = nix::unistd::Pid::from_raw(pid);
    let _ = kill(p, Signal::SIGTERM);
    let start = Instant::now();
    while pid_alive(pid) && start.elapsed() < Duration::from_secs(20) {
        // Reap it if it is our child (it is not, normally: `up` ran in another process).
        let _ = nix::sys::wait::waitpid(p, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if pid_alive(pid) {
        let _ = kill(p, Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_report_parses() {
        let v: Verification = serde_json::from_str(
            r#"{"passed":false,"checks":[{"name":"dns","passed":false,"detail":"NXDOMAIN"}]}"#,
        )
        .unwrap();
        assert!(!v.passed);
        assert_eq!(v.checks[0].name, "dns");
        assert!(serde_json::from_str::<Verification>("not json").is_err());
    }

    #[test]
    fn polling_starts_at_100_ms_and_grows_to_one_second() {
        let mut pauses = vec![POLL_FIRST];
        for _ in 0..10 {
            pauses.push(next_poll(*pauses.last().unwrap()));
        }
        let ms: Vec<u128> = pauses.iter().map(Duration::as_millis).collect();
        assert_eq!(ms[..7], [100, 150, 225, 337, 506, 759, 1000]);
        assert!(ms[7..].iter().all(|m| *m == 1000), "capped at 1 s: {ms:?}");
    }

    #[test]
    fn lookups_by_field() {
        let items = vec![
            json!({"name": "a", "id": "1"}),
            json!({"name": "b", "id": "2"}),
        ];
        assert_eq!(
            find_by(&items, "name", "b").map(|v| v["id"].clone()),
            Some(json!("2"))
        );
        assert!(find_by(&items, "name", "c").is_none());
        assert!(text(&items[0], "missing").is_err());
    }

    #[test]
    fn private_files_are_0600() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t");
        write_private(&f, "secret").unwrap();
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "secret\n");
    }
}
