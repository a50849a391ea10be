//! The `linkplane cloud` command line: global options and one subcommand enum per resource
//! family.

use clap::{Args, Subcommand};

pub use crate::render::Output;

/// The principal used when `--as` is not given (documented in docs/LOCALCLOUD.md).
pub const DEFAULT_PRINCIPAL: &str = linkplane_localcloud::DEFAULT_PRINCIPAL;

/// Examples shown under `linkplane cloud --help`.
const CLOUD_EXAMPLES: &str = "\
Every command is a call made as a cloud principal (--as ARN or LINKPLANE_CLOUD_PRINCIPAL;
without either, the local account 000000000001, and the command says so on stderr) to the
localcloud API of `linkplane serve` (--url). A resource belongs to the account that created
it; another account's calls are refused with both accounts named and the --as to use.

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
        global = true,
        help_heading = crate::help::CLOUD_GLOBAL_HEADING
    )]
    pub url: String,
    /// Principal ARN to act as: arn:aws:iam::<12-digit account>:root or …:role/<name>
    /// [default: arn:aws:iam::000000000001:root, the local account; commands then say so on
    /// stderr].
    #[arg(
        long = "as",
        value_name = "ARN",
        env = "LINKPLANE_CLOUD_PRINCIPAL",
        global = true,
        help_heading = crate::help::CLOUD_GLOBAL_HEADING
    )]
    pub principal: Option<String>,
    /// The localcloud operator token (the credential; --as only picks the identity). Prefer
    /// --cloud-token-file: a token on the command line is visible to other local users.
    #[arg(
        long,
        env = "LINKPLANE_CLOUD_TOKEN",
        hide_env_values = true,
        global = true,
        help_heading = crate::help::CLOUD_GLOBAL_HEADING,
        conflicts_with = "cloud_token_file"
    )]
    pub cloud_token: Option<String>,
    /// File holding the operator token [default: $LINKPLANE_DATA_DIR/cloud.token, else
    /// ./.linkplane/cloud.token — where `linkplane serve` writes it].
    #[arg(long, value_name = "PATH", global = true, help_heading = crate::help::CLOUD_GLOBAL_HEADING)]
    pub cloud_token_file: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table, global = true,
          help_heading = crate::help::CLOUD_GLOBAL_HEADING)]
    pub output: Output,
    #[command(subcommand)]
    pub command: CloudCommand,
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
    /// Routes of a subnet's route table (targets igw-…, nat-…, pcx-…, tgw-…; local is implicit).
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
    /// Transit gateways: attachments, route tables, routes (EC2 semantics; transitive as
    /// the route tables say).
    #[command(subcommand)]
    Tgw(super::tgw::TgwCmd),
    /// RAM resource shares: share a transit gateway with another account.
    #[command(subcommand)]
    Ram(super::tgw::RamCmd),
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
    /// Add a route; the most specific route wins. --vpc adds it to the route table of every
    /// subnet of the VPC (what a peering's activation asks for).
    Add {
        /// The subnet whose route table gets the route (subnet-…, from `subnet list`).
        #[arg(long, required_unless_present = "vpc", conflicts_with = "vpc")]
        subnet: Option<String>,
        /// Every subnet of this VPC (vpc-…) instead of one.
        #[arg(long)]
        vpc: Option<String>,
        /// Destination CIDR outside the VPC (e.g. 0.0.0.0/0, 10.1.0.0/16).
        #[arg(long)]
        destination: String,
        /// igw-…, nat-…, pcx-… or tgw-….
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
        /// The group (sg-…, from `sg list`).
        group_id: String,
        #[command(flatten)]
        rule: RuleSpec,
    },
    /// Remove a rule, by the same arguments `allow` took or by its id (new connections are
    /// affected at once):
    ///   sg revoke sg-… --protocol tcp --port 443 --cidr 10.1.1.0/24
    ///   sg revoke sg-… sgr-…          # the id `sg show` prints after each rule
    #[command(verbatim_doc_comment)]
    Revoke {
        /// The group (sg-…, from `sg list`).
        group_id: String,
        /// The rule's id (sgr-…); instead of the rule's arguments.
        #[arg(conflicts_with_all = ["port", "cidr", "source_group"])]
        rule_id: Option<String>,
        #[command(flatten)]
        rule: RuleSpec,
    },
}

/// A security-group rule as `sg allow` and `sg revoke` take it.
#[derive(Debug, Clone, Args)]
pub struct RuleSpec {
    /// ingress or egress.
    #[arg(long, default_value = "ingress")]
    pub direction: String,
    /// tcp, udp, icmp or -1 (all).
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// A port or range (80, 8000-8100); an ICMP type for icmp.
    #[arg(long)]
    pub port: Option<String>,
    /// Source (ingress) or destination (egress) CIDR.
    #[arg(long, conflicts_with = "source_group")]
    pub cidr: Option<String>,
    /// Instances in this group (sg-…) instead of a CIDR.
    #[arg(long)]
    pub source_group: Option<String>,
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

impl CloudArgs {
    /// The principal the calls are made as: --as, else the local default.
    pub fn principal(&self) -> &str {
        self.principal.as_deref().unwrap_or(DEFAULT_PRINCIPAL)
    }
}
