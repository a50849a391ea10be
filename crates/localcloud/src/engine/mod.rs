//! The localcloud engine: state in SQLite, kernel objects named from resource ids.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::error::{Error, Result};
use crate::ids::{Kind, Prefix, Principal, short};

mod dns;
mod gateway;
mod hostnames;
mod instance;
mod peering;
mod privatelink;
mod reconcile;
pub mod render;
mod rule_shares;
mod sg;
mod tgw;
mod vpc;

pub use dns::{LINK_LOCAL_DNS, PUBLIC_DNS};
pub use privatelink::{DNS_DOMAIN, state as endpoint_state};
pub use tgw::{
    DEFAULT_ASN, MAX_ATTACHMENTS as MAX_TGW_ATTACHMENTS, MAX_ROUTE_TABLES as MAX_TGW_ROUTE_TABLES,
    MAX_ROUTES as MAX_TGW_ROUTES,
};

/// How to open an engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Holds `localcloud.db` and process logs.
    pub data_dir: PathBuf,
    /// Installation prefix of every kernel object name.
    pub prefix: Prefix,
}

impl EngineConfig {
    pub fn new(data_dir: impl Into<PathBuf>, prefix: Prefix) -> Self {
        Self {
            data_dir: data_dir.into(),
            prefix,
        }
    }
}

/// The localcloud engine. Every public method is one call made as a principal. Mutations
/// are serialized (one lock) so kernel objects and rows change together.
pub struct Engine {
    db: SqlitePool,
    prefix: Prefix,
    data_dir: PathBuf,
    lock: tokio::sync::Mutex<()>,
    token: crate::token::OperatorToken,
    rt: std::sync::Mutex<privatelink::Runtime>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("prefix", &self.prefix)
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Engine {
    /// Open (or create) the engine's database under `data_dir`, check that this machine can
    /// run localcloud, then reconcile: existing namespaces are adopted, missing ones rebuilt,
    /// and namespaces under the prefix that belong to nothing are removed.
    pub async fn open(config: EngineConfig) -> Result<Self> {
        crate::kernel::preflight(&config.prefix).await?;
        std::fs::create_dir_all(config.data_dir.join("logs")).map_err(Error::io(format!(
            "create data directory {}",
            config.data_dir.display()
        )))?;
        let token = crate::token::OperatorToken::load_or_create(&config.data_dir)?;
        let db = open_db(&config.data_dir.join("localcloud.db")).await?;
        let engine = Self {
            db,
            prefix: config.prefix,
            data_dir: config.data_dir,
            lock: tokio::sync::Mutex::new(()),
            token,
            rt: std::sync::Mutex::new(privatelink::Runtime::default()),
        };
        engine.reconcile().await?;
        engine.restore_privatelink().await?;
        engine.restore_dns().await?;
        Ok(engine)
    }

    pub fn prefix(&self) -> &Prefix {
        &self.prefix
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Where the operator token lives (`<data-dir>/cloud.token`, mode 0600): the credential
    /// every `/cloud/v1` call presents as `Authorization: Bearer <token>`.
    pub fn operator_token_path(&self) -> &Path {
        self.token.path()
    }

    /// Whether `presented` is the operator token (compared in constant time, on hashes).
    pub fn verify_operator_token(&self, presented: &str) -> bool {
        self.token.verify(presented)
    }

    /// The network namespace of a VPC's router.
    pub fn router_namespace(&self, vpc_id: &str) -> String {
        format!("{}-v{}", self.prefix, short(vpc_id))
    }

    /// The network namespace of an instance.
    pub fn instance_namespace_name(&self, instance_id: &str) -> String {
        format!("{}-i{}", self.prefix, short(instance_id))
    }

    /// The internet namespace.
    pub fn internet_namespace(&self) -> String {
        format!("{}-inet", self.prefix)
    }

    /// Remove every kernel object under this engine's prefix (the database is kept, so the
    /// next [`Engine::open`] rebuilds them).
    pub fn gc(&self) -> crate::kernel::GcReport {
        crate::kernel::gc(&self.prefix)
    }

    /// A fresh id of `kind` that is not in use in `table`.`column`.
    async fn fresh_id(&self, kind: Kind, table: &str, column: &str) -> Result<String> {
        for _ in 0..16 {
            let id = kind.new_id();
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} = ?");
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(&id)
                .fetch_one(&self.db)
                .await?;
            if n == 0 {
                return Ok(id);
            }
        }
        Err(Error::Conflict(format!(
            "could not draw an unused {} id; try again",
            kind.noun()
        )))
    }
}

/// Checks that `principal` acts for `owner`; the error names both accounts.
pub(crate) fn authorize(
    principal: &Principal,
    owner: &str,
    action: &str,
    resource: &str,
) -> Result<()> {
    if principal.account().as_str() == owner {
        Ok(())
    } else {
        Err(Error::Forbidden {
            principal: principal.arn().to_string(),
            caller: principal.account().to_string(),
            owner: owner.to_string(),
            action: action.to_string(),
            resource: resource.to_string(),
        })
    }
}

async fn open_db(path: &Path) -> Result<SqlitePool> {
    let url = format!("sqlite://{}", path.display());
    let opts = SqliteConnectOptions::from_str(&url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(opts)
        .await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}
