-- Finding bodies stored once by content: a finding's JSON with its node and fingerprint left
-- empty is the same on every node that has the package (or service) it is about, so it is
-- kept once in `finding_bodies` (keyed by the sha256 of that JSON) and a findings row names it
-- (`body_id`, its own `body` then JSON null); node and fingerprint come back from the row's
-- columns when it is read. Rows written before this migration keep their whole body.

CREATE TABLE finding_bodies (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest BYTEA NOT NULL UNIQUE,
    body   TEXT NOT NULL
);

ALTER TABLE findings ADD COLUMN body_id BIGINT REFERENCES finding_bodies (id);
CREATE INDEX findings_body ON findings (body_id);
