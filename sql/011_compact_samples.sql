-- 011_compact_samples.sql — compact raw samples.
--
-- A fast sample is its identity columns plus metric_values (the catalogue's
-- numbers, by history slot; see 005). The jsonb column metrics no longer
-- holds the whole sample: it holds only the structured stats-cadence
-- sections (tables, indexes, statements, replication_slots, backup), the
-- section errors and the connection error of a down node, on the samples
-- where one of those arrived, and is NULL (no bytes) on every other row.
--
-- metric_values becomes real[] (4 bytes a value instead of 8): the values
-- are charted and rolled up, and 24 bits of mantissa (about 7 significant
-- digits) are far finer than any chart; the exact current values stay in
-- the aggregator's node view. Converting an existing history rewrites it
-- once (the aggregator holds its rows in memory or in the spool meanwhile).

ALTER TABLE node_samples ALTER COLUMN metrics DROP NOT NULL;
ALTER TABLE node_samples ALTER COLUMN metric_values TYPE real[];
