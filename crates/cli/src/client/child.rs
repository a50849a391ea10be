//! What every kind of cluster child shares (`…/clusters/{clusterId}/<collection>`): create
//! (POST with an idempotency key, optional `--wait`), list, get and delete, printed as
//! tables or JSON. Each resource module describes its kind once and builds its own body.

use linkplane_client::Method;
use serde_json::Value;

use super::common::PageArgs;
use super::options::Ctx;
use super::wait::{self, Finals, WaitArgs};
use crate::render::{self, Column};

/// One kind of cluster child, as the CLI shows it.
pub struct ClusterChild {
    /// Path segment under the cluster, e.g. `transit-gateway-attachments`.
    pub collection: &'static str,
    /// Singular noun for messages, e.g. `transit gateway attachment`.
    pub noun: &'static str,
    /// What an empty list prints.
    pub empty: &'static str,
    pub columns: &'static [Column],
    pub fields: &'static [Column],
}

impl ClusterChild {
    async fn path(
        &self,
        ctx: &Ctx,
        cluster: &str,
        id: Option<&str>,
    ) -> anyhow::Result<Vec<String>> {
        let mut rest = vec!["clusters", cluster, self.collection];
        rest.extend(id);
        ctx.org_path(&rest).await
    }

    /// POST `body`, follow it to `finals` with `--wait`, print it.
    pub async fn create(
        &self,
        ctx: &Ctx,
        cluster: &str,
        body: Value,
        idempotency_key: Option<String>,
        finals: &Finals,
        wait: &WaitArgs,
    ) -> anyhow::Result<()> {
        let path = self.path(ctx, cluster, None).await?;
        let reply = ctx
            .api
            .call(Method::POST, &path)
            .json(body)
            .idempotency_key(idempotency_key)
            .send()
            .await?;
        let reply = wait::after_create(&ctx.api, reply, &path, self.noun, finals, wait).await?;
        render::print_object(ctx.output, &reply, self.fields);
        Ok(())
    }

    pub async fn list(&self, ctx: &Ctx, cluster: &str, page: &PageArgs) -> anyhow::Result<()> {
        let path = self.path(ctx, cluster, None).await?;
        let reply = ctx.api.get(&path, &page.query()).await?;
        render::print_list(ctx.output, &reply, self.columns, self.empty);
        Ok(())
    }

    pub async fn get(&self, ctx: &Ctx, cluster: &str, id: &str) -> anyhow::Result<()> {
        let path = self.path(ctx, cluster, Some(id)).await?;
        let reply = ctx.api.get(&path, &[]).await?;
        render::print_object(ctx.output, &reply, self.fields);
        Ok(())
    }

    /// `get`, or with `--wait` follow the status to one of `finals` first.
    pub async fn get_waiting(
        &self,
        ctx: &Ctx,
        cluster: &str,
        id: &str,
        finals: &Finals,
        args: &WaitArgs,
    ) -> anyhow::Result<()> {
        if !args.wait {
            return self.get(ctx, cluster, id).await;
        }
        let path = self.path(ctx, cluster, Some(id)).await?;
        let label = format!("{} {id}", self.noun);
        let reply = wait::until_final(&ctx.api, &path, &label, finals, args).await?;
        render::print_object(ctx.output, &reply, self.fields);
        Ok(())
    }

    pub async fn delete(
        &self,
        ctx: &Ctx,
        cluster: &str,
        id: &str,
        wait: &WaitArgs,
    ) -> anyhow::Result<()> {
        let path = self.path(ctx, cluster, Some(id)).await?;
        super::delete(ctx, &path, &format!("{} {id}", self.noun), wait).await
    }
}
