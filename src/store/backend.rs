//! The two database backends behind one enum, and everything that differs between them.
//!
//! Queries are written once with `$n` placeholders (SQLite and PostgreSQL both accept them), epoch
//! milliseconds as BIGINT and JSON as TEXT, and run through [`with_pool!`], which compiles the same
//! `sqlx::query(..).bind(..)` code once per backend. Connection set-up is the only part that is
//! really backend-specific, and it lives here.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use super::error::{Result, StoreError};

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// PostgreSQL when the URL says so, SQLite otherwise.
    pub fn for_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Connections in the pool (SQLite in-memory databases always use one).
    pub max_connections: u32,
    /// How long one attempt waits for a connection before failing; the event writer retries after
    /// it, so this bounds how long a dead database holds up one batch attempt.
    pub acquire_timeout: Duration,
    /// SQLite: how long a writer waits on a locked database.
    pub busy_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(3),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A connection pool of either backend.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Run `$body` with `$pool` bound to the concrete pool of either backend. The body is compiled
/// once per backend, so one `sqlx::query(..)` expression serves both.
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::store::backend::Db::Sqlite($pool) => $body,
            $crate::store::backend::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Open a transaction that is going to write.
///
/// On SQLite a plain `BEGIN` is deferred: it reads from a snapshot and only asks for the write
/// lock at its first write. If another connection committed in between, that upgrade fails at
/// once with `SQLITE_BUSY_SNAPSHOT` ("database is locked", code 517) and the busy timeout does
/// not help. `BEGIN IMMEDIATE` takes the write lock up front, so writers queue on the busy
/// timeout instead. PostgreSQL has row locks and needs nothing special.
pub(crate) trait BeginWrite {
    type Database: sqlx::Database;
    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, Self::Database>>;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;
    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;
    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.begin().await
    }
}

impl Db {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    pub(crate) async fn connect(url: &str, config: &PoolConfig) -> Result<Db> {
        match Backend::for_url(url) {
            Backend::Postgres => {
                let pool = PgPoolOptions::new()
                    .max_connections(config.max_connections.max(1))
                    .acquire_timeout(config.acquire_timeout)
                    .connect(url)
                    .await?;
                Ok(Db::Postgres(pool))
            }
            Backend::Sqlite => connect_sqlite(url, config).await.map(Db::Sqlite),
        }
    }

    pub(crate) async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }
}

async fn connect_sqlite(url: &str, config: &PoolConfig) -> Result<SqlitePool> {
    if !url.starts_with("sqlite:") {
        return Err(StoreError::BadUrl {
            url: url.to_string(),
            why: "it starts with neither sqlite: nor postgres://".into(),
        });
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::BadUrl {
            url: url.to_string(),
            why: e.to_string(),
        })?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(config.busy_timeout);
    let file = options.get_filename().to_path_buf();
    let in_memory = is_in_memory(url, &file);
    let options = if in_memory {
        options
    } else {
        create_parent_dir(&file)?;
        options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
    };
    let mut pool = SqlitePoolOptions::new().acquire_timeout(config.acquire_timeout);
    pool = if in_memory {
        // An in-memory database lives and dies with its one connection: keep exactly one.
        pool.max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        pool.max_connections(config.max_connections.max(1))
    };
    Ok(pool.connect_with(options).await?)
}

fn is_in_memory(url: &str, file: &Path) -> bool {
    url.contains(":memory:") || url.contains("mode=memory") || file.as_os_str() == ":memory:"
}

fn create_parent_dir(file: &Path) -> Result<()> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e)),
        _ => Ok(()),
    }
}

/// `($1,$2,$3),($4,$5,$6)` for `rows` rows of `cols` parameters each.
pub(crate) fn values_list(rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            out.push(',');
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push(',');
            }
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        }
        out.push(')');
    }
    out
}

/// Typed column access that reads the same on both backends' rows.
pub(crate) trait RowExt {
    fn text(&self, col: &str) -> Result<String>;
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn int(&self, col: &str) -> Result<i64>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
}

macro_rules! impl_row_ext {
    ($row:ty) => {
        impl RowExt for $row {
            fn text(&self, col: &str) -> Result<String> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
            fn opt_text(&self, col: &str) -> Result<Option<String>> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
            fn int(&self, col: &str) -> Result<i64> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
            fn opt_int(&self, col: &str) -> Result<Option<i64>> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
        }
    };
}
impl_row_ext!(SqliteRow);
impl_row_ext!(PgRow);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_pick_postgres_and_everything_else_sqlite() {
        assert_eq!(Backend::for_url("postgres://u@h/db"), Backend::Postgres);
        assert_eq!(Backend::for_url("postgresql://u@h/db"), Backend::Postgres);
        assert_eq!(
            Backend::for_url("sqlite://data/helpline.db"),
            Backend::Sqlite
        );
    }

    #[test]
    fn values_list_numbers_placeholders_row_by_row() {
        assert_eq!(values_list(2, 3), "($1,$2,$3),($4,$5,$6)");
        assert_eq!(values_list(1, 1), "($1)");
    }

    #[test]
    fn the_default_url_is_a_file_under_data() {
        let opts = SqliteConnectOptions::from_str(super::super::DEFAULT_URL).unwrap();
        assert_eq!(opts.get_filename(), Path::new("data/helpline.db"));
    }

    #[tokio::test]
    async fn a_url_that_is_neither_backend_is_refused_with_a_hint() {
        let err = Db::connect("mysql://x/y", &PoolConfig::default()).await;
        let msg = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("sqlite://data/helpline.db"), "{msg}");
    }
}
