-- Probe writes of the readiness check: after a write failed (e.g. the disk was full), `/readyz`
-- commits one row as large as that write, then deletes it; ready again when it commits.

CREATE TABLE write_probe (
    id     INTEGER PRIMARY KEY NOT NULL,
    filler BLOB NOT NULL
);
