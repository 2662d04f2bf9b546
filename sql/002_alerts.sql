-- 002_alerts.sql — alert state, its transitions, silences, and the
-- notification outbox with every delivery attempt.
--
-- Ids are the aggregator's (microseconds of creation, unique per
-- aggregator), so rows can be written in any order and written twice
-- (a replay after an outage) without duplicates.

CREATE TABLE alerts (
    id           bigint PRIMARY KEY,
    rule         text NOT NULL,
    cluster      text NOT NULL,
    node         text NOT NULL,
    severity     text NOT NULL,   -- none, warning, critical
    state        text NOT NULL,   -- pending, firing, nodata, resolved, inactive
    acknowledged boolean NOT NULL DEFAULT false,
    peak         boolean NOT NULL DEFAULT false,
    tier         integer NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL,
    resolved_at  timestamptz,
    summary      text NOT NULL,
    doc          jsonb NOT NULL,  -- the whole alert as the API shows it
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_open ON alerts (state) WHERE state IN ('pending', 'firing', 'nodata');
CREATE INDEX alerts_node_started ON alerts (node, started_at);

CREATE TABLE alert_events (
    alert_id   bigint NOT NULL,
    at         timestamptz NOT NULL,
    seq        bigint NOT NULL,     -- order within the aggregator
    from_state text NOT NULL,
    to_state   text NOT NULL,
    severity   text NOT NULL,
    detail     text NOT NULL DEFAULT '',
    PRIMARY KEY (alert_id, seq)
);
CREATE INDEX alert_events_at ON alert_events (at);

CREATE TABLE silences (
    id         bigint PRIMARY KEY,
    doc        jsonb NOT NULL,       -- matchers, starts_at, ends_at, comment, created_by
    ends_at    timestamptz NOT NULL,
    deleted_at timestamptz
);

CREATE TABLE notification_outbox (
    id           bigint PRIMARY KEY,
    alert_id     bigint NOT NULL,
    receiver     text NOT NULL,
    kind         text NOT NULL,      -- firing, resolved, acknowledged, flapping
    payload      jsonb NOT NULL,
    state        text NOT NULL DEFAULT 'pending', -- pending, delivered, failed
    attempts     integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    last_error   text
);
CREATE INDEX notification_outbox_pending ON notification_outbox (id) WHERE state = 'pending';

CREATE TABLE notification_attempts (
    outbox_id   bigint NOT NULL,
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL,
    receiver    text NOT NULL,
    ok          boolean NOT NULL,
    status      integer,             -- HTTP or SMTP response code
    error       text,
    duration_ms double precision NOT NULL,
    PRIMARY KEY (outbox_id, attempt)
);
