//! The store's error type: every fallible store call returns `Result<T, StoreError>`.

use std::time::Duration;

/// What went wrong talking to the database, the spill directory or the password hasher.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a query (includes connection failures).
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Applying the embedded migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A local file (SQLite directory, spill file) could not be read or written.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The database URL is not one we can use.
    #[error("bad database URL `{url}`: {why}; use sqlite://data/helpline.db or postgres://user:pass@host/db")]
    BadUrl { url: String, why: String },
    /// A unique key is taken (e.g. the username).
    #[error("{0} already exists")]
    Duplicate(String),
    /// A row held a value this code does not understand (e.g. an unknown role).
    #[error("unexpected value in the database: {0}")]
    Corrupt(String),
    /// The request is not allowed (e.g. a wrap-up linking another caller's ticket); nothing
    /// was changed. The message says why, for the person who asked.
    #[error("{0}")]
    Refused(String),
    /// Too much at once (e.g. every password-hashing slot taken): try again shortly.
    #[error("{0}")]
    Busy(String),
    /// Hashing a password failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// `flush` gave up before every queued event was stored.
    #[error("{pending} events still unstored after {waited:?}; they stay queued (or spilled) and will be written when the database answers")]
    FlushTimeout { pending: u64, waited: Duration },
}

impl StoreError {
    /// Turn a unique-key violation into `Duplicate(what)`, leave other errors as they are.
    pub(crate) fn duplicate_as(e: sqlx::Error, what: impl Into<String>) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Duplicate(what.into())
            }
            _ => StoreError::Db(e),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Shorthand used throughout the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
