//! One strongSwan charon per namespace: its own directory (strongswan.conf, pid file, vici
//! socket, log), started inside the namespace that owns the tunnel's outside address, and
//! driven over vici (the daemon's control protocol), never by reading its log.
//!
//! charon runs with `kernel-libipsec` (ESP in userspace through a TUN device, UDP
//! encapsulated: this kernel has no ESP) and `kernel-netlink` (addresses and routes).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::kernel;

/// The daemon binary (Debian's `charon-systemd`; it writes no pid file of its own, so several
/// run side by side).
pub const CHARON: &str = "/usr/sbin/charon-systemd";
/// The connection name every platform-side charon knows its tunnel by.
pub const CONN: &str = "tunnel";

/// Plugins loaded (in this order: kernel-libipsec before kernel-netlink so it is the IPsec
/// backend while netlink does addresses and routes).
const PLUGINS: &str = "random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 pubkey kernel-libipsec kernel-netlink socket-default vici counters updown";

/// A charon's directory and what is in it.
#[derive(Debug, Clone)]
pub struct Charon {
    pub dir: PathBuf,
    pub ns: String,
}

impl Charon {
    pub fn new(dir: PathBuf, ns: String) -> Self {
        Self { dir, ns }
    }
    pub fn socket(&self) -> PathBuf {
        self.dir.join("charon.vici")
    }
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("charon.pid")
    }
    pub fn conf(&self) -> PathBuf {
        self.dir.join("strongswan.conf")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join("charon.log")
    }

    /// strongswan.conf: charon's settings for this namespace. `install_routes` is off on the
    /// platform side (the engine routes into the TUN device) and on for customer sites.
    pub fn render_conf(&self, install_routes: bool) -> String {
        format!(
            "# Written by localcloud for {ns}.\ncharon-systemd {{\n  load = {PLUGINS}\n  install_routes = {ir}\n  install_virtual_ip = no\n  retransmit_timeout = 1.0\n  retransmit_base = 1.2\n  retransmit_tries = 3\n  filelog {{\n    log {{\n      path = {log}\n      default = 1\n      time_format = %b %e %T\n    }}\n  }}\n  journal {{\n    default = -1\n  }}\n  plugins {{\n    vici {{\n      socket = unix://{sock}\n    }}\n  }}\n}}\n",
            ns = self.ns,
            ir = if install_routes { "yes" } else { "no" },
            log = self.log().display(),
            sock = self.socket().display(),
        )
    }

    /// The pid of a running charon of this directory inside its namespace, if there is one.
    pub fn running_pid(&self) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        if !String::from_utf8_lossy(&cmdline).contains("charon-systemd") {
            return None;
        }
        let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        let want = format!("STRONGSWAN_CONF={}", self.conf().display());
        if !environ.split(|b| *b == 0).any(|e| e == want.as_bytes()) {
            return None;
        }
        let ns = std::fs::metadata(linkplane_netns::path(&self.ns))
            .ok()?
            .ino();
        let its = std::fs::metadata(format!("/proc/{pid}/ns/net")).ok()?.ino();
        (ns == its && !kernel::is_zombie(pid)).then_some(pid)
    }

    /// Adopt the running charon (its vici socket answers) or start one. Returns whether a new
    /// daemon was started (its configuration must then be loaded).
    pub async fn ensure(&self, install_routes: bool) -> Result<bool> {
        if self.running_pid().is_some() && Vici::connect(&self.socket()).await.is_ok() {
            return Ok(false);
        }
        self.stop().await;
        std::fs::create_dir_all(&self.dir)
            .map_err(Error::io(format!("create {}", self.dir.display())))?;
        std::fs::write(self.conf(), self.render_conf(install_routes))
            .map_err(Error::io(format!("write {}", self.conf().display())))?;
        let _ = std::fs::remove_file(self.socket());
        let out = std::fs::File::create(self.dir.join("charon.out"))
            .map_err(Error::io(format!("create {}", self.dir.display())))?;
        let err = out
            .try_clone()
            .map_err(Error::io(format!("open {}", self.dir.display())))?;
        let mut cmd = tokio::process::Command::new("nsenter");
        cmd.arg(format!(
            "--net={}",
            linkplane_netns::path(&self.ns).display()
        ))
        .arg(CHARON)
        .env("STRONGSWAN_CONF", self.conf())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
        let mut child = cmd.spawn().map_err(|e| {
            Error::kernel(
                format!("start charon in {}", self.ns),
                format!("{e} (install the Debian package charon-systemd)"),
            )
        })?;
        let pid = child.id().map(|p| p as i32).unwrap_or(0);
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        std::fs::write(self.pid_file(), format!("{pid}\n"))
            .map_err(Error::io(format!("write {}", self.pid_file().display())))?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if Vici::connect(&self.socket()).await.is_ok() {
                break;
            }
            if tokio::time::Instant::now() > deadline || kernel::is_zombie(pid) {
                return Err(Error::kernel(
                    format!("start charon in {}", self.ns),
                    format!(
                        "its vici socket {} did not answer; see {}",
                        self.socket().display(),
                        self.log().display()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::info!(ns = %self.ns, pid, "charon started");
        Ok(true)
    }

    /// Stop this directory's charon, if it runs.
    pub async fn stop(&self) {
        if let Some(pid) = self.running_pid() {
            kernel::stop_process(pid, Duration::from_secs(2)).await;
            tracing::info!(ns = %self.ns, pid, "charon stopped");
        }
        let _ = std::fs::remove_file(self.pid_file());
        let _ = std::fs::remove_file(self.socket());
    }
}

/// A vici session with one charon.
pub struct Vici(rsvici::Client);

fn vici_err(what: &str) -> impl FnOnce(rsvici::Error) -> Error + '_ {
    move |e| Error::kernel(format!("vici {what}"), e.to_string())
}

#[derive(Debug, Deserialize)]
struct Answer {
    success: bool,
    #[serde(default)]
    errmsg: Option<String>,
}

impl Answer {
    fn check(self, what: &str) -> Result<()> {
        if self.success {
            Ok(())
        } else {
            Err(Error::kernel(
                format!("vici {what}"),
                self.errmsg.unwrap_or_else(|| "refused".into()),
            ))
        }
    }
}

/// `load-shared`: a pre-shared key for the two identities. Not Debug: it holds the key.
#[derive(Serialize)]
struct Shared<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    data: &'a str,
    owners: Vec<&'a str>,
}

/// One IKE connection as vici's `load-conn` takes it.
#[derive(Debug, Clone, Serialize)]
pub struct Conn {
    pub version: String,
    pub local_addrs: Vec<String>,
    pub remote_addrs: Vec<String>,
    pub encap: bool,
    pub mobike: bool,
    pub proposals: Vec<String>,
    pub rekey_time: String,
    pub dpd_delay: String,
    pub dpd_timeout: String,
    pub unique: String,
    pub local: Auth,
    pub remote: Auth,
    pub children: HashMap<String, Child>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Auth {
    pub auth: String,
    pub id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Child {
    pub local_ts: Vec<String>,
    pub remote_ts: Vec<String>,
    pub esp_proposals: Vec<String>,
    pub rekey_time: String,
    pub start_action: String,
    pub dpd_action: String,
}

/// What `list-sas` says about one IKE SA.
#[derive(Debug, Clone, Deserialize)]
pub struct IkeSa {
    pub state: String,
    #[serde(rename = "child-sas", default)]
    pub child_sas: HashMap<String, ChildSa>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChildSa {
    pub state: String,
}

/// The IKE counters of one connection (the `counters` plugin), kebab-case names as vici
/// reports them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Counters {
    #[serde(rename = "ike-auth-in-req", default)]
    pub in_ike_auth_req: String,
    #[serde(rename = "ike-init-in-req", default)]
    pub in_ike_sa_init_req: String,
    #[serde(rename = "ike-init-in-resp", default)]
    pub in_ike_sa_init_rsp: String,
    #[serde(rename = "ike-auth-in-resp", default)]
    pub in_ike_auth_rsp: String,
}

impl Counters {
    fn n(s: &str) -> u64 {
        s.parse().unwrap_or(0)
    }
    /// IKE_AUTH exchanges seen in either role.
    pub fn auth_exchanges(&self) -> u64 {
        Self::n(&self.in_ike_auth_req) + Self::n(&self.in_ike_auth_rsp)
    }
    /// IKE_SA_INIT exchanges seen in either role.
    pub fn init_exchanges(&self) -> u64 {
        Self::n(&self.in_ike_sa_init_req) + Self::n(&self.in_ike_sa_init_rsp)
    }
}

#[derive(Debug, Deserialize)]
struct CountersAnswer {
    #[serde(default)]
    counters: HashMap<String, Counters>,
}

impl Vici {
    pub async fn connect(socket: &Path) -> Result<Self> {
        let c = tokio::time::timeout(Duration::from_secs(2), rsvici::unix::connect(socket))
            .await
            .map_err(|_| Error::kernel("vici connect", "timed out"))?
            .map_err(|e| Error::kernel("vici connect", e.to_string()))?;
        Ok(Self(c))
    }

    /// Load (or replace) the PSK for `local` and `remote` identities under `id`.
    pub async fn load_psk(&mut self, id: &str, psk: &str, local: &str, remote: &str) -> Result<()> {
        let a: Answer = self
            .0
            .request(
                "load-shared",
                Shared {
                    id,
                    kind: "IKE",
                    data: psk,
                    owners: vec![local, remote],
                },
            )
            .await
            .map_err(vici_err("load-shared"))?;
        a.check("load-shared")
    }

    /// Load (or replace) connection `name`.
    pub async fn load_conn(&mut self, name: &str, conn: Conn) -> Result<()> {
        let mut m = HashMap::new();
        m.insert(name.to_string(), conn);
        let a: Answer = self
            .0
            .request("load-conn", m)
            .await
            .map_err(vici_err("load-conn"))?;
        a.check("load-conn")
    }

    /// Every IKE SA by connection name.
    pub async fn list_sas(&mut self) -> Result<Vec<(String, IkeSa)>> {
        use futures::StreamExt;
        let stream = self
            .0
            .stream_request::<(), HashMap<String, IkeSa>>("list-sas", "list-sa", ());
        futures::pin_mut!(stream);
        let mut out = Vec::new();
        while let Some(ev) = stream.next().await {
            out.extend(ev.map_err(vici_err("list-sas"))?);
        }
        Ok(out)
    }

    /// The daemon's global IKE counters (each platform charon has one connection; a
    /// responder whose IKE_AUTH fails never selects a connection, so its named counters stay
    /// zero).
    pub async fn counters(&mut self) -> Result<Counters> {
        let a: CountersAnswer = self
            .0
            .request("get-counters", ())
            .await
            .map_err(vici_err("get-counters"))?;
        Ok(a.counters.get("").cloned().unwrap_or_default())
    }
}
