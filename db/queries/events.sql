-- name: EventInsert :exec
INSERT INTO events (conversation_id, seq, type, actor_id, created_at, payload)
VALUES (@conversation_id, @seq, @type, @actor_id, @created_at, @payload);

-- name: EventListAfter :many
SELECT payload FROM events
WHERE conversation_id = @conversation_id AND seq > @after_seq
ORDER BY seq
LIMIT @max_rows;

-- name: OutboxInsert :exec
INSERT INTO outbox (conversation_id, seq) VALUES (@conversation_id, @seq);

-- name: OutboxNotify :exec
-- Wakes the dispatchers when the transaction commits.
SELECT pg_notify('parley_outbox', '');
