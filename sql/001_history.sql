-- 001_history.sql — the aggregator's history: samples, replication lag,
-- node status (current and transitions) and events.
--
-- Hot tables are range-partitioned by day (UTC) on their time column;
-- partitions are named <table>_pYYYYMMDD and are created ahead and dropped
-- after the retention by the aggregator. Primary keys make every write
-- idempotent: a sample delivered to two aggregators, or replayed after an
-- outage, is stored once (INSERT ... ON CONFLICT DO NOTHING).
--
-- cluster_id is PostgreSQL's system identifier, an unsigned 64-bit number,
-- kept exactly as numeric(20,0).

CREATE TABLE node_samples (
    node         text NOT NULL,
    collected_at timestamptz NOT NULL,  -- collector clock, as sent
    sequence     bigint NOT NULL,       -- per collector process
    cluster_id   numeric(20,0),         -- NULL while the node was never reached
    region       text NOT NULL,
    role         text NOT NULL,         -- primary, replica, unknown
    up           boolean NOT NULL,
    timeline     integer,
    received_at  timestamptz NOT NULL,  -- aggregator clock
    metrics      jsonb NOT NULL,        -- the whole sample (pbjson form)
    PRIMARY KEY (node, collected_at, sequence)
) PARTITION BY RANGE (collected_at);

CREATE TABLE replication_lag (
    node                 text NOT NULL,     -- the replica
    at                   timestamptz NOT NULL, -- replica sample time on the aggregator clock
    cluster_id           numeric(20,0) NOT NULL,
    lag_bytes            bigint NOT NULL,   -- primary LSN at t - replay LSN
    lag_seconds          double precision NOT NULL,
    receive_lag_bytes    bigint NOT NULL,   -- primary LSN at t - receive LSN
    apply_lag_bytes      bigint NOT NULL,   -- receive LSN - replay LSN
    replay_paused        boolean NOT NULL,
    primary_replay_lag_s double precision,  -- pg_stat_replication.replay_lag
    clock_offset_s       double precision NOT NULL, -- collector minus aggregator clock
    PRIMARY KEY (node, at)
) PARTITION BY RANGE (at);

CREATE TABLE node_status_transitions (
    node       text NOT NULL,
    at         timestamptz NOT NULL,
    state      text NOT NULL,            -- up, down, stale
    cluster_id numeric(20,0),
    region     text,
    role       text,
    timeline   integer,
    reason     text,
    PRIMARY KEY (node, at, state)
) PARTITION BY RANGE (at);

-- Current state, one row per node, updated in the same transaction.
CREATE TABLE node_status (
    node       text PRIMARY KEY,
    state      text NOT NULL,
    since      timestamptz NOT NULL,
    cluster_id numeric(20,0),
    region     text,
    role       text,
    timeline   integer,
    reason     text
);

CREATE TABLE events (
    node       text NOT NULL,            -- '' for cluster-wide events
    kind       text NOT NULL,
    at         timestamptz NOT NULL,
    cluster_id numeric(20,0),
    severity   text NOT NULL,
    message    text NOT NULL,
    PRIMARY KEY (node, kind, at)
) PARTITION BY RANGE (at);

CREATE INDEX ON replication_lag (cluster_id, at);
CREATE INDEX ON events (at);
