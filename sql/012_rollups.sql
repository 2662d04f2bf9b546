-- 012_rollups.sql — 1-minute and 1-hour rollups of the metric catalogue.
--
-- One row per node and bucket; each array is indexed by history slot like
-- node_samples.metric_values: min, max, average and last value of the slot
-- over the bucket, and how many samples had a value (counts). samples is how
-- many samples the bucket holds.
--
-- They are computed by SQL over the raw rows, idempotently: every history
-- batch marks the (node, minute) pairs it wrote in rollup_dirty, in the same
-- transaction as the rows; the aggregator's rollup pass takes the marks and
-- recomputes exactly those minutes from node_samples and their hours from
-- node_samples_1m (INSERT ... ON CONFLICT DO UPDATE). A replayed or late
-- batch marks its minutes again and they are recomputed; nothing is lost or
-- counted twice. Buckets are UTC-aligned (date_bin from the epoch).
--
-- node_samples_1m is partitioned by day like the raw tables
-- (node_samples_1m_pYYYYMMDD); node_samples_1h by month
-- (node_samples_1h_pYYYYMM01, from the first of the month to the next).
-- Each tier has its own retention (storage.retention_*_days).

CREATE TABLE IF NOT EXISTS rollup_dirty (
    node   text NOT NULL,
    minute timestamptz NOT NULL,
    PRIMARY KEY (node, minute)
);

CREATE TABLE IF NOT EXISTS node_samples_1m (
    node        text NOT NULL,
    bucket      timestamptz NOT NULL,
    samples     integer NOT NULL,
    min_values  real[] NOT NULL,
    max_values  real[] NOT NULL,
    avg_values  real[] NOT NULL,
    last_values real[] NOT NULL,
    counts      integer[] NOT NULL,
    PRIMARY KEY (node, bucket)
) PARTITION BY RANGE (bucket);

CREATE TABLE IF NOT EXISTS node_samples_1h (
    node        text NOT NULL,
    bucket      timestamptz NOT NULL,
    samples     integer NOT NULL,
    min_values  real[] NOT NULL,
    max_values  real[] NOT NULL,
    avg_values  real[] NOT NULL,
    last_values real[] NOT NULL,
    counts      integer[] NOT NULL,
    PRIMARY KEY (node, bucket)
) PARTITION BY RANGE (bucket);
