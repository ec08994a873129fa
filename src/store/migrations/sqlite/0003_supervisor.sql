-- Supervisor dashboard and reports: a time index for reading events by period, and the audit
-- log of supervisor actions. Keep in step with ../postgres/0003_supervisor.sql.

-- Reports read events by time range (keyset pages on at_ms, seq).
CREATE INDEX events_at ON events (at_ms, seq);

-- Who did what to whom, derived from supervisor.action events in the transaction that stores
-- them (so an action is audited even when the database was down at the time: the event waits
-- in the spill file and the row follows it).
CREATE TABLE audit (
    event_id TEXT PRIMARY KEY,
    at_ms    BIGINT NOT NULL,
    actor    TEXT   NOT NULL,
    action   TEXT   NOT NULL,
    target   TEXT   NOT NULL,
    -- the request as JSON text
    detail   TEXT   NOT NULL,
    -- "ok" or why it was refused
    result   TEXT   NOT NULL
);
CREATE INDEX audit_at ON audit (at_ms);
CREATE INDEX audit_actor ON audit (actor, at_ms);
