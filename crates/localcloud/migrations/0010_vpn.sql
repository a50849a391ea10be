-- Site-to-site VPN (EC2 names): customer gateways, virtual private gateways, VPN
-- connections with two tunnels each, their static routes, and on-premises sites.
CREATE TABLE customer_gateways (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    ip_address TEXT NOT NULL,
    bgp_asn INTEGER NOT NULL,
    device_name TEXT,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE vpn_gateways (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    asn INTEGER NOT NULL,
    vpc_id TEXT,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE vpn_connections (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    customer_gateway_id TEXT NOT NULL,
    vpn_gateway_id TEXT NOT NULL,
    static_routes_only INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- One row per tunnel (idx 1 and 2). psk is the tunnel's pre-shared key: it is given to
-- charon over vici and in the customer's downloadable configuration, never in a log.
CREATE TABLE vpn_tunnels (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    outside_ip TEXT NOT NULL,
    inside_cidr TEXT NOT NULL,
    psk TEXT NOT NULL,
    options TEXT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT NOT NULL,
    accepted_route_count INTEGER NOT NULL DEFAULT 0,
    last_status_change TEXT NOT NULL,
    UNIQUE (connection_id, idx)
);

CREATE TABLE vpn_connection_routes (
    connection_id TEXT NOT NULL,
    destination TEXT NOT NULL,
    PRIMARY KEY (connection_id, destination)
);

CREATE TABLE onprem_sites (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    name TEXT,
    public_ip TEXT NOT NULL UNIQUE,
    lan_cidr TEXT NOT NULL,
    vpn_config TEXT,
    created_at TEXT NOT NULL
);
