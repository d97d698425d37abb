-- name: EventInsert :exec
INSERT INTO events (conversation_id, seq, type, actor_id, created_at, payload)
VALUES (@conversation_id, @seq, @type, @actor_id, @created_at, @payload);

-- name: EventListAfter :many
SELECT payload FROM events
WHERE conversation_id = @conversation_id AND seq > @after_seq
ORDER BY seq
LIMIT @max_rows;

-- name: EventRange :many
-- Events after one seq and, when before is positive, before another: what a connection replays.
SELECT seq, payload FROM events
WHERE conversation_id = @conversation_id
  AND seq > @after_seq
  AND (@before_seq::bigint <= 0 OR seq < @before_seq::bigint)
ORDER BY seq
LIMIT @max_rows;
