-- The fleet: nodes, their inventories (deduplicated by content per node), when each changed,
-- analysis runs and the findings of each run. Times are milliseconds since the Unix epoch (UTC).
-- node_history is partitioned by time (one partition per month, created ahead by the server,
-- plus a default partition), so old history can be detached and dropped cheaply.

CREATE TABLE nodes (
    id            TEXT PRIMARY KEY,
    hostname      TEXT,
    site          TEXT,
    cell          TEXT,
    labels        JSONB NOT NULL DEFAULT '{}',
    token_hash    TEXT UNIQUE,
    enrolled_at   BIGINT NOT NULL,
    registered_at BIGINT,
    last_seen     BIGINT,
    current_hash  TEXT,
    findings_run  BIGINT,
    open_findings BIGINT NOT NULL DEFAULT 0,
    compliant     BOOLEAN,
    revoked       BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE inventories (
    node_id       TEXT NOT NULL REFERENCES nodes (id),
    hash          TEXT NOT NULL,
    collected_at  TEXT NOT NULL,
    received_at   BIGINT NOT NULL,
    package_index TEXT NOT NULL,
    body          JSONB NOT NULL,
    PRIMARY KEY (node_id, hash)
);

CREATE TABLE node_history (
    node_id     TEXT NOT NULL,
    hash        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (node_id, received_at, hash)
) PARTITION BY RANGE (received_at);

CREATE TABLE node_history_default PARTITION OF node_history DEFAULT;

CREATE TABLE analysis_runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    revision    TEXT NOT NULL,
    nodes       BIGINT NOT NULL DEFAULT 0,
    findings    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE findings (
    run_id         BIGINT NOT NULL,
    node_id        TEXT NOT NULL,
    inventory_hash TEXT NOT NULL,
    code           TEXT NOT NULL,
    severity       TEXT NOT NULL,
    severity_rank  INTEGER NOT NULL,
    ecosystem      TEXT NOT NULL,
    name           TEXT NOT NULL,
    version        TEXT NOT NULL,
    advisory_id    TEXT,
    fingerprint    TEXT NOT NULL CHECK (fingerprint <> ''),
    waived         BOOLEAN NOT NULL,
    body           JSONB NOT NULL
);

CREATE INDEX findings_run_node ON findings (run_id, node_id);
CREATE INDEX findings_name ON findings (name);
