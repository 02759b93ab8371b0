-- The control plane as its APIs show it: one row per discovery round (`serve --discover-cloud`),
-- the whole discovery (catalog, endpoints, versions, findings) as JSON; history by time.

CREATE TABLE control_plane_rounds (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    cloud         TEXT NOT NULL,
    discovered_at INTEGER NOT NULL,
    endpoints     INTEGER NOT NULL,
    findings      INTEGER NOT NULL,
    problems      INTEGER NOT NULL,
    body          TEXT NOT NULL
);

CREATE INDEX control_plane_rounds_cloud_time ON control_plane_rounds (cloud, discovered_at);
