-- PrivateLink: network load balancers, target groups, endpoint services and interface
-- endpoints. Addresses (ENIs) of load balancers and endpoints are private IPs of subnets
-- held on the VPC router; `enis` keeps them apart from instance addresses.
CREATE TABLE enis (
    subnet_id TEXT NOT NULL REFERENCES subnets(id),
    ip TEXT NOT NULL,
    vpc_id TEXT NOT NULL,
    az TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    PRIMARY KEY (subnet_id, ip)
);
CREATE INDEX enis_owner ON enis(owner_id);

CREATE TABLE load_balancers (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    vpc_id TEXT NOT NULL,
    name TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE target_groups (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    vpc_id TEXT NOT NULL,
    name TEXT,
    port INTEGER NOT NULL,
    health_check TEXT NOT NULL, -- JSON of types::HealthCheck
    created_at TEXT NOT NULL
);

CREATE TABLE targets (
    group_id TEXT NOT NULL REFERENCES target_groups(id),
    instance_id TEXT NOT NULL,
    port INTEGER NOT NULL,
    PRIMARY KEY (group_id, instance_id, port)
);
CREATE INDEX targets_instance ON targets(instance_id);

CREATE TABLE listeners (
    id TEXT PRIMARY KEY,
    lb_id TEXT NOT NULL REFERENCES load_balancers(id),
    port INTEGER NOT NULL,
    group_id TEXT NOT NULL REFERENCES target_groups(id),
    UNIQUE (lb_id, port)
);

CREATE TABLE endpoint_services (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    lb_id TEXT NOT NULL UNIQUE REFERENCES load_balancers(id),
    region TEXT NOT NULL,
    acceptance_required INTEGER NOT NULL,
    private_dns_name TEXT,
    proxy_protocol INTEGER NOT NULL,
    supported_regions TEXT NOT NULL, -- comma separated
    created_at TEXT NOT NULL
);

CREATE TABLE service_principals (
    service_id TEXT NOT NULL REFERENCES endpoint_services(id),
    principal TEXT NOT NULL,
    PRIMARY KEY (service_id, principal)
);

CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    vpc_id TEXT NOT NULL,
    service_id TEXT NOT NULL,
    state TEXT NOT NULL,
    security_groups TEXT NOT NULL, -- comma separated
    private_dns_enabled INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX endpoints_service ON endpoints(service_id);
CREATE INDEX endpoints_vpc ON endpoints(vpc_id);
