//! The deployment controller: a deployment leaves from its cluster's external IPs, so its
//! `externalIps` follow the cluster's. (`apiUrl` is derived from the ids by the API; the
//! cluster's ingress gateway answers it.)

use linkplane_model::{ClusterObserved, ClusterStatus, DeploymentSpec, ResourceId, ResourceKind};
use linkplane_reconciler::{Action, Reconcile};
use serde_json::Value;

use crate::context::{Context, ControllerError, Result};

pub struct DeploymentController {
    pub ctx: Context,
}

impl Reconcile for DeploymentController {
    type Key = ResourceId;
    type Error = ControllerError;

    async fn list(&self) -> Result<Vec<ResourceId>> {
        let docs = self.ctx.store.list_kind(ResourceKind::Deployment).await?;
        Ok(docs.into_iter().map(|d| d.id).collect())
    }

    async fn reconcile(&self, id: ResourceId) -> Result<Action> {
        let Some(doc) = self.ctx.store.get_document_by_id(&id).await? else {
            return Ok(Action::Done);
        };
        let spec: DeploymentSpec = doc.spec_as()?;
        let Some(cluster) = self.ctx.store.get_document_by_id(&spec.cluster_id).await? else {
            return Ok(Action::Done);
        };
        let cobs: ClusterObserved = cluster.status_as()?;
        // Only the field this controller owns changes; anything else in the status stays.
        let mut status = match &doc.status {
            Value::Object(m) => m.clone(),
            _ => serde_json::Map::new(),
        };
        status.insert(
            "externalIps".into(),
            serde_json::to_value(&cobs.external_ips)?,
        );
        self.ctx.write_status(&doc, &Value::Object(status)).await?;
        Ok(match cobs.status {
            ClusterStatus::Creating | ClusterStatus::Updating => {
                Action::RequeueAfter(self.ctx.config.poll_interval)
            }
            _ => Action::Done,
        })
    }
}
