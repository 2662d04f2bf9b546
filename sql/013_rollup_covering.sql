-- 013_rollup_covering.sql — rollup charts read the primary key alone.
--
-- A chart of one node over 24 hours reads 1,440 rows of node_samples_1m;
-- the rollup pass writes every node's minute together, so those rows lie
-- on 1,440 different heap pages (about 9 rows of different nodes a page),
-- and the read costs a page a point. With avg_values carried in the
-- primary key's leaf entries (INCLUDE: not part of the key, so ON CONFLICT
-- (node, bucket) and the rollup pass are unchanged) the history API's
-- rollup query is an index-only scan over one node's contiguous entries,
-- about 60 pages for those 1,440 points, once the pages are all-visible
-- (autovacuum marks them as the day's partition fills). An average is
-- NULL exactly when its slot had no value in the bucket (counts = 0), so
-- the API needs no other column. It costs about 160 bytes of index a row
-- (0.23 MB per node-day for 1-minute rollups with 34 slots).
--
-- Rebuilding the keys of an existing history holds the rollup tables
-- locked while it runs (about a minute for 9 million 1-minute rows), longer
-- than the store connection's statement_timeout: lifted for this
-- migration's transaction alone.

SET LOCAL statement_timeout = 0;
ALTER TABLE node_samples_1m DROP CONSTRAINT node_samples_1m_pkey,
    ADD PRIMARY KEY (node, bucket) INCLUDE (avg_values);
ALTER TABLE node_samples_1h DROP CONSTRAINT node_samples_1h_pkey,
    ADD PRIMARY KEY (node, bucket) INCLUDE (avg_values);
