//! `linkplane deployment create|list|get|update|delete`.

use linkplane_client::Method;
use serde_json::{Value, json};

use super::common::{Body, IdempotencyArgs, PageArgs};
use super::options::{Ctx, GlobalArgs};
use super::wait::WaitArgs;
use crate::render::{self, Column};

pub const ABOUT_LONG: &str = "\
A deployment runs in a cluster and leaves it from the cluster's external IPs (allowlist them
in your cloud). With remote execution enabled, Remote Execution Agents in your network reach
it with agent tokens (`linkplane agent-token`), optionally only from allowed IP ranges.";

pub const EXAMPLES: &str = "\
Examples:
  linkplane deployment create --name etl --cluster-id cl7g2k4m7p3q5r6s2t \\
      --remote-execution --allowed-ip-range 203.0.113.0/24
  linkplane deployment list
  linkplane deployment get dep4n7q2x5z3b6c2df
  linkplane deployment update dep4n7q2x5z3b6c2df --remote-execution false
  linkplane deployment delete dep4n7q2x5z3b6c2df";

#[derive(Debug, clap::Args)]
pub struct DeploymentArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: DeploymentCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum DeploymentCommand {
    /// Create a deployment in a cluster.
    ///
    /// Sends POST /v1/organizations/{org}/deployments.
    #[command(
        after_help = "Example:\n  linkplane deployment create --name etl --cluster-id cl7g2k4m7p3q5r6s2t \\\n      --remote-execution --allowed-ip-range 203.0.113.0/24"
    )]
    Create {
        /// Deployment name: 1-63 characters, no control characters.
        #[arg(long)]
        name: String,
        /// The cluster to run in (see `linkplane cluster list`).
        #[arg(long, value_name = "CLUSTER_ID")]
        cluster_id: String,
        /// Enable remote execution (agents in your network run the tasks).
        #[arg(long)]
        remote_execution: bool,
        /// A CIDR agents may connect from, e.g. 203.0.113.0/24 (repeat for more; needs
        /// --remote-execution).
        #[arg(
            long = "allowed-ip-range",
            value_name = "CIDR",
            requires = "remote_execution"
        )]
        allowed_ip_ranges: Vec<String>,
        /// The deployment's Airflow API server, e.g. http://10.20.1.5:8080; the cluster's
        /// ingress gateway forwards non-agent requests there.
        #[arg(long, value_name = "URL")]
        airflow_api_url: Option<String>,
        #[command(flatten)]
        idempotency: IdempotencyArgs,
    },
    /// List the organization's deployments.
    ///
    /// Sends GET …/deployments. Pages with --limit and --cursor.
    #[command(after_help = "Example:\n  linkplane deployment list")]
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one deployment: cluster, external IPs, API URL, remote execution.
    ///
    /// Sends GET …/deployments/{deploymentId}. Allowlist the external IPs in your cloud; agents
    /// connect to the API URL.
    #[command(after_help = "Example:\n  linkplane deployment get dep4n7q2x5z3b6c2df")]
    Get {
        /// Deployment id (from `linkplane deployment list`).
        deployment_id: String,
    },
    /// Change a deployment's name or remote execution settings (only the given flags).
    ///
    /// Sends PATCH with the given fields. With --if-match the update only applies when the
    /// deployment still has that ETag (shown by `get`); otherwise the server answers 412.
    #[command(
        after_help = "Example:\n  linkplane deployment update dep4n7q2x5z3b6c2df --remote-execution true \\\n      --allowed-ip-range 198.51.100.0/24"
    )]
    Update {
        /// Deployment id.
        deployment_id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// Turn remote execution on or off.
        #[arg(long, value_name = "true|false")]
        remote_execution: Option<bool>,
        /// Replace the allowed IP ranges with these CIDRs (repeat for more).
        #[arg(long = "allowed-ip-range", value_name = "CIDR")]
        allowed_ip_ranges: Vec<String>,
        /// Remove every allowed IP range.
        #[arg(long, conflicts_with = "allowed_ip_ranges")]
        clear_allowed_ip_ranges: bool,
        /// New Airflow API server URL, e.g. http://10.20.1.5:8080.
        #[arg(long, value_name = "URL")]
        airflow_api_url: Option<String>,
        /// Remove the Airflow API server URL.
        #[arg(long, conflicts_with = "airflow_api_url")]
        clear_airflow_api_url: bool,
        /// Only update if the deployment's current ETag is this value.
        #[arg(long, value_name = "ETAG")]
        if_match: Option<String>,
    },
    /// Delete a deployment, its agent tokens and agents.
    ///
    /// Sends DELETE …/deployments/{deploymentId}.
    #[command(after_help = "Example:\n  linkplane deployment delete dep4n7q2x5z3b6c2df")]
    Delete {
        /// Deployment id.
        deployment_id: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("NAME", "/name"),
    ("CLUSTER", "/clusterId"),
    ("REMOTE EXECUTION", "/remoteExecution/enabled"),
    ("EXTERNAL IPS", "/externalIps"),
];

const FIELDS: &[Column] = &[
    ("id", "/id"),
    ("name", "/name"),
    ("clusterId", "/clusterId"),
    ("apiUrl", "/apiUrl"),
    ("airflowApiUrl", "/airflowApiUrl"),
    ("externalIps", "/externalIps"),
    ("remoteExecution.enabled", "/remoteExecution/enabled"),
    (
        "remoteExecution.allowedIpAddressRanges",
        "/remoteExecution/allowedIpAddressRanges",
    ),
];

pub async fn run(args: DeploymentArgs) -> anyhow::Result<()> {
    let ctx = Ctx::new(&args.global)?;
    match args.command {
        DeploymentCommand::Create {
            name,
            cluster_id,
            remote_execution,
            allowed_ip_ranges,
            airflow_api_url,
            idempotency,
        } => {
            let remote = Body::new()
                .set("enabled", remote_execution)
                .set("allowedIpAddressRanges", allowed_ip_ranges)
                .build();
            let body = Body::new()
                .set("name", name)
                .set(
                    "clusterId",
                    ctx.resolve(&cluster_id, linkplane_model::ResourceKind::Cluster)
                        .await?,
                )
                .set("remoteExecution", remote)
                .opt("airflowApiUrl", airflow_api_url)
                .build();
            let path = ctx.org_path(&["deployments"]).await?;
            let reply = ctx
                .api
                .call(Method::POST, &path)
                .json(body)
                .idempotency_key(idempotency.idempotency_key)
                .send()
                .await?;
            render::print_object(ctx.output, &reply, FIELDS);
        }
        DeploymentCommand::List { page } => {
            let path = ctx.org_path(&["deployments"]).await?;
            let reply = ctx.api.get(&path, &page.query()).await?;
            render::print_list(ctx.output, &reply, COLUMNS, "No deployments yet.");
        }
        DeploymentCommand::Get { deployment_id } => {
            let path = ctx.org_path(&["deployments", &deployment_id]).await?;
            let reply = ctx.api.get(&path, &[]).await?;
            render::print_object(ctx.output, &reply, FIELDS);
        }
        DeploymentCommand::Update {
            deployment_id,
            name,
            remote_execution,
            allowed_ip_ranges,
            clear_allowed_ip_ranges,
            airflow_api_url,
            clear_airflow_api_url,
            if_match,
        } => {
            let ranges = if clear_allowed_ip_ranges {
                Some(Vec::new())
            } else {
                (!allowed_ip_ranges.is_empty()).then_some(allowed_ip_ranges)
            };
            let url = if clear_airflow_api_url {
                Some(Value::Null)
            } else {
                airflow_api_url.map(Value::from)
            };
            let path = ctx.org_path(&["deployments", &deployment_id]).await?;
            let mut if_match = if_match;
            // The API replaces remoteExecution as a whole: read it, change the given parts,
            // and send it back guarded by the ETag just read, so no concurrent change is lost.
            let remote = if remote_execution.is_some() || ranges.is_some() {
                let current = ctx.api.get(&path, &[]).await?;
                if if_match.is_none() {
                    if_match = current.etag.clone();
                }
                Some(merge_remote(
                    current.body.get("remoteExecution"),
                    remote_execution,
                    ranges,
                ))
            } else {
                None
            };
            let body = Body::new()
                .opt("name", name)
                .opt("remoteExecution", remote)
                .opt("airflowApiUrl", url);
            if body.is_empty() {
                anyhow::bail!(
                    "nothing to update: give --name, --remote-execution, --allowed-ip-range, \
                     --clear-allowed-ip-ranges, --airflow-api-url or --clear-airflow-api-url"
                );
            }
            let reply = ctx
                .api
                .call(Method::PATCH, &path)
                .json(body.build())
                .if_match(if_match)
                .send()
                .await?;
            render::print_object(ctx.output, &reply, FIELDS);
        }
        DeploymentCommand::Delete {
            deployment_id,
            wait,
        } => {
            let path = ctx.org_path(&["deployments", &deployment_id]).await?;
            let what = format!("deployment {deployment_id}");
            super::delete(&ctx, &path, &what, &wait).await?;
        }
    }
    Ok(())
}

/// The full remoteExecution block: the current one with the given changes applied.
fn merge_remote(
    current: Option<&Value>,
    enabled: Option<bool>,
    ranges: Option<Vec<String>>,
) -> Value {
    let current_enabled = current
        .and_then(|c| c.get("enabled"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let current_ranges = current
        .and_then(|c| c.get("allowedIpAddressRanges"))
        .cloned()
        .unwrap_or_else(|| json!([]));
    json!({
        "enabled": enabled.unwrap_or(current_enabled),
        "allowedIpAddressRanges": ranges.map(Value::from).unwrap_or(current_ranges),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_execution_changes_keep_what_was_not_given() {
        let current = json!({"enabled": true, "allowedIpAddressRanges": ["203.0.113.0/24"]});
        assert_eq!(
            merge_remote(Some(&current), Some(false), None),
            json!({"enabled": false, "allowedIpAddressRanges": ["203.0.113.0/24"]})
        );
        assert_eq!(
            merge_remote(Some(&current), None, Some(vec![])),
            json!({"enabled": true, "allowedIpAddressRanges": []})
        );
        assert_eq!(
            merge_remote(None, None, Some(vec!["10.0.0.0/8".into()])),
            json!({"enabled": false, "allowedIpAddressRanges": ["10.0.0.0/8"]})
        );
    }
}
