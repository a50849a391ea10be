//! SQLite implementation of [`Store`].

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use linkplane_model::{Name, Organization, ResourceId, ResourceKind, Role};
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection, SqlitePool};

use crate::*;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "linkplane.db";

/// The embedded default store: one SQLite file in WAL mode.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// Bumped after every committed client write (see [`Store::subscribe`]).
    changes: tokio::sync::watch::Sender<u64>,
    /// One per kind (in [`ResourceKind::ALL`]'s order), bumped when a write may have
    /// changed documents of that kind (see [`Store::subscribe_kind`]).
    kind_changes: Vec<tokio::sync::watch::Sender<u64>>,
    /// Seals every document secret before it is written, opens it in `get_secret`.
    secrets: std::sync::Arc<SecretsKey>,
}

/// Create `dir` (and parents) and make it 0700.
fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    let err = |source| StoreError::Io {
        path: dir.display().to_string(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(err)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)
}

/// Make the database file 0600 before SQLite opens it (SQLite gives its `-wal` and `-shm`
/// files the database file's mode), and fix the mode of files an older version left.
pub fn private_db_files(db: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let err = |path: &Path, source| StoreError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(db)
        .map_err(|e| err(db, e))?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let p = std::path::PathBuf::from(p);
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| err(&p, e))?;
        }
    }
    Ok(())
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn is_unique_violation(e: &sqlx::Error, table: &str) -> bool {
    match e {
        sqlx::Error::Database(d) => d.is_unique_violation() && d.message().contains(table),
        _ => false,
    }
}

fn map_insert_error(e: sqlx::Error) -> StoreError {
    if is_unique_violation(&e, "idempotency_keys") {
        StoreError::IdempotencyKeyTaken
    } else if is_unique_violation(&e, "unique_key") {
        StoreError::AlreadyExists("a resource with the same unique identity already exists".into())
    } else {
        StoreError::Database(e)
    }
}

fn id_col(row: &SqliteRow, col: &str) -> Result<ResourceId> {
    let s: String = row.try_get(col)?;
    ResourceId::parse(&s).map_err(|e| corrupt(col, e))
}

fn opt_id_col(row: &SqliteRow, col: &str) -> Result<Option<ResourceId>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| ResourceId::parse(&s).map_err(|e| corrupt(col, e)))
        .transpose()
}

fn time_col(row: &SqliteRow, col: &str) -> Result<Timestamp> {
    let s: String = row.try_get(col)?;
    parse_time(&s)
}

fn opt_time_col(row: &SqliteRow, col: &str) -> Result<Option<Timestamp>> {
    let s: Option<String> = row.try_get(col)?;
    s.as_deref().map(parse_time).transpose()
}

fn json_col(row: &SqliteRow, col: &str) -> Result<Value> {
    let s: String = row.try_get(col)?;
    serde_json::from_str(&s).map_err(|e| corrupt(col, e))
}

fn doc_from_row(row: &SqliteRow) -> Result<Document> {
    let kind: String = row.try_get("kind")?;
    let finalizers: String = row.try_get("finalizers")?;
    Ok(Document {
        kind: ResourceKind::from_name(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        id: id_col(row, "id")?,
        org_id: id_col(row, "org_id")?,
        parent_id: opt_id_col(row, "parent_id")?,
        system: row.try_get::<i64, _>("system")? != 0,
        spec: json_col(row, "spec")?,
        status: json_col(row, "status")?,
        generation: row.try_get("generation")?,
        observed_generation: row.try_get("observed_generation")?,
        child_version: row.try_get("child_version")?,
        finalizers: serde_json::from_str(&finalizers).map_err(|e| corrupt("finalizers", e))?,
        deletion_requested_at: opt_time_col(row, "deletion_requested_at")?,
        created_at: time_col(row, "created_at")?,
        updated_at: time_col(row, "updated_at")?,
    })
}

fn token_from_row(row: &SqliteRow) -> Result<TokenRecord> {
    let kind: String = row.try_get("kind")?;
    let role: Option<String> = row.try_get("role")?;
    Ok(TokenRecord {
        id: id_col(row, "id")?,
        kind: match kind.as_str() {
            "api" => TokenKind::Api,
            "agent" => TokenKind::Agent,
            other => return Err(corrupt("token kind", other)),
        },
        org_id: id_col(row, "org_id")?,
        scope_id: opt_id_col(row, "scope_id")?,
        name: row.try_get("name")?,
        role: role
            .map(|r| Role::parse(&r).ok_or_else(|| corrupt("role", r)))
            .transpose()?,
        created_at: time_col(row, "created_at")?,
        last_used_at: opt_time_col(row, "last_used_at")?,
        revoked_at: opt_time_col(row, "revoked_at")?,
    })
}

fn page_of<T>(mut rows: Vec<(i64, T)>, page: &PageRequest) -> Page<T> {
    let more = rows.len() > page.limit as usize;
    rows.truncate(page.limit as usize);
    let next_cursor = if more {
        rows.last().map(|(seq, _)| encode_cursor(*seq))
    } else {
        None
    };
    Page {
        items: rows.into_iter().map(|(_, t)| t).collect(),
        next_cursor,
    }
}

impl SqliteStore {
    /// Open (creating if needed) `<data_dir>/linkplane.db` with the secrets key in
    /// `<data_dir>/secrets.key` (created on first start), and run migrations.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        Self::open_with(data_dir, &KeySource::DataDir).await
    }

    /// Open `<data_dir>/linkplane.db` with the secrets key from `key`. The data directory is
    /// made 0700, the database files 0600. A missing key file is created (0600) only when
    /// the database holds no sealed secret; otherwise it is an error (a new key could not
    /// open them). Plaintext secrets of an older database are sealed here.
    pub async fn open_with(data_dir: &Path, key: &KeySource) -> Result<Self> {
        private_dir(data_dir)?;
        let db = data_dir.join(DB_FILE);
        private_db_files(&db)?;
        let pool = Self::connect(&db).await?;
        let key_path = key.path(data_dir);
        let key = if key_path.exists() {
            SecretsKey::load(&key_path)?
        } else {
            let rows: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM documents WHERE secret IS NOT NULL AND secret_version > 0",
            )
            .fetch_one(&pool)
            .await?;
            if rows > 0 {
                pool.close().await;
                return Err(SecretsKeyError::Missing {
                    path: key_path,
                    rows,
                }
                .into());
            }
            SecretsKey::create(&key_path)?
        };
        let store = Self::with_pool(pool, key);
        store.seal_plaintext_secrets().await?;
        tracing::debug!(path = %db.display(), "store opened");
        Ok(store)
    }

    /// Open the database file `path` with an in-memory secrets key (tests, throwaway stores).
    pub async fn open_file(path: &Path, key: SecretsKey) -> Result<Self> {
        private_db_files(path)?;
        let pool = Self::connect(path).await?;
        let store = Self::with_pool(pool, key);
        store.seal_plaintext_secrets().await?;
        Ok(store)
    }

    async fn connect(path: &Path) -> Result<SqlitePool> {
        let opts = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Freed pages are zeroed: an overwritten secret leaves no copy behind.
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(pool)
    }

    fn with_pool(pool: SqlitePool, key: SecretsKey) -> Self {
        Self {
            pool,
            changes: tokio::sync::watch::Sender::new(0),
            kind_changes: ResourceKind::ALL
                .iter()
                .map(|_| tokio::sync::watch::Sender::new(0))
                .collect(),
            secrets: std::sync::Arc::new(key),
        }
    }

    /// Seal the secrets an older database kept in plaintext, then rewrite the file and
    /// empty the WAL so no old page still holds them.
    async fn seal_plaintext_secrets(&self) -> Result<()> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, secret FROM documents WHERE secret IS NOT NULL AND secret_version = 0",
        )
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for (id, plain) in &rows {
            let sealed = self.secrets.seal(id, &SecretString::from(plain.as_str()))?;
            sqlx::query("UPDATE documents SET secret = ?, secret_version = 1 WHERE id = ?")
                .bind(sealed)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        sqlx::query("VACUUM").execute(&self.pool).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        tracing::info!(
            count = rows.len(),
            "encrypted plaintext secrets of an older database"
        );
        Ok(())
    }

    /// Tell watchers a write committed that may have touched any kind (updates and
    /// deletions reach dependents of other kinds in the same transaction).
    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
        for k in &self.kind_changes {
            k.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Tell watchers a write committed that created documents of `kinds` only.
    fn created(&self, kinds: impl IntoIterator<Item = ResourceKind>) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
        let mut woken = [false; ResourceKind::ALL.len()];
        for kind in kinds {
            if let Some(i) = ResourceKind::ALL.iter().position(|k| *k == kind)
                && !std::mem::replace(&mut woken[i], true)
                && let Some(tx) = self.kind_changes.get(i)
            {
                tx.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

async fn insert_idempotency(conn: &mut SqliteConnection, r: &IdempotencyRecord) -> Result<()> {
    // Forget expired keys first (indexed by created_at), so the table stays bounded by a day
    // of creates and an expired key can be used again.
    sqlx::query("DELETE FROM idempotency_keys WHERE created_at <= ?")
        .bind(format_time(&(r.created_at - crate::IDEMPOTENCY_TTL)))
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO idempotency_keys (org_id, route, key, request_hash, status, body, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(r.org_id.as_str())
    .bind(&r.route)
    .bind(&r.key)
    .bind(&r.request_hash)
    .bind(i64::from(r.status))
    .bind(&r.body)
    .bind(format_time(&r.created_at))
    .execute(conn)
    .await
    .map_err(map_insert_error)?;
    Ok(())
}

async fn fetch_doc(
    conn: &mut SqliteConnection,
    kind: Option<ResourceKind>,
    org: Option<&ResourceId>,
    id: &ResourceId,
) -> Result<Option<Document>> {
    const SQL: &str = "SELECT seq, kind, id, org_id, parent_id, system, spec, status, generation, \
         observed_generation, child_version, finalizers, deletion_requested_at, created_at, \
         updated_at FROM documents WHERE id = ?1 AND (?2 IS NULL OR kind = ?2) \
         AND (?3 IS NULL OR org_id = ?3)";
    let row = sqlx::query(SQL)
        .bind(id.as_str())
        .bind(kind.map(|k| k.as_str()))
        .bind(org.map(|o| o.as_str()))
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(doc_from_row).transpose()
}

fn not_found(kind: ResourceKind, id: &ResourceId) -> StoreError {
    StoreError::NotFound {
        kind: kind.title(),
        id: id.to_string(),
    }
}

fn check_generation(doc: &Document, if_generation: Option<i64>) -> Result<()> {
    match if_generation {
        Some(g) if g != doc.generation => Err(StoreError::PreconditionFailed {
            current: doc.generation,
        }),
        _ => Ok(()),
    }
}

async fn children(conn: &mut SqliteConnection, parent: &ResourceId) -> Result<Vec<Document>> {
    const SQL: &str = "SELECT seq, kind, id, org_id, parent_id, system, spec, status, generation, \
         observed_generation, child_version, finalizers, deletion_requested_at, created_at, \
         updated_at FROM documents WHERE parent_id = ? ORDER BY seq";
    let rows = sqlx::query(SQL)
        .bind(parent.as_str())
        .fetch_all(conn)
        .await?;
    rows.iter().map(doc_from_row).collect()
}

/// A child changed (updated, marked for deletion or deleted): its parent's `child_version`
/// moves, so anything validated against the parent's children (and any cache of them keyed
/// by the version) is known to be stale.
async fn bump_parent(conn: &mut SqliteConnection, parent: Option<&ResourceId>) -> Result<()> {
    if let Some(p) = parent {
        sqlx::query("UPDATE documents SET child_version = child_version + 1 WHERE id = ?")
            .bind(p.as_str())
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Documents of `org` that depend on `id` without being its children (routes through a
/// connection; the `ref_id` generated column).
async fn dependents(
    conn: &mut SqliteConnection,
    org: &ResourceId,
    id: &ResourceId,
) -> Result<Vec<Document>> {
    const SQL: &str = "SELECT seq, kind, id, org_id, parent_id, system, spec, status, generation, \
         observed_generation, child_version, finalizers, deletion_requested_at, created_at, \
         updated_at FROM documents WHERE ref_id = ? AND org_id = ? ORDER BY seq";
    let rows = sqlx::query(SQL)
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_all(conn)
        .await?;
    rows.iter().map(doc_from_row).collect()
}

async fn mark_deleted(conn: &mut SqliteConnection, id: &ResourceId, at: &Timestamp) -> Result<()> {
    sqlx::query(
        "UPDATE documents SET deletion_requested_at = COALESCE(deletion_requested_at, ?), \
         generation = generation + 1, updated_at = ? WHERE id = ? AND deletion_requested_at IS NULL",
    )
    .bind(format_time(at))
    .bind(format_time(at))
    .bind(id.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

async fn purge(conn: &mut SqliteConnection, id: &ResourceId) -> Result<()> {
    sqlx::query("DELETE FROM tokens WHERE scope_id = ?")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM documents WHERE id = ?")
        .bind(id.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn create_organization(&self, org: &Organization) -> Result<()> {
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)")
            .bind(org.id.as_str())
            .bind(org.name.as_str())
            .bind(format_time(&org.created_at))
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e, "organizations") {
                    StoreError::AlreadyExists(format!("organization {} already exists", org.id))
                } else {
                    StoreError::Database(e)
                }
            })?;
        Ok(())
    }

    async fn get_organization(&self, id: &ResourceId) -> Result<Option<Organization>> {
        let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let name: String = r.try_get("name")?;
            Ok(Organization {
                id: id_col(&r, "id")?,
                name: Name::parse(&name).map_err(|e| corrupt("organization name", e))?,
                created_at: time_col(&r, "created_at")?,
            })
        })
        .transpose()
    }

    async fn create_token(
        &self,
        token: &NewToken,
        max_live_in_scope: Option<u32>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<TokenRecord> {
        let mut tx = self.begin().await?;
        if let Some(max) = max_live_in_scope {
            let live: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM tokens WHERE kind = ? AND org_id = ? \
                 AND scope_id IS ? AND revoked_at IS NULL",
            )
            .bind(token.kind.as_str())
            .bind(token.org_id.as_str())
            .bind(token.scope_id.as_ref().map(|s| s.as_str()))
            .fetch_one(&mut *tx)
            .await?;
            if live >= i64::from(max) {
                return Err(StoreError::LimitReached(format!(
                    "at most {max} unrevoked tokens are allowed here; revoke one first"
                )));
            }
        }
        sqlx::query(
            "INSERT INTO tokens (id, kind, org_id, scope_id, name, role, token_hash, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(token.id.as_str())
        .bind(token.kind.as_str())
        .bind(token.org_id.as_str())
        .bind(token.scope_id.as_ref().map(|s| s.as_str()))
        .bind(&token.name)
        .bind(token.role.map(|r| r.as_str()))
        .bind(&token.token_hash)
        .bind(format_time(&token.created_at))
        .execute(&mut *tx)
        .await?;
        if let Some(r) = idempotency {
            insert_idempotency(&mut tx, r).await?;
        }
        tx.commit().await?;
        Ok(TokenRecord::initial(token))
    }

    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query("SELECT * FROM tokens WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn get_token(
        &self,
        org: &ResourceId,
        kind: TokenKind,
        id: &ResourceId,
    ) -> Result<Option<TokenRecord>> {
        let row = sqlx::query("SELECT * FROM tokens WHERE id = ? AND org_id = ? AND kind = ?")
            .bind(id.as_str())
            .bind(org.as_str())
            .bind(kind.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn list_tokens(
        &self,
        org: &ResourceId,
        kind: TokenKind,
        scope: Option<&ResourceId>,
        page: &PageRequest,
    ) -> Result<Page<TokenRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM tokens WHERE org_id = ?1 AND kind = ?2 \
             AND (?3 IS NULL OR scope_id = ?3) AND seq > ?4 ORDER BY seq LIMIT ?5",
        )
        .bind(org.as_str())
        .bind(kind.as_str())
        .bind(scope.map(|s| s.as_str()))
        .bind(page.after())
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(|r| Ok((r.try_get::<i64, _>("seq")?, token_from_row(r)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(items, page))
    }

    async fn revoke_token(
        &self,
        org: &ResourceId,
        kind: TokenKind,
        id: &ResourceId,
        at: Timestamp,
    ) -> Result<TokenRecord> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) \
             WHERE id = ? AND org_id = ? AND kind = ?",
        )
        .bind(format_time(&at))
        .bind(id.as_str())
        .bind(org.as_str())
        .bind(kind.as_str())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT * FROM tokens WHERE id = ? AND org_id = ? AND kind = ?")
            .bind(id.as_str())
            .bind(org.as_str())
            .bind(kind.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let rec = row
            .as_ref()
            .map(token_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound {
                kind: "token",
                id: id.to_string(),
            })?;
        tx.commit().await?;
        Ok(rec)
    }

    async fn touch_token(&self, id: &ResourceId, at: Timestamp) -> Result<()> {
        sqlx::query("UPDATE tokens SET last_used_at = ? WHERE id = ?")
            .bind(format_time(&at))
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_documents(
        &self,
        docs: &[NewDocument],
        parent: Option<&ParentGuard>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Vec<Document>> {
        let mut tx = self.begin().await?;
        if let Some(g) = parent {
            let org = docs.first().map(|d| &d.org_id);
            let p = fetch_doc(&mut tx, Some(g.kind), org, &g.id)
                .await?
                .ok_or_else(|| not_found(g.kind, &g.id))?;
            if p.deletion_requested_at.is_some() {
                return Err(StoreError::Conflict(format!(
                    "{} {} is being deleted",
                    g.kind.title(),
                    g.id
                )));
            }
            if let Some(v) = g.child_version
                && v != p.child_version
            {
                return Err(StoreError::Conflict(format!(
                    "{} {} changed while this request was validated; retry",
                    g.kind.title(),
                    g.id
                )));
            }
            sqlx::query("UPDATE documents SET child_version = child_version + 1 WHERE id = ?")
                .bind(g.id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        for d in docs {
            sqlx::query(
                "INSERT INTO documents (id, kind, org_id, parent_id, unique_key, system, spec, \
                 status, secret, secret_version, generation, observed_generation, created_at, \
                 updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1, 0, ?, ?)",
            )
            .bind(d.id.as_str())
            .bind(d.kind.as_str())
            .bind(d.org_id.as_str())
            .bind(d.parent_id.as_ref().map(|p| p.as_str()))
            .bind(d.unique_key.as_deref())
            .bind(i64::from(d.system))
            .bind(d.spec.to_string())
            .bind(d.status.to_string())
            .bind(
                d.secret
                    .as_ref()
                    .map(|s| self.secrets.seal(d.id.as_str(), s))
                    .transpose()?,
            )
            .bind(format_time(&d.created_at))
            .bind(format_time(&d.created_at))
            .execute(&mut *tx)
            .await
            .map_err(map_insert_error)?;
        }
        if let Some(r) = idempotency {
            insert_idempotency(&mut tx, r).await?;
        }
        tx.commit().await?;
        self.created(docs.iter().map(|d| d.kind));
        Ok(docs.iter().map(Document::initial).collect())
    }

    async fn get_document(
        &self,
        kind: ResourceKind,
        org: &ResourceId,
        id: &ResourceId,
    ) -> Result<Option<Document>> {
        let mut conn = self.pool.acquire().await?;
        fetch_doc(&mut conn, Some(kind), Some(org), id).await
    }

    async fn get_secret(&self, org: &ResourceId, id: &ResourceId) -> Result<Option<SecretString>> {
        let row: Option<(Option<String>, i64)> = sqlx::query_as(
            "SELECT secret, secret_version FROM documents WHERE id = ? AND org_id = ?",
        )
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some((Some(stored), 1)) => Ok(Some(self.secrets.open(id.as_str(), &stored)?)),
            Some((Some(_), v)) => Err(StoreError::Secret(format!(
                "the secret of {id} is kept in an unknown way (version {v})"
            ))),
            _ => Ok(None),
        }
    }

    async fn list_documents(
        &self,
        kind: ResourceKind,
        org: &ResourceId,
        parent: Option<&ResourceId>,
        page: &PageRequest,
    ) -> Result<Page<Document>> {
        const SQL: &str = "SELECT seq, kind, id, org_id, parent_id, system, spec, status, \
             generation, observed_generation, child_version, finalizers, deletion_requested_at, \
             created_at, updated_at FROM documents WHERE org_id = ?1 AND kind = ?2 \
             AND (?3 IS NULL OR parent_id = ?3) AND seq > ?4 ORDER BY seq LIMIT ?5";
        let rows = sqlx::query(SQL)
            .bind(org.as_str())
            .bind(kind.as_str())
            .bind(parent.map(|p| p.as_str()))
            .bind(page.after())
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        let items = rows
            .iter()
            .map(|r| Ok((r.try_get::<i64, _>("seq")?, doc_from_row(r)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(items, page))
    }

    async fn list_children(&self, org: &ResourceId, parent: &ResourceId) -> Result<Vec<Document>> {
        let mut conn = self.pool.acquire().await?;
        let all = children(&mut conn, parent).await?;
        Ok(all.into_iter().filter(|d| &d.org_id == org).collect())
    }

    async fn list_children_of_kinds(
        &self,
        org: &ResourceId,
        parent: &ResourceId,
        kinds: &[ResourceKind],
    ) -> Result<Vec<Document>> {
        let mut out = Vec::new();
        // One indexed range per kind (documents_list: org_id, kind, parent_id, seq), merged
        // back into creation order.
        for kind in kinds {
            const SQL: &str = "SELECT seq, kind, id, org_id, parent_id, system, spec, status, \
                 generation, observed_generation, child_version, finalizers, \
                 deletion_requested_at, created_at, updated_at FROM documents \
                 WHERE org_id = ? AND kind = ? AND parent_id = ? ORDER BY seq";
            let rows = sqlx::query(SQL)
                .bind(org.as_str())
                .bind(kind.as_str())
                .bind(parent.as_str())
                .fetch_all(&self.pool)
                .await?;
            for r in &rows {
                out.push((r.try_get::<i64, _>("seq")?, doc_from_row(r)?));
            }
        }
        out.sort_by_key(|(seq, _)| *seq);
        Ok(out.into_iter().map(|(_, d)| d).collect())
    }

    async fn update_document(
        &self,
        kind: ResourceKind,
        org: &ResourceId,
        id: &ResourceId,
        if_generation: Option<i64>,
        spec: &Value,
        status: Option<&Value>,
        at: Timestamp,
    ) -> Result<Document> {
        let mut tx = self.begin().await?;
        let doc = fetch_doc(&mut tx, Some(kind), Some(org), id)
            .await?
            .ok_or_else(|| not_found(kind, id))?;
        check_generation(&doc, if_generation)?;
        if doc.deletion_requested_at.is_some() {
            return Err(StoreError::Conflict(format!(
                "{} {id} is being deleted",
                kind.title()
            )));
        }
        sqlx::query(
            "UPDATE documents SET spec = ?, status = COALESCE(?, status), \
             generation = generation + 1, updated_at = ? WHERE id = ?",
        )
        .bind(spec.to_string())
        .bind(status.map(|s| s.to_string()))
        .bind(format_time(&at))
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        bump_parent(&mut tx, doc.parent_id.as_ref()).await?;
        let doc = fetch_doc(&mut tx, None, None, id)
            .await?
            .ok_or_else(|| not_found(kind, id))?;
        tx.commit().await?;
        self.changed();
        Ok(doc)
    }

    async fn delete_document(
        &self,
        kind: ResourceKind,
        org: &ResourceId,
        id: &ResourceId,
        if_generation: Option<i64>,
        blocking: &[ResourceKind],
        at: Timestamp,
    ) -> Result<DeleteOutcome> {
        let mut tx = self.begin().await?;
        let doc = fetch_doc(&mut tx, Some(kind), Some(org), id)
            .await?
            .ok_or_else(|| not_found(kind, id))?;
        check_generation(&doc, if_generation)?;
        let kids = children(&mut tx, id).await?;
        let blockers: Vec<String> = blocking
            .iter()
            .filter_map(|k| {
                let n = kids.iter().filter(|c| c.kind == *k && !c.system).count();
                (n > 0).then(|| format!("{n} {}(s)", k.title()))
            })
            .collect();
        if !blockers.is_empty() {
            return Err(StoreError::Conflict(format!(
                "{} {id} still has {}; delete them first",
                kind.title(),
                blockers.join(", ")
            )));
        }
        let mut kept_child = false;
        // Dependents go with it, in this transaction (a finalized one is only marked, for
        // its reconciler to finish; it does not hold up this document).
        for d in dependents(&mut tx, org, id).await? {
            bump_parent(&mut tx, d.parent_id.as_ref()).await?;
            if d.finalizers.is_empty() {
                purge(&mut tx, &d.id).await?;
            } else {
                mark_deleted(&mut tx, &d.id, &at).await?;
            }
        }
        for c in &kids {
            if c.finalizers.is_empty() {
                purge(&mut tx, &c.id).await?;
            } else {
                mark_deleted(&mut tx, &c.id, &at).await?;
                kept_child = true;
            }
        }
        bump_parent(&mut tx, doc.parent_id.as_ref()).await?;
        let outcome = if doc.finalizers.is_empty() && !kept_child {
            purge(&mut tx, id).await?;
            DeleteOutcome::Deleted
        } else {
            mark_deleted(&mut tx, id, &at).await?;
            let d = fetch_doc(&mut tx, None, None, id)
                .await?
                .ok_or_else(|| not_found(kind, id))?;
            DeleteOutcome::Marked(Box::new(d))
        };
        tx.commit().await?;
        self.changed();
        Ok(outcome)
    }

    async fn get_document_by_id(&self, id: &ResourceId) -> Result<Option<Document>> {
        let mut conn = self.pool.acquire().await?;
        fetch_doc(&mut conn, None, None, id).await
    }

    async fn list_kind(&self, kind: ResourceKind) -> Result<Vec<Document>> {
        const SQL: &str = "SELECT seq, kind, id, org_id, parent_id, system, spec, status, \
             generation, observed_generation, child_version, finalizers, deletion_requested_at, \
             created_at, updated_at FROM documents WHERE kind = ? ORDER BY seq";
        let rows = sqlx::query(SQL)
            .bind(kind.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(doc_from_row).collect()
    }

    async fn list_child_ids(
        &self,
        kind: ResourceKind,
        parent: &ResourceId,
    ) -> Result<Vec<ResourceId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM documents WHERE parent_id = ? AND kind = ? ORDER BY seq",
        )
        .bind(parent.as_str())
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await?;
        ids.into_iter()
            .map(|i| i.parse().map_err(|e| corrupt("document id", e)))
            .collect()
    }

    async fn list_changed_unobserved(
        &self,
        kind: ResourceKind,
        after: i64,
    ) -> Result<(Vec<Document>, i64)> {
        const SQL: &str = "SELECT seq, kind, id, org_id, parent_id, system, spec, status, \
             generation, observed_generation, child_version, finalizers, deletion_requested_at, \
             created_at, updated_at, rev FROM documents \
             WHERE kind = ? AND rev > ? AND generation != observed_generation ORDER BY rev";
        let rows = sqlx::query(SQL)
            .bind(kind.as_str())
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
        // Revisions commit in order (one writer at a time), so nothing at or below the
        // highest one seen here can still appear.
        let mut next = after;
        let mut docs = Vec::with_capacity(rows.len());
        for r in &rows {
            next = next.max(r.try_get::<i64, _>("rev")?);
            docs.push(doc_from_row(r)?);
        }
        Ok((docs, next))
    }

    fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn subscribe_kind(&self, kind: ResourceKind) -> tokio::sync::watch::Receiver<u64> {
        ResourceKind::ALL
            .iter()
            .position(|k| *k == kind)
            .and_then(|i| self.kind_changes.get(i))
            .map_or_else(|| self.changes.subscribe(), |tx| tx.subscribe())
    }

    async fn list_unobserved(&self, kind: ResourceKind) -> Result<Vec<Document>> {
        const SQL: &str = "SELECT seq, kind, id, org_id, parent_id, system, spec, status, \
             generation, observed_generation, child_version, finalizers, deletion_requested_at, \
             created_at, updated_at FROM documents \
             WHERE kind = ? AND generation != observed_generation ORDER BY seq";
        let rows = sqlx::query(SQL)
            .bind(kind.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(doc_from_row).collect()
    }

    async fn write_status(
        &self,
        id: &ResourceId,
        status: &Value,
        observed_generation: i64,
        at: Timestamp,
    ) -> Result<Document> {
        let mut tx = self.begin().await?;
        let doc =
            fetch_doc(&mut tx, None, None, id)
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    kind: "document",
                    id: id.to_string(),
                })?;
        // Only for the generation the writer read: a client's change since (a new
        // generation, which may carry desired state in the status, such as an accepted
        // endpoint connection) must not be written over; that change triggers a new pass.
        if observed_generation != doc.generation {
            return Err(StoreError::Conflict(format!(
                "{id} is at generation {}, not {observed_generation}: it changed since it was read",
                doc.generation
            )));
        }
        sqlx::query(
            "UPDATE documents SET status = ?, observed_generation = ?, updated_at = ? WHERE id = ?",
        )
        .bind(status.to_string())
        .bind(observed_generation)
        .bind(format_time(&at))
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        let doc = fetch_doc(&mut tx, None, None, id)
            .await?
            .ok_or_else(|| corrupt("document vanished", id))?;
        tx.commit().await?;
        Ok(doc)
    }

    async fn add_finalizer(&self, id: &ResourceId, finalizer: &str) -> Result<Document> {
        let mut tx = self.begin().await?;
        let mut doc =
            fetch_doc(&mut tx, None, None, id)
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    kind: "document",
                    id: id.to_string(),
                })?;
        if !doc.finalizers.iter().any(|f| f == finalizer) {
            doc.finalizers.push(finalizer.to_owned());
            sqlx::query("UPDATE documents SET finalizers = ? WHERE id = ?")
                .bind(serde_json::to_string(&doc.finalizers).map_err(|e| corrupt("finalizers", e))?)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(doc)
    }

    async fn remove_finalizer(&self, id: &ResourceId, finalizer: &str) -> Result<Option<Document>> {
        let mut tx = self.begin().await?;
        let Some(mut doc) = fetch_doc(&mut tx, None, None, id).await? else {
            return Ok(None);
        };
        doc.finalizers.retain(|f| f != finalizer);
        let purge_now = doc.finalizers.is_empty()
            && doc.deletion_requested_at.is_some()
            && children(&mut tx, id).await?.is_empty();
        if purge_now {
            purge(&mut tx, id).await?;
            tx.commit().await?;
            return Ok(None);
        }
        sqlx::query("UPDATE documents SET finalizers = ? WHERE id = ?")
            .bind(serde_json::to_string(&doc.finalizers).map_err(|e| corrupt("finalizers", e))?)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(doc))
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn get_idempotency(
        &self,
        org: &ResourceId,
        route: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>> {
        let row = sqlx::query(
            "SELECT org_id, route, key, request_hash, status, body, created_at \
             FROM idempotency_keys WHERE org_id = ? AND route = ? AND key = ? AND created_at > ?",
        )
        .bind(org.as_str())
        .bind(route)
        .bind(key)
        .bind(format_time(&(Utc::now() - crate::IDEMPOTENCY_TTL)))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let status: i64 = r.try_get("status")?;
            Ok(IdempotencyRecord {
                org_id: id_col(&r, "org_id")?,
                route: r.try_get("route")?,
                key: r.try_get("key")?,
                request_hash: r.try_get("request_hash")?,
                status: u16::try_from(status).map_err(|e| corrupt("status", e))?,
                body: r.try_get("body")?,
                created_at: time_col(&r, "created_at")?,
            })
        })
        .transpose()
    }
}
