-- 004_operations.sql — maintenance operations requested through the API and
-- the collectors' backup verifications and restore tests.

CREATE TABLE maintenance_operations (
    id           bigint PRIMARY KEY,  -- the aggregator's (µs of the request)
    node         text NOT NULL,
    operation    text NOT NULL,       -- VACUUM, VACUUM FULL, ANALYZE, REINDEX
    database     text NOT NULL,
    schema_name  text NOT NULL,
    table_name   text NOT NULL,
    index_name   text,
    state        text NOT NULL,       -- queued, running, completed, failed
    requested_by text NOT NULL,       -- token name (and "by"), or the client
    role         text NOT NULL,       -- role of the requester
    force        boolean NOT NULL DEFAULT false,
    peak         boolean NOT NULL DEFAULT false, -- requested during peak hours
    requested_at timestamptz NOT NULL,
    started_at   timestamptz,
    finished_at  timestamptz,
    duration_ms  bigint,
    statement    text,                -- the SQL the collector ran
    error        text,                -- the server's error when it failed
    doc          jsonb NOT NULL,      -- the operation as the API shows it
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX maintenance_operations_node ON maintenance_operations (node, requested_at);

CREATE TABLE backup_verifications (
    node             text NOT NULL,
    verified_at      timestamptz NOT NULL,
    path             text NOT NULL,
    ok               boolean NOT NULL,
    error            text,
    duration_ms      bigint,
    backup_at        timestamptz,     -- the backup's START TIME
    size_bytes       bigint,
    restore_ok       boolean,         -- NULL: no restore test in this round
    restore_ms       bigint,          -- copy + start + completeness query
    restore_rto_ms   bigint,
    restore_result   text,
    restore_error    text,
    PRIMARY KEY (node, verified_at)
);
