//! Persistence for helpline: SQLite by default, PostgreSQL when the URL says `postgres://`.
//!
//! - [`Store`]: a cloneable pool handle with the query functions (users, SIP credentials,
//!   registrations, agent state, sessions, login throttle, events and calls).
//! - [`EventWriter`] / [`StoreHandle`]: the batched, never-blocking event writer with its spill file.
//! - [`migrate()`]: `helpline migrate`; [`connect()`]: open the pool (creates the SQLite file).
//!
//! Times are epoch milliseconds (`i64`), JSON is text; every function takes `now_ms` explicitly
//! where time matters.

mod agents;
mod backend;
mod crm_read;
mod crm_write;
mod crypto;
mod derive;
mod error;
mod events;
mod migrate;
mod outbound;
mod ownership;
mod password;
mod phones;
mod registrations;
mod reports;
mod sessions;
mod sip_credentials;
mod spill;
mod throttle;
mod user_seed;
mod users;
mod writer;

#[cfg(test)]
pub(crate) mod test_support;

use serde::{Deserialize, Serialize};

pub use agents::AgentState;
pub use backend::{Backend, PoolConfig};
pub use crm_read::Page;
pub use crm_write::{OutboxItem, SavedInteraction};
pub use derive::{
    agent_state_event, AGENT_STATE_CHANGED, CALL_ANSWERED, CALL_ARRIVED, CALL_ENDED,
    SUPERVISOR_ACTION,
};
pub use error::{Result, StoreError};
pub use events::{CallRow, StoredEvent};
pub use migrate::{migrate, MIGRATIONS_DIR};
pub use outbound::OutboundLeg;
pub use ownership::{LostAgent, LostCall, LostCalls, Owner, SERVER_LOST};
pub use password::hash_blocking as hash_password_blocking;
pub use registrations::Binding;
pub use reports::{AuditRow, Cursor, TicketCallRow, TicketTimes};
pub use sessions::Session;
pub use sip_credentials::{ha1, DigestAlgorithm};
pub use throttle::{LoginKeys, LoginThrottle, ThrottlePolicy};
pub use user_seed::HashedUser;
pub use users::{NewUser, Role, User};
pub use writer::{EventWriter, StoreHandle, WriterConfig, WriterMetrics};

use backend::Db;

/// The default database: a SQLite file under `data/`.
pub const DEFAULT_URL: &str = "sqlite://data/helpline.db";

/// One event as the store keeps it (see CONTRACTS.md, "Events").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Unique event id (uuid/ulid); storing the same id twice keeps one row.
    pub id: String,
    pub call_id: Option<String>,
    /// e.g. `call.arrived`.
    pub kind: String,
    /// Unix epoch milliseconds.
    pub at_ms: i64,
    /// JSON text.
    pub payload: String,
}

/// A connection pool to the helpline database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    /// Open a pool with default sizing. SQLite files and their parent directory are created when
    /// missing. Does not migrate: call [`Store::migrate`] or use [`migrate()`].
    pub async fn connect(url: &str) -> Result<Store> {
        Store::connect_with(url, &PoolConfig::default()).await
    }

    /// Open a pool with explicit sizing and timeouts.
    pub async fn connect_with(url: &str, config: &PoolConfig) -> Result<Store> {
        Ok(Store {
            db: Db::connect(url, config).await?,
        })
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Close every connection (waits for checked-out ones to come back).
    pub async fn close(&self) {
        self.db.close().await
    }
}

/// Open a pool for `url` (see [`Store::connect`]).
pub async fn connect(url: &str) -> Result<Store> {
    Store::connect(url).await
}
