-- The node that took the call, in shared mode the cluster.node_id of the
-- server holding the call; empty for a server running alone.
ALTER TABLE calls ADD COLUMN node TEXT NOT NULL DEFAULT '';

-- The open calls of one node, which MarkNodeInterrupted closes when the
-- node stopped.
CREATE INDEX calls_open_by_node ON calls (node) WHERE ended_at IS NULL;
