//! The `up` and `down` command lines.

use std::net::SocketAddr;
use std::path::PathBuf;

pub use crate::render::Output;

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
    /// The key file that encrypts secrets at rest, for a control plane `up` starts (`serve
    /// --secrets-key-file`) [default: <data-dir>/secrets.key].
    #[arg(long, env = "LINKPLANE_SECRETS_KEY_FILE")]
    pub secrets_key_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(
    after_long_help = "Examples (as root):\n  linkplane down                          # what `linkplane up` made in ./.linkplane\n  linkplane down --data-dir /srv/lp --prefix lp2\n  LINKPLANE_DATA_DIR=$PWD/.linkplane linkplane down   # the README walkthrough's serve"
)]
pub struct DownArgs {
    /// Installation prefix `up` used [default: the one recorded in <data-dir>/up.json, else
    /// lp].
    #[arg(long, env = "LINKPLANE_PREFIX")]
    pub prefix: Option<String>,
    /// Data directory of the control plane to stop: the serve holding it is stopped
    /// (started by `up` or by hand); the directory is deleted only when `up` made it.
    #[arg(long, default_value = "./.linkplane", env = "LINKPLANE_DATA_DIR")]
    pub data_dir: PathBuf,
}
