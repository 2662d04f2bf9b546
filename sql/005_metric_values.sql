-- 005_metric_values.sql — the metric catalogue's values per sample.
--
-- metric_values[k] is the catalogue metric whose history slot is k
-- (aggregator/fleet/metric_table.c; a slot is never reused), NULL when the
-- node had no value for it at that sample. Rates are per second already.
-- metric_version is the highest slot the writing aggregator knew, so a reader
-- can tell "not collected" from "not known to that version". The jsonb
-- metrics column stays for the readers that still need the whole sample.

ALTER TABLE node_samples
    ADD COLUMN metric_values double precision[],
    ADD COLUMN metric_version smallint;
