-- Findings rows outlive a run: a row is written once, by the run that found it first
-- (`run_id`), and stays a node's open finding until a later run of that node no longer has it
-- (`closed_run`, NULL while open). A push or a fleet round therefore writes only the findings
-- that changed: a feed change that touches 1 % of the packages writes those rows, not every
-- node's ~700. A node's current findings are its rows with `closed_run IS NULL`; closed rows
-- are history, pruned once the run that closed them is older than `--retain`.
-- `inventory_hash` of a row is the inventory it was first found in.
ALTER TABLE findings ADD COLUMN closed_run BIGINT;

-- Rows of runs that are not their node's current run were history already.
UPDATE findings f SET closed_run = COALESCE(n.findings_run, f.run_id)
  FROM nodes n
 WHERE n.id = f.node_id AND f.run_id IS DISTINCT FROM n.findings_run;
UPDATE findings SET closed_run = run_id
 WHERE closed_run IS NULL AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = findings.node_id);

DROP INDEX findings_run_node;
CREATE INDEX findings_open ON findings (node_id, body_id) WHERE closed_run IS NULL;
CREATE INDEX findings_closed ON findings (closed_run) WHERE closed_run IS NOT NULL;
