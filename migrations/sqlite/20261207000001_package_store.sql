-- Package lists stored by content and shared: `packages` holds each distinct package once (its
-- JSON, keyed by the sha256 of it), `package_lists` each distinct list once (the ids of its
-- packages, 8 bytes each little-endian, keyed by the sha256 of the packages' digests in order).
-- An inventory stored since this migration keeps its body without the packages and names its
-- list (`list_hash`); a history entry references the inventory, so a changed push costs its new
-- packages and one list, not a copy of every package. Older rows keep their packages in `body`.

CREATE TABLE packages (
    id     INTEGER PRIMARY KEY,
    digest BLOB NOT NULL UNIQUE,                  -- sha256 of body
    body   TEXT NOT NULL                          -- the package, JSON
);

CREATE TABLE package_lists (
    hash          BLOB PRIMARY KEY NOT NULL,
    ids           BLOB NOT NULL,                  -- package ids, i64 little-endian each
    package_index TEXT NOT NULL                   -- "ecosystem\tname\tversion\n" per package
);

ALTER TABLE inventories ADD COLUMN list_hash BLOB REFERENCES package_lists (hash);
