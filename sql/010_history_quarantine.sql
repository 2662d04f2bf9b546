-- 010_history_quarantine.sql — history rows the database refused.
--
-- When PostgreSQL refuses a row of a history batch for the data itself
-- (an invalid byte sequence, a value out of range, a malformed COPY line),
-- the aggregator writes the rest of the batch and sets the row aside here,
-- byte for byte, with the server's message, instead of retrying the batch
-- forever. Nothing reads this table automatically: it is for an operator
-- (and is counted in pgvigil_store_rows_quarantined_total).

CREATE TABLE IF NOT EXISTS history_quarantine (
    id             bigserial PRIMARY KEY,
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    target_table   text NOT NULL,   -- the table the row was meant for
    day            integer NOT NULL, -- its UTC day (days since 1970-01-01)
    line           bytea NOT NULL,  -- the COPY text line as it was
    error          text NOT NULL    -- the server's message
);
