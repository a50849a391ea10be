//! Sharing resolver rules with other accounts, as AWS RAM does for Route 53 Resolver rules
//! (document 002: "Using Route 53 requires sharing a resolver rule with your Astro
//! account"). The owner shares a rule with an account; that account may then see the rule
//! and associate it with its own VPCs (queries still follow the owner's rule). Unsharing
//! removes the recipient's associations.

use super::dns::RuleRow;
use super::{Engine, authorize};
use crate::error::{Error, Result};
use crate::ids::{AccountId, Principal};
use crate::types::ResolverRule;

impl Engine {
    /// Accounts a rule is shared with.
    pub(crate) async fn rule_shares(&self, rule_id: &str) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar(
                "SELECT account FROM rule_shares WHERE rule_id = ? ORDER BY account",
            )
            .bind(rule_id)
            .fetch_all(&self.db)
            .await?,
        )
    }

    /// The owner, or an account the rule is shared with, may use it for `action`.
    pub(crate) async fn rule_user(&self, p: &Principal, r: &RuleRow, action: &str) -> Result<()> {
        let me = p.account().as_str();
        if me == r.account || self.rule_shares(&r.id).await?.iter().any(|a| a == me) {
            return Ok(());
        }
        authorize(
            p,
            &r.account,
            &format!("{action} (the owner has not shared it with {me})"),
            &r.id,
        )
    }

    fn share_account(account: &str) -> Result<AccountId> {
        AccountId::parse(account).map_err(|_| {
            Error::invalid(
                "accountId",
                format!("{account:?} must be a 12-digit account id"),
            )
        })
    }

    /// Share a rule (owner only) with another account. Idempotent.
    pub async fn share_resolver_rule(
        &self,
        p: &Principal,
        id: &str,
        account: &str,
    ) -> Result<ResolverRule> {
        let r = self.rule_row(id).await?;
        authorize(p, &r.account, "share", id)?;
        let to = Self::share_account(account)?;
        if to.as_str() == r.account {
            return Err(Error::invalid(
                "accountId",
                format!("{to} owns {id}; share it with another account"),
            ));
        }
        sqlx::query("INSERT OR IGNORE INTO rule_shares (rule_id, account) VALUES (?, ?)")
            .bind(id)
            .bind(to.as_str())
            .execute(&self.db)
            .await?;
        tracing::info!(rule = id, account = %to, "resolver rule shared");
        self.get_resolver_rule(p, id).await
    }

    /// Stop sharing a rule (owner only): the account's VPCs no longer use it.
    pub async fn unshare_resolver_rule(
        &self,
        p: &Principal,
        id: &str,
        account: &str,
    ) -> Result<ResolverRule> {
        let r = self.rule_row(id).await?;
        authorize(p, &r.account, "unshare", id)?;
        let from = Self::share_account(account)?;
        let n = sqlx::query("DELETE FROM rule_shares WHERE rule_id = ? AND account = ?")
            .bind(id)
            .bind(from.as_str())
            .execute(&self.db)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(Error::NotFound {
                kind: "resolver rule share",
                id: format!("{id} with {from}"),
            });
        }
        let vpcs: Vec<String> = sqlx::query_scalar(
            "SELECT v.vpc_id FROM rule_vpcs v JOIN vpcs x ON x.id = v.vpc_id WHERE v.rule_id = ? AND x.account = ?",
        )
        .bind(id)
        .bind(from.as_str())
        .fetch_all(&self.db)
        .await?;
        for v in &vpcs {
            sqlx::query("DELETE FROM rule_vpcs WHERE rule_id = ? AND vpc_id = ?")
                .bind(id)
                .bind(v)
                .execute(&self.db)
                .await?;
            self.refresh_vpc_dns(v).await?;
        }
        tracing::info!(rule = id, account = %from, disassociated = vpcs.len(), "resolver rule unshared");
        self.get_resolver_rule(p, id).await
    }
}
