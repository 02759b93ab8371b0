-- Package lists stored by content and shared: `packages` holds each distinct package once (its
-- JSON, keyed by the sha256 of it), `package_lists` each distinct list once (the ids of its
-- packages, 8 bytes each little-endian, keyed by the sha256 of the packages' digests in order).
-- An inventory stored since this migration keeps its body without the packages and names its
-- list (`list_hash`); a history entry references the inventory, so a changed push costs its new
-- packages and one list, not a copy of every package. Older rows keep their packages in `body`.
-- The list column is stored uncompressed out of line (ids do not compress), the package bodies
-- are small and stay inline.

CREATE TABLE packages (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest BYTEA NOT NULL UNIQUE,
    body   TEXT NOT NULL
);

CREATE TABLE package_lists (
    hash          BYTEA PRIMARY KEY,
    ids           BYTEA NOT NULL,
    package_index TEXT NOT NULL
);

ALTER TABLE package_lists ALTER COLUMN ids SET STORAGE EXTERNAL;
ALTER TABLE inventories ADD COLUMN list_hash BYTEA REFERENCES package_lists (hash);
-- Current inventories are read by node (re-analysis walks nodes in id order).
CREATE INDEX nodes_current ON nodes (id, current_hash) WHERE revoked = FALSE;
