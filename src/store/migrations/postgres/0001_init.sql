-- helpline store, initial schema (PostgreSQL). Times are epoch milliseconds, JSON is TEXT.
-- Keep in step with ../sqlite/0001_init.sql: same tables, columns and meanings.

-- Append-only event stream. `seq` is the insertion order (a resume cursor for readers);
-- `id` is the producer's unique event id and the idempotency key for retried writes.
CREATE TABLE events (
    seq     BIGSERIAL PRIMARY KEY,
    id      TEXT    NOT NULL UNIQUE,
    call_id TEXT,
    kind    TEXT    NOT NULL,
    at_ms   BIGINT  NOT NULL,
    payload TEXT    NOT NULL
);
CREATE INDEX events_call_id ON events (call_id, at_ms);
CREATE INDEX events_kind_at ON events (kind, at_ms);

-- One row per call, derived from call.* events in the same transaction that stores them.
CREATE TABLE calls (
    call_id     TEXT PRIMARY KEY,
    arrived_ms  BIGINT,
    answered_ms BIGINT,
    ended_ms    BIGINT,
    cause       TEXT,
    caller      TEXT,
    called      TEXT,
    queue       TEXT,
    agent       TEXT,
    -- time of the newest event applied; text fields follow the newest event
    updated_ms  BIGINT NOT NULL
);
CREATE INDEX calls_arrived ON calls (arrived_ms);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT   NOT NULL UNIQUE,
    display_name  TEXT   NOT NULL,
    role          TEXT   NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    password_hash TEXT   NOT NULL,
    created_ms    BIGINT NOT NULL,
    disabled_ms   BIGINT
);

-- SIP digest HA1 per realm and algorithm (RFC 2617 / RFC 8760); never the plain password.
CREATE TABLE sip_credentials (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    realm     TEXT NOT NULL,
    algorithm TEXT NOT NULL CHECK (algorithm IN ('MD5', 'SHA-256')),
    ha1       TEXT NOT NULL,
    PRIMARY KEY (user_id, realm, algorithm)
);

-- Registrar bindings; several per AOR. `binding_key` is the +sip.instance when the phone sent
-- one (RFC 5626), else the contact URI.
CREATE TABLE registrations (
    aor           TEXT   NOT NULL,
    binding_key   TEXT   NOT NULL,
    contact       TEXT   NOT NULL,
    instance      TEXT,
    transport     TEXT   NOT NULL,
    source_addr   TEXT   NOT NULL,
    connection    TEXT,
    expires_at_ms BIGINT NOT NULL,
    call_id       TEXT   NOT NULL,
    cseq          BIGINT NOT NULL,
    updated_ms    BIGINT NOT NULL,
    PRIMARY KEY (aor, binding_key)
);
CREATE INDEX registrations_expires ON registrations (expires_at_ms);

-- Current state per agent, written from agent.state_changed events; survives restart.
CREATE TABLE agent_state (
    agent_id TEXT PRIMARY KEY,
    state    TEXT   NOT NULL,
    reason   TEXT,
    since_ms BIGINT NOT NULL,
    event_id TEXT
);

-- HTTP login sessions; only the SHA-256 of the cookie token is stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_ms);

-- Failed-login throttle, keyed by whatever the web layer chooses (e.g. "user|ip").
CREATE TABLE login_throttle (
    key              TEXT PRIMARY KEY,
    failures         BIGINT NOT NULL,
    window_start_ms  BIGINT NOT NULL,
    blocked_until_ms BIGINT NOT NULL
);
