//! `--help` that teaches: every subcommand's long help ends with examples, every argument
//! has a description, and `linkplane cloud`'s connection flags come after a subcommand's own.
//!
//! The derive definitions carry most of the text; [`decorate`] fills what they leave out
//! from two tables — descriptions of the arguments `cloud` subcommands share ([`ARG_HELP`],
//! by argument id) and examples per command path ([`EXAMPLES`]). A test parses every
//! example with the CLI's own parser, so an example cannot name a flag that does not exist.

use clap::Command;

/// Descriptions of arguments, by id, for arguments the derive left without one.
const ARG_HELP: &[(&str, &str)] = &[
    ("vpc", "The VPC (vpc-…, from `vpc list`)"),
    ("vpcs", "A VPC to associate (vpc-…); repeatable"),
    ("vpc_id", "The VPC (vpc-…, from `vpc list`)"),
    ("subnet", "The subnet (subnet-…, from `subnet list`)"),
    (
        "subnets",
        "A subnet (subnet-…); repeatable, one per availability zone",
    ),
    ("subnet_id", "The subnet (subnet-…, from `subnet list`)"),
    ("name", "A name (the `Name` tag) to find it by"),
    ("instance_id", "The instance (i-…, from `instance list`)"),
    ("process_id", "The process (proc-…, from `processes`)"),
    ("security_groups", "A security group (sg-…); repeatable"),
    ("group_id", "The security group (sg-…, from `sg list`)"),
    ("description", "Free text describing the group"),
    ("igw_id", "The internet gateway (igw-…, from `igw list`)"),
    (
        "allocation_id",
        "The elastic IP's allocation (eipalloc-…, from `eip list`)",
    ),
    (
        "eip",
        "The elastic IP's allocation id (eipalloc-…, from `eip allocate`)",
    ),
    ("nat_id", "The NAT gateway (nat-…, from `nat list`)"),
    (
        "peer_vpc",
        "The VPC to peer with (vpc-…), in --peer-owner's account",
    ),
    ("peer_region", "The peer VPC's region (default: yours)"),
    (
        "pcx_id",
        "The peering connection (pcx-…, from `peering list`)",
    ),
    (
        "timeout",
        "Seconds before the command is killed (exit code 124)",
    ),
    ("command", "The command and its arguments, after `--`"),
    ("lb_id", "The load balancer (nlb-…, from `lb list`)"),
    ("port", "The TCP port"),
    (
        "target_group",
        "The target group (tg-…) that receives the traffic",
    ),
    ("listener_id", "The listener (from `lb show`)"),
    ("interval_ms", "Milliseconds between health checks"),
    (
        "timeout_ms",
        "Milliseconds before a health check counts as failed",
    ),
    (
        "healthy_threshold",
        "Consecutive passes before a target is healthy",
    ),
    (
        "unhealthy_threshold",
        "Consecutive failures before a target is unhealthy",
    ),
    ("tg_id", "The target group (tg-…, from `tg list`)"),
    ("instances", "A target: i-… or i-…:PORT; repeatable"),
    ("lb", "The load balancer (nlb-…) behind the service"),
    (
        "private_dns_name",
        "A private DNS name consumers' endpoints resolve to themselves",
    ),
    ("no_private_dns_name", "Remove the private DNS name"),
    (
        "service_id",
        "The endpoint service (vpce-svc-…, from `service list`)",
    ),
    ("add", "A principal ARN to allow (or *); repeatable"),
    ("remove", "A principal ARN to stop allowing; repeatable"),
    ("endpoint_ids", "An endpoint (vpce-…); repeatable"),
    ("endpoint_id", "The endpoint (vpce-…, from `endpoint list`)"),
    ("zone_id", "The hosted zone (hz-…, from `zone list`)"),
    ("kind", "The record type: A, AAAA, CNAME or ALIAS"),
    (
        "values",
        "A value (an address, or a name for CNAME/ALIAS); repeatable",
    ),
    ("ttl", "Seconds resolvers may cache the answer"),
    (
        "domain",
        "The domain the rule applies to (and its subdomains)",
    ),
    ("targets", "A DNS server as IP or IP:PORT; repeatable"),
    (
        "system",
        "A SYSTEM rule: resolve with the VPC's own resolver",
    ),
    (
        "rule_id",
        "The resolver rule (rslvr-rr-…, from `rule list`)",
    ),
    ("account", "The 12-digit account"),
    ("destination", "The route's destination CIDR"),
    ("output", "Output format"),
    (
        "auto_accept_shared_attachments",
        "enable: attachments from other accounts need no accept",
    ),
    (
        "default_route_table_association",
        "enable: new attachments join the default route table",
    ),
    (
        "default_route_table_propagation",
        "enable: new attachments propagate to the default route table",
    ),
    ("tgw_id", "The transit gateway (tgw-…, from `tgw list`)"),
    (
        "attachment_id",
        "The attachment (tgw-attach-…, from `tgw attachments`)",
    ),
    (
        "route_table_id",
        "The gateway route table (tgw-rtb-…, from `tgw route-tables`)",
    ),
    ("attachment", "The attachment (tgw-attach-…)"),
    (
        "blackhole",
        "Drop traffic to the destination instead of routing it",
    ),
    ("resource_id", "The resource to share (tgw-…)"),
    ("share_id", "The resource share (from `ram list`)"),
    (
        "invitation_id",
        "The invitation (rsi-…, from `ram invitations`)",
    ),
];

/// Examples per command path (without the leading `linkplane`), shown at the end of its long
/// help. Every line that starts with `linkplane` parses (a test checks).
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "serve",
        "linkplane serve --data-dir ./.linkplane > serve.log 2>&1 &\nlinkplane serve --listen 127.0.0.1:9090 --prefix lp2 --data-dir /srv/lp2",
    ),
    (
        "cloud whoami",
        "linkplane cloud --as arn:aws:iam::111122223333:root whoami",
    ),
    (
        "cloud vpc create",
        "linkplane cloud vpc create --cidr 10.1.0.0/16 --name customer\nlinkplane cloud vpc create --cidr 10.30.0.0/16 --enable-dns-hostnames -o json | jq -r .vpcId",
    ),
    (
        "cloud vpc list",
        "linkplane cloud --as arn:aws:iam::111122223333:root vpc list",
    ),
    ("cloud vpc show", "linkplane cloud vpc show vpc-9cafe012"),
    (
        "cloud vpc delete",
        "linkplane cloud vpc delete vpc-9cafe012",
    ),
    (
        "cloud subnet create",
        "linkplane cloud subnet create --vpc vpc-9cafe012 --cidr 10.1.1.0/24 --az us-east-1a --name agents\nlinkplane cloud subnet create --vpc vpc-9cafe012 --cidr 10.1.9.0/24 --az us-east-1b --public",
    ),
    (
        "cloud subnet list",
        "linkplane cloud subnet list --vpc vpc-9cafe012",
    ),
    (
        "cloud subnet show",
        "linkplane cloud subnet show subnet-e3cc37d5",
    ),
    (
        "cloud subnet delete",
        "linkplane cloud subnet delete subnet-e3cc37d5",
    ),
    (
        "cloud route add",
        "linkplane cloud route add --subnet subnet-e3cc37d5 --destination 0.0.0.0/0 --target igw-1a2b3c4d\nlinkplane cloud route add --vpc vpc-11d88b46 --destination 10.20.0.0/16 --target pcx-510b7591",
    ),
    (
        "cloud route list",
        "linkplane cloud route list --subnet subnet-e3cc37d5",
    ),
    (
        "cloud route delete",
        "linkplane cloud route delete --subnet subnet-e3cc37d5 --destination 0.0.0.0/0",
    ),
    (
        "cloud instance create",
        "linkplane cloud instance create --subnet subnet-e3cc37d5 --name agent-host\nlinkplane cloud instance create --subnet subnet-e3cc37d5 --sg sg-6c30eb02 --public-ip",
    ),
    (
        "cloud instance list",
        "linkplane cloud instance list --vpc vpc-9cafe012",
    ),
    (
        "cloud instance show",
        "linkplane cloud instance show i-c01299d8",
    ),
    (
        "cloud instance delete",
        "linkplane cloud instance delete i-c01299d8",
    ),
    (
        "cloud instance processes",
        "linkplane cloud instance processes i-c01299d8",
    ),
    (
        "cloud instance stop",
        "linkplane cloud instance stop i-c01299d8 proc-4eb51421",
    ),
    (
        "cloud instance set-groups",
        "linkplane cloud instance set-groups i-c01299d8 --sg sg-6c30eb02 --sg sg-0a1b2c3d",
    ),
    (
        "cloud sg create",
        "linkplane cloud sg create --vpc vpc-9cafe012 --name privatelink-endpoint",
    ),
    (
        "cloud sg list",
        "linkplane cloud sg list --vpc vpc-9cafe012",
    ),
    ("cloud sg show", "linkplane cloud sg show sg-6c30eb02"),
    ("cloud sg delete", "linkplane cloud sg delete sg-6c30eb02"),
    (
        "cloud sg allow",
        "linkplane cloud sg allow sg-6c30eb02 --protocol tcp --port 443 --cidr 10.1.1.0/24\nlinkplane cloud sg allow sg-6c30eb02 --protocol udp --port 8000-8100 --source-group sg-0a1b2c3d",
    ),
    (
        "cloud sg revoke",
        "linkplane cloud sg revoke sg-6c30eb02 --protocol tcp --port 443 --cidr 10.1.1.0/24\nlinkplane cloud sg revoke sg-6c30eb02 sgr-4961a585",
    ),
    (
        "cloud igw create",
        "linkplane cloud igw create --vpc vpc-9cafe012",
    ),
    ("cloud igw list", "linkplane cloud igw list"),
    ("cloud igw show", "linkplane cloud igw show igw-1a2b3c4d"),
    (
        "cloud igw delete",
        "linkplane cloud igw delete igw-1a2b3c4d",
    ),
    (
        "cloud eip allocate",
        "linkplane cloud eip allocate -o json | jq -r .allocationId",
    ),
    ("cloud eip list", "linkplane cloud eip list"),
    (
        "cloud eip release",
        "linkplane cloud eip release eipalloc-1a2b3c4d",
    ),
    (
        "cloud nat create",
        "linkplane cloud nat create --subnet subnet-2e0cb48e --eip eipalloc-1a2b3c4d",
    ),
    ("cloud nat list", "linkplane cloud nat list"),
    ("cloud nat show", "linkplane cloud nat show nat-1a2b3c4d"),
    (
        "cloud nat delete",
        "linkplane cloud nat delete nat-1a2b3c4d",
    ),
    (
        "cloud peering create",
        "linkplane cloud peering create --vpc vpc-9cafe012 --peer-vpc vpc-11d88b46 --peer-owner 222222222222",
    ),
    ("cloud peering list", "linkplane cloud peering list"),
    (
        "cloud peering show",
        "linkplane cloud peering show pcx-510b7591",
    ),
    (
        "cloud peering accept",
        "linkplane cloud --as arn:aws:iam::111122223333:root peering accept pcx-510b7591",
    ),
    (
        "cloud peering reject",
        "linkplane cloud --as arn:aws:iam::111122223333:root peering reject pcx-510b7591",
    ),
    (
        "cloud peering delete",
        "linkplane cloud peering delete pcx-510b7591",
    ),
    ("cloud internet show", "linkplane cloud internet show"),
    (
        "cloud internet exec",
        "linkplane cloud internet exec -- dig +short @203.0.113.53 cl6oegoh5pwycuh42i.external.linkplane.test",
    ),
    (
        "cloud internet run",
        "linkplane cloud internet run -- python3 -m http.server 8000",
    ),
    (
        "cloud internet processes",
        "linkplane cloud internet processes",
    ),
    (
        "cloud internet stop",
        "linkplane cloud internet stop proc-4eb51421",
    ),
    (
        "cloud lb create",
        "linkplane cloud lb create --subnet subnet-e3cc37d5 --subnet subnet-2e0cb48e --name agents",
    ),
    ("cloud lb list", "linkplane cloud lb list"),
    ("cloud lb show", "linkplane cloud lb show nlb-1a2b3c4d"),
    (
        "cloud lb listen",
        "linkplane cloud lb listen nlb-1a2b3c4d --port 443 --target-group tg-1a2b3c4d",
    ),
    (
        "cloud lb unlisten",
        "linkplane cloud lb unlisten nlb-1a2b3c4d lsn-1a2b3c4d",
    ),
    ("cloud lb delete", "linkplane cloud lb delete nlb-1a2b3c4d"),
    (
        "cloud tg create",
        "linkplane cloud tg create --vpc vpc-9cafe012 --port 8443 --check HTTP --path /healthz --matcher 200,302",
    ),
    ("cloud tg list", "linkplane cloud tg list"),
    ("cloud tg show", "linkplane cloud tg show tg-1a2b3c4d"),
    (
        "cloud tg register",
        "linkplane cloud tg register tg-1a2b3c4d --instance i-c01299d8 --instance i-0a1b2c3d:9443",
    ),
    (
        "cloud tg deregister",
        "linkplane cloud tg deregister tg-1a2b3c4d --instance i-c01299d8",
    ),
    ("cloud tg health", "linkplane cloud tg health tg-1a2b3c4d"),
    ("cloud tg delete", "linkplane cloud tg delete tg-1a2b3c4d"),
    (
        "cloud service create",
        "linkplane cloud service create --lb nlb-1a2b3c4d --allow arn:aws:iam::222222222222:root",
    ),
    ("cloud service list", "linkplane cloud service list"),
    (
        "cloud service show",
        "linkplane cloud service show vpce-svc-e87f65be",
    ),
    (
        "cloud service modify",
        "linkplane cloud service modify vpce-svc-e87f65be --acceptance-required false",
    ),
    (
        "cloud service permissions",
        "linkplane cloud service permissions vpce-svc-e87f65be --add arn:aws:iam::333333333333:root",
    ),
    (
        "cloud service connections",
        "linkplane cloud service connections vpce-svc-e87f65be",
    ),
    (
        "cloud service accept",
        "linkplane cloud service accept vpce-svc-e87f65be vpce-fee71765",
    ),
    (
        "cloud service reject",
        "linkplane cloud service reject vpce-svc-e87f65be vpce-fee71765",
    ),
    (
        "cloud service delete",
        "linkplane cloud service delete vpce-svc-e87f65be",
    ),
    (
        "cloud endpoint create",
        "linkplane cloud endpoint create --vpc vpc-9cafe012 --service com.linkplane.vpce.us-east-1.vpce-svc-e87f65be \\\n    --subnet subnet-e3cc37d5 --subnet subnet-2e0cb48e --sg sg-6c30eb02 --no-private-dns",
    ),
    ("cloud endpoint list", "linkplane cloud endpoint list"),
    (
        "cloud endpoint show",
        "linkplane cloud endpoint show vpce-fee71765",
    ),
    (
        "cloud endpoint delete",
        "linkplane cloud endpoint delete vpce-fee71765",
    ),
    (
        "cloud zone create",
        "linkplane cloud zone create --name external.linkplane.test --vpc vpc-9cafe012",
    ),
    ("cloud zone list", "linkplane cloud zone list"),
    ("cloud zone show", "linkplane cloud zone show hz-43ae9bb8"),
    (
        "cloud zone set",
        "linkplane cloud zone set hz-43ae9bb8 --name db.corp.internal --type A --value 10.1.1.20\nlinkplane cloud zone set hz-43ae9bb8 --name api.corp.internal --type ALIAS --value vpce-fee71765.vpce-svc-e87f65be.us-east-1.vpce.linkplane.test",
    ),
    (
        "cloud zone unset",
        "linkplane cloud zone unset hz-43ae9bb8 --name db.corp.internal --type A",
    ),
    (
        "cloud zone authorize",
        "linkplane cloud zone authorize hz-43ae9bb8 --vpc vpc-2c81732c",
    ),
    (
        "cloud zone associate",
        "linkplane cloud zone associate hz-43ae9bb8 --vpc vpc-2c81732c",
    ),
    (
        "cloud zone disassociate",
        "linkplane cloud zone disassociate hz-43ae9bb8 --vpc vpc-2c81732c",
    ),
    (
        "cloud zone delete",
        "linkplane cloud zone delete hz-43ae9bb8",
    ),
    (
        "cloud rule create",
        "linkplane cloud rule create --domain onprem.example --forward 10.1.0.10 --forward 10.1.0.11:53\nlinkplane cloud rule create --domain aws.onprem.example --system",
    ),
    ("cloud rule list", "linkplane cloud rule list"),
    (
        "cloud rule show",
        "linkplane cloud rule show rslvr-rr-1a2b3c4d",
    ),
    (
        "cloud rule associate",
        "linkplane cloud rule associate rslvr-rr-1a2b3c4d --vpc vpc-9cafe012",
    ),
    (
        "cloud rule disassociate",
        "linkplane cloud rule disassociate rslvr-rr-1a2b3c4d --vpc vpc-9cafe012",
    ),
    (
        "cloud rule share",
        "linkplane cloud rule share rslvr-rr-1a2b3c4d --account 100000000000",
    ),
    (
        "cloud rule unshare",
        "linkplane cloud rule unshare rslvr-rr-1a2b3c4d --account 100000000000",
    ),
    (
        "cloud rule delete",
        "linkplane cloud rule delete rslvr-rr-1a2b3c4d",
    ),
    (
        "cloud public-dns publish",
        "linkplane cloud public-dns publish --name c0ffee.external.linkplane.test --value 198.51.100.7",
    ),
    ("cloud public-dns list", "linkplane cloud public-dns list"),
    (
        "cloud public-dns unpublish",
        "linkplane cloud public-dns unpublish c0ffee.external.linkplane.test",
    ),
    ("local gc", "linkplane local gc --prefix lp"),
    (
        "cloud tgw create",
        "linkplane cloud tgw create --description hub --auto-accept-shared-attachments disable",
    ),
    ("cloud tgw list", "linkplane cloud tgw list"),
    ("cloud tgw show", "linkplane cloud tgw show tgw-0a1b2c3d"),
    (
        "cloud tgw delete",
        "linkplane cloud tgw delete tgw-0a1b2c3d",
    ),
    (
        "cloud tgw attach",
        "linkplane cloud --as arn:aws:iam::222222222222:root tgw attach tgw-0a1b2c3d --vpc vpc-9cafe012 --subnet subnet-e3cc37d5",
    ),
    ("cloud tgw attachments", "linkplane cloud tgw attachments"),
    (
        "cloud tgw show-attachment",
        "linkplane cloud tgw show-attachment tgw-attach-0a1b2c3d",
    ),
    (
        "cloud tgw accept-attachment",
        "linkplane cloud tgw accept-attachment tgw-attach-0a1b2c3d",
    ),
    (
        "cloud tgw reject-attachment",
        "linkplane cloud tgw reject-attachment tgw-attach-0a1b2c3d",
    ),
    (
        "cloud tgw delete-attachment",
        "linkplane cloud tgw delete-attachment tgw-attach-0a1b2c3d",
    ),
    (
        "cloud tgw create-route-table",
        "linkplane cloud tgw create-route-table tgw-0a1b2c3d",
    ),
    ("cloud tgw route-tables", "linkplane cloud tgw route-tables"),
    (
        "cloud tgw show-route-table",
        "linkplane cloud tgw show-route-table tgw-rtb-0a1b2c3d",
    ),
    (
        "cloud tgw delete-route-table",
        "linkplane cloud tgw delete-route-table tgw-rtb-0a1b2c3d",
    ),
    (
        "cloud tgw associate",
        "linkplane cloud tgw associate tgw-rtb-0a1b2c3d --attachment tgw-attach-0a1b2c3d",
    ),
    (
        "cloud tgw disassociate",
        "linkplane cloud tgw disassociate tgw-rtb-0a1b2c3d --attachment tgw-attach-0a1b2c3d",
    ),
    (
        "cloud tgw enable-propagation",
        "linkplane cloud tgw enable-propagation tgw-rtb-0a1b2c3d --attachment tgw-attach-0a1b2c3d",
    ),
    (
        "cloud tgw disable-propagation",
        "linkplane cloud tgw disable-propagation tgw-rtb-0a1b2c3d --attachment tgw-attach-0a1b2c3d",
    ),
    (
        "cloud tgw create-route",
        "linkplane cloud tgw create-route tgw-rtb-0a1b2c3d --destination 10.62.0.0/16 --attachment tgw-attach-0a1b2c3d\nlinkplane cloud tgw create-route tgw-rtb-0a1b2c3d --destination 10.99.0.0/16 --blackhole",
    ),
    (
        "cloud tgw routes",
        "linkplane cloud tgw routes tgw-rtb-0a1b2c3d",
    ),
    (
        "cloud tgw delete-route",
        "linkplane cloud tgw delete-route tgw-rtb-0a1b2c3d --destination 10.62.0.0/16",
    ),
    (
        "cloud ram create-resource-share",
        "linkplane cloud ram create-resource-share --resource-id tgw-0a1b2c3d --principals 222222222222 --name hub",
    ),
    ("cloud ram list", "linkplane cloud ram list"),
    ("cloud ram show", "linkplane cloud ram show rs-0a1b2c3d"),
    ("cloud ram delete", "linkplane cloud ram delete rs-0a1b2c3d"),
    (
        "cloud ram invitations",
        "linkplane cloud --as arn:aws:iam::222222222222:root ram invitations",
    ),
    (
        "cloud ram accept-invitation",
        "linkplane cloud --as arn:aws:iam::222222222222:root ram accept-invitation rsi-0a1b2c3d",
    ),
    (
        "cloud ram reject-invitation",
        "linkplane cloud --as arn:aws:iam::222222222222:root ram reject-invitation rsi-0a1b2c3d",
    ),
    (
        "cloud exec",
        "linkplane cloud --as arn:aws:iam::111122223333:root exec i-c01299d8 -- dig +short db.corp.internal\necho hello | linkplane cloud exec --via-api i-c01299d8 -- cat",
    ),
    (
        "cloud instance run",
        "linkplane cloud instance run i-c01299d8 -- python3 -m http.server 80",
    ),
    (
        "cloud vpc modify",
        "linkplane cloud vpc modify vpc-11d88b46 --enable-dns-hostnames true",
    ),
    (
        "cloud peering modify-options",
        "linkplane cloud --as arn:aws:iam::111122223333:root peering modify-options pcx-510b7591 --accepter-dns-resolution true",
    ),
];

/// The heading of `linkplane cloud`'s connection and output flags in a subcommand's help
/// (after the subcommand's own options).
pub const CLOUD_GLOBAL_HEADING: &str = "Connection and output";

/// `cmd` with every missing argument description and example filled in.
pub fn decorate(cmd: Command) -> Command {
    decorate_at(cmd, "")
}

/// An example line folded before ` --` flags with shell continuations, so that no line of
/// the help is wider than clap's 100 columns (clap would wrap it where a paste breaks).
fn fold(line: &str) -> String {
    const WIDTH: usize = 90;
    let mut out = String::new();
    let mut current = String::new();
    for (i, part) in line.split(" --").enumerate() {
        let piece = if i == 0 {
            part.to_owned()
        } else {
            format!(" --{part}")
        };
        if !current.is_empty() && current.chars().count() + piece.chars().count() > WIDTH {
            out.push_str(&current);
            out.push_str(" \\\n     ");
            current = String::new();
        }
        current.push_str(&piece);
    }
    out.push_str(&current);
    out
}

fn decorate_at(mut cmd: Command, path: &str) -> Command {
    // In place: `mut_arg` would move a positional argument to the end (its index changes).
    cmd = cmd.mut_args(|a| {
        if a.get_help().is_some() || a.get_long_help().is_some() {
            return a;
        }
        match ARG_HELP.iter().find(|(id, _)| a.get_id() == *id) {
            Some((_, help)) => a.help(*help),
            None => a,
        }
    });
    if let Some((_, ex)) = EXAMPLES.iter().find(|(p, _)| *p == path) {
        let text: String = ex.lines().map(|l| format!("  {}\n", fold(l))).collect();
        cmd = cmd.after_long_help(format!("Examples:\n{}", text.trim_end()));
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        let sub_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path} {name}")
        };
        cmd = cmd.mut_subcommand(&name, |s| decorate_at(s, &sub_path));
    }
    cmd
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::CommandFactory;

    fn leaves(c: &Command, path: String, out: &mut Vec<(String, Command)>) {
        let subs: Vec<&Command> = c
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .collect();
        if subs.is_empty() {
            out.push((path.clone(), c.clone()));
        }
        for s in subs {
            leaves(s, format!("{path} {}", s.get_name()), out);
        }
    }

    fn all_leaves() -> Vec<(String, Command)> {
        let mut out = vec![];
        let mut root = decorate(crate::Cli::command());
        root.build();
        leaves(&root, "linkplane".into(), &mut out);
        out
    }

    #[test]
    fn every_subcommand_has_examples_and_every_argument_a_description() {
        let mut missing = vec![];
        for (path, mut c) in all_leaves() {
            let long = c.render_long_help().to_string();
            if !long.contains("Example") {
                missing.push(format!("{path}: no example"));
            }
            for a in c.get_arguments() {
                if a.get_help().is_none() && a.get_long_help().is_none() && !a.is_hide_set() {
                    missing.push(format!("{path}: {} has no description", a.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }

    #[test]
    fn every_example_parses_with_the_cli_itself() {
        let mut checked = 0;
        for (path, mut c) in all_leaves() {
            let long = c.render_long_help().to_string();
            let Some((_, examples)) = long.split_once("Example") else {
                continue;
            };
            // Join continued lines, cut comments and pipes, then parse the words.
            let joined = examples.replace("\\\n", " ");
            for line in joined.lines().map(str::trim) {
                if !line.starts_with("linkplane ") {
                    continue;
                }
                let line = line.split(" # ").next().unwrap_or(line);
                let line = line.split(" | ").next().unwrap_or(line);
                let line = line.split(" > ").next().unwrap_or(line);
                let line = line.trim_end_matches('&').trim();
                let words: Vec<&str> = line.split_whitespace().collect();
                if let Err(e) = crate::Cli::try_parse_from_words(&words) {
                    panic!("{path}: the example `{line}` does not parse:\n{e}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 150, "only {checked} examples checked");
    }

    #[test]
    fn a_cloud_subcommands_own_flags_come_before_the_connection_flags() {
        let (_, mut c) = all_leaves()
            .into_iter()
            .find(|(p, _)| p == "linkplane cloud zone set")
            .unwrap();
        let help = c.render_long_help().to_string();
        let own = help.find("--name").unwrap();
        let heading = help.find(CLOUD_GLOBAL_HEADING).unwrap();
        let global = help.find("--cloud-token-file").unwrap();
        assert!(own < heading && heading < global, "{help}");
        assert!(
            help.contains("The record type: A, AAAA, CNAME or ALIAS"),
            "{help}"
        );
    }
}
