-- The control plane as its APIs show it: one row per discovery round (`serve --discover-cloud`),
-- the whole discovery (catalog, endpoints, versions, findings) as JSON; history by time.

CREATE TABLE control_plane_rounds (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cloud         TEXT NOT NULL,
    discovered_at BIGINT NOT NULL,
    endpoints     BIGINT NOT NULL,
    findings      BIGINT NOT NULL,
    problems      BIGINT NOT NULL,
    body          JSONB NOT NULL
);

CREATE INDEX control_plane_rounds_cloud_time ON control_plane_rounds (cloud, discovered_at);
