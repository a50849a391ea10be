//! The control plane's reconcilers, and nothing else: they read the store, pick the
//! cluster's provider from the [`ProviderRegistry`](linkplane_provider::ProviderRegistry)
//! and converge it through the provider's capability traits. They never name a cloud:
//! no localcloud, no SDK, no HTTP.
//!
//! - Controllers, each a [`linkplane_reconciler::Reconcile`] keyed by resource id:
//!   [`cluster::ClusterController`], [`deployment::DeploymentController`],
//!   [`peering::PeeringController`], [`route::RouteController`],
//!   [`privatelink::PrivateLinkController`], [`dns::DnsController`], and one
//!   [`provisioned::ProvisionedController`] each for transit gateway attachments, VPN
//!   connections and outbound endpoints.
//! - [`finalizer::finalizer`]: the one finalizer helper (apply / cleanup), finalizers named by
//!   the provider (`linkplane.dev/<provider>-<resource>`).
//! - [`Controllers::start`] runs them all, with a watcher per kind that the store wakes on
//!   every committed write and that asks for the resources changed since it last looked
//!   (`generation != observedGeneration`), so an API write is acted on at once, not only at
//!   the next resync ([`ControllersConfig::watch_interval`] is the fallback poll).
//!
//! See docs/CONTROLLERS.md.

#![forbid(unsafe_code)]

use std::sync::Arc;

use linkplane_model::{ResourceId, ResourceKind};
use linkplane_reconciler::{Config as RuntimeConfig, Controller, Handle, Reconcile};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub mod cluster;
pub mod context;
pub mod deployment;
pub mod dns;
pub mod finalizer;
pub mod peering;
pub mod privatelink;
pub mod provisioned;
pub mod route;

pub use context::{ChangeFeed, Context, ControllerError, ControllersConfig};

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
            rt.clone(),
        );
        spawn(
            &mut tasks,
            &rx,
            &ctx,
            "transit-gateway-attachment",
            ResourceKind::TransitGatewayAttachment,
            provisioned::ProvisionedController::<provisioned::TransitGatewayAttachments>::new(
                ctx.clone(),
            ),
            rt.clone(),
        );
        spawn(
            &mut tasks,
            &rx,
            &ctx,
            "vpn-connection",
            ResourceKind::VpnConnection,
            provisioned::ProvisionedController::<provisioned::Vpns>::new(ctx.clone()),
            rt.clone(),
        );
        spawn(
            &mut tasks,
            &rx,
            &ctx,
            "outbound-endpoint",
            ResourceKind::OutboundEndpoint,
            provisioned::ProvisionedController::<provisioned::Outbound>::new(ctx.clone()),
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

/// Trigger the controller of `kind` for every resource a client changed (`generation !=
/// observedGeneration`, which includes deletion requests), once per change: the store wakes
/// this watcher when a write commits ([`linkplane_store::Store::subscribe`]), and the watcher
/// asks only for what changed since the revision it last saw, so resources that stay
/// unobserved are not re-read. `watch_interval` remains as a fallback poll. A reconcile that
/// fails keeps its resource unobserved; its retries follow the runtime's backoff.
async fn watch_unobserved(
    ctx: Context,
    kind: ResourceKind,
    handle: Handle<ResourceId>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut feed = ChangeFeed::new(&ctx, kind);
    loop {
        if let Some((docs, next)) = feed.poll().await {
            for d in docs {
                handle.enqueue(d.id);
            }
            feed.advance(next);
        }
        tokio::select! {
            () = feed.wait() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
            }
        }
    }
}
