-- The fleet: nodes, their inventories (deduplicated by content per node), when each changed,
-- analysis runs and the findings of each run. Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE nodes (
    id            TEXT PRIMARY KEY NOT NULL,
    hostname      TEXT,
    site          TEXT,
    cell          TEXT,
    labels        TEXT NOT NULL DEFAULT '{}',      -- JSON object
    token_hash    TEXT UNIQUE,                     -- sha256 of the node's token, hex
    enrolled_at   INTEGER NOT NULL,
    registered_at INTEGER,                         -- first push
    last_seen     INTEGER,                         -- last push or heartbeat
    current_hash  TEXT,                            -- content hash of the latest inventory
    findings_run  INTEGER,                         -- the run whose findings are current
    open_findings INTEGER NOT NULL DEFAULT 0,
    compliant     INTEGER,                         -- no open finding fails the gate
    revoked       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE inventories (
    node_id       TEXT NOT NULL REFERENCES nodes (id),
    hash          TEXT NOT NULL,
    collected_at  TEXT NOT NULL,
    received_at   INTEGER NOT NULL,
    package_index TEXT NOT NULL,                   -- "ecosystem\tname\tversion\n" per package
    body          TEXT NOT NULL,                   -- the inventory, JSON
    PRIMARY KEY (node_id, hash)
);

CREATE TABLE node_history (
    node_id     TEXT NOT NULL,
    hash        TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (node_id, received_at, hash)
);

CREATE TABLE analysis_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,                     -- push | fleet
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    revision    TEXT NOT NULL,                     -- digest of feeds + policy
    nodes       INTEGER NOT NULL DEFAULT 0,
    findings    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE findings (
    run_id         INTEGER NOT NULL,
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
    waived         INTEGER NOT NULL,
    body           TEXT NOT NULL                   -- the finding, JSON
);

CREATE INDEX findings_run_node ON findings (run_id, node_id);
CREATE INDEX findings_name ON findings (name);
