-- The digest of the findings a node's current run stored for it (sha256 over its inventory
-- hash and each finding's JSON): a fleet round that judges the same findings again for the
-- same inventory updates the node's counters and writes no finding rows (the node keeps the
-- run whose rows are identical). NULL: unknown, the next round writes its findings.
ALTER TABLE nodes ADD COLUMN findings_digest BLOB;
