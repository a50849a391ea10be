//! The control plane's controllers and the provider they drive.
//!
//! - [`provider::Provider`]: the seam between controllers and a cloud; [`local::LocalProvider`]
//!   implements it on localcloud, as the platform's own account ([`local::PLATFORM_PRINCIPAL`]).
//! - Controllers, each a [`linkplane_reconciler::Reconcile`] keyed by resource id:
//!   [`cluster::ClusterController`], [`deployment::DeploymentController`],
//!   [`peering::PeeringController`], [`route::RouteController`],
//!   [`privatelink::PrivateLinkController`], [`dns::DnsController`].
//! - [`Controllers::start`] runs them all, with a watcher per kind that polls the store for
//!   resources whose `generation != observedGeneration` so an API write is acted on within
//!   [`ControllersConfig::watch_interval`], not only at the next resync.
//! - [`plane::Plane`]: everything `linkplane serve` runs (store, API, localcloud, controllers)
//!   behind one router, so tests start the real server in-process.
//!
//! See docs/CONTROLLERS.md.

use std::sync::Arc;

use linkplane_model::{ResourceId, ResourceKind};
use linkplane_reconciler::{Config as RuntimeConfig, Controller, Handle, Reconcile};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub mod cluster;
pub mod context;
pub mod deployment;
pub mod dns;
pub mod front_door;
pub mod gateway;
pub mod layout;
pub mod local;
mod local_dns;
pub mod peering;
pub mod plane;
pub mod privatelink;
pub mod provider;
pub mod route;

pub use context::{Context, ControllerError, ControllersConfig};
pub use local::{LocalProvider, PLATFORM_ACCOUNT, PLATFORM_PRINCIPAL};
pub use plane::{Plane, PlaneConfig, PlaneError};
pub use provider::{DnsProvider, Provider, ProviderError};

/// The running controllers.
pub struct Controllers {
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Controllers {
    /// Start every controller and its watcher.
    pub fn start(ctx: Context) -> Self {
        let (shutdown, rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let rt = RuntimeConfig {
            resync: ctx.config.resync,
            ..RuntimeConfig::default()
        };
        spawn(
            &mut tasks,
            &rx,
            &ctx,
            "cluster",
            ResourceKind::Cluster,
            cluster::ClusterController { ctx: ctx.clone() },
            rt.clone(),
        );
        spawn(
            &mut tasks,
            &rx,
            &ctx,
            "deployment",
            ResourceKind::Deployment,
            deployment::DeploymentController { ctx: ctx.clone() },
            rt.clone(),
        );
        spawn(
            &mut tasks,
            &rx,
            &ctx,
            "vpc-peering",
            ResourceKind::VpcPeeringConnection,
            peering::PeeringController { ctx: ctx.clone() },
            rt.clone(),
        );
        spawn(
            &mut tasks,
            &rx,
            &ctx,
            "route",
            ResourceKind::Route,
            route::RouteController { ctx: ctx.clone() },
            rt.clone(),
        );
        spawn(
            &mut tasks,
            &rx,
            &ctx,
            "dns",
            ResourceKind::DnsResolution,
            dns::DnsController { ctx: ctx.clone() },
            rt.clone(),
        );
        spawn(
            &mut tasks,
            &rx,
            &ctx,
            "private-link",
            ResourceKind::PrivateLink,
            privatelink::PrivateLinkController { ctx: ctx.clone() },
            rt,
        );
        Self { shutdown, tasks }
    }

    /// Stop the controllers (reconciles in flight are aborted; being idempotent, they are
    /// redone at the next start) and wait for them.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

fn spawn<R>(
    tasks: &mut JoinSet<()>,
    shutdown: &watch::Receiver<bool>,
    ctx: &Context,
    name: &'static str,
    kind: ResourceKind,
    reconciler: R,
    config: RuntimeConfig,
) where
    R: Reconcile<Key = ResourceId>,
{
    let (controller, handle) = Controller::new(name, Arc::new(reconciler), config);
    tasks.spawn(controller.run(shutdown.clone()));
    tasks.spawn(watch_unobserved(
        ctx.clone(),
        kind,
        handle,
        shutdown.clone(),
    ));
}

/// Poll the store for resources of `kind` a client changed (`generation !=
/// observedGeneration`, which includes deletion requests) and trigger their controller once
/// per generation (a reconcile that fails keeps its resource unobserved; its retries follow
/// the runtime's backoff, not this poll).
async fn watch_unobserved(
    ctx: Context,
    kind: ResourceKind,
    handle: Handle<ResourceId>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut seen: std::collections::HashMap<ResourceId, i64> = Default::default();
    let mut tick = tokio::time::interval(ctx.config.watch_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
            }
        }
        match ctx.store.list_unobserved(kind).await {
            Ok(docs) => {
                let mut next = std::collections::HashMap::with_capacity(docs.len());
                for d in docs {
                    if seen.get(&d.id) != Some(&d.generation) {
                        handle.enqueue(d.id.clone());
                    }
                    next.insert(d.id, d.generation);
                }
                seen = next;
            }
            Err(e) => {
                tracing::warn!(kind = kind.as_str(), error = %e, "watch: listing changed resources failed")
            }
        }
    }
}
