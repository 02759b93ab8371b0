-- Each history entry keeps its own collection time: an inventory that comes back (A, B, then A
-- again) is stored once in `inventories`, with the time it was first collected, but its second
-- history entry must sort after B by collection time (the planner orders history by it).
-- NULL for entries written before this migration: readers fall back to the inventory's time.

ALTER TABLE node_history ADD COLUMN collected_at TEXT;
