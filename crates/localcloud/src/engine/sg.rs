//! Security groups: stateful nftables tables where the ENI lives (the instance namespace).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use futures::StreamExt;

use super::render::{self, FilterRule};
use super::{Engine, authorize, now};
use crate::error::{Error, Result};
use crate::ids::{Kind, Principal};
use crate::kernel;
use crate::net;
use crate::types::{
    CreateSecurityGroup, CreateSecurityGroupRule, SecurityGroup, SecurityGroupRule,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct GroupRow {
    pub id: String,
    pub account: String,
    pub vpc_id: String,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RuleRow {
    pub id: String,
    pub direction: String,
    pub protocol: String,
    pub from_port: i64,
    pub to_port: i64,
    pub cidr: Option<String>,
    pub source_group: Option<String>,
}

const RULE_COLS: &str = "id, direction, protocol, from_port, to_port, cidr, source_group";

fn to_rule(r: RuleRow) -> SecurityGroupRule {
    SecurityGroupRule {
        rule_id: r.id,
        direction: r.direction,
        ip_protocol: r.protocol,
        from_port: r.from_port as i32,
        to_port: r.to_port as i32,
        cidr_ip: r.cidr,
        source_security_group_id: r.source_group,
    }
}

/// Validate a rule request into (direction, protocol, from, to).
fn check_rule(req: &CreateSecurityGroupRule) -> Result<(String, String, i32, i32)> {
    let dir = match req.direction.as_str() {
        "ingress" | "egress" => req.direction.clone(),
        d => {
            return Err(Error::invalid(
                "direction",
                format!("{d:?}: use ingress or egress"),
            ));
        }
    };
    let proto = match req.ip_protocol.as_str() {
        "tcp" | "udp" | "icmp" => req.ip_protocol.clone(),
        "-1" | "all" => "-1".to_string(),
        p => {
            return Err(Error::invalid(
                "ipProtocol",
                format!("{p:?}: use tcp, udp, icmp or -1 (all)"),
            ));
        }
    };
    let (from, to) = match proto.as_str() {
        "tcp" | "udp" => {
            let from = req.from_port.ok_or_else(|| {
                Error::invalid("fromPort", format!("{proto} rules need fromPort (1-65535)"))
            })?;
            let to = req.to_port.unwrap_or(from);
            if !(1..=65535).contains(&from) || !(1..=65535).contains(&to) || from > to {
                return Err(Error::invalid(
                    "fromPort",
                    format!("port range {from}-{to} must lie in 1-65535 with fromPort <= toPort"),
                ));
            }
            (from, to)
        }
        "icmp" => {
            let t = req.from_port.unwrap_or(-1);
            if !(-1..=255).contains(&t) {
                return Err(Error::invalid(
                    "fromPort",
                    "an ICMP type is -1 (all) or 0-255",
                ));
            }
            (t, req.to_port.unwrap_or(-1))
        }
        _ => (-1, -1),
    };
    match (&req.cidr_ip, &req.source_security_group_id) {
        (Some(c), None) => {
            net::parse_cidr("cidrIp", c)?;
        }
        (None, Some(g)) => {
            Kind::SecurityGroup.parse("sourceSecurityGroupId", g)?;
        }
        _ => {
            return Err(Error::invalid(
                "cidrIp",
                "give exactly one of cidrIp and sourceSecurityGroupId",
            ));
        }
    }
    Ok((dir, proto, from, to))
}

/// How many instance namespaces a membership change updates at once.
const MEMBERSHIP_PARALLELISM: usize = 8;

impl Engine {
    pub(crate) async fn group_row(&self, id: &str) -> Result<GroupRow> {
        Kind::SecurityGroup.parse("groupId", id)?;
        sqlx::query_as::<_, GroupRow>(
            "SELECT id, account, vpc_id, name, description FROM security_groups WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.db)
        .await?
        .ok_or(Error::NotFound {
            kind: "security group",
            id: id.to_string(),
        })
    }

    async fn rules_of(&self, group_id: &str) -> Result<Vec<RuleRow>> {
        Ok(sqlx::query_as::<_, RuleRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {RULE_COLS} FROM sg_rules WHERE group_id = ? ORDER BY direction, id"
        )))
        .bind(group_id)
        .fetch_all(&self.db)
        .await?)
    }

    async fn to_group(&self, g: GroupRow) -> Result<SecurityGroup> {
        let rules = self
            .rules_of(&g.id)
            .await?
            .into_iter()
            .map(to_rule)
            .collect();
        Ok(SecurityGroup {
            group_id: g.id,
            group_name: g.name,
            description: g.description,
            vpc_id: g.vpc_id,
            owner_id: g.account,
            rules,
        })
    }

    /// Create a security group. Like AWS, a new group allows all egress and no ingress.
    pub async fn create_security_group(
        &self,
        p: &Principal,
        req: CreateSecurityGroup,
    ) -> Result<SecurityGroup> {
        let vpc = self.vpc_row(&req.vpc_id).await?;
        authorize(p, &vpc.account, "create a security group in", &vpc.id)?;
        let name = req.group_name.trim();
        if name.is_empty() || name.len() > 255 || name.eq_ignore_ascii_case("default") {
            return Err(Error::invalid(
                "groupName",
                format!("{name:?}: give a name of 1-255 characters other than \"default\""),
            ));
        }
        let _g = self.lock.lock().await;
        let id = self
            .fresh_id(Kind::SecurityGroup, "security_groups", "id")
            .await?;
        let mut tx = self.db.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO security_groups (id, account, vpc_id, name, description, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&vpc.account)
        .bind(&vpc.id)
        .bind(name)
        .bind(&req.description)
        .bind(now())
        .execute(&mut *tx)
        .await;
        if let Err(sqlx::Error::Database(e)) = &inserted
            && e.is_unique_violation()
        {
            return Err(Error::Conflict(format!(
                "VPC {} already has a security group named {name:?}",
                vpc.id
            )));
        }
        inserted?;
        sqlx::query(
            "INSERT INTO sg_rules (id, group_id, direction, protocol, from_port, to_port, cidr, source_group) VALUES (?, ?, 'egress', '-1', -1, -1, '0.0.0.0/0', NULL)",
        )
        .bind(Kind::SecurityGroupRule.new_id())
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.to_group(self.group_row(&id).await?).await
    }

    pub async fn get_security_group(&self, p: &Principal, id: &str) -> Result<SecurityGroup> {
        let g = self.group_row(id).await?;
        authorize(p, &g.account, "describe", id)?;
        self.to_group(g).await
    }

    pub async fn list_security_groups(
        &self,
        p: &Principal,
        vpc_id: Option<&str>,
    ) -> Result<Vec<SecurityGroup>> {
        let rows = sqlx::query_as::<_, GroupRow>(
            "SELECT id, account, vpc_id, name, description FROM security_groups WHERE account = ?1 AND (?2 IS NULL OR vpc_id = ?2) ORDER BY created_at, id",
        )
        .bind(p.account().as_str())
        .bind(vpc_id)
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.to_group(r).await?);
        }
        Ok(out)
    }

    /// Delete a security group; refused while instances use it or other groups' rules name it.
    pub async fn delete_security_group(&self, p: &Principal, id: &str) -> Result<()> {
        let g = self.group_row(id).await?;
        authorize(p, &g.account, "delete", id)?;
        if g.name == "default" {
            return Err(Error::Conflict(format!(
                "{id} is the default group of {}; it goes with the VPC",
                g.vpc_id
            )));
        }
        let _g = self.lock.lock().await;
        let mut users: Vec<String> =
            sqlx::query_scalar("SELECT instance_id FROM instance_groups WHERE group_id = ?")
                .bind(id)
                .fetch_all(&self.db)
                .await?;
        let endpoints: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM endpoints WHERE state IN ('pendingAcceptance', 'available') AND (',' || security_groups || ',') LIKE ('%,' || ? || ',%')",
        )
        .bind(id)
        .fetch_all(&self.db)
        .await?;
        users.extend(endpoints);
        let refs: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT group_id FROM sg_rules WHERE source_group = ? AND group_id != ?",
        )
        .bind(id)
        .bind(id)
        .fetch_all(&self.db)
        .await?;
        if !users.is_empty() || !refs.is_empty() {
            return Err(Error::Conflict(format!(
                "security group {id} is still used by instances or endpoints [{}] and referenced by groups [{}]",
                users.join(", "),
                refs.join(", ")
            )));
        }
        sqlx::query("DELETE FROM sg_rules WHERE group_id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        sqlx::query("DELETE FROM security_groups WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Add a rule; every instance in the group gets it at once (new connections).
    pub async fn add_security_group_rule(
        &self,
        p: &Principal,
        group_id: &str,
        req: CreateSecurityGroupRule,
    ) -> Result<SecurityGroupRule> {
        let g = self.group_row(group_id).await?;
        authorize(p, &g.account, "change", group_id)?;
        let (dir, proto, from, to) = check_rule(&req)?;
        if let Some(src) = &req.source_security_group_id {
            let sg = self.group_row(src).await?;
            authorize(p, &sg.account, "reference", src)?;
            if sg.vpc_id != g.vpc_id {
                return Err(Error::invalid(
                    "sourceSecurityGroupId",
                    format!("{src} is in {}, not in {}", sg.vpc_id, g.vpc_id),
                ));
            }
        }
        let cidr = req
            .cidr_ip
            .as_deref()
            .map(|c| net::parse_cidr("cidrIp", c).map(|n| n.to_string()))
            .transpose()?;
        let _g = self.lock.lock().await;
        let id = Kind::SecurityGroupRule.new_id();
        sqlx::query(
            "INSERT INTO sg_rules (id, group_id, direction, protocol, from_port, to_port, cidr, source_group) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(group_id)
        .bind(&dir)
        .bind(&proto)
        .bind(from)
        .bind(to)
        .bind(&cidr)
        .bind(&req.source_security_group_id)
        .execute(&self.db)
        .await?;
        self.rerender_group_members(group_id).await?;
        Ok(SecurityGroupRule {
            rule_id: id,
            direction: dir,
            ip_protocol: proto,
            from_port: from,
            to_port: to,
            cidr_ip: cidr,
            source_security_group_id: req.source_security_group_id,
        })
    }

    /// Remove a rule; applies to new connections at once (established ones continue).
    pub async fn revoke_security_group_rule(
        &self,
        p: &Principal,
        group_id: &str,
        rule_id: &str,
    ) -> Result<()> {
        let g = self.group_row(group_id).await?;
        authorize(p, &g.account, "change", group_id)?;
        Kind::SecurityGroupRule.parse("ruleId", rule_id)?;
        let _g = self.lock.lock().await;
        let done = sqlx::query("DELETE FROM sg_rules WHERE id = ? AND group_id = ?")
            .bind(rule_id)
            .bind(group_id)
            .execute(&self.db)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound {
                kind: "security group rule",
                id: format!("{rule_id} in {group_id}"),
            });
        }
        self.rerender_group_members(group_id).await
    }

    /// Replace an instance's security groups.
    pub async fn set_instance_security_groups(
        &self,
        p: &Principal,
        instance_id: &str,
        groups: &[String],
    ) -> Result<()> {
        let inst = self.instance_row(instance_id).await?;
        authorize(p, &inst.account, "change", instance_id)?;
        if groups.is_empty() {
            return Err(Error::invalid(
                "securityGroupIds",
                "an instance needs at least one group",
            ));
        }
        for g in groups {
            let row = self.group_row(g).await?;
            authorize(p, &row.account, "use", g)?;
            if row.vpc_id != inst.vpc_id {
                return Err(Error::invalid(
                    "securityGroupIds",
                    format!("{g} belongs to {}, not to {}", row.vpc_id, inst.vpc_id),
                ));
            }
        }
        let _g = self.lock.lock().await;
        let old = self.groups_of(instance_id).await?;
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM instance_groups WHERE instance_id = ?")
            .bind(instance_id)
            .execute(&mut *tx)
            .await?;
        for g in groups {
            sqlx::query(
                "INSERT OR IGNORE INTO instance_groups (instance_id, group_id) VALUES (?, ?)",
            )
            .bind(instance_id)
            .bind(g)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.render_instance_nft(instance_id).await?;
        self.membership_changed(&old, &inst.private_ip, false, instance_id)
            .await?;
        self.membership_changed(groups, &inst.private_ip, true, instance_id)
            .await
    }

    /// Rules and source-group member sets of `groups`, ready to render.
    pub(crate) async fn group_filter_rules(
        &self,
        groups: &[String],
    ) -> Result<(Vec<FilterRule>, BTreeMap<String, Vec<Ipv4Addr>>)> {
        let mut rules = Vec::new();
        let mut sets: BTreeMap<String, Vec<Ipv4Addr>> = BTreeMap::new();
        for g in groups {
            for r in self.rules_of(g).await? {
                if let Some(src) = &r.source_group
                    && !sets.contains_key(src)
                {
                    sets.insert(src.clone(), self.group_members(src).await?);
                }
                rules.push(FilterRule {
                    ingress: r.direction == "ingress",
                    protocol: r.protocol,
                    from_port: r.from_port as i32,
                    to_port: r.to_port as i32,
                    cidr: r.cidr,
                    group: r.source_group,
                });
            }
        }
        Ok((rules, sets))
    }

    /// Load an instance's whole filter table (its groups' rules, member sets).
    pub(crate) async fn render_instance_nft(&self, instance_id: &str) -> Result<()> {
        let inst = self.instance_row(instance_id).await?;
        let vpc = self.vpc_row(&inst.vpc_id).await?;
        let (rules, sets) = self
            .group_filter_rules(&self.groups_of(instance_id).await?)
            .await?;
        let table = format!("inet {}", self.prefix);
        let script = render::filter_table(
            &table,
            &render::Attachment::Instance,
            net::resolver(vpc.net()),
            &rules,
            &sets,
        );
        kernel::nft(&self.instance_namespace_name(instance_id), &script).await
    }

    async fn group_members(&self, group_id: &str) -> Result<Vec<Ipv4Addr>> {
        let ips: Vec<String> = sqlx::query_scalar(
            "SELECT i.private_ip FROM instance_groups g JOIN instances i ON i.id = g.instance_id WHERE g.group_id = ?",
        )
        .bind(group_id)
        .fetch_all(&self.db)
        .await?;
        Ok(ips.iter().filter_map(|s| s.parse().ok()).collect())
    }

    async fn rerender_group_members(&self, group_id: &str) -> Result<()> {
        let members: Vec<String> =
            sqlx::query_scalar("SELECT instance_id FROM instance_groups WHERE group_id = ?")
                .bind(group_id)
                .fetch_all(&self.db)
                .await?;
        for m in members {
            self.render_instance_nft(&m).await?;
        }
        self.rerender_endpoints_of_group(group_id).await
    }

    /// An address joined or left `groups`: update the member sets of every instance whose
    /// groups name one of them as a source (only those, so creation stays linear).
    pub(crate) async fn membership_changed(
        &self,
        groups: &[String],
        ip: &str,
        added: bool,
        skip: &str,
    ) -> Result<()> {
        for g in groups {
            let watchers: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT ig.instance_id FROM sg_rules r JOIN instance_groups ig ON ig.group_id = r.group_id WHERE r.source_group = ?",
            )
            .bind(g)
            .fetch_all(&self.db)
            .await?;
            let verb = if added { "add" } else { "delete" };
            let script = format!(
                "{verb} element inet {} {} {{ {ip} }}\n",
                self.prefix,
                render::group_set(g)
            );
            // One small nft run per watching instance (each has its own namespace): run
            // them a few at a time, so a join costs about a process spawn per eight members
            // of the group rather than per member.
            let runs: Vec<_> = watchers
                .into_iter()
                .filter(|w| w != skip)
                .map(|w| {
                    let (ns, script) = (self.instance_namespace_name(&w), script.clone());
                    async move {
                        let r = kernel::nft(&ns, &script).await;
                        (w, r)
                    }
                })
                .collect();
            let results: Vec<(String, Result<()>)> = futures::stream::iter(runs)
                .buffer_unordered(MEMBERSHIP_PARALLELISM)
                .collect()
                .await;
            let failed = results.into_iter().filter_map(|(w, r)| {
                let e = r.err()?;
                tracing::debug!(instance = %w, error = %e, "set update failed; re-rendering");
                Some(w)
            });
            for w in failed {
                // The element may already be there (or gone): re-render to be sure.
                self.render_instance_nft(&w).await?;
            }
        }
        Ok(())
    }
}
