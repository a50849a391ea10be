//! One finalizer helper for every controller (after kube-runtime's `finalizer()`).
//!
//! A resource whose provider objects must be torn down before it goes holds a finalizer
//! named by its provider (`linkplane.dev/<provider>-<resource>`, [`Provider::finalizer`]);
//! the store turns a client's DELETE of such a resource into a deletion request and deletes
//! it only when the last finalizer is removed.
//!
//! [`finalizer`] guarantees:
//! - **Apply** runs only with the finalizer recorded: it is added (and committed) *before*
//!   apply can create anything, so a crash in the middle of apply leaves a finalizer, and a
//!   later deletion always cleans up.
//! - **Cleanup** runs only for a resource that is being deleted *and* holds the finalizer;
//!   the finalizer is removed only after cleanup returned `Ok`. A crash between the two runs
//!   cleanup again, so cleanup must be idempotent (every provider method is).
//! - A resource being deleted without the finalizer is left to the store: nothing of this
//!   controller's exists for it.
//!
//! [`Provider::finalizer`]: linkplane_provider::Provider::finalizer

use std::future::Future;
use std::sync::Arc;

use linkplane_provider::{Provider, ProviderError};
use linkplane_reconciler::Action;
use linkplane_store::Document;

use crate::context::{Context, Result};

/// What [`finalizer`] asks the controller to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Converge the provider to the spec.
    Apply,
    /// Tear down what the provider holds for the resource.
    Cleanup,
}

/// Run `reconcile` for `doc` under the finalizer `name`; see the module's guarantees.
pub async fn finalizer<F, Fut>(
    ctx: &Context,
    doc: &Document,
    name: &str,
    reconcile: F,
) -> Result<Action>
where
    F: FnOnce(Event) -> Fut,
    Fut: Future<Output = Result<Action>>,
{
    let held = doc.finalizers.iter().any(|f| f == name);
    match (doc.deletion_requested_at.is_some(), held) {
        (true, false) => Ok(Action::Done),
        (true, true) => {
            reconcile(Event::Cleanup).await?;
            ctx.store.remove_finalizer(&doc.id, name).await?;
            tracing::debug!(id = %doc.id, finalizer = name, "cleaned up; finalizer removed");
            Ok(Action::Done)
        }
        (false, held) => {
            if !held {
                ctx.store.add_finalizer(&doc.id, name).await?;
            }
            reconcile(Event::Apply).await
        }
    }
}

/// Drop the finalizers any provider put on `doc` for `resource` without cleaning up: for a
/// resource whose provider objects went with something else (its cluster's network), or
/// that no running provider can reach any more.
pub async fn release(ctx: &Context, doc: &Document, resource: &str) -> Result<Action> {
    for f in held(doc, resource) {
        ctx.store.remove_finalizer(&doc.id, f).await?;
    }
    Ok(Action::Done)
}

/// The deletion of a child resource of a cluster: `cleanup` runs under the finalizer of the
/// provider that serves the cluster; without a running provider that reaches it, the
/// finalizers are released (see [`release`]). `cleanup` tears down what it can with the
/// provider's capabilities (a provider without them holds nothing for the resource).
pub async fn delete_child<F, Fut>(
    ctx: &Context,
    doc: &Document,
    provider: std::result::Result<Arc<dyn Provider>, ProviderError>,
    resource: &str,
    cleanup: F,
) -> Result<Action>
where
    F: FnOnce(Arc<dyn Provider>) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let Ok(provider) = provider else {
        return release(ctx, doc, resource).await;
    };
    finalizer(ctx, doc, &provider.finalizer(resource), |_| async {
        cleanup(Arc::clone(&provider)).await?;
        Ok(Action::Done)
    })
    .await
}

/// The finalizers any provider holds on `doc` for `resource` (names from
/// [`Provider::finalizer`]: `linkplane.dev/<provider>-<resource>`).
pub fn held<'a>(doc: &'a Document, resource: &str) -> impl Iterator<Item = &'a String> {
    let suffix = format!("-{resource}");
    doc.finalizers
        .iter()
        .filter(move |f| f.starts_with("linkplane.dev/") && f.ends_with(&suffix))
}
