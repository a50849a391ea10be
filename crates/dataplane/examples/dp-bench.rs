//! A small driver for `bench/`: runs one dataplane component inside given namespaces
//! for a bounded time, so external load generators (iperf3, dnsperf) can measure it.
//!
//! ```text
//! dp-bench forward --listen-ns NS --listen 10.1.0.5:5201 --connect-ns NS \
//!                  [--source 10.2.0.1] --target 10.2.0.20:5201 [--seconds 120]
//! dp-bench dns --ns NS --listen 10.1.0.2:53 --zone corp.internal --records 1000 \
//!              [--forward onprem.corp=10.2.0.53:53] [--seconds 120]
//! ```
//! It prints `ready` on stdout once serving, and its counters when it exits.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use linkplane_dataplane::dns::{DnsView, ForwardRule, NsSockets, PrivateZone, ZoneRecord};
use linkplane_dataplane::{ForwarderConfig, NsConnector, TargetSet, TargetState, forwarder};
use linkplane_netns::NsThread;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Exit after this many seconds (benchmarks are bounded).
    #[arg(long, default_value_t = 120, global = true)]
    seconds: u64,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2, global = true)]
    workers: usize,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a TCP forwarder (splice).
    Forward {
        #[arg(long)]
        listen_ns: String,
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        connect_ns: String,
        #[arg(long)]
        source: Option<IpAddr>,
        #[arg(long)]
        target: SocketAddr,
        /// Send a PROXY v2 header with this endpoint id (the target must expect it).
        #[arg(long)]
        proxy_endpoint_id: Option<String>,
    },
    /// Run a VPC DNS server with a synthetic private zone.
    Dns {
        #[arg(long)]
        ns: String,
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long, default_value = "corp.internal")]
        zone: String,
        /// Names host0..hostN-1 in the zone, A records 10.x.y.z.
        #[arg(long, default_value_t = 1000)]
        records: u32,
        /// TTL of the records (0: answers are never cached downstream).
        #[arg(long, default_value_t = 300)]
        ttl: u32,
        /// DOMAIN=IP:PORT forwarding rules.
        #[arg(long)]
        forward: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.workers)
        .enable_all()
        .build()?;
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let limit = Duration::from_secs(cli.seconds);
    match cli.cmd {
        Cmd::Forward {
            listen_ns,
            listen,
            connect_ns,
            source,
            target,
            proxy_endpoint_id,
        } => {
            let lt = NsThread::spawn(&listen_ns)?;
            let ct = NsThread::spawn(&connect_ns)?;
            let listener = lt.tcp_listener(listen, 4096)?;
            let targets = TargetSet::new();
            targets.register_with_state(target, TargetState::Healthy);
            let fwd = forwarder::spawn(
                listener,
                targets,
                Arc::new(NsConnector { ns: ct, source }),
                ForwarderConfig {
                    proxy_protocol_endpoint_id: proxy_endpoint_id,
                    ..Default::default()
                },
            )?;
            println!("ready");
            wait(limit).await;
            fwd.stop().await;
            println!("{:?}", fwd.stats());
        }
        Cmd::Dns {
            ns,
            listen,
            zone,
            records,
            ttl,
            forward,
        } => {
            let t = NsThread::spawn(&ns)?;
            let view = DnsView::new(Arc::new(NsSockets::new(t.clone())));
            let recs = (0..records)
                .map(|i| {
                    let ip = std::net::Ipv4Addr::from(0x0a00_0000u32 + i + 1);
                    ZoneRecord::a(&format!("host{i}.{zone}"), ttl, ip)
                })
                .collect::<Result<Vec<_>, _>>()?;
            view.set_zones(vec![PrivateZone::new(&zone, recs)?])?;
            let rules = forward
                .iter()
                .map(|f| {
                    let (d, a) = f
                        .split_once('=')
                        .context("--forward wants DOMAIN=IP:PORT")?;
                    Ok(ForwardRule::forward(d, vec![a.parse()?])?)
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            view.set_rules(rules)?;
            let server = view.serve(t.udp_socket(listen)?, t.tcp_listener(listen, 1024)?);
            println!("ready");
            wait(limit).await;
            server.stop().await;
            println!("{:?}", view.stats());
        }
    }
    Ok(())
}

async fn wait(limit: Duration) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return tokio::time::sleep(limit).await,
    };
    tokio::select! {
        () = tokio::time::sleep(limit) => {}
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
