-- linkplane control plane schema, version 1.
-- Resources are typed in linkplane-model; here they are documents: spec and status JSON
-- plus the metadata every resource carries.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE documents (
    seq                    INTEGER PRIMARY KEY AUTOINCREMENT,
    id                     TEXT NOT NULL UNIQUE,
    kind                   TEXT NOT NULL,
    org_id                 TEXT NOT NULL REFERENCES organizations(id),
    parent_id              TEXT,
    unique_key             TEXT,
    system                 INTEGER NOT NULL DEFAULT 0,
    spec                   TEXT NOT NULL,
    status                 TEXT NOT NULL,
    secret                 TEXT,
    generation             INTEGER NOT NULL,
    observed_generation    INTEGER NOT NULL DEFAULT 0,
    child_version          INTEGER NOT NULL DEFAULT 0,
    finalizers             TEXT NOT NULL DEFAULT '[]',
    deletion_requested_at  TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);

CREATE UNIQUE INDEX documents_unique_key ON documents(kind, org_id, unique_key)
    WHERE unique_key IS NOT NULL;
CREATE INDEX documents_list ON documents(org_id, kind, parent_id, seq);
CREATE INDEX documents_parent ON documents(parent_id);
CREATE INDEX documents_unobserved ON documents(kind, seq)
    WHERE generation != observed_generation;

CREATE TABLE tokens (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL CHECK (kind IN ('api', 'agent')),
    org_id        TEXT NOT NULL REFERENCES organizations(id),
    scope_id      TEXT,
    name          TEXT NOT NULL,
    role          TEXT,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);

CREATE INDEX tokens_list ON tokens(org_id, kind, scope_id, seq);

CREATE TABLE idempotency_keys (
    org_id        TEXT NOT NULL,
    route         TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER NOT NULL,
    body          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (org_id, route, key)
);
