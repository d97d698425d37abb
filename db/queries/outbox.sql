-- name: OutboxInsert :exec
INSERT INTO outbox (conversation_id, seq) VALUES (@conversation_id, @seq);

-- name: OutboxNotify :exec
-- Wakes the dispatchers of every node. Sent after the writing transaction commits, in a
-- statement of its own: a NOTIFY inside it would serialise every commit on the notify queue lock.
SELECT pg_notify('parley_outbox', '');

-- name: OutboxClaim :many
-- Claims the oldest rows no other dispatcher holds; they stay locked until the transaction ends.
WITH claimed AS (
    SELECT id FROM outbox ORDER BY id LIMIT @max_rows FOR UPDATE SKIP LOCKED
)
SELECT o.id, o.conversation_id, o.seq, o.created_at, e.payload
FROM claimed
JOIN outbox o ON o.id = claimed.id
JOIN events e ON e.conversation_id = o.conversation_id AND e.seq = o.seq
ORDER BY o.id;

-- name: OutboxDelete :exec
DELETE FROM outbox WHERE id = ANY(@ids::bigint[]);

-- name: OutboxBacklog :one
SELECT count(*)::bigint AS rows,
       COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest_age_seconds
FROM outbox;

-- name: OutboxRelaxCommit :exec
-- For the dispatcher's transaction only: its commit need not wait for the disk. Lost in a crash,
-- the deletions are redone by publishing those rows again, and the hubs drop repeated seqs.
SET LOCAL synchronous_commit = off;
