-- name: EventAppend :one
-- Records a change other than a new message (those go through MessageSend) in one round trip:
-- takes the conversation's next seq, inserts the event (the payload gets the seq here) and its
-- outbox row. Call with the conversation row locked; a rolled-back transaction gives its seq back.
WITH next AS (
    UPDATE conversations SET last_seq = last_seq + 1, updated_at = now()
    WHERE id = @conversation_id
    RETURNING last_seq AS seq
), event AS (
    INSERT INTO events (conversation_id, seq, type, actor_id, created_at, payload)
    SELECT @conversation_id, next.seq, @type, @actor_id, @created_at,
           jsonb_set(@payload::jsonb, '{seq}', to_jsonb(next.seq))
    FROM next
)
INSERT INTO outbox (conversation_id, seq, trace_context)
SELECT @conversation_id, next.seq, sqlc.narg(trace_context)::text FROM next
RETURNING seq;

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
