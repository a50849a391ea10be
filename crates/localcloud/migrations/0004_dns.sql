-- VPC DNS: private hosted zones (with VPC associations and cross-account authorizations),
-- resolver rules, and the platform's public records.
CREATE TABLE hosted_zones (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE zone_records (
    zone_id TEXT NOT NULL REFERENCES hosted_zones(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    ttl INTEGER NOT NULL,
    vals TEXT NOT NULL, -- comma separated
    PRIMARY KEY (zone_id, name, kind)
);

CREATE TABLE zone_vpcs (
    zone_id TEXT NOT NULL REFERENCES hosted_zones(id),
    vpc_id TEXT NOT NULL,
    PRIMARY KEY (zone_id, vpc_id)
);
CREATE INDEX zone_vpcs_vpc ON zone_vpcs(vpc_id);

CREATE TABLE zone_authorizations (
    zone_id TEXT NOT NULL REFERENCES hosted_zones(id),
    vpc_id TEXT NOT NULL,
    PRIMARY KEY (zone_id, vpc_id)
);

CREATE TABLE resolver_rules (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    domain TEXT NOT NULL,
    rule_type TEXT NOT NULL,
    targets TEXT NOT NULL, -- comma separated ip:port
    name TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE rule_vpcs (
    rule_id TEXT NOT NULL REFERENCES resolver_rules(id),
    vpc_id TEXT NOT NULL,
    PRIMARY KEY (rule_id, vpc_id)
);
CREATE INDEX rule_vpcs_vpc ON rule_vpcs(vpc_id);

CREATE TABLE public_records (
    name TEXT PRIMARY KEY,
    ttl INTEGER NOT NULL,
    vals TEXT NOT NULL
);
