-- localcloud state. Kernel objects are named from these ids; `seq` columns give small
-- unique numbers (route table ids, NAT realms, peering link addresses).
CREATE TABLE vpcs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    cidr TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX vpcs_account ON vpcs(account);

CREATE TABLE subnets (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    vpc_id TEXT NOT NULL REFERENCES vpcs(id),
    account TEXT NOT NULL,
    cidr TEXT NOT NULL,
    az TEXT NOT NULL,
    map_public_ip INTEGER NOT NULL,
    name TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX subnets_vpc ON subnets(vpc_id);

CREATE TABLE routes (
    subnet_id TEXT NOT NULL REFERENCES subnets(id),
    destination TEXT NOT NULL,
    target TEXT NOT NULL,
    PRIMARY KEY (subnet_id, destination)
);
CREATE INDEX routes_target ON routes(target);

CREATE TABLE instances (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    vpc_id TEXT NOT NULL,
    subnet_id TEXT NOT NULL REFERENCES subnets(id),
    private_ip TEXT NOT NULL,
    public_ip TEXT,
    name TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (subnet_id, private_ip)
);
CREATE INDEX instances_vpc ON instances(vpc_id);

CREATE TABLE security_groups (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    vpc_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (vpc_id, name)
);

CREATE TABLE sg_rules (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES security_groups(id),
    direction TEXT NOT NULL,
    protocol TEXT NOT NULL,
    from_port INTEGER NOT NULL,
    to_port INTEGER NOT NULL,
    cidr TEXT,
    source_group TEXT
);
CREATE INDEX sg_rules_group ON sg_rules(group_id);
CREATE INDEX sg_rules_source ON sg_rules(source_group);

CREATE TABLE instance_groups (
    instance_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    PRIMARY KEY (instance_id, group_id)
);
CREATE INDEX instance_groups_group ON instance_groups(group_id);

CREATE TABLE internet_gateways (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    vpc_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE elastic_ips (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    public_ip TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE nat_gateways (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    vpc_id TEXT NOT NULL,
    subnet_id TEXT NOT NULL,
    allocation_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE INDEX nat_gateways_vpc ON nat_gateways(vpc_id);

CREATE TABLE peerings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    requester_account TEXT NOT NULL,
    requester_vpc TEXT NOT NULL,
    accepter_account TEXT NOT NULL,
    accepter_vpc TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX peerings_requester ON peerings(requester_vpc);
CREATE INDEX peerings_accepter ON peerings(accepter_vpc);

-- Public addresses in use (instance public IPs and elastic IPs).
CREATE TABLE public_ips (
    ip TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL
);

CREATE TABLE processes (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    account TEXT NOT NULL,
    namespace TEXT NOT NULL,
    pid INTEGER NOT NULL,
    command TEXT NOT NULL,
    log_path TEXT NOT NULL,
    started_at TEXT NOT NULL
);
CREATE INDEX processes_owner ON processes(owner_id);
