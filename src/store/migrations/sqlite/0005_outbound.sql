-- Billable outbound legs (issue 14): one row per leg the outbound gate let through, so its
-- per-number, per-requester, per-hour and daily caps survive a restart. Rows older than a day
-- count for nothing and are deleted now and then. Keep in step with ../postgres/0005_outbound.sql.
CREATE TABLE outbound_legs (
    id         TEXT PRIMARY KEY,
    at_ms      BIGINT NOT NULL,
    path       TEXT NOT NULL,
    number     TEXT NOT NULL,
    requester  TEXT NOT NULL,
    trunk      TEXT NOT NULL,
    call_id    TEXT
);
CREATE INDEX outbound_legs_at ON outbound_legs (at_ms);
