-- 006_cluster_epochs.sql — the highest fencing epoch each PostgreSQL cluster
-- was ever acquired under by an aggregator (aggregator/cluster/cluster_epoch.c).
--
-- Redis hands out epochs with INCR; this table is the floor an aggregator
-- restores the counters to when Redis comes back without its data, so an
-- epoch never goes backwards and a former owner stays fenced. Updated in
-- place, only ever upwards.
CREATE TABLE IF NOT EXISTS cluster_epochs (
    cluster_id  numeric(20,0) PRIMARY KEY,   -- the system identifier
    epoch       bigint NOT NULL CHECK (epoch > 0),
    owner       text NOT NULL,               -- cluster.name of the acquirer
    acquired_at timestamptz NOT NULL DEFAULT now()
);
