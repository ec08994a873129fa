-- CRM: contacts, tickets, interactions (one per call, linked to its ticket), knowledge base and
-- the outbox of outcomes waiting for an external CRM. Keep in step with ../sqlite/0002_crm.sql.
-- Flags are BIGINT 0/1 and times epoch milliseconds on both backends.

CREATE TABLE contacts (
    id           TEXT PRIMARY KEY,
    name         TEXT   NOT NULL,
    organisation TEXT,
    email        TEXT,
    language     TEXT,
    -- support tier: 1 standard, 2 priority, 3 premium
    tier         BIGINT NOT NULL DEFAULT 1,
    vip          BIGINT NOT NULL DEFAULT 0,
    account      TEXT UNIQUE,
    notes        TEXT,
    created_ms   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL
);

-- E.164 numbers; one number may belong to several contacts (a switchboard), shown as a choice.
CREATE TABLE contact_phones (
    number     TEXT NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    PRIMARY KEY (number, contact_id)
);
CREATE INDEX contact_phones_contact ON contact_phones (contact_id);

CREATE TABLE tickets (
    id          TEXT PRIMARY KEY,
    number      TEXT   NOT NULL UNIQUE,
    contact_id  TEXT REFERENCES contacts (id),
    subject     TEXT   NOT NULL,
    category    TEXT,
    status      TEXT   NOT NULL CHECK (status IN ('open', 'pending', 'resolved', 'closed')),
    -- 0 low, 1 normal, 2 high, 3 urgent
    priority    BIGINT NOT NULL DEFAULT 1,
    tier        BIGINT NOT NULL DEFAULT 1 CHECK (tier BETWEEN 1 AND 3),
    owner       TEXT,
    sla_due_ms  BIGINT,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    resolved_ms BIGINT
);
CREATE INDEX tickets_contact ON tickets (contact_id, status, priority, updated_ms);

CREATE TABLE ticket_history (
    ticket_id TEXT   NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    at_ms     BIGINT NOT NULL,
    actor     TEXT,
    what      TEXT   NOT NULL
);
CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id, at_ms);

CREATE TABLE interactions (
    id           TEXT PRIMARY KEY,
    -- one row per agent segment of a call (a transferred call has several)
    call_id      TEXT   NOT NULL,
    ticket_id    TEXT REFERENCES tickets (id),
    contact_id   TEXT,
    caller       TEXT,
    called       TEXT,
    queue        TEXT,
    agent        TEXT,
    ivr_path     TEXT   NOT NULL DEFAULT '[]',
    arrived_ms   BIGINT NOT NULL,
    wait_ms      BIGINT NOT NULL DEFAULT 0,
    ring_ms      BIGINT NOT NULL DEFAULT 0,
    talk_ms      BIGINT NOT NULL DEFAULT 0,
    hold_ms      BIGINT NOT NULL DEFAULT 0,
    wrap_ms      BIGINT NOT NULL DEFAULT 0,
    abandoned    BIGINT NOT NULL DEFAULT 0,
    callback     BIGINT NOT NULL DEFAULT 0,
    disposition  TEXT,
    resolution   TEXT,
    notes        TEXT,
    recording    TEXT,
    survey_score BIGINT,
    ended_ms     BIGINT
);
CREATE INDEX interactions_call ON interactions (call_id);
CREATE INDEX interactions_ticket ON interactions (ticket_id, arrived_ms);
CREATE INDEX interactions_agent ON interactions (agent, arrived_ms);
CREATE INDEX interactions_contact ON interactions (contact_id, arrived_ms);

CREATE TABLE kb_articles (
    id    TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    body  TEXT NOT NULL,
    tags  TEXT NOT NULL DEFAULT ''
);
ALTER TABLE kb_articles ADD COLUMN search tsvector GENERATED ALWAYS AS
    (to_tsvector('simple', title || ' ' || body || ' ' || tags)) STORED;
CREATE INDEX kb_articles_search ON kb_articles USING GIN (search);

-- Outcomes waiting to be posted to an external CRM, keyed by interaction id (posted once).
CREATE TABLE crm_outbox (
    interaction_id  TEXT PRIMARY KEY,
    payload         TEXT   NOT NULL,
    created_ms      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    delivered_ms    BIGINT,
    last_error      TEXT
);
CREATE INDEX crm_outbox_due ON crm_outbox (delivered_ms, next_attempt_ms);
