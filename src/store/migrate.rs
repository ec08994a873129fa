//! Embedded schema migrations, one directory per backend.
//!
//! The SQL lives in `src/store/migrations/{sqlite,postgres}/` (paths relative to the crate root,
//! which is what `sqlx::migrate!` wants), so copying `src/store/` into another crate keeps them
//! working. Cargo only notices edited migration files if a `build.rs` says
//! `cargo:rerun-if-changed=src/store/migrations`.

use sqlx::migrate::Migrator;

use super::backend::{with_pool, Backend};
use super::error::Result;
use super::Store;

/// Where the migrations live, relative to the crate root (must match the literals below; the
/// `migrate!` macro only takes literals).
pub const MIGRATIONS_DIR: &str = "src/store/migrations";

static SQLITE: Migrator = sqlx::migrate!("src/store/migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("src/store/migrations/postgres");

/// The migrator for one backend.
pub(crate) fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    }
}

impl Store {
    /// Bring the schema up to date (idempotent).
    pub async fn migrate(&self) -> Result<()> {
        let migrator = migrator(self.backend());
        with_pool!(&self.db, |pool| migrator.run(pool).await?);
        Ok(())
    }
}

/// `helpline migrate`: connect (creating a SQLite file and its directory if missing) and apply
/// every pending migration. Returns the connected store.
pub async fn migrate(url: &str) -> Result<Store> {
    let store = Store::connect(url).await?;
    store.migrate().await?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_ship_the_same_migration_versions() {
        let versions = |b| {
            migrator(b)
                .iter()
                .map(|m| (m.version, m.description.to_string()))
                .collect::<Vec<_>>()
        };
        assert!(!versions(Backend::Sqlite).is_empty());
        assert_eq!(versions(Backend::Sqlite), versions(Backend::Postgres));
    }

    #[test]
    fn the_directory_constant_matches_the_files() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(MIGRATIONS_DIR);
        assert!(root.join("sqlite").is_dir() && root.join("postgres").is_dir());
    }
}
