//! Errors of the localcloud engine. Every variant says what is wrong and what to do.

/// An error of a localcloud call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of the request is malformed or breaks a rule.
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// A field (or the whole body) is over its size limit: 413.
    #[error("{field} is too large: {reason}")]
    TooLarge { field: String, reason: String },
    /// No such resource.
    #[error("{kind} {id} does not exist")]
    NotFound { kind: &'static str, id: String },
    /// The caller's account does not own the resource.
    #[error(
        "{principal} (account {caller}) may not {action} {resource}: it belongs to account {owner}"
    )]
    Forbidden {
        principal: String,
        caller: String,
        owner: String,
        action: String,
        resource: String,
    },
    /// The request conflicts with the current state (dependents, overlaps, state machine).
    #[error("{0}")]
    Conflict(String),
    /// This machine cannot run localcloud (not root, a tool or kernel feature missing).
    #[error("localcloud cannot run on this machine: {0}")]
    Unsupported(String),
    /// A kernel operation failed.
    #[error("kernel operation failed: {op}: {detail}")]
    Kernel { op: String, detail: String },
    /// The state database failed.
    #[error("localcloud database: {0}")]
    Db(#[from] sqlx::Error),
    /// The state database could not be migrated.
    #[error("localcloud database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Local file I/O failed (data dir, /etc/netns, logs).
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }

    pub(crate) fn kernel(op: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Kernel {
            op: op.into(),
            detail: detail.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
