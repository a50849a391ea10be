//! Persistence for the control plane.
//!
//! [`Store`] is the only thing handlers and reconcilers see; [`SqliteStore`] implements it
//! (sqlx, embedded migrations, WAL). A PostgreSQL implementation can be added behind the
//! same trait without touching handlers.
//!
//! Resources are stored as *documents*: kind, id, organization, parent, spec and status JSON,
//! and the metadata every resource carries (`createdAt`, `updatedAt`, `generation`,
//! `observedGeneration`, finalizers, deletion request). The typed view is the model's:
//! [`Document::spec_as`] / [`Document::status_as`] parse the JSON back into model types.
//!
//! Rules every implementation keeps:
//! - every write is one transaction;
//! - a client's spec change bumps `generation`; a reconciler's [`Store::write_status`] records
//!   status and `observedGeneration` without bumping it;
//! - conditional writes take the generation the client saw (its ETag) and fail with
//!   [`StoreError::PreconditionFailed`] when it moved;
//! - an idempotency record, when given, is written in the same transaction as the create.

#![forbid(unsafe_code)]

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use linkplane_model::{Organization, ResourceId, ResourceKind, Role};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

mod secrets;
mod sqlite;

pub use secrets::{
    ExposeSecret, KeySource, SECRETS_KEY_FILE, SecretString, SecretsKey, SecretsKeyError,
};
pub use sqlite::{DB_FILE, SqliteStore, private_db_files};

/// A new random id of `kind` (the store owns id generation: every document it holds was
/// named here, by the API or by a controller).
pub fn new_id(kind: linkplane_model::ResourceKind) -> linkplane_model::ResourceId {
    use rand::Rng as _;
    let mut bytes = [0u8; linkplane_model::ID_RANDOM_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    linkplane_model::ResourceId::generate(kind, bytes)
}

pub type Timestamp = DateTime<Utc>;
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} {id} was not found")]
    NotFound { kind: &'static str, id: String },
    /// The client's ETag (generation) is stale.
    #[error(
        "the resource changed (now generation {current}); re-read it and retry with its new ETag"
    )]
    PreconditionFailed { current: i64 },
    /// The write conflicts with the current state (children exist, parent changed, …).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    LimitReached(String),
    /// Another request with the same idempotency key committed first: replay its response.
    #[error("idempotency key already used")]
    IdempotencyKeyTaken,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A sealed secret could not be opened (or sealed). Never contains the secret.
    #[error("{0}")]
    Secret(String),
    #[error(transparent)]
    SecretsKey(#[from] SecretsKeyError),
    #[error("cannot prepare data directory {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Format a timestamp the way the store keeps it (RFC 3339, microseconds, UTC).
pub fn format_time(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_time(s: &str) -> Result<Timestamp> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp {s:?}: {e}")))
}

/// SHA-256 (hex) of a bearer token: what the store keeps and looks tokens up by.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// SHA-256 (hex) of a request body, to detect an idempotency key reused for another body.
pub fn hash_body(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

// --------------------------------------------------------------------------- documents

/// A resource to create.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub kind: ResourceKind,
    pub id: ResourceId,
    pub org_id: ResourceId,
    pub parent_id: Option<ResourceId>,
    /// Unique per (kind, organization) when set, e.g. `<clusterId>` for a cluster's single
    /// private link, or `<clusterId>/<serviceName>` for an outbound endpoint.
    pub unique_key: Option<String>,
    /// Created by the platform, not a client (e.g. preconfigured outbound endpoints): does
    /// not block deleting its parent and cannot be deleted alone.
    pub system: bool,
    pub spec: Value,
    pub status: Value,
    /// Kept apart from the spec and never returned by the API (e.g. a VPN pre-shared key);
    /// sealed with the secrets key before it is written (see [`SecretsKey`]).
    pub secret: Option<SecretString>,
    pub created_at: Timestamp,
}

/// A stored resource with its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub kind: ResourceKind,
    pub id: ResourceId,
    pub org_id: ResourceId,
    pub parent_id: Option<ResourceId>,
    pub system: bool,
    pub spec: Value,
    pub status: Value,
    pub generation: i64,
    pub observed_generation: i64,
    /// Bumped whenever a child is created under this document, or one of its children is
    /// updated, marked for deletion or deleted (optimistic lock for rules that look at
    /// siblings, such as CIDR overlap, and the key of anything cached from the children).
    pub child_version: i64,
    pub finalizers: Vec<String>,
    pub deletion_requested_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Document {
    /// What the store will hold right after creating `new` (so a response can be computed
    /// before the write, and stored with its idempotency key in the same transaction).
    pub fn initial(new: &NewDocument) -> Self {
        Self {
            kind: new.kind,
            id: new.id.clone(),
            org_id: new.org_id.clone(),
            parent_id: new.parent_id.clone(),
            system: new.system,
            spec: new.spec.clone(),
            status: new.status.clone(),
            generation: 1,
            observed_generation: 0,
            child_version: 0,
            finalizers: vec![],
            deletion_requested_at: None,
            created_at: new.created_at.trunc_subsecs(6),
            updated_at: new.created_at.trunc_subsecs(6),
        }
    }

    /// Strong ETag derived from id and generation.
    pub fn etag(&self) -> String {
        etag(&self.id, self.generation)
    }

    pub fn spec_as<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.spec.clone()).map_err(|e| {
            StoreError::Corrupt(format!("spec of {} {}: {e}", self.kind.as_str(), self.id))
        })
    }

    pub fn status_as<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.status.clone()).map_err(|e| {
            StoreError::Corrupt(format!("status of {} {}: {e}", self.kind.as_str(), self.id))
        })
    }
}

/// `"<id>-g<generation>"`.
pub fn etag(id: &ResourceId, generation: i64) -> String {
    format!("\"{id}-g{generation}\"")
}

/// Parse an `If-Match` value for `id` into the generation it names. `*` matches any.
pub fn parse_if_match(value: &str, id: &ResourceId) -> Option<IfMatch> {
    let v = value.trim();
    if v == "*" {
        return Some(IfMatch::Any);
    }
    let inner = v.strip_prefix('"')?.strip_suffix('"')?;
    let (vid, g) = inner.rsplit_once("-g")?;
    if vid != id.as_str() {
        return Some(IfMatch::Generation(-1));
    }
    g.parse().ok().map(IfMatch::Generation)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    Any,
    Generation(i64),
}

impl IfMatch {
    pub fn generation(self) -> Option<i64> {
        match self {
            Self::Any => None,
            Self::Generation(g) => Some(g),
        }
    }
}

/// The parent a new child must have, optionally unchanged since the caller read it.
#[derive(Debug, Clone)]
pub struct ParentGuard {
    pub kind: ResourceKind,
    pub id: ResourceId,
    /// The parent's `child_version` when the caller validated against its children; if it
    /// moved, the create fails with [`StoreError::Conflict`] and the caller re-validates.
    pub child_version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeleteOutcome {
    /// Gone (with its children).
    Deleted,
    /// Has finalizers: marked for deletion; a reconciler finishes it.
    Marked(Box<Document>),
}

// ------------------------------------------------------------------------------ tokens

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Api,
    Agent,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Agent => "agent",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: ResourceId,
    pub kind: TokenKind,
    pub org_id: ResourceId,
    /// The deployment of an agent token.
    pub scope_id: Option<ResourceId>,
    pub name: String,
    pub role: Option<Role>,
    /// [`hash_token`] of the secret; the secret itself is never stored.
    pub token_hash: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub id: ResourceId,
    pub kind: TokenKind,
    pub org_id: ResourceId,
    pub scope_id: Option<ResourceId>,
    pub name: String,
    pub role: Option<Role>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl TokenRecord {
    pub fn initial(new: &NewToken) -> Self {
        Self {
            id: new.id.clone(),
            kind: new.kind,
            org_id: new.org_id.clone(),
            scope_id: new.scope_id.clone(),
            name: new.name.clone(),
            role: new.role,
            created_at: new.created_at.trunc_subsecs(6),
            last_used_at: None,
            revoked_at: None,
        }
    }
}

// ------------------------------------------------------------------------- idempotency

/// How long an `Idempotency-Key` is remembered: a retry within this time replays the first
/// response; after it the key is forgotten (and may create again). Expired records are
/// purged by the next create that records a key.
pub const IDEMPOTENCY_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The first response to a POST with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    pub org_id: ResourceId,
    /// Method and route template plus path parameters, e.g. `POST /clusters/cl…/routes`.
    pub route: String,
    pub key: String,
    pub request_hash: String,
    pub status: u16,
    pub body: String,
    pub created_at: Timestamp,
}

// -------------------------------------------------------------------------- pagination

/// Largest page.
pub const MAX_PAGE: u32 = 500;
/// Page size when the client gives none.
pub const DEFAULT_PAGE: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    after: i64,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_PAGE,
            after: 0,
        }
    }
}

impl PageRequest {
    /// From the query parameters `limit` (1–500) and `cursor` (opaque, from `nextCursor`).
    pub fn parse(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, (&'static str, String)> {
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(("limit", format!("must be between 1 and {MAX_PAGE}")));
        }
        let after = match cursor {
            None | Some("") => 0,
            Some(c) => decode_cursor(c).ok_or((
                "cursor",
                "is not a cursor this server issued; pass nextCursor from the previous page".into(),
            ))?,
        };
        Ok(Self { limit, after })
    }
    pub fn after(&self) -> i64 {
        self.after
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

pub(crate) fn encode_cursor(seq: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1:{seq}"))
}

fn decode_cursor(c: &str) -> Option<i64> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    s.strip_prefix("v1:")?.parse().ok().filter(|n: &i64| *n > 0)
}

// ------------------------------------------------------------------------------- trait

/// Everything the API and reconcilers need from persistence.
#[allow(clippy::too_many_arguments)] // conditional writes need key, precondition and payload
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    // organizations
    async fn create_organization(&self, org: &Organization) -> Result<()>;
    async fn get_organization(&self, id: &ResourceId) -> Result<Option<Organization>>;

    // tokens
    /// Create a token; with `max_live_in_scope`, fail with [`StoreError::LimitReached`] when
    /// the scope already has that many unrevoked tokens of the kind.
    async fn create_token(
        &self,
        token: &NewToken,
        max_live_in_scope: Option<u32>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<TokenRecord>;
    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<TokenRecord>>;
    async fn get_token(
        &self,
        org: &ResourceId,
        kind: TokenKind,
        id: &ResourceId,
    ) -> Result<Option<TokenRecord>>;
    async fn list_tokens(
        &self,
        org: &ResourceId,
        kind: TokenKind,
        scope: Option<&ResourceId>,
        page: &PageRequest,
    ) -> Result<Page<TokenRecord>>;
    /// Set `revokedAt` (idempotent: a revoked token keeps its first revocation time).
    async fn revoke_token(
        &self,
        org: &ResourceId,
        kind: TokenKind,
        id: &ResourceId,
        at: Timestamp,
    ) -> Result<TokenRecord>;
    async fn touch_token(&self, id: &ResourceId, at: Timestamp) -> Result<()>;

    // documents (organization-scoped: another organization's document is "not found")
    /// Create documents in one transaction. With `parent`, the parent must exist in the
    /// same organization and not be marked for deletion.
    async fn create_documents(
        &self,
        docs: &[NewDocument],
        parent: Option<&ParentGuard>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Vec<Document>>;
    async fn get_document(
        &self,
        kind: ResourceKind,
        org: &ResourceId,
        id: &ResourceId,
    ) -> Result<Option<Document>>;
    /// The document's secret, decrypted (callers never see ciphertext).
    async fn get_secret(&self, org: &ResourceId, id: &ResourceId) -> Result<Option<SecretString>>;
    async fn list_documents(
        &self,
        kind: ResourceKind,
        org: &ResourceId,
        parent: Option<&ResourceId>,
        page: &PageRequest,
    ) -> Result<Page<Document>>;
    /// Every child of `parent`, any kind (for validation context).
    async fn list_children(&self, org: &ResourceId, parent: &ResourceId) -> Result<Vec<Document>>;
    /// The children of `parent` of the given kinds, oldest first: an indexed lookup whose
    /// cost does not grow with the parent's other children (a cluster's routes do not slow
    /// the validation context, which needs only its connections).
    async fn list_children_of_kinds(
        &self,
        org: &ResourceId,
        parent: &ResourceId,
        kinds: &[ResourceKind],
    ) -> Result<Vec<Document>>;
    /// Replace the spec (and optionally the status), bumping `generation`.
    async fn update_document(
        &self,
        kind: ResourceKind,
        org: &ResourceId,
        id: &ResourceId,
        if_generation: Option<i64>,
        spec: &Value,
        status: Option<&Value>,
        at: Timestamp,
    ) -> Result<Document>;
    /// Delete a document and its children. Fails with [`StoreError::Conflict`] when a
    /// non-system child of a `blocking` kind exists. Documents with finalizers are marked
    /// instead (generation bumped) for a reconciler to finish. Dependents that are not
    /// children (the routes through a connection) are deleted or marked in the same
    /// transaction.
    async fn delete_document(
        &self,
        kind: ResourceKind,
        org: &ResourceId,
        id: &ResourceId,
        if_generation: Option<i64>,
        blocking: &[ResourceKind],
        at: Timestamp,
    ) -> Result<DeleteOutcome>;

    // reconcilers (across organizations)
    async fn get_document_by_id(&self, id: &ResourceId) -> Result<Option<Document>>;
    async fn list_kind(&self, kind: ResourceKind) -> Result<Vec<Document>>;
    /// Ids of the children of `parent` of `kind`, oldest first (no documents are read: a
    /// resync over 100 000 routes costs ids, not JSON).
    async fn list_child_ids(
        &self,
        kind: ResourceKind,
        parent: &ResourceId,
    ) -> Result<Vec<ResourceId>>;
    /// Documents whose `generation != observedGeneration`.
    async fn list_unobserved(&self, kind: ResourceKind) -> Result<Vec<Document>>;
    /// Documents of `kind` with `generation != observedGeneration` that were created or
    /// changed (a new generation) after revision `after`, oldest change first, and the
    /// revision to ask from next time (start from `-1`). A watcher that keeps asking from
    /// the returned revision sees every change once, and never re-reads documents that stay
    /// unobserved (cost follows the changes, not the table).
    async fn list_changed_unobserved(
        &self,
        kind: ResourceKind,
        after: i64,
    ) -> Result<(Vec<Document>, i64)>;
    /// Ticks after every committed write that creates documents or changes a generation:
    /// wake-ups for watchers (they then ask [`Store::list_changed_unobserved`]).
    fn subscribe(&self) -> tokio::sync::watch::Receiver<u64>;
    /// Like [`Store::subscribe`], but ticks only after writes that may have changed
    /// documents of `kind` (a create of other kinds does not wake it), so each kind's
    /// watcher asks [`Store::list_changed_unobserved`] only when it may find something.
    fn subscribe_kind(&self, kind: ResourceKind) -> tokio::sync::watch::Receiver<u64> {
        let _ = kind;
        self.subscribe()
    }
    /// Record observed state for `observed_generation`, which must be the document's current
    /// generation ([`StoreError::Conflict`] otherwise: a client changed it since the writer
    /// read it, and that change triggers another pass). Never bumps `generation`.
    async fn write_status(
        &self,
        id: &ResourceId,
        status: &Value,
        observed_generation: i64,
        at: Timestamp,
    ) -> Result<Document>;
    async fn add_finalizer(&self, id: &ResourceId, finalizer: &str) -> Result<Document>;
    /// Remove a finalizer; a document marked for deletion with no finalizer left is purged
    /// (returns `None`).
    async fn remove_finalizer(&self, id: &ResourceId, finalizer: &str) -> Result<Option<Document>>;

    /// Flush and close connections (graceful shutdown).
    async fn close(&self);

    // idempotency
    async fn get_idempotency(
        &self,
        org: &ResourceId,
        route: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>>;
}

#[cfg(test)]
mod tests;
