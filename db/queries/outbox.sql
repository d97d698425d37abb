-- name: OutboxNotify :exec
-- Wakes the dispatchers of every node. Sent after the writing transaction commits, in a
-- statement of its own: a NOTIFY inside it would serialise every commit on the notify queue lock.
-- The payload names the sending dispatcher, whose own listener skips it.
SELECT pg_notify('parley_outbox', @sender::text);

-- name: OutboxClaim :many
-- Claims the oldest rows no other dispatcher holds; they stay locked until the transaction ends.
-- Each row's payload is looked up by the events key: a join would let a generic plan (pgx
-- prepares statements), which cannot see how small the limit is, hash the whole events table on
-- every claim.
WITH claimed AS (
    SELECT id, conversation_id, seq, created_at, trace_context FROM outbox ORDER BY id LIMIT @max_rows FOR UPDATE SKIP LOCKED
)
SELECT claimed.id, claimed.conversation_id, claimed.seq, claimed.created_at, claimed.trace_context,
       (SELECT e.payload FROM events e WHERE e.conversation_id = claimed.conversation_id AND e.seq = claimed.seq)::jsonb AS payload
FROM claimed
ORDER BY claimed.id;

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
