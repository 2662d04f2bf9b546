-- 003_audit.sql — every change made through the API (and every refused
-- attempt): who, with which role, what, on what, from where, and the answer.

CREATE TABLE audit_log (
    id      bigint PRIMARY KEY,   -- aggregator-unique, increasing
    at      timestamptz NOT NULL,
    who     text NOT NULL,        -- token name, or "anonymous"
    role    text NOT NULL,        -- none, viewer, operator, admin
    action  text NOT NULL,        -- e.g. "PATCH /api/v1/alerts/{id}: acknowledge"
    target  text NOT NULL,        -- the alert or silence id, or the path
    client  text NOT NULL,        -- remote address
    result  integer NOT NULL,     -- HTTP status answered
    detail  jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);
