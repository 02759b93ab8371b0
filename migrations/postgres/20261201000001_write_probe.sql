-- Probe writes of the readiness check: after a write failed (e.g. the disk was full), `/readyz`
-- commits one row as large as that write, then deletes it; ready again when it commits.
-- The filler is random and stored uncompressed, so it takes the space it claims.

CREATE TABLE write_probe (
    id     BIGINT PRIMARY KEY,
    filler BYTEA NOT NULL
);

ALTER TABLE write_probe ALTER COLUMN filler SET STORAGE EXTERNAL;
