-- Transit gateways (EC2 semantics): a router namespace per gateway, VPC attachments (one
-- veth from the gateway router into the VPC router each), gateway route tables with
-- associations, propagations and static/blackhole routes, and RAM resource shares.
CREATE TABLE transit_gateways (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    description TEXT,
    asn INTEGER NOT NULL,
    auto_accept INTEGER NOT NULL,
    default_association INTEGER NOT NULL,
    default_propagation INTEGER NOT NULL,
    default_route_table TEXT,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX transit_gateways_account ON transit_gateways(account);

CREATE TABLE tgw_route_tables (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tgw_id TEXT NOT NULL REFERENCES transit_gateways(id),
    created_at TEXT NOT NULL
);
CREATE INDEX tgw_route_tables_tgw ON tgw_route_tables(tgw_id);

CREATE TABLE tgw_attachments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tgw_id TEXT NOT NULL REFERENCES transit_gateways(id),
    tgw_account TEXT NOT NULL,
    account TEXT NOT NULL,
    vpc_id TEXT NOT NULL,
    subnet_ids TEXT NOT NULL,
    state TEXT NOT NULL,
    route_table_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX tgw_attachments_tgw ON tgw_attachments(tgw_id);
CREATE INDEX tgw_attachments_vpc ON tgw_attachments(vpc_id);

CREATE TABLE tgw_propagations (
    route_table_id TEXT NOT NULL REFERENCES tgw_route_tables(id),
    attachment_id TEXT NOT NULL,
    PRIMARY KEY (route_table_id, attachment_id)
);
CREATE INDEX tgw_propagations_attachment ON tgw_propagations(attachment_id);

CREATE TABLE tgw_routes (
    route_table_id TEXT NOT NULL REFERENCES tgw_route_tables(id),
    destination TEXT NOT NULL,
    attachment_id TEXT,
    PRIMARY KEY (route_table_id, destination)
);

-- AWS RAM: one share of one transit gateway with one account, and its invitation.
CREATE TABLE resource_shares (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    invitation_id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT,
    tgw_id TEXT NOT NULL,
    principal TEXT NOT NULL,
    status TEXT NOT NULL,
    invitation_status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX resource_shares_principal ON resource_shares(principal);
CREATE INDEX resource_shares_tgw ON resource_shares(tgw_id);
