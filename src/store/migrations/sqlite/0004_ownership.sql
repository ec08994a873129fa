-- Calls are owned by the server run that took them (node id + boot incarnation), so a start
-- can close exactly the calls its own node's earlier runs left open. Keep in step with
-- ../postgres/0004_ownership.sql.

-- One row per start of a node; a start's incarnation is one above its node's highest.
CREATE TABLE incarnations (
    node_id     BIGINT NOT NULL,
    incarnation BIGINT NOT NULL,
    started_ms  BIGINT NOT NULL,
    PRIMARY KEY (node_id, incarnation)
);

-- Set when the row is created (from the writer of the run that took the call), never changed.
ALTER TABLE calls ADD COLUMN node_id BIGINT;
ALTER TABLE calls ADD COLUMN incarnation BIGINT;
CREATE INDEX calls_open_by_owner ON calls (node_id, incarnation) WHERE ended_ms IS NULL;

-- Calls left open before calls were owned belong to node 1 (the default), incarnation 0: the
-- first start of node 1 closes them.
UPDATE calls SET node_id = 1, incarnation = 0 WHERE ended_ms IS NULL;

-- The call an agent's state refers to (ringing for, on, wrapping up), from the
-- agent.state_changed event's `call`.
ALTER TABLE agent_state ADD COLUMN call_id TEXT;
