//! `linkplane peering create|list|get|delete|activate-instructions`.

use linkplane_client::Method;
use serde_json::Value;

use super::common::{Body, IdempotencyArgs, PageArgs};
use super::options::{Ctx, GlobalArgs};
use super::private_link::ClusterSel;
use super::wait::{self, Finals, WaitArgs};
use crate::render::{self, Column, Output};

pub const ABOUT_LONG: &str = "\
VPC peering joins a dedicated cluster's VPC to one of your VPCs (dedicated clusters only).
The statuses are those of the product: PENDING (the request is being sent),
PENDING_ACTIVATION (sent: accept it in your account and add the route back; see
`activate-instructions`), ACTIVE, FAILED (rejected; kept until deleted and retried whenever a
new connection is created) and NOT_FOUND (the request could not be created; retried after
5 minutes). When it becomes ACTIVE a route for the peer CIDR appears in `linkplane route list`.";

pub const EXAMPLES: &str = "\
Examples:
  linkplane peering create --cluster cl7g2k4m7p3q5r6s2t --name data-vpc \\
      --peer-account-id 123456789012 --peer-vpc-id vpc-0a1b2c3d4e5f60718 \\
      --peer-region us-east-1 --peer-cidr 10.1.0.0/16 --wait
  linkplane peering activate-instructions --cluster cl7g2k4m7p3q5r6s2t pcx6b3d5f7h2j4k6mn
  linkplane peering get --cluster cl7g2k4m7p3q5r6s2t pcx6b3d5f7h2j4k6mn --wait
  linkplane peering list --cluster cl7g2k4m7p3q5r6s2t
  linkplane peering delete --cluster cl7g2k4m7p3q5r6s2t pcx6b3d5f7h2j4k6mn";

#[derive(Debug, clap::Args)]
pub struct PeeringArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: PeeringCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PeeringCommand {
    /// Request a VPC peering connection to your VPC (--wait follows it).
    ///
    /// Sends POST …/clusters/{clusterId}/vpc-peering-connections. With --wait the command
    /// returns at PENDING_ACTIVATION (your turn: see `activate-instructions`), ACTIVE, or
    /// fails at FAILED / NOT_FOUND.
    #[command(
        after_help = "Example:\n  linkplane peering create --cluster cl7g2k4m7p3q5r6s2t --name data-vpc \\\n      --peer-account-id 123456789012 --peer-vpc-id vpc-0a1b2c3d4e5f60718 \\\n      --peer-region us-east-1 --peer-cidr 10.1.0.0/16 --wait"
    )]
    Create {
        #[command(flatten)]
        sel: ClusterSel,
        /// Connection name: 1-63 characters.
        #[arg(long)]
        name: String,
        /// AWS account id owning your VPC: 12 digits, e.g. 123456789012.
        #[arg(long, value_name = "ACCOUNT_ID")]
        peer_account_id: String,
        /// Your VPC's id: vpc- followed by 8 or 17 hex digits.
        #[arg(long, value_name = "VPC_ID")]
        peer_vpc_id: String,
        /// Your VPC's region, e.g. us-east-1.
        #[arg(long, value_name = "REGION")]
        peer_region: String,
        /// Your VPC's CIDR, e.g. 10.1.0.0/16 (RFC 1918; must not overlap the cluster's).
        #[arg(long, value_name = "CIDR")]
        peer_cidr: String,
        #[command(flatten)]
        idempotency: IdempotencyArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// List a cluster's VPC peering connections and their statuses.
    ///
    /// Sends GET …/clusters/{clusterId}/vpc-peering-connections.
    #[command(after_help = "Example:\n  linkplane peering list --cluster cl7g2k4m7p3q5r6s2t")]
    List {
        #[command(flatten)]
        sel: ClusterSel,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one connection; --wait follows it until ACTIVE, FAILED or NOT_FOUND.
    ///
    /// Sends GET …/clusters/{clusterId}/vpc-peering-connections/{id}. Use --wait after
    /// completing the activation to see it become ACTIVE.
    #[command(
        after_help = "Example:\n  linkplane peering get --cluster cl7g2k4m7p3q5r6s2t pcx6b3d5f7h2j4k6mn --wait"
    )]
    Get {
        #[command(flatten)]
        sel: ClusterSel,
        /// Peering connection id.
        peering_id: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Delete a VPC peering connection.
    ///
    /// Sends DELETE …/clusters/{clusterId}/vpc-peering-connections/{id}. Routes through it
    /// are deleted with it (and withdrawn from the cluster's route tables).
    #[command(
        after_help = "Example:\n  linkplane peering delete --cluster cl7g2k4m7p3q5r6s2t pcx6b3d5f7h2j4k6mn"
    )]
    Delete {
        #[command(flatten)]
        sel: ClusterSel,
        /// Peering connection id.
        peering_id: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Print the steps that complete the activation: accept, add the route back.
    ///
    /// Available once the connection is PENDING_ACTIVATION: the commands to run as the
    /// owner of your VPC, the product's "Complete Activation" dialog.
    #[command(
        after_help = "Example:\n  linkplane peering activate-instructions --cluster cl7g2k4m7p3q5r6s2t pcx6b3d5f7h2j4k6mn"
    )]
    ActivateInstructions {
        #[command(flatten)]
        sel: ClusterSel,
        /// Peering connection id.
        peering_id: String,
    },
}

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("NAME", "/name"),
    ("PEER ACCOUNT", "/peerAccountId"),
    ("PEER VPC", "/peerVpcId"),
    ("PEER REGION", "/peerRegion"),
    ("PEER CIDR", "/peerCidr"),
    ("STATUS", "/status"),
];

const FIELDS: &[Column] = &[
    ("id", "/id"),
    ("name", "/name"),
    ("peerAccountId", "/peerAccountId"),
    ("peerVpcId", "/peerVpcId"),
    ("peerRegion", "/peerRegion"),
    ("peerCidr", "/peerCidr"),
    ("status", "/status"),
    ("statusReason", "/statusReason"),
    ("cloudPeeringId", "/cloudPeeringId"),
    ("accepterDnsResolution", "/accepterDnsResolution"),
];

const AFTER_CREATE: Finals = Finals {
    success: &["ACTIVE"],
    // The note names the connection, so `run` prints it.
    needs_action: &[("PENDING_ACTIVATION", "")],
    failure: &["FAILED", "NOT_FOUND"],
};

const UNTIL_ACTIVE: Finals = Finals {
    success: &["ACTIVE"],
    needs_action: &[],
    failure: &["FAILED", "NOT_FOUND"],
};

pub async fn run(args: PeeringArgs) -> anyhow::Result<()> {
    let ctx = Ctx::new(&args.global)?;
    match args.command {
        PeeringCommand::Create {
            sel,
            name,
            peer_account_id,
            peer_vpc_id,
            peer_region,
            peer_cidr,
            idempotency,
            wait,
        } => {
            let body = Body::new()
                .set("name", name)
                .set("peerAccountId", peer_account_id)
                .set("peerVpcId", peer_vpc_id)
                .set("peerRegion", peer_region)
                .set("peerCidr", peer_cidr)
                .build();
            let path = ctx
                .org_path(&["clusters", &sel.cluster, COLLECTION])
                .await?;
            let reply = ctx
                .api
                .call(Method::POST, &path)
                .json(body)
                .idempotency_key(idempotency.idempotency_key)
                .send()
                .await?;
            let reply =
                wait::after_create(&ctx.api, reply, &path, "peering", &AFTER_CREATE, &wait).await?;
            if wait.wait && wait::status_of(&reply.body) == Some("PENDING_ACTIVATION") {
                let id = reply
                    .body
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("<id>");
                eprintln!(
                    "The request waits for you. `linkplane peering activate-instructions \
                     --cluster {} {id}` prints the commands that accept it and add the route \
                     back; then `linkplane peering get --cluster {} {id} --wait` follows it to \
                     ACTIVE.",
                    sel.cluster, sel.cluster
                );
            }
            render::print_object(ctx.output, &reply, FIELDS);
        }
        PeeringCommand::List { sel, page } => {
            let path = ctx
                .org_path(&["clusters", &sel.cluster, COLLECTION])
                .await?;
            let reply = ctx.api.get(&path, &page.query()).await?;
            render::print_list(
                ctx.output,
                &reply,
                COLUMNS,
                "No VPC peering connections on this cluster.",
            );
        }
        PeeringCommand::Get {
            sel,
            peering_id,
            wait,
        } => {
            let path = ctx
                .org_path(&["clusters", &sel.cluster, COLLECTION, &peering_id])
                .await?;
            let reply = if wait.wait {
                let label = format!("peering {peering_id}");
                wait::until_final(&ctx.api, &path, &label, &UNTIL_ACTIVE, &wait).await?
            } else {
                ctx.api.get(&path, &[]).await?
            };
            render::print_object(ctx.output, &reply, FIELDS);
        }
        PeeringCommand::Delete {
            sel,
            peering_id,
            wait,
        } => {
            let path = ctx
                .org_path(&["clusters", &sel.cluster, COLLECTION, &peering_id])
                .await?;
            let what = format!("peering connection {peering_id}");
            super::delete(&ctx, &path, &what, &wait).await?;
        }
        PeeringCommand::ActivateInstructions { sel, peering_id } => {
            let path = ctx
                .org_path(&["clusters", &sel.cluster, COLLECTION, &peering_id])
                .await?;
            let reply = ctx.api.get(&path, &[]).await?;
            print_instructions(ctx.output, &reply.body)?;
        }
    }
    Ok(())
}

const COLLECTION: &str = "vpc-peering-connections";

fn print_instructions(output: Output, body: &Value) -> anyhow::Result<()> {
    let status = wait::status_of(body).unwrap_or("unknown");
    let Some(instructions) = body.get("activationInstructions").filter(|v| !v.is_null()) else {
        anyhow::bail!("{}", no_instructions_reason(status));
    };
    match output {
        Output::Json => println!("{instructions}"),
        Output::Table => println!("{}", instruction_text(instructions)),
    }
    Ok(())
}

fn no_instructions_reason(status: &str) -> String {
    match status {
        "PENDING" => "no activation instructions yet: the request is still being sent (PENDING). \
                      Retry in a minute, or follow it with `linkplane peering get … --wait`."
            .to_owned(),
        "ACTIVE" => "nothing to do: the connection is already ACTIVE.".to_owned(),
        "FAILED" => "the request was rejected (FAILED): delete this connection and create a new \
                     one."
            .to_owned(),
        "NOT_FOUND" => "the request could not be created (NOT_FOUND); it is retried after 5 \
                        minutes. Check the peer account id, VPC id and region."
            .to_owned(),
        other => format!("no activation instructions for a connection in status {other}"),
    }
}

/// Instructions as text. The API sends `{peeringConnectionId, clusterVpcCidr, steps}`;
/// steps may be strings or objects with `description` and `command`. Unknown shapes are
/// printed as they come rather than dropped.
fn instruction_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(steps) => steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let text = instruction_text(step);
                let mut lines = text.lines();
                let first = lines.next().unwrap_or_default();
                let rest: String = lines.map(|l| format!("\n   {l}")).collect();
                format!("{}. {first}{rest}", i + 1)
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Object(map) => {
            let mut lines = Vec::new();
            if let Some(Value::String(id)) = map.get("peeringConnectionId") {
                lines.push(format!("Peering connection: {id}"));
            }
            if let Some(Value::String(cidr)) = map.get("clusterVpcCidr") {
                lines.push(format!("Cluster VPC CIDR:   {cidr}"));
            }
            if !lines.is_empty() {
                lines.push(String::new());
            }
            for key in ["description", "title", "text"] {
                if let Some(Value::String(s)) = map.get(key) {
                    lines.push(s.clone());
                }
            }
            for key in ["command", "commands", "steps"] {
                if let Some(v) = map.get(key) {
                    lines.push(instruction_text(v));
                }
            }
            if lines.iter().all(String::is_empty) {
                value.to_string()
            } else {
                lines.join("\n")
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_api_instructions_render_with_their_header() {
        let v = json!({
            "peeringConnectionId": "pcx-1",
            "clusterVpcCidr": "10.20.0.0/16",
            "steps": ["Accept pcx-1 in account 123456789012.", "Add a route to 10.20.0.0/16."]
        });
        assert_eq!(
            instruction_text(&v),
            "Peering connection: pcx-1\nCluster VPC CIDR:   10.20.0.0/16\n\n\
             1. Accept pcx-1 in account 123456789012.\n2. Add a route to 10.20.0.0/16."
        );
    }

    #[test]
    fn instructions_render_as_numbered_steps() {
        let v = json!([
            {"description": "Accept as the owner of vpc-1", "command": "linkplane cloud peering accept pcx-1"},
            "Add a route to 10.20.0.0/16"
        ]);
        let text = instruction_text(&v);
        assert!(text.starts_with(
            "1. Accept as the owner of vpc-1\n   linkplane cloud peering accept pcx-1"
        ));
        assert!(text.contains("\n2. Add a route to 10.20.0.0/16"));
        assert_eq!(instruction_text(&json!("do it")), "do it");
    }

    #[test]
    fn missing_instructions_explain_the_status() {
        let err = print_instructions(Output::Table, &json!({"status": "PENDING"})).unwrap_err();
        assert!(err.to_string().contains("PENDING"), "{err}");
        let err = print_instructions(Output::Table, &json!({"status": "FAILED"})).unwrap_err();
        assert!(err.to_string().contains("delete"), "{err}");
        assert!(
            print_instructions(
                Output::Table,
                &json!({"status": "PENDING_ACTIVATION", "activationInstructions": "x"})
            )
            .is_ok()
        );
    }
}
