//! `linkplane cloud …`: drive localcloud (the real cloud network built from namespaces on
//! the machine running `linkplane serve`) over its `/cloud/v1` API, as a cloud principal.

use std::io::{IsTerminal, Read, Write};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use linkplane_localcloud::api::{decode_bytes, encode_bytes};
use serde_json::{Value, json};

/// The principal used when `--as` is not given (documented in docs/LOCALCLOUD.md).
pub const DEFAULT_PRINCIPAL: &str = linkplane_localcloud::DEFAULT_PRINCIPAL;

/// Examples shown under `linkplane cloud --help`.
const CLOUD_EXAMPLES: &str = "\
Every command is a call made as a cloud principal (--as, default the local account
000000000001) to the localcloud API of `linkplane serve` (--url). A resource belongs to the
account that created it; another account's calls are refused with both accounts named.

The credential is the operator token that `linkplane serve` writes to
<data-dir>/cloud.token (mode 0600): read from --cloud-token-file, LINKPLANE_CLOUD_TOKEN,
$LINKPLANE_DATA_DIR/cloud.token or ./.linkplane/cloud.token. Principals (--as) are
identities inside the simulator, not credentials:
  linkplane cloud --cloud-token-file /srv/linkplane/cloud.token vpc list

A first network, from nothing to a shell on an instance:
  linkplane cloud vpc create --cidr 10.0.0.0/16
  linkplane cloud subnet create --vpc vpc-… --cidr 10.0.1.0/24 --az us-east-1a
  linkplane cloud instance create --subnet subnet-…
  linkplane cloud exec i-… -- bash

Reaching the internet (the internet namespace, 203.0.113.1; never the real network):
  linkplane cloud igw create --vpc vpc-…
  linkplane cloud route add --subnet subnet-… --destination 0.0.0.0/0 --target igw-…
  linkplane cloud internet run -- socat TCP-LISTEN:8000,fork SYSTEM:'echo $SOCAT_PEERADDR'
  linkplane cloud exec i-… -- socat - TCP:203.0.113.1:8000

Peering two accounts' VPCs:
  linkplane cloud peering create --vpc vpc-A --peer-vpc vpc-B --peer-owner 222222222222
  linkplane cloud --as arn:aws:iam::222222222222:root peering accept pcx-…
  (then a route to the peer's CIDR with --target pcx-… on both sides)
  linkplane cloud --as arn:aws:iam::222222222222:root vpc modify vpc-B --enable-dns-hostnames true
  linkplane cloud --as arn:aws:iam::222222222222:root peering modify-options pcx-… \\
      --accepter-dns-resolution true    # vpc-A resolves vpc-B's public host names privately

PrivateLink (provider 111111111111 publishes, consumer 222222222222 connects):
  linkplane cloud --as arn:aws:iam::111111111111:root tg create --vpc vpc-P --port 8443 \\
      --check HTTP --path /healthz --matcher 200,302
  linkplane cloud --as arn:aws:iam::111111111111:root tg register tg-… --instance i-…
  linkplane cloud --as arn:aws:iam::111111111111:root lb create --subnet subnet-P1 --subnet subnet-P2
  linkplane cloud --as arn:aws:iam::111111111111:root lb listen nlb-… --port 443 --target-group tg-…
  linkplane cloud --as arn:aws:iam::111111111111:root service create --lb nlb-… \\
      --allow arn:aws:iam::222222222222:root --private-dns-name api.example.internal
  linkplane cloud --as arn:aws:iam::222222222222:root endpoint create --vpc vpc-C \\
      --service com.linkplane.vpce.us-east-1.vpce-svc-… --subnet subnet-C1 --sg sg-…
  linkplane cloud --as arn:aws:iam::111111111111:root service accept vpce-svc-… vpce-…
  linkplane cloud --as arn:aws:iam::222222222222:root exec i-… -- curl https://api.example.internal/

VPC DNS (the resolver is base+2 in every VPC; try `dig` from an instance):
  linkplane cloud zone create --name corp.internal --vpc vpc-…
  linkplane cloud zone set hz-… --name db.corp.internal --type A --value 10.0.1.5
  linkplane cloud rule create --domain onprem.example --forward 10.1.0.10
  linkplane cloud rule associate rslvr-rr-… --vpc vpc-…
  linkplane cloud exec i-… -- dig +short db.corp.internal

More: docs/LOCALCLOUD.md.";

/// Drive localcloud: VPCs, subnets, routes, instances, security groups, gateways, peering,
/// PrivateLink (load balancers, endpoint services, endpoints) and VPC DNS.
#[derive(Debug, Args)]
#[command(after_help = CLOUD_EXAMPLES)]
pub struct CloudArgs {
    /// Base URL of `linkplane serve`.
    #[arg(
        long,
        env = "LINKPLANE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// Principal ARN to act as: arn:aws:iam::<12-digit account>:root or …:role/<name>.
    #[arg(long = "as", value_name = "ARN", env = "LINKPLANE_CLOUD_PRINCIPAL", default_value = DEFAULT_PRINCIPAL, global = true)]
    pub principal: String,
    /// The localcloud operator token (the credential; --as only picks the identity). Prefer
    /// --cloud-token-file: a token on the command line is visible to other local users.
    #[arg(
        long,
        env = "LINKPLANE_CLOUD_TOKEN",
        hide_env_values = true,
        global = true,
        conflicts_with = "cloud_token_file"
    )]
    pub cloud_token: Option<String>,
    /// File holding the operator token [default: $LINKPLANE_DATA_DIR/cloud.token, else
    /// ./.linkplane/cloud.token — where `linkplane serve` writes it].
    #[arg(long, value_name = "PATH", global = true)]
    pub cloud_token_file: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table, global = true)]
    pub output: Output,
    #[command(subcommand)]
    pub command: CloudCommand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum CloudCommand {
    /// Show the principal and account the calls are made as.
    Whoami,
    /// VPCs: a router namespace with an RFC 1918 CIDR (/16-/28).
    #[command(subcommand)]
    Vpc(VpcCmd),
    /// Subnets: a bridge in the VPC router, gateway at base+1, its own route table.
    #[command(subcommand)]
    Subnet(SubnetCmd),
    /// Routes of a subnet's route table (targets igw-…, nat-…, pcx-…; local is implicit).
    #[command(subcommand)]
    Route(RouteCmd),
    /// Instances: a namespace with a veth into the subnet bridge.
    #[command(subcommand)]
    Instance(InstanceCmd),
    /// Run a command inside an instance (the bastion host); exits with its exit code.
    ///
    /// As root on the machine that runs localcloud, the command runs attached to this
    /// terminal (interactive shells work) after the API has authorized the call:
    ///   linkplane cloud exec i-… -- bash
    /// Elsewhere, or with --via-api, it goes through the API: standard input is sent
    /// whole (when it is not a terminal) and the output comes back when it ends:
    ///   echo hello | linkplane cloud exec --via-api i-… -- cat
    #[command(verbatim_doc_comment)]
    Exec(ExecArgs),
    /// Security groups: stateful rules, default deny ingress and allow egress.
    #[command(subcommand, name = "sg")]
    SecurityGroup(SgCmd),
    /// Internet gateways: attach a VPC to the internet namespace.
    #[command(subcommand)]
    Igw(IgwCmd),
    /// Elastic IPs from the public pool 198.51.100.0/24.
    #[command(subcommand)]
    Eip(EipCmd),
    /// NAT gateways: outbound access for private subnets, from an elastic IP.
    #[command(subcommand)]
    Nat(NatCmd),
    /// VPC peering connections (EC2 semantics: the accepter's account accepts).
    #[command(subcommand)]
    Peering(PeeringCmd),
    /// The internet namespace: run test servers and clients on the "public internet".
    #[command(subcommand)]
    Internet(InternetCmd),
    /// Network load balancers: an address per subnet, TCP listeners → target groups.
    ///
    ///   linkplane cloud lb create --subnet subnet-A --subnet subnet-B --name agents
    ///   linkplane cloud lb listen nlb-… --port 443 --target-group tg-…
    #[command(subcommand, name = "lb", verbatim_doc_comment)]
    LoadBalancer(LbCmd),
    /// Target groups: instance:port targets with TCP or HTTP health checks.
    ///
    ///   linkplane cloud tg create --vpc vpc-… --port 8443 --check HTTP --path /healthz --matcher 200,302
    ///   linkplane cloud tg register tg-… --instance i-… --instance i-…
    ///   linkplane cloud tg health tg-…      # initial / healthy / unhealthy / draining
    #[command(subcommand, name = "tg", verbatim_doc_comment)]
    TargetGroup(TgCmd),
    /// Endpoint services (PrivateLink provider side) and their endpoint connections.
    ///
    ///   linkplane cloud service create --lb nlb-… --allow arn:aws:iam::222222222222:root
    ///   linkplane cloud service connections vpce-svc-…
    ///   linkplane cloud service accept vpce-svc-… vpce-…
    #[command(subcommand, name = "service", verbatim_doc_comment)]
    Service(ServiceCmd),
    /// Interface endpoints (PrivateLink consumer side).
    ///
    ///   linkplane cloud --as arn:aws:iam::222222222222:root endpoint create --vpc vpc-… \
    ///       --service com.linkplane.vpce.us-east-1.vpce-svc-… --subnet subnet-… --sg sg-…
    #[command(subcommand, name = "endpoint", verbatim_doc_comment)]
    Endpoint(EndpointCmd),
    /// Private hosted zones: records resolvable in associated VPCs (authoritative).
    ///
    ///   linkplane cloud zone create --name corp.internal --vpc vpc-…
    ///   linkplane cloud zone set hz-… --name db.corp.internal --type A --value 10.0.1.5
    ///   linkplane cloud zone set hz-… --name api.corp.internal --type ALIAS --value vpce-….vpce.linkplane.test
    #[command(subcommand, name = "zone", verbatim_doc_comment)]
    Zone(ZoneCmd),
    /// Resolver rules: forward a domain to DNS servers (from inside the VPC), or SYSTEM.
    ///
    ///   linkplane cloud rule create --domain onprem.example --forward 10.1.0.10 --forward 10.1.0.11:53
    ///   linkplane cloud rule associate rslvr-rr-… --vpc vpc-…
    #[command(subcommand, name = "rule", verbatim_doc_comment)]
    Rule(RuleCmd),
    /// Public DNS records served from the internet namespace (the platform's names).
    ///
    ///   linkplane cloud public-dns publish --name c0ffee.external.linkplane.test --value 198.51.100.7
    #[command(subcommand, name = "public-dns", verbatim_doc_comment)]
    PublicDns(PublicDnsCmd),
}

#[derive(Debug, Subcommand)]
pub enum LbCmd {
    /// Create a load balancer with an address in each subnet (one subnet per AZ).
    Create {
        #[arg(long = "subnet", required = true)]
        subnets: Vec<String>,
        #[arg(long)]
        name: Option<String>,
    },
    List,
    Show {
        lb_id: String,
    },
    /// Add a TCP listener forwarding a port to a target group.
    Listen {
        lb_id: String,
        #[arg(long)]
        port: u16,
        #[arg(long)]
        target_group: String,
    },
    /// Remove a listener.
    Unlisten {
        lb_id: String,
        listener_id: String,
    },
    Delete {
        lb_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TgCmd {
    /// Create a target group (health checks run from the load balancer's address).
    Create {
        #[arg(long)]
        vpc: String,
        /// Traffic port of targets registered without one.
        #[arg(long)]
        port: u16,
        #[arg(long)]
        name: Option<String>,
        /// TCP or HTTP.
        #[arg(long, default_value = "TCP")]
        check: String,
        /// HTTP: path to GET.
        #[arg(long)]
        path: Option<String>,
        /// HTTP: status codes, e.g. 200,302 or 200-399.
        #[arg(long)]
        matcher: Option<String>,
        /// Check this port instead of the traffic port.
        #[arg(long)]
        check_port: Option<u16>,
        #[arg(long, default_value_t = 10_000)]
        interval_ms: u64,
        #[arg(long, default_value_t = 5_000)]
        timeout_ms: u64,
        #[arg(long, default_value_t = 3)]
        healthy_threshold: u32,
        #[arg(long, default_value_t = 3)]
        unhealthy_threshold: u32,
    },
    List,
    Show {
        tg_id: String,
    },
    /// Register instances (instance or instance:port).
    Register {
        tg_id: String,
        #[arg(long = "instance", required = true)]
        instances: Vec<String>,
    },
    Deregister {
        tg_id: String,
        #[arg(long = "instance", required = true)]
        instances: Vec<String>,
    },
    /// Target health states as the load balancer sees them.
    Health {
        tg_id: String,
    },
    Delete {
        tg_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ServiceCmd {
    /// Create an endpoint service for a load balancer.
    Create {
        #[arg(long)]
        lb: String,
        /// Accept new endpoints without the owner's approval.
        #[arg(long)]
        no_acceptance: bool,
        /// Principals allowed to create endpoints (ARN or *), repeatable.
        #[arg(long = "allow")]
        allow: Vec<String>,
        /// Other regions whose consumers may connect, repeatable.
        #[arg(long = "region-supported")]
        regions: Vec<String>,
        #[arg(long)]
        private_dns_name: Option<String>,
        /// Send PROXY protocol v2 (with the endpoint id) to targets.
        #[arg(long)]
        proxy_protocol: bool,
    },
    List,
    Show {
        service_id: String,
    },
    /// Change acceptance, supported regions or the private DNS name.
    Modify {
        service_id: String,
        /// true or false.
        #[arg(long)]
        acceptance_required: Option<bool>,
        /// Replace the other supported regions (repeatable).
        #[arg(long = "region-supported")]
        regions: Option<Vec<String>>,
        #[arg(long, conflicts_with = "no_private_dns_name")]
        private_dns_name: Option<String>,
        #[arg(long)]
        no_private_dns_name: bool,
    },
    /// Add or remove allowed principals.
    Permissions {
        service_id: String,
        #[arg(long = "add")]
        add: Vec<String>,
        #[arg(long = "remove")]
        remove: Vec<String>,
    },
    /// Endpoint connections with the consumer account and state.
    Connections {
        service_id: String,
    },
    Accept {
        service_id: String,
        #[arg(required = true)]
        endpoint_ids: Vec<String>,
    },
    Reject {
        service_id: String,
        #[arg(required = true)]
        endpoint_ids: Vec<String>,
    },
    Delete {
        service_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum EndpointCmd {
    /// Create an interface endpoint: one address per subnet, in the caller's VPC.
    Create {
        #[arg(long)]
        vpc: String,
        /// com.linkplane.vpce.<region>.vpce-svc-…
        #[arg(long)]
        service: String,
        #[arg(long = "subnet", required = true)]
        subnets: Vec<String>,
        /// Security groups (default: the VPC's default group).
        #[arg(long = "sg")]
        groups: Vec<String>,
        /// Do not resolve the service's private DNS name to this endpoint.
        #[arg(long)]
        no_private_dns: bool,
    },
    List,
    Show {
        endpoint_id: String,
    },
    Delete {
        endpoint_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ZoneCmd {
    Create {
        #[arg(long)]
        name: String,
        #[arg(long = "vpc")]
        vpcs: Vec<String>,
    },
    List,
    Show {
        zone_id: String,
    },
    /// Create or replace a record set (A, AAAA, CNAME, ALIAS).
    Set {
        zone_id: String,
        #[arg(long)]
        name: String,
        #[arg(long = "type")]
        kind: String,
        #[arg(long = "value", required = true)]
        values: Vec<String>,
        #[arg(long, default_value_t = 300)]
        ttl: u32,
    },
    /// Delete a record set.
    Unset {
        zone_id: String,
        #[arg(long)]
        name: String,
        #[arg(long = "type")]
        kind: String,
    },
    /// (Zone owner) allow another account's VPC to be associated.
    Authorize {
        zone_id: String,
        #[arg(long)]
        vpc: String,
    },
    /// Associate a VPC (another account's after the owner authorized it).
    Associate {
        zone_id: String,
        #[arg(long)]
        vpc: String,
    },
    Disassociate {
        zone_id: String,
        #[arg(long)]
        vpc: String,
    },
    Delete {
        zone_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RuleCmd {
    /// Create a FORWARD rule (--forward IP[:PORT], repeatable) or a SYSTEM rule (--system).
    Create {
        #[arg(long)]
        domain: String,
        #[arg(long = "forward", conflicts_with = "system")]
        targets: Vec<String>,
        #[arg(long)]
        system: bool,
        #[arg(long)]
        name: Option<String>,
    },
    List,
    Show {
        rule_id: String,
    },
    Associate {
        rule_id: String,
        #[arg(long)]
        vpc: String,
    },
    Disassociate {
        rule_id: String,
        #[arg(long)]
        vpc: String,
    },
    /// (Rule owner) share the rule with another account, as AWS RAM does: that account may
    /// then associate it with its own VPCs (e.g. the platform's account 100000000000 with a
    /// cluster's VPC, for a RESOLVER_RULE DNS resolution).
    Share {
        rule_id: String,
        /// The 12-digit account to share with.
        #[arg(long)]
        account: String,
    },
    /// (Rule owner) stop sharing: the account's VPCs no longer use the rule.
    Unshare {
        rule_id: String,
        #[arg(long)]
        account: String,
    },
    Delete {
        rule_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PublicDnsCmd {
    /// Publish (or replace) a public A record.
    Publish {
        #[arg(long)]
        name: String,
        #[arg(long = "value", required = true)]
        values: Vec<String>,
        #[arg(long, default_value_t = 300)]
        ttl: u32,
    },
    List,
    Unpublish {
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum VpcCmd {
    /// Create a VPC.
    Create {
        /// RFC 1918 CIDR, /16 to /28 (e.g. 10.0.0.0/16).
        #[arg(long)]
        cidr: String,
        /// Region (default us-east-1).
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Give instances with a public IP a public DNS host name (publicDnsName,
        /// ec2-<public-ip>.<region>.compute.linkplane.test). Off by default, as for AWS.
        #[arg(long)]
        enable_dns_hostnames: bool,
    },
    /// List your account's VPCs.
    List,
    /// Show one VPC.
    Show { vpc_id: String },
    /// Change a VPC's attributes (the VPC owner's account only).
    ///
    ///   linkplane cloud vpc modify vpc-… --enable-dns-hostnames true
    ///
    /// With enableDnsHostnames, each instance with a public IP gets a publicDnsName: public
    /// DNS answers it with the public IP, the VPC's own resolver with the private IP.
    #[command(verbatim_doc_comment)]
    Modify {
        vpc_id: String,
        /// true or false.
        #[arg(long, value_name = "true|false", action = clap::ArgAction::Set, required = true)]
        enable_dns_hostnames: bool,
    },
    /// Delete a VPC (refused while it has instances, NAT gateways or peerings).
    Delete { vpc_id: String },
}

#[derive(Debug, Subcommand)]
pub enum SubnetCmd {
    /// Create a subnet inside a VPC's CIDR.
    Create {
        #[arg(long)]
        vpc: String,
        /// CIDR inside the VPC, /16 to /28, not overlapping other subnets.
        #[arg(long)]
        cidr: String,
        /// Availability zone of the VPC's region, e.g. us-east-1a.
        #[arg(long)]
        az: String,
        /// Give instances launched here a public IP (a "public subnet").
        #[arg(long)]
        public: bool,
        #[arg(long)]
        name: Option<String>,
    },
    /// List your subnets.
    List {
        #[arg(long)]
        vpc: Option<String>,
    },
    Show {
        subnet_id: String,
    },
    /// Delete a subnet (refused while it has instances or NAT gateways).
    Delete {
        subnet_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RouteCmd {
    /// Add a route; the most specific route wins.
    Add {
        #[arg(long)]
        subnet: String,
        /// Destination CIDR outside the VPC (e.g. 0.0.0.0/0, 10.1.0.0/16).
        #[arg(long)]
        destination: String,
        /// igw-…, nat-… or pcx-….
        #[arg(long)]
        target: String,
    },
    /// List a subnet's routes (state active or blackhole).
    List {
        #[arg(long)]
        subnet: String,
    },
    /// Delete a route.
    Delete {
        #[arg(long)]
        subnet: String,
        #[arg(long)]
        destination: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum InstanceCmd {
    /// Launch an instance in a subnet.
    Create {
        #[arg(long)]
        subnet: String,
        /// Private IP (default: the first free address after the four reserved ones).
        #[arg(long)]
        ip: Option<String>,
        /// Security group (repeatable; default the VPC's `default` group).
        #[arg(long = "sg")]
        security_groups: Vec<String>,
        /// Give it a public IP (default: the subnet's setting).
        #[arg(long)]
        public_ip: bool,
        #[arg(long)]
        name: Option<String>,
    },
    List {
        #[arg(long)]
        vpc: Option<String>,
    },
    Show {
        instance_id: String,
    },
    /// Terminate (its processes are stopped).
    Delete {
        instance_id: String,
    },
    /// Start a long-running process inside the instance (logged in the server's data dir).
    ///
    ///   linkplane cloud instance run i-… -- python3 -m http.server 80
    #[command(verbatim_doc_comment)]
    Run {
        instance_id: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// List processes started with `run`.
    Processes {
        instance_id: String,
    },
    /// Stop a process started with `run`.
    Stop {
        instance_id: String,
        process_id: String,
    },
    /// Replace the instance's security groups.
    SetGroups {
        instance_id: String,
        #[arg(long = "sg", required = true)]
        security_groups: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    pub instance_id: String,
    /// Always go through the API (buffered), even when the instance's namespace is on this
    /// machine and we are root (then the command runs attached to this terminal).
    #[arg(long)]
    pub via_api: bool,
    /// Seconds before the command is killed (exit code 124).
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum SgCmd {
    /// Create a group (allows all egress, no ingress).
    Create {
        #[arg(long)]
        vpc: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    List {
        #[arg(long)]
        vpc: Option<String>,
    },
    Show {
        group_id: String,
    },
    Delete {
        group_id: String,
    },
    /// Allow traffic: `sg allow sg-… --protocol tcp --port 443 --cidr 10.0.0.0/16`.
    Allow {
        group_id: String,
        /// ingress or egress.
        #[arg(long, default_value = "ingress")]
        direction: String,
        /// tcp, udp, icmp or -1 (all).
        #[arg(long, default_value = "tcp")]
        protocol: String,
        /// A port or range (80, 8000-8100); an ICMP type for icmp.
        #[arg(long)]
        port: Option<String>,
        /// Source (ingress) or destination (egress) CIDR.
        #[arg(long, conflicts_with = "source_group")]
        cidr: Option<String>,
        /// Instances in this group (sg-…) instead of a CIDR.
        #[arg(long)]
        source_group: Option<String>,
    },
    /// Remove a rule (new connections are affected at once).
    Revoke {
        group_id: String,
        rule_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum IgwCmd {
    /// Create an internet gateway attached to a VPC.
    Create {
        #[arg(long)]
        vpc: String,
    },
    List,
    Show {
        igw_id: String,
    },
    /// Detach and delete (refused while routes or NAT gateways use it).
    Delete {
        igw_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum EipCmd {
    /// Allocate an elastic IP.
    Allocate,
    List,
    /// Release (refused while a NAT gateway uses it).
    Release {
        allocation_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum NatCmd {
    /// Create a NAT gateway in a public subnet with an elastic IP.
    Create {
        #[arg(long)]
        subnet: String,
        #[arg(long)]
        eip: String,
    },
    List,
    Show {
        nat_id: String,
    },
    Delete {
        nat_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PeeringCmd {
    /// Request a peering from your VPC to a peer VPC (status pending-acceptance, or failed).
    Create {
        #[arg(long)]
        vpc: String,
        #[arg(long)]
        peer_vpc: String,
        /// The peer VPC's account (default: yours).
        #[arg(long)]
        peer_owner: Option<String>,
        #[arg(long)]
        peer_region: Option<String>,
    },
    List,
    Show {
        pcx_id: String,
    },
    /// Accept (only a principal of the accepter's account may).
    Accept {
        pcx_id: String,
    },
    /// Reject (accepter's account only).
    Reject {
        pcx_id: String,
    },
    /// Delete (either side).
    Delete {
        pcx_id: String,
    },
    /// Set DNS resolution across an active peering (EC2's ModifyVpcPeeringConnectionOptions).
    ///
    /// Each side's setting decides whether the OTHER VPC resolves this side's public DNS
    /// host names (publicDnsName, ec2-….compute.linkplane.test) to private IP addresses;
    /// without it the other VPC gets the public IP from public DNS. Each side is set by a
    /// principal of its own account, and only while the peering is active:
    ///
    ///   # the customer (accepter) lets the requester's VPC resolve its hosts privately
    ///   linkplane cloud --as arn:aws:iam::<accepter>:root peering modify-options pcx-… \
    ///       --accepter-dns-resolution true
    ///
    /// Document 002 calls this "the Accepter DNS Resolution setting". Host names exist only
    /// in VPCs with enableDnsHostnames (vpc modify --enable-dns-hostnames true).
    #[command(verbatim_doc_comment)]
    ModifyOptions {
        pcx_id: String,
        /// Requester side (requester's account only): true lets the ACCEPTER VPC resolve
        /// the requester VPC's public DNS host names to private IPs.
        #[arg(long, value_name = "true|false")]
        requester_dns_resolution: Option<bool>,
        /// Accepter side (accepter's account only): true lets the REQUESTER VPC resolve
        /// the accepter VPC's public DNS host names to private IPs.
        #[arg(long, value_name = "true|false")]
        accepter_dns_resolution: Option<bool>,
    },
}

#[derive(Debug, Subcommand)]
pub enum InternetCmd {
    /// Show the internet namespace and its addresses.
    Show,
    /// Run a command in the internet namespace; exits with its exit code.
    Exec {
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Always go through the API (buffered).
        #[arg(long)]
        via_api: bool,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Start a long-running process (a test server) in the internet namespace.
    Run {
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    Processes,
    Stop {
        process_id: String,
    },
}

/// What a command produced.
#[derive(Debug)]
pub enum Outcome {
    /// A resource or list to print.
    Value(Value),
    /// Something deleted.
    Done(String),
    /// Run attached to this terminal in a local namespace (authorized by the API).
    Attached {
        namespace: String,
        command: Vec<String>,
    },
    /// The result of exec: streams and exit code.
    Exec {
        code: i32,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
    },
}

struct Client {
    http: reqwest::Client,
    base: String,
    principal: String,
    token: String,
}

/// The operator token: --cloud-token / LINKPLANE_CLOUD_TOKEN, else the first of
/// --cloud-token-file, `$LINKPLANE_DATA_DIR/cloud.token`, `./.linkplane/cloud.token`.
fn operator_token(args: &CloudArgs) -> anyhow::Result<String> {
    if let Some(t) = &args.cloud_token {
        let t = t.trim();
        if t.is_empty() {
            bail!("--cloud-token / LINKPLANE_CLOUD_TOKEN is empty");
        }
        return Ok(t.to_string());
    }
    let path = match &args.cloud_token_file {
        Some(p) => p.clone(),
        None => std::env::var_os("LINKPLANE_DATA_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::PathBuf::from("./.linkplane"))
            .join(linkplane_localcloud::TOKEN_FILE),
    };
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read the localcloud operator token from {}: `linkplane serve` writes it to \
             <data-dir>/cloud.token; pass --cloud-token-file PATH (or LINKPLANE_CLOUD_TOKEN)",
            path.display()
        )
    })?;
    let t = text.trim();
    if t.is_empty() {
        bail!(
            "{} is empty: it should hold the localcloud operator token",
            path.display()
        );
    }
    Ok(t.to_string())
}

impl Client {
    fn new(url: &str, principal: &str, token: String) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        linkplane_localcloud::Principal::parse(principal)
            .map_err(|e| anyhow::anyhow!("--as: {e}"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3700))
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            http,
            base: url.trim_end_matches('/').to_string(),
            principal: principal.to_string(),
            token,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/cloud/v1{path}", self.base);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.token)
            .header("X-Cloud-Principal", &self.principal);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.with_context(|| {
            format!(
                "cannot reach localcloud at {}: is `linkplane serve` running there? (set --url or LINKPLANE_URL)",
                self.base
            )
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status.is_success() {
            return Ok(if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).with_context(|| format!("{method} {url}: not JSON"))?
            });
        }
        let problem: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match problem.get("detail").and_then(Value::as_str) {
            Some(detail) => bail!(
                "{} ({}): {detail}",
                problem
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or("error"),
                status.as_u16()
            ),
            None => bail!("{method} {url}: HTTP {}: {}", status.as_u16(), text.trim()),
        }
    }

    async fn get(&self, path: &str) -> anyhow::Result<Outcome> {
        Ok(Outcome::Value(
            self.call(reqwest::Method::GET, path, None).await?,
        ))
    }
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Outcome> {
        Ok(Outcome::Value(
            self.call(reqwest::Method::POST, path, Some(body)).await?,
        ))
    }
    async fn patch(&self, path: &str, body: Value) -> anyhow::Result<Outcome> {
        Ok(Outcome::Value(
            self.call(reqwest::Method::PATCH, path, Some(body)).await?,
        ))
    }
    /// A DELETE with a body that names what goes (a VPC, a record set): the answer shown.
    async fn delete_with(&self, path: &str, body: Option<Value>) -> anyhow::Result<Outcome> {
        Ok(Outcome::Value(
            self.call(reqwest::Method::DELETE, path, body).await?,
        ))
    }
    async fn delete(&self, path: &str, what: &str) -> anyhow::Result<Outcome> {
        let v = self.call(reqwest::Method::DELETE, path, None).await?;
        Ok(if v.is_null() {
            Outcome::Done(format!("deleted {what}"))
        } else {
            Outcome::Value(v)
        })
    }

    async fn exec(&self, path: &str, command: &[String], timeout: u64) -> anyhow::Result<Outcome> {
        let mut stdin = Vec::new();
        if !std::io::stdin().is_terminal() {
            std::io::stdin()
                .read_to_end(&mut stdin)
                .context("read standard input")?;
        }
        let v = self
            .call(
                reqwest::Method::POST,
                path,
                Some(json!({"command": command, "stdin": encode_bytes(&stdin), "timeoutSeconds": timeout})),
            )
            .await?;
        let field = |k: &str| -> Vec<u8> {
            v.get(k)
                .and_then(Value::as_str)
                .and_then(decode_bytes)
                .unwrap_or_default()
        };
        Ok(Outcome::Exec {
            code: v.get("exitCode").and_then(Value::as_i64).unwrap_or(1) as i32,
            stdout: field("stdout"),
            stderr: field("stderr"),
        })
    }
}

/// The resource's namespace when it exists on this machine.
fn local_namespace(resource: &Value) -> Option<String> {
    let ns = resource.get("namespace")?.as_str()?;
    linkplane_netns::exists(ns).then(|| ns.to_string())
}

/// Run `command` in `namespace` with this process's stdin/stdout/stderr (`ip netns exec`,
/// so the namespace's resolv.conf is /etc/resolv.conf); returns its exit code.
fn run_attached(namespace: &str, command: &[String]) -> anyhow::Result<i32> {
    use std::os::unix::process::ExitStatusExt;
    let status = std::process::Command::new("ip")
        .args(["netns", "exec", namespace])
        .args(command)
        .status()
        .with_context(|| format!("run {command:?} in {namespace}"))?;
    Ok(status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1))
}

fn ports(port: Option<&str>) -> anyhow::Result<(Option<i64>, Option<i64>)> {
    let Some(p) = port else {
        return Ok((None, None));
    };
    let parse = |s: &str| {
        s.trim()
            .parse::<i64>()
            .with_context(|| format!("--port {p:?}: use a number or a range such as 8000-8100"))
    };
    Ok(match p.split_once('-') {
        Some((a, b)) if !a.is_empty() => (Some(parse(a)?), Some(parse(b)?)),
        _ => {
            let n = parse(p)?;
            (Some(n), Some(n))
        }
    })
}

/// The body of `POST /vpc-peering-connections/{id}/options`: only the sides given.
fn peering_options_body(requester: Option<bool>, accepter: Option<bool>) -> anyhow::Result<Value> {
    if requester.is_none() && accepter.is_none() {
        bail!(
            "give --requester-dns-resolution true|false, --accepter-dns-resolution true|false, or both"
        );
    }
    let mut body = serde_json::Map::new();
    for (key, v) in [
        ("requesterPeeringConnectionOptions", requester),
        ("accepterPeeringConnectionOptions", accepter),
    ] {
        if let Some(v) = v {
            body.insert(key.into(), json!({"allowDnsResolutionFromRemoteVpc": v}));
        }
    }
    Ok(Value::Object(body))
}

/// `i-…` or `i-…:port` → a target reference.
fn target_ref(s: &str) -> anyhow::Result<Value> {
    match s.split_once(':') {
        Some((i, p)) => {
            let port: u16 = p
                .parse()
                .map_err(|_| anyhow::anyhow!("--instance {s}: the port must be 1-65535"))?;
            Ok(json!({"instanceId": i, "port": port}))
        }
        None => Ok(json!({"instanceId": s})),
    }
}

async fn lb(c: &Client, cmd: &LbCmd) -> anyhow::Result<Outcome> {
    match cmd {
        LbCmd::Create { subnets, name } => {
            c.post(
                "/load-balancers",
                json!({"subnetIds": subnets, "name": name}),
            )
            .await
        }
        LbCmd::List => c.get("/load-balancers").await,
        LbCmd::Show { lb_id } => c.get(&format!("/load-balancers/{lb_id}")).await,
        LbCmd::Listen {
            lb_id,
            port,
            target_group,
        } => {
            c.post(
                &format!("/load-balancers/{lb_id}/listeners"),
                json!({"port": port, "targetGroupId": target_group}),
            )
            .await
        }
        LbCmd::Unlisten { lb_id, listener_id } => {
            c.delete(
                &format!("/load-balancers/{lb_id}/listeners/{listener_id}"),
                listener_id,
            )
            .await
        }
        LbCmd::Delete { lb_id } => c.delete(&format!("/load-balancers/{lb_id}"), lb_id).await,
    }
}

async fn tg(c: &Client, cmd: &TgCmd) -> anyhow::Result<Outcome> {
    match cmd {
        TgCmd::Create {
            vpc,
            port,
            name,
            check,
            path,
            matcher,
            check_port,
            interval_ms,
            timeout_ms,
            healthy_threshold,
            unhealthy_threshold,
        } => {
            c.post(
                "/target-groups",
                json!({"vpcId": vpc, "port": port, "name": name, "healthCheck": {
                    "protocol": check, "path": path, "matcher": matcher, "port": check_port,
                    "intervalMillis": interval_ms, "timeoutMillis": timeout_ms,
                    "healthyThreshold": healthy_threshold, "unhealthyThreshold": unhealthy_threshold,
                }}),
            )
            .await
        }
        TgCmd::List => c.get("/target-groups").await,
        TgCmd::Show { tg_id } => c.get(&format!("/target-groups/{tg_id}")).await,
        TgCmd::Register { tg_id, instances } | TgCmd::Deregister { tg_id, instances } => {
            let targets = instances
                .iter()
                .map(|i| target_ref(i))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let method = if matches!(cmd, TgCmd::Register { .. }) {
                reqwest::Method::POST
            } else {
                reqwest::Method::DELETE
            };
            Ok(Outcome::Value(
                c.call(
                    method,
                    &format!("/target-groups/{tg_id}/targets"),
                    Some(json!({ "targets": targets })),
                )
                .await?,
            ))
        }
        TgCmd::Health { tg_id } => c.get(&format!("/target-groups/{tg_id}/health")).await,
        TgCmd::Delete { tg_id } => c.delete(&format!("/target-groups/{tg_id}"), tg_id).await,
    }
}

async fn service(c: &Client, cmd: &ServiceCmd) -> anyhow::Result<Outcome> {
    match cmd {
        ServiceCmd::Create {
            lb,
            no_acceptance,
            allow,
            regions,
            private_dns_name,
            proxy_protocol,
        } => {
            c.post(
                "/endpoint-services",
                json!({"loadBalancerId": lb, "acceptanceRequired": !no_acceptance,
                    "allowedPrincipals": allow, "supportedRegions": regions,
                    "privateDnsName": private_dns_name, "proxyProtocol": proxy_protocol}),
            )
            .await
        }
        ServiceCmd::List => c.get("/endpoint-services").await,
        ServiceCmd::Show { service_id } => c.get(&format!("/endpoint-services/{service_id}")).await,
        ServiceCmd::Modify {
            service_id,
            acceptance_required,
            regions,
            private_dns_name,
            no_private_dns_name,
        } => Ok(Outcome::Value(
            c.call(
                reqwest::Method::PATCH,
                &format!("/endpoint-services/{service_id}"),
                Some(json!({"acceptanceRequired": acceptance_required,
                    "supportedRegions": regions, "privateDnsName": private_dns_name,
                    "removePrivateDnsName": no_private_dns_name})),
            )
            .await?,
        )),
        ServiceCmd::Permissions {
            service_id,
            add,
            remove,
        } => {
            c.post(
                &format!("/endpoint-services/{service_id}/permissions"),
                json!({"addAllowedPrincipals": add, "removeAllowedPrincipals": remove}),
            )
            .await
        }
        ServiceCmd::Connections { service_id } => {
            c.get(&format!("/endpoint-services/{service_id}/connections"))
                .await
        }
        ServiceCmd::Accept {
            service_id,
            endpoint_ids,
        } => {
            c.post(
                &format!("/endpoint-services/{service_id}/connections/accept"),
                json!({ "vpcEndpointIds": endpoint_ids }),
            )
            .await
        }
        ServiceCmd::Reject {
            service_id,
            endpoint_ids,
        } => {
            c.post(
                &format!("/endpoint-services/{service_id}/connections/reject"),
                json!({ "vpcEndpointIds": endpoint_ids }),
            )
            .await
        }
        ServiceCmd::Delete { service_id } => {
            c.delete(&format!("/endpoint-services/{service_id}"), service_id)
                .await
        }
    }
}

async fn endpoint(c: &Client, cmd: &EndpointCmd) -> anyhow::Result<Outcome> {
    match cmd {
        EndpointCmd::Create {
            vpc,
            service,
            subnets,
            groups,
            no_private_dns,
        } => {
            let private_dns = if *no_private_dns { Some(false) } else { None };
            c.post(
                "/vpc-endpoints",
                json!({"vpcId": vpc, "serviceName": service, "subnetIds": subnets,
                    "securityGroupIds": groups, "privateDnsEnabled": private_dns}),
            )
            .await
        }
        EndpointCmd::List => c.get("/vpc-endpoints").await,
        EndpointCmd::Show { endpoint_id } => c.get(&format!("/vpc-endpoints/{endpoint_id}")).await,
        EndpointCmd::Delete { endpoint_id } => {
            c.delete(&format!("/vpc-endpoints/{endpoint_id}"), endpoint_id)
                .await
        }
    }
}

async fn zone(c: &Client, cmd: &ZoneCmd) -> anyhow::Result<Outcome> {
    let vpc_call = |m: reqwest::Method, path: String, vpc: &str| {
        let body = json!({ "vpcId": vpc });
        async move { Ok(Outcome::Value(c.call(m, &path, Some(body)).await?)) }
    };
    match cmd {
        ZoneCmd::Create { name, vpcs } => {
            c.post("/hosted-zones", json!({"name": name, "vpcIds": vpcs}))
                .await
        }
        ZoneCmd::List => c.get("/hosted-zones").await,
        ZoneCmd::Show { zone_id } => c.get(&format!("/hosted-zones/{zone_id}")).await,
        ZoneCmd::Set {
            zone_id,
            name,
            kind,
            values,
            ttl,
        } => {
            c.post(
                &format!("/hosted-zones/{zone_id}/records"),
                json!({"name": name, "type": kind, "values": values, "ttl": ttl}),
            )
            .await
        }
        ZoneCmd::Unset {
            zone_id,
            name,
            kind,
        } => {
            c.delete_with(
                &format!("/hosted-zones/{zone_id}/records"),
                Some(json!({"name": name, "type": kind})),
            )
            .await
        }
        ZoneCmd::Authorize { zone_id, vpc } => {
            vpc_call(
                reqwest::Method::POST,
                format!("/hosted-zones/{zone_id}/authorizations"),
                vpc,
            )
            .await
        }
        ZoneCmd::Associate { zone_id, vpc } => {
            vpc_call(
                reqwest::Method::POST,
                format!("/hosted-zones/{zone_id}/vpcs"),
                vpc,
            )
            .await
        }
        ZoneCmd::Disassociate { zone_id, vpc } => {
            vpc_call(
                reqwest::Method::DELETE,
                format!("/hosted-zones/{zone_id}/vpcs"),
                vpc,
            )
            .await
        }
        ZoneCmd::Delete { zone_id } => c.delete(&format!("/hosted-zones/{zone_id}"), zone_id).await,
    }
}

async fn rule(c: &Client, cmd: &RuleCmd) -> anyhow::Result<Outcome> {
    match cmd {
        RuleCmd::Create {
            domain,
            targets,
            system,
            name,
        } => {
            let kind = if *system { "SYSTEM" } else { "FORWARD" };
            c.post(
                "/resolver-rules",
                json!({"domainName": domain, "ruleType": kind, "targetIps": targets, "name": name}),
            )
            .await
        }
        RuleCmd::List => c.get("/resolver-rules").await,
        RuleCmd::Show { rule_id } => c.get(&format!("/resolver-rules/{rule_id}")).await,
        RuleCmd::Associate { rule_id, vpc } => {
            c.post(
                &format!("/resolver-rules/{rule_id}/vpcs"),
                json!({ "vpcId": vpc }),
            )
            .await
        }
        RuleCmd::Disassociate { rule_id, vpc } => {
            c.delete_with(
                &format!("/resolver-rules/{rule_id}/vpcs"),
                Some(json!({ "vpcId": vpc })),
            )
            .await
        }
        RuleCmd::Share { rule_id, account } => {
            c.post(
                &format!("/resolver-rules/{rule_id}/shares"),
                json!({ "accountId": account }),
            )
            .await
        }
        RuleCmd::Unshare { rule_id, account } => {
            c.delete_with(&format!("/resolver-rules/{rule_id}/shares/{account}"), None)
                .await
        }
        RuleCmd::Delete { rule_id } => {
            c.delete(&format!("/resolver-rules/{rule_id}"), rule_id)
                .await
        }
    }
}

async fn public_dns(c: &Client, cmd: &PublicDnsCmd) -> anyhow::Result<Outcome> {
    match cmd {
        PublicDnsCmd::Publish { name, values, ttl } => {
            c.post(
                "/public-records",
                json!({"name": name, "values": values, "ttl": ttl}),
            )
            .await
        }
        PublicDnsCmd::List => c.get("/public-records").await,
        PublicDnsCmd::Unpublish { name } => {
            c.delete(&format!("/public-records/{name}"), name).await
        }
    }
}

/// Run one `cloud` command and return what it produced (printing is separate).
pub async fn execute(args: &CloudArgs) -> anyhow::Result<Outcome> {
    let c = Client::new(&args.url, &args.principal, operator_token(args)?)?;
    use CloudCommand as C;
    match &args.command {
        C::Whoami => c.get("/whoami").await,
        C::Vpc(cmd) => match cmd {
            VpcCmd::Create {
                cidr,
                region,
                name,
                enable_dns_hostnames,
            } => {
                c.post(
                    "/vpcs",
                    json!({"cidrBlock": cidr, "region": region, "name": name,
                           "enableDnsHostnames": enable_dns_hostnames}),
                )
                .await
            }
            VpcCmd::Modify {
                vpc_id,
                enable_dns_hostnames,
            } => {
                c.patch(
                    &format!("/vpcs/{vpc_id}"),
                    json!({"enableDnsHostnames": enable_dns_hostnames}),
                )
                .await
            }
            VpcCmd::List => c.get("/vpcs").await,
            VpcCmd::Show { vpc_id } => c.get(&format!("/vpcs/{vpc_id}")).await,
            VpcCmd::Delete { vpc_id } => c.delete(&format!("/vpcs/{vpc_id}"), vpc_id).await,
        },
        C::Subnet(cmd) => match cmd {
            SubnetCmd::Create {
                vpc,
                cidr,
                az,
                public,
                name,
            } => {
                c.post(
                    "/subnets",
                    json!({"vpcId": vpc, "cidrBlock": cidr, "availabilityZone": az, "mapPublicIpOnLaunch": public, "name": name}),
                )
                .await
            }
            SubnetCmd::List { vpc } => match vpc {
                Some(v) => c.get(&format!("/subnets?vpcId={v}")).await,
                None => c.get("/subnets").await,
            },
            SubnetCmd::Show { subnet_id } => c.get(&format!("/subnets/{subnet_id}")).await,
            SubnetCmd::Delete { subnet_id } => {
                c.delete(&format!("/subnets/{subnet_id}"), subnet_id).await
            }
        },
        C::Route(cmd) => match cmd {
            RouteCmd::Add {
                subnet,
                destination,
                target,
            } => {
                c.post(
                    &format!("/subnets/{subnet}/routes"),
                    json!({"destinationCidrBlock": destination, "targetId": target}),
                )
                .await
            }
            RouteCmd::List { subnet } => c.get(&format!("/subnets/{subnet}/routes")).await,
            RouteCmd::Delete {
                subnet,
                destination,
            } => {
                let q: String = destination.replace('/', "%2F");
                c.delete(
                    &format!("/subnets/{subnet}/routes?destinationCidrBlock={q}"),
                    &format!("route to {destination}"),
                )
                .await
            }
        },
        C::Instance(cmd) => instance(&c, cmd).await,
        C::Exec(e) => {
            if !e.via_api && linkplane_localcloud::running_as_root() {
                // Authorizes the call (the instance must be the principal's account's).
                let inst = c.call(reqwest::Method::GET, &format!("/instances/{}", e.instance_id), None).await?;
                if let Some(ns) = local_namespace(&inst) {
                    return Ok(Outcome::Attached { namespace: ns, command: e.command.clone() });
                }
            }
            c.exec(&format!("/instances/{}/exec", e.instance_id), &e.command, e.timeout)
                .await
        }
        C::SecurityGroup(cmd) => sg(&c, cmd).await,
        C::Igw(cmd) => match cmd {
            IgwCmd::Create { vpc } => c.post("/internet-gateways", json!({"vpcId": vpc})).await,
            IgwCmd::List => c.get("/internet-gateways").await,
            IgwCmd::Show { igw_id } => c.get(&format!("/internet-gateways/{igw_id}")).await,
            IgwCmd::Delete { igw_id } => {
                c.delete(&format!("/internet-gateways/{igw_id}"), igw_id).await
            }
        },
        C::Eip(cmd) => match cmd {
            EipCmd::Allocate => c.post("/elastic-ips", json!({})).await,
            EipCmd::List => c.get("/elastic-ips").await,
            EipCmd::Release { allocation_id } => {
                c.delete(&format!("/elastic-ips/{allocation_id}"), allocation_id)
                    .await
            }
        },
        C::Nat(cmd) => match cmd {
            NatCmd::Create { subnet, eip } => {
                c.post("/nat-gateways", json!({"subnetId": subnet, "allocationId": eip}))
                    .await
            }
            NatCmd::List => c.get("/nat-gateways").await,
            NatCmd::Show { nat_id } => c.get(&format!("/nat-gateways/{nat_id}")).await,
            NatCmd::Delete { nat_id } => c.delete(&format!("/nat-gateways/{nat_id}"), nat_id).await,
        },
        C::Peering(cmd) => match cmd {
            PeeringCmd::Create {
                vpc,
                peer_vpc,
                peer_owner,
                peer_region,
            } => {
                c.post(
                    "/vpc-peering-connections",
                    json!({"vpcId": vpc, "peerVpcId": peer_vpc, "peerOwnerId": peer_owner, "peerRegion": peer_region}),
                )
                .await
            }
            PeeringCmd::List => c.get("/vpc-peering-connections").await,
            PeeringCmd::Show { pcx_id } => c.get(&format!("/vpc-peering-connections/{pcx_id}")).await,
            PeeringCmd::Accept { pcx_id } => {
                c.post(&format!("/vpc-peering-connections/{pcx_id}/accept"), json!({}))
                    .await
            }
            PeeringCmd::Reject { pcx_id } => {
                c.post(&format!("/vpc-peering-connections/{pcx_id}/reject"), json!({}))
                    .await
            }
            PeeringCmd::Delete { pcx_id } => {
                c.delete(&format!("/vpc-peering-connections/{pcx_id}"), pcx_id)
                    .await
            }
            PeeringCmd::ModifyOptions {
                pcx_id,
                requester_dns_resolution,
                accepter_dns_resolution,
            } => {
                c.post(
                    &format!("/vpc-peering-connections/{pcx_id}/options"),
                    peering_options_body(*requester_dns_resolution, *accepter_dns_resolution)?,
                )
                .await
            }
        },
        C::LoadBalancer(cmd) => lb(&c, cmd).await,
        C::TargetGroup(cmd) => tg(&c, cmd).await,
        C::Service(cmd) => service(&c, cmd).await,
        C::Endpoint(cmd) => endpoint(&c, cmd).await,
        C::Zone(cmd) => zone(&c, cmd).await,
        C::Rule(cmd) => rule(&c, cmd).await,
        C::PublicDns(cmd) => public_dns(&c, cmd).await,
        C::Internet(cmd) => match cmd {
            InternetCmd::Show => c.get("/internet").await,
            InternetCmd::Exec {
                timeout,
                via_api,
                command,
            } => {
                if !via_api && linkplane_localcloud::running_as_root() {
                    let inet = c.call(reqwest::Method::GET, "/internet", None).await?;
                    if let Some(ns) = local_namespace(&inet) {
                        return Ok(Outcome::Attached { namespace: ns, command: command.clone() });
                    }
                }
                c.exec("/internet/exec", command, *timeout).await
            }
            InternetCmd::Run { command } => {
                c.post("/internet/processes", json!({"command": command})).await
            }
            InternetCmd::Processes => c.get("/internet/processes").await,
            InternetCmd::Stop { process_id } => {
                c.delete(&format!("/internet/processes/{process_id}"), process_id)
                    .await
            }
        },
    }
}

async fn instance(c: &Client, cmd: &InstanceCmd) -> anyhow::Result<Outcome> {
    match cmd {
        InstanceCmd::Create {
            subnet,
            ip,
            security_groups,
            public_ip,
            name,
        } => {
            let mut body = json!({"subnetId": subnet, "privateIpAddress": ip, "securityGroupIds": security_groups, "name": name});
            if *public_ip {
                body["associatePublicIpAddress"] = json!(true);
            }
            c.post("/instances", body).await
        }
        InstanceCmd::List { vpc } => match vpc {
            Some(v) => c.get(&format!("/instances?vpcId={v}")).await,
            None => c.get("/instances").await,
        },
        InstanceCmd::Show { instance_id } => c.get(&format!("/instances/{instance_id}")).await,
        InstanceCmd::Delete { instance_id } => {
            c.delete(&format!("/instances/{instance_id}"), instance_id)
                .await
        }
        InstanceCmd::Run {
            instance_id,
            command,
        } => {
            c.post(
                &format!("/instances/{instance_id}/processes"),
                json!({"command": command}),
            )
            .await
        }
        InstanceCmd::Processes { instance_id } => {
            c.get(&format!("/instances/{instance_id}/processes")).await
        }
        InstanceCmd::Stop {
            instance_id,
            process_id,
        } => {
            c.delete(
                &format!("/instances/{instance_id}/processes/{process_id}"),
                process_id,
            )
            .await
        }
        InstanceCmd::SetGroups {
            instance_id,
            security_groups,
        } => Ok(Outcome::Value(
            c.call(
                reqwest::Method::PUT,
                &format!("/instances/{instance_id}/security-groups"),
                Some(json!({"securityGroupIds": security_groups})),
            )
            .await?,
        )),
    }
}

async fn sg(c: &Client, cmd: &SgCmd) -> anyhow::Result<Outcome> {
    match cmd {
        SgCmd::Create {
            vpc,
            name,
            description,
        } => {
            c.post(
                "/security-groups",
                json!({"vpcId": vpc, "groupName": name, "description": description}),
            )
            .await
        }
        SgCmd::List { vpc } => match vpc {
            Some(v) => c.get(&format!("/security-groups?vpcId={v}")).await,
            None => c.get("/security-groups").await,
        },
        SgCmd::Show { group_id } => c.get(&format!("/security-groups/{group_id}")).await,
        SgCmd::Delete { group_id } => {
            c.delete(&format!("/security-groups/{group_id}"), group_id)
                .await
        }
        SgCmd::Allow {
            group_id,
            direction,
            protocol,
            port,
            cidr,
            source_group,
        } => {
            let (from, to) = ports(port.as_deref())?;
            c.post(
                &format!("/security-groups/{group_id}/rules"),
                json!({
                    "direction": direction, "ipProtocol": protocol, "fromPort": from, "toPort": to,
                    "cidrIp": cidr, "sourceSecurityGroupId": source_group,
                }),
            )
            .await
        }
        SgCmd::Revoke { group_id, rule_id } => {
            c.delete(
                &format!("/security-groups/{group_id}/rules/{rule_id}"),
                rule_id,
            )
            .await
        }
    }
}

/// Columns shown for lists: the first entry whose key the items have wins (keys chosen so
/// that each picks out one resource kind).
const COLUMNS: &[(&str, &[&str])] = &[
    (
        "processId",
        &["processId", "pid", "running", "command", "logPath"],
    ),
    (
        "destinationCidrBlock",
        &["destinationCidrBlock", "targetId", "state"],
    ),
    (
        "vpcPeeringConnectionId",
        &[
            "vpcPeeringConnectionId",
            "requesterVpcInfo",
            "accepterVpcInfo",
            "status",
        ],
    ),
    (
        "privateIpAddress",
        &[
            "instanceId",
            "subnetId",
            "privateIpAddress",
            "publicIpAddress",
            "securityGroupIds",
            "name",
        ],
    ),
    (
        "availabilityZone",
        &[
            "subnetId",
            "vpcId",
            "cidrBlock",
            "availabilityZone",
            "gateway",
            "mapPublicIpOnLaunch",
        ],
    ),
    ("groupName", &["groupId", "groupName", "vpcId", "rules"]),
    (
        "internetGatewayId",
        &["internetGatewayId", "vpcId", "ownerId"],
    ),
    (
        "subnetId",
        &["natGatewayId", "vpcId", "subnetId", "publicIp", "state"],
    ),
    (
        "allocationId",
        &["allocationId", "publicIp", "natGatewayId"],
    ),
    (
        "dnsResolver",
        &["vpcId", "cidrBlock", "region", "ownerId", "name"],
    ),
];

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(","),
        Value::Object(o) if o.contains_key("code") => cell(&o["code"]),
        Value::Object(o) if o.contains_key("vpcId") => {
            let dns = match o
                .get("peeringOptions")
                .and_then(|p| p.get("allowDnsResolutionFromRemoteVpc"))
            {
                Some(Value::Bool(true)) => " dns-resolution-from-remote-vpc",
                _ => "",
            };
            format!(
                "{} {} ({}){dns}",
                cell(&o["vpcId"]),
                cell(&o["cidrBlock"]),
                cell(&o["ownerId"])
            )
        }
        Value::Object(o) if o.contains_key("ruleId") => format!(
            "{} {} {}-{} {}",
            cell(&o["direction"]),
            cell(&o["ipProtocol"]),
            cell(&o["fromPort"]),
            cell(&o["toPort"]),
            if o["cidrIp"].is_null() {
                cell(&o["sourceSecurityGroupId"])
            } else {
                cell(&o["cidrIp"])
            }
        ),
        other => other.to_string(),
    }
}

/// Render a value as a table (lists) or key/value lines (one resource).
pub fn render_table(v: &Value) -> String {
    match v {
        Value::Array(items) if items.is_empty() => "(none)".into(),
        Value::Array(items) => {
            let first = items[0].as_object();
            let cols: Vec<&str> = COLUMNS
                .iter()
                .find(|(key, _)| first.is_some_and(|o| o.contains_key(*key)))
                .map(|(_, c)| c.to_vec())
                .unwrap_or_else(|| {
                    first
                        .map(|o| o.keys().map(String::as_str).collect())
                        .unwrap_or_default()
                });
            let mut t = comfy_table::Table::new();
            t.load_style(comfy_table::presets::NOTHING);
            t.set_header(cols.iter().map(|c| c.to_string()));
            for item in items {
                t.add_row(cols.iter().map(|c| cell(&item[*c])));
            }
            t.to_string()
        }
        Value::Object(o) => {
            let width = o.keys().map(String::len).max().unwrap_or(0);
            o.iter()
                .map(|(k, v)| match v {
                    Value::Array(a) if a.iter().any(Value::is_object) => {
                        let rows: Vec<String> =
                            a.iter().map(|x| format!("  {}", cell(x))).collect();
                        format!("{k}:\n{}", rows.join("\n"))
                    }
                    _ => format!("{k:width$}  {}", cell(v)),
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        other => cell(other),
    }
}

pub async fn run(args: CloudArgs) -> anyhow::Result<()> {
    match execute(&args).await? {
        Outcome::Value(v) => {
            if args.output == Output::Json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("{}", render_table(&v));
            }
        }
        Outcome::Done(msg) => {
            if args.output == Output::Json {
                println!("{}", json!({"result": msg}));
            } else {
                println!("{msg}");
            }
        }
        Outcome::Attached { namespace, command } => {
            let code =
                tokio::task::spawn_blocking(move || run_attached(&namespace, &command)).await??;
            if code != 0 {
                std::process::exit(code);
            }
        }
        Outcome::Exec {
            code,
            stdout,
            stderr,
        } => {
            std::io::stdout().write_all(&stdout)?;
            std::io::stderr().write_all(&stderr)?;
            std::io::stdout().flush()?;
            std::io::stderr().flush()?;
            if code != 0 {
                std::process::exit(code);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Top {
        #[command(flatten)]
        cloud: CloudArgs,
    }

    fn parse(url: &str, token_file: &str, args: &[&str]) -> CloudArgs {
        let mut v = vec!["cloud", "--url", url, "--cloud-token-file", token_file];
        v.extend_from_slice(args);
        Top::try_parse_from(v).expect("parse").cloud
    }

    #[test]
    fn port_ranges() {
        assert_eq!(ports(Some("443")).unwrap(), (Some(443), Some(443)));
        assert_eq!(ports(Some("8000-8100")).unwrap(), (Some(8000), Some(8100)));
        assert!(ports(Some("http")).is_err());
        assert_eq!(ports(None).unwrap(), (None, None));
    }

    #[test]
    fn exec_needs_a_command_after_dashes() {
        let r = Top::try_parse_from(["cloud", "exec", "i-12345678"]);
        assert!(r.is_err());
        let ok = Top::try_parse_from(["cloud", "exec", "i-12345678", "--", "ip", "-br", "addr"])
            .unwrap();
        match ok.cloud.command {
            CloudCommand::Exec(e) => assert_eq!(e.command, vec!["ip", "-br", "addr"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn privatelink_and_dns_commands_parse() {
        let t = Top::try_parse_from([
            "cloud",
            "tg",
            "register",
            "tg-12345678",
            "--instance",
            "i-12345678:8443",
            "--instance",
            "i-87654321",
        ])
        .unwrap();
        assert!(
            matches!(t.cloud.command, CloudCommand::TargetGroup(TgCmd::Register { ref instances, .. }) if instances.len() == 2)
        );
        assert_eq!(
            target_ref("i-12345678:8443").unwrap(),
            json!({"instanceId": "i-12345678", "port": 8443})
        );
        assert!(target_ref("i-12345678:http").is_err());
        assert!(
            Top::try_parse_from([
                "cloud",
                "rule",
                "create",
                "--domain",
                "x.example",
                "--system",
                "--forward",
                "10.0.0.2"
            ])
            .is_err(),
            "--system and --forward conflict"
        );
        assert!(
            Top::try_parse_from([
                "cloud",
                "endpoint",
                "create",
                "--vpc",
                "vpc-1",
                "--service",
                "s"
            ])
            .is_err()
        );
        let m = Top::try_parse_from([
            "cloud",
            "service",
            "modify",
            "vpce-svc-12345678",
            "--acceptance-required",
            "false",
            "--region-supported",
            "us-west-2",
        ])
        .unwrap();
        assert!(matches!(
            m.cloud.command,
            CloudCommand::Service(ServiceCmd::Modify {
                acceptance_required: Some(false),
                regions: Some(ref r),
                ..
            }) if r == &["us-west-2"]
        ));
    }

    #[test]
    fn dns_hostname_and_peering_option_commands_parse() {
        let m = Top::try_parse_from([
            "cloud",
            "vpc",
            "modify",
            "vpc-12345678",
            "--enable-dns-hostnames",
            "false",
        ])
        .unwrap();
        assert!(matches!(
            m.cloud.command,
            CloudCommand::Vpc(VpcCmd::Modify {
                enable_dns_hostnames: false,
                ..
            })
        ));
        for bad in [
            vec!["cloud", "vpc", "modify", "vpc-12345678"],
            vec![
                "cloud",
                "vpc",
                "modify",
                "vpc-12345678",
                "--enable-dns-hostnames",
            ],
            vec![
                "cloud",
                "vpc",
                "modify",
                "vpc-12345678",
                "--enable-dns-hostnames",
                "yes",
            ],
        ] {
            assert!(Top::try_parse_from(&bad).is_err(), "{bad:?}");
        }
        let c = Top::try_parse_from([
            "cloud",
            "vpc",
            "create",
            "--cidr",
            "10.0.0.0/16",
            "--enable-dns-hostnames",
        ])
        .unwrap();
        assert!(matches!(
            c.cloud.command,
            CloudCommand::Vpc(VpcCmd::Create {
                enable_dns_hostnames: true,
                ..
            })
        ));
        let o = Top::try_parse_from([
            "cloud",
            "peering",
            "modify-options",
            "pcx-12345678",
            "--accepter-dns-resolution",
            "true",
        ])
        .unwrap();
        assert!(matches!(
            o.cloud.command,
            CloudCommand::Peering(PeeringCmd::ModifyOptions {
                requester_dns_resolution: None,
                accepter_dns_resolution: Some(true),
                ..
            })
        ));
        assert_eq!(
            peering_options_body(None, Some(true)).unwrap(),
            json!({"accepterPeeringConnectionOptions": {"allowDnsResolutionFromRemoteVpc": true}})
        );
        assert_eq!(
            peering_options_body(Some(false), Some(true)).unwrap(),
            json!({"requesterPeeringConnectionOptions": {"allowDnsResolutionFromRemoteVpc": false},
                   "accepterPeeringConnectionOptions": {"allowDnsResolutionFromRemoteVpc": true}})
        );
        let e = peering_options_body(None, None).unwrap_err().to_string();
        assert!(e.contains("--accepter-dns-resolution"), "{e}");
        // --help says what each side means.
        let help = Top::try_parse_from(["cloud", "peering", "modify-options", "--help"])
            .unwrap_err()
            .to_string();
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            help.contains("lets the ACCEPTER VPC resolve the requester VPC's public DNS")
                && help.contains("lets the REQUESTER VPC resolve the accepter VPC's public DNS")
                && help.contains("only while the peering is active"),
            "{help}"
        );
    }

    #[test]
    fn tables_render() {
        let v = json!([{"vpcId": "vpc-12345678", "cidrBlock": "10.0.0.0/16", "region": "us-east-1", "ownerId": "000000000001", "name": null}]);
        let t = render_table(&v);
        assert!(t.contains("vpc-12345678") && t.contains("cidrBlock"), "{t}");
        assert_eq!(render_table(&json!([])), "(none)");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commands_against_a_served_localcloud() {
        if !linkplane_netns::testing::require_root(
            "cli::cloud::commands_against_a_served_localcloud",
        ) {
            return;
        }
        let prefix =
            linkplane_localcloud::Prefix::parse(&linkplane_netns::testing::unique_prefix())
                .unwrap();
        struct Gc(linkplane_localcloud::Prefix);
        impl Drop for Gc {
            fn drop(&mut self) {
                linkplane_localcloud::gc(&self.0);
            }
        }
        let _gc = Gc(prefix.clone());
        let dir = tempfile::tempdir().unwrap();
        let engine = linkplane_localcloud::Engine::open(linkplane_localcloud::EngineConfig::new(
            dir.path(),
            prefix,
        ))
        .await
        .unwrap();
        let tok = engine.operator_token_path().display().to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = linkplane_localcloud::api::router(std::sync::Arc::new(engine));
        let server = tokio::spawn(async move { axum::serve(listener, app).await });

        let value = |o: Outcome| match o {
            Outcome::Value(v) => v,
            other => panic!("{other:?}"),
        };
        let vpc = value(
            execute(&parse(
                &url,
                &tok,
                &["vpc", "create", "--cidr", "10.90.0.0/16"],
            ))
            .await
            .unwrap(),
        );
        let vpc_id = vpc["vpcId"].as_str().unwrap();
        let subnet = value(
            execute(&parse(
                &url,
                &tok,
                &[
                    "subnet",
                    "create",
                    "--vpc",
                    vpc_id,
                    "--cidr",
                    "10.90.1.0/24",
                    "--az",
                    "us-east-1a",
                ],
            ))
            .await
            .unwrap(),
        );
        let subnet_id = subnet["subnetId"].as_str().unwrap();
        let inst = value(
            execute(&parse(
                &url,
                &tok,
                &["instance", "create", "--subnet", subnet_id],
            ))
            .await
            .unwrap(),
        );
        let inst_id = inst["instanceId"].as_str().unwrap();
        match execute(&parse(&url, &tok, &["exec", inst_id, "--", "true"]))
            .await
            .unwrap()
        {
            Outcome::Attached { namespace, command } => {
                assert_eq!(namespace, inst["namespace"].as_str().unwrap());
                assert_eq!(command, vec!["true"]);
                let script = "grep -q 10.90.0.2 /etc/resolv.conf && exit 5";
                let code =
                    run_attached(&namespace, &["sh".into(), "-c".into(), script.into()]).unwrap();
                assert_eq!(
                    code, 5,
                    "attached exec sees the VPC resolv.conf and passes the exit code"
                );
            }
            other => panic!("{other:?}"),
        }
        match execute(&parse(
            &url,
            &tok,
            &[
                "exec",
                "--via-api",
                inst_id,
                "--",
                "sh",
                "-c",
                "cat /etc/resolv.conf; exit 4",
            ],
        ))
        .await
        .unwrap()
        {
            Outcome::Exec { code, stdout, .. } => {
                assert_eq!(code, 4);
                assert!(String::from_utf8_lossy(&stdout).contains("nameserver 10.90.0.2"));
            }
            other => panic!("{other:?}"),
        }
        let list = value(
            execute(&parse(&url, &tok, &["instance", "list"]))
                .await
                .unwrap(),
        );
        assert!(
            render_table(&list).contains(inst_id),
            "{}\n{list}",
            render_table(&list)
        );
        // Instance host names and the peering DNS-resolution option through the CLI.
        assert_eq!(vpc["enableDnsHostnames"], json!(false));
        assert_eq!(
            inst["privateDnsName"],
            json!(format!(
                "ip-{}.us-east-1.compute.internal",
                inst["privateIpAddress"].as_str().unwrap().replace('.', "-")
            ))
        );
        let modified = value(
            execute(&parse(
                &url,
                &tok,
                &["vpc", "modify", vpc_id, "--enable-dns-hostnames", "true"],
            ))
            .await
            .unwrap(),
        );
        assert_eq!(modified["enableDnsHostnames"], json!(true), "{modified}");
        let peer = value(
            execute(&parse(
                &url,
                &tok,
                &[
                    "vpc",
                    "create",
                    "--cidr",
                    "10.91.0.0/16",
                    "--enable-dns-hostnames",
                ],
            ))
            .await
            .unwrap(),
        );
        assert_eq!(peer["enableDnsHostnames"], json!(true), "{peer}");
        let peer_id = peer["vpcId"].as_str().unwrap();
        let pcx = value(
            execute(&parse(
                &url,
                &tok,
                &["peering", "create", "--vpc", vpc_id, "--peer-vpc", peer_id],
            ))
            .await
            .unwrap(),
        );
        let pcx_id = pcx["vpcPeeringConnectionId"].as_str().unwrap();
        let opts = [
            "peering",
            "modify-options",
            pcx_id,
            "--accepter-dns-resolution",
            "true",
        ];
        let e = execute(&parse(&url, &tok, &opts))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("409") && e.contains("pending-acceptance"), "{e}");
        execute(&parse(&url, &tok, &["peering", "accept", pcx_id]))
            .await
            .unwrap();
        let set = value(execute(&parse(&url, &tok, &opts)).await.unwrap());
        assert_eq!(
            set["accepterVpcInfo"]["peeringOptions"]["allowDnsResolutionFromRemoteVpc"],
            json!(true),
            "{set}"
        );
        assert!(
            render_table(&set).contains("dns-resolution-from-remote-vpc"),
            "{}",
            render_table(&set)
        );
        execute(&parse(&url, &tok, &["peering", "delete", pcx_id]))
            .await
            .unwrap();
        execute(&parse(&url, &tok, &["vpc", "delete", peer_id]))
            .await
            .unwrap();
        // VPC DNS through the CLI: a private zone, a record, and dig from the instance.
        let z = value(
            execute(&parse(
                &url,
                &tok,
                &["zone", "create", "--name", "corp.internal", "--vpc", vpc_id],
            ))
            .await
            .unwrap(),
        );
        let zid = z["hostedZoneId"].as_str().unwrap();
        execute(&parse(
            &url,
            &tok,
            &[
                "zone",
                "set",
                zid,
                "--name",
                "db.corp.internal",
                "--type",
                "A",
                "--value",
                "10.90.1.77",
                "--ttl",
                "30",
            ],
        ))
        .await
        .unwrap();
        match execute(&parse(
            &url,
            &tok,
            &[
                "exec",
                "--via-api",
                inst_id,
                "--",
                "dig",
                "+short",
                "+time=2",
                "db.corp.internal",
            ],
        ))
        .await
        .unwrap()
        {
            Outcome::Exec { code, stdout, .. } => {
                assert_eq!(code, 0);
                assert_eq!(String::from_utf8_lossy(&stdout).trim(), "10.90.1.77");
            }
            other => panic!("{other:?}"),
        }
        // A bad health check matcher is refused with the reason.
        let e = execute(&parse(
            &url,
            &tok,
            &[
                "tg",
                "create",
                "--vpc",
                vpc_id,
                "--port",
                "443",
                "--check",
                "HTTP",
                "--matcher",
                "200,999",
            ],
        ))
        .await
        .unwrap_err()
        .to_string();
        assert!(e.contains("400") && e.contains("matcher"), "{e}");
        execute(&parse(&url, &tok, &["zone", "delete", zid]))
            .await
            .unwrap();
        // Attached exec is authorized by the API first.
        let e = execute(&parse(
            &url,
            &tok,
            &[
                "--as",
                "arn:aws:iam::222222222222:root",
                "exec",
                inst_id,
                "--",
                "true",
            ],
        ))
        .await
        .unwrap_err()
        .to_string();
        assert!(e.contains("403"), "{e}");
        // Another account is refused, and the message names both accounts.
        let e = execute(&parse(
            &url,
            &tok,
            &[
                "--as",
                "arn:aws:iam::222222222222:root",
                "vpc",
                "show",
                vpc_id,
            ],
        ))
        .await
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("403") && e.contains("222222222222") && e.contains("000000000001"),
            "{e}"
        );
        let e = execute(&parse(&url, &tok, &["--as", "root", "vpc", "list"]))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("--as"), "{e}");
        let e = execute(&parse(&url, &tok, &["vpc", "delete", vpc_id]))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("409") && e.contains(inst_id), "{e}");
        assert!(matches!(
            execute(&parse(&url, &tok, &["instance", "delete", inst_id]))
                .await
                .unwrap(),
            Outcome::Done(_)
        ));
        // The operator token is the credential: a wrong one is refused with 401.
        let bad = dir.path().join("wrong.token");
        std::fs::write(&bad, "lpc_not-the-token\n").unwrap();
        let e = execute(&parse(&url, &bad.display().to_string(), &["vpc", "list"]))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("401"), "{e}");
        let e = execute(&parse(&url, "/nonexistent/cloud.token", &["vpc", "list"]))
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("--cloud-token-file"), "{e:#}");
        // Nothing listening: a clear message.
        let e = execute(&parse("http://127.0.0.1:9", &tok, &["vpc", "list"]))
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("linkplane serve"), "{e:#}");
        server.abort();
    }
}
