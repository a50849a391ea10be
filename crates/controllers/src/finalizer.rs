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
    let suffix = format!("-{resource}");
    for f in doc
        .finalizers
        .iter()
        .filter(|f| f.starts_with("linkplane.dev/") && f.ends_with(&suffix))
    {
        ctx.store.remove_finalizer(&doc.id, f).await?;
    }
    Ok(Action::Done)
}
