//! Reconcile on start: adopt what exists, rebuild what is missing, remove orphans.

use std::collections::HashSet;

use super::Engine;
use crate::error::Result;
use crate::kernel;

impl Engine {
    /// Names this engine makes for VPC routers, instances and transit gateway routers
    /// (`<prefix>-v<hex>`, `<prefix>-i<hex>`, `<prefix>-t<hex>`); other namespaces under the prefix are left alone on start.
    fn is_own_name(&self, ns: &str) -> bool {
        ns.strip_prefix(self.prefix.as_str())
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| {
                r.strip_prefix('v')
                    .or_else(|| r.strip_prefix('i'))
                    .or_else(|| r.strip_prefix('t'))
            })
            .is_some_and(|hex| {
                hex.len() == 8
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
    }

    /// Level-triggered: read every row, look at the kernel, act. Idempotent.
    pub(crate) async fn reconcile(&self) -> Result<()> {
        let _g = self.lock.lock().await;
        let vpcs = self.all_vpcs().await?;
        let instances = self.all_instances().await?;
        let mut known: HashSet<String> =
            vpcs.iter().map(|v| self.router_namespace(&v.id)).collect();
        known.extend(
            instances
                .iter()
                .map(|i| self.instance_namespace_name(&i.id)),
        );
        known.extend(
            self.live_tgws()
                .await?
                .iter()
                .map(|t| self.tgw_namespace(&t.id)),
        );
        known.insert(self.internet_namespace());
        let orphans: Vec<String> = kernel::namespaces_under(&self.prefix)
            .into_iter()
            .filter(|n| !known.contains(n) && self.is_own_name(n))
            .collect();
        if !orphans.is_empty() {
            tracing::warn!(?orphans, "removing namespaces that belong to no resource");
            for (ns, pids) in kernel::pids_in(&orphans) {
                tracing::warn!(ns, ?pids, "killing processes in orphan namespace");
                for pid in pids {
                    kernel::stop_process(pid, std::time::Duration::from_millis(300)).await;
                }
            }
            kernel::netns_del(&orphans).await;
            for o in &orphans {
                kernel::remove_etc_netns(o);
            }
        }

        let igws: Vec<String> = sqlx::query_scalar("SELECT vpc_id FROM internet_gateways")
            .fetch_all(&self.db)
            .await?;
        let inet_rebuilt = if igws.is_empty() {
            false
        } else {
            let made = self.ensure_internet().await?;
            if !made {
                self.configure_internet().await?;
            }
            made
        };

        let mut rebuilt = HashSet::new();
        for vpc in &vpcs {
            if kernel::netns_exists(&self.router_namespace(&vpc.id)) {
                self.render_router_nft(&vpc.id).await?;
                continue;
            }
            tracing::info!(vpc = %vpc.id, "router namespace missing: rebuilding");
            self.build_router(vpc).await?;
            for s in self.subnets_of(&vpc.id).await? {
                self.plumb_subnet(&s).await?;
            }
            rebuilt.insert(vpc.id.clone());
        }
        let mut relinked: HashSet<String> = rebuilt.clone();
        for vpc in &igws {
            if inet_rebuilt || rebuilt.contains(vpc) {
                // The surviving end of a destroyed pair may linger while the kernel
                // tears the namespace down.
                drop_link(
                    &self.internet_namespace(),
                    super::render::internet_port(vpc),
                )
                .await;
                drop_link(&self.router_namespace(vpc), super::render::IGW_DEV.into()).await;
            }
            // Every gateway, not only rebuilt ones: a crash while it was plumbed leaves a pair
            // half configured (an end down, an address missing and with it the routes through
            // it), so its VPC's routes are applied again too.
            self.plumb_igw(vpc).await?;
            relinked.insert(vpc.clone());
        }
        for r in self.active_peerings().await? {
            if rebuilt.contains(&r.requester_vpc) || rebuilt.contains(&r.accepter_vpc) {
                let dev = super::render::peering_dev(&r.id);
                for v in [&r.requester_vpc, &r.accepter_vpc] {
                    drop_link(&self.router_namespace(v), dev.clone()).await;
                }
                self.plumb_peering(&r).await?;
                relinked.insert(r.requester_vpc.clone());
                relinked.insert(r.accepter_vpc.clone());
            }
        }
        relinked.extend(self.reconcile_tgws(&rebuilt).await?);
        for vpc in &relinked {
            self.apply_routes(Some(vpc), None).await?;
        }
        let mut adopted = 0usize;
        for inst in &instances {
            let ns = self.instance_namespace_name(&inst.id);
            let subnet = self.subnet_row(&inst.subnet_id).await?;
            if !kernel::netns_exists(&ns) {
                tracing::info!(instance = %inst.id, "instance namespace missing: rebuilding");
                self.build_instance(inst, &subnet).await?;
                continue;
            }
            adopted += 1;
            if rebuilt.contains(&inst.vpc_id) {
                drop_link(&ns, super::render::INSTANCE_DEV.into()).await;
                self.plumb_instance(inst, &subnet).await?;
            }
            let vpc = self.vpc_row(&inst.vpc_id).await?;
            kernel::write_resolv_conf(&ns, crate::net::resolver(vpc.net()))?;
            self.render_instance_nft(&inst.id).await?;
        }
        tracing::info!(
            vpcs = vpcs.len(),
            rebuilt_routers = rebuilt.len(),
            instances = instances.len(),
            adopted_instances = adopted,
            "localcloud reconciled"
        );
        Ok(())
    }
}

/// Remove a link that may linger (the surviving end of a pair whose namespace went away).
async fn drop_link(ns: &str, dev: String) {
    if let Err(e) =
        crate::netlink::with_ns(ns, move |nl| async move { nl.link_del(&dev).await }).await
    {
        tracing::debug!(ns, error = %e, "could not remove a lingering link");
    }
}
