//! Test helpers: one migrated store per backend (SQLite always, PostgreSQL when
//! `HELPLINE_TEST_PG_URL` is set), temp dirs and event builders.

use std::path::{Path, PathBuf};

use rand::Rng;

use super::backend::{with_pool, Backend};
use super::{EventRecord, Store};

/// Env var naming an admin URL of a PostgreSQL the tests may create databases in
/// (`tests/setup/pg-test-start.sh` prints one).
pub(crate) const PG_ENV: &str = "HELPLINE_TEST_PG_URL";

pub(crate) struct TestStore {
    pub store: Store,
    pub label: &'static str,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(TempDir),
    PgDb { admin_url: String, name: String },
}

impl TestStore {
    /// A new pool on the same database, as after a restart.
    pub async fn reopen(&self) -> Store {
        Store::connect(&self.url).await.expect("reopen store")
    }

    /// Close the pool and drop what the test created.
    pub async fn finish(self) {
        self.store.close().await;
        match self.cleanup {
            Cleanup::Dir(dir) => drop(dir),
            Cleanup::PgDb { admin_url, name } => {
                if let Ok(admin) = Store::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = with_pool!(&admin.db, |pool| sqlx::query(&sql)
                        .execute(pool)
                        .await
                        .map(|_| ()));
                    admin.close().await;
                }
            }
        }
    }
}

/// The PostgreSQL admin URL, or `None` after saying (once, past the test harness's output
/// capture) why PostgreSQL is skipped.
pub(crate) fn pg_url(test: &str) -> Option<String> {
    static SAID: std::sync::Once = std::sync::Once::new();
    match std::env::var(PG_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            SAID.call_once(|| {
                let msg = format!(
                    "store tests ({test} and others): PostgreSQL skipped, {PG_ENV} is not set; \
                     run `export {PG_ENV}=$(tests/setup/pg-test-start.sh)` to include it\n"
                );
                let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
            });
            None
        }
    }
}

/// A fresh migrated SQLite store, plus a fresh migrated PostgreSQL database when configured.
pub(crate) async fn test_stores(test: &str) -> Vec<TestStore> {
    let mut out = vec![sqlite_store(test).await];
    if let Some(admin) = pg_url(test) {
        out.push(pg_store(test, &admin).await);
    }
    out
}

pub(crate) async fn sqlite_store(test: &str) -> TestStore {
    let dir = TempDir::new(test);
    let url = format!(
        "sqlite://{}",
        dir.path().join("nested/helpline.db").display()
    );
    let store = super::migrate(&url).await.expect("migrate sqlite");
    TestStore {
        store,
        label: "sqlite",
        url,
        cleanup: Cleanup::Dir(dir),
    }
}

/// A fresh database on the PostgreSQL at `admin_url`, migrated.
pub(crate) async fn pg_store(test: &str, admin_url: &str) -> TestStore {
    let (url, name) = fresh_pg_database(test, admin_url).await;
    let store = super::migrate(&url).await.expect("migrate postgres");
    assert_eq!(store.backend(), Backend::Postgres);
    TestStore {
        store,
        label: "postgres",
        url,
        cleanup: Cleanup::PgDb {
            admin_url: admin_url.to_string(),
            name,
        },
    }
}

/// Create an empty database and return its URL and name.
pub(crate) async fn fresh_pg_database(test: &str, admin_url: &str) -> (String, String) {
    let name = format!("t_{}_{}", test, rand_hex(4)).to_lowercase();
    let admin = Store::connect(admin_url)
        .await
        .expect("connect to PostgreSQL admin URL");
    let sql = format!("CREATE DATABASE \"{name}\"");
    with_pool!(&admin.db, |pool| sqlx::query(&sql)
        .execute(pool)
        .await
        .map(|_| ()))
    .expect("create database");
    admin.close().await;
    (with_database(admin_url, &name), name)
}

/// `postgres://u@h:p/old?x` → `postgres://u@h:p/new?x`.
pub(crate) fn with_database(url: &str, db: &str) -> String {
    let (head, query) = match url.find('?') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let after_scheme = head.find("://").map_or(0, |i| i + 3);
    let base = match head[after_scheme..].find('/') {
        Some(i) => &head[..after_scheme + i],
        None => head,
    };
    format!("{base}/{db}{query}")
}

pub(crate) fn rand_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// A directory removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "helpline-store-{test}-{}-{}",
            std::process::id(),
            rand_hex(4)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn ev(id: &str, call: &str, kind: &str, at_ms: i64, payload: &str) -> EventRecord {
    EventRecord {
        id: id.into(),
        call_id: Some(call.into()),
        kind: kind.into(),
        at_ms,
        payload: payload.into(),
    }
}

#[test]
fn with_database_swaps_only_the_path() {
    assert_eq!(
        with_database("postgres://p@127.0.0.1:5/postgres?sslmode=disable", "t1"),
        "postgres://p@127.0.0.1:5/t1?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://p@h:5", "t1"),
        "postgres://p@h:5/t1"
    );
}
