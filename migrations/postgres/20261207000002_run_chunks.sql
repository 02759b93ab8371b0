-- A fleet re-analysis round split into chunks of nodes (by id range), so that several serve
-- replicas on one database share it: each claims a chunk (PostgreSQL: FOR UPDATE SKIP LOCKED),
-- judges its nodes, records their findings under the round's run (each node's findings carry
-- the round's revision) and marks the chunk done; whoever finishes the last chunk finishes the
-- run. A chunk claimed by a replica that died is claimed again once its claim is stale.

CREATE TABLE run_chunks (
    run_id     BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    after_id   TEXT NOT NULL,                    -- nodes with id > after_id …
    until_id   TEXT,                             -- … and id <= until_id (NULL: no bound)
    claimed_by TEXT,
    claimed_at BIGINT,
    done       BOOLEAN NOT NULL DEFAULT FALSE,
    nodes      BIGINT NOT NULL DEFAULT 0,
    findings   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, seq)
);
