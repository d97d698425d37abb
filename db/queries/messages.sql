-- name: MessageSend :batchone
-- A whole send in one statement: take the conversation's next seq (locking its row) when the
-- sender is a member, insert the message, its message.created event (the payload gets the seq
-- here) and the event's outbox row. No row when the sender is not a member. A repeated
-- client_msg_id fails on messages_client_msg_id_key, and the failed statement gives its seq back.
-- Sent as a batch: the sends of a group go in one round trip and one implicit transaction, so
-- one commit (see server/sendgroup.go).
WITH next AS (
    UPDATE conversations AS c
    SET last_seq = c.last_seq + 1, updated_at = @created_at, last_activity_at = @created_at
    WHERE c.id = @conversation_id
      AND EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = c.id AND m.user_id = @sender_id)
    RETURNING c.last_seq AS seq
), message AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, client_msg_id, body, created_at)
    SELECT @id, @conversation_id, next.seq, @sender_id, @client_msg_id, @body, @created_at FROM next
), event AS (
    INSERT INTO events (conversation_id, seq, type, actor_id, created_at, payload)
    SELECT @conversation_id, next.seq, 'message.created', @sender_id, @created_at,
           jsonb_set(jsonb_set(@payload::jsonb, '{seq}', to_jsonb(next.seq)), '{message,seq}', to_jsonb(next.seq))
    FROM next
)
INSERT INTO outbox (conversation_id, seq)
SELECT @conversation_id, next.seq FROM next
RETURNING seq;

-- name: MessageGetByClientID :one
SELECT * FROM messages
WHERE conversation_id = @conversation_id AND sender_id = @sender_id AND client_msg_id = @client_msg_id;

-- name: MessageGetBySeq :one
SELECT * FROM messages WHERE conversation_id = @conversation_id AND seq = @seq;

-- name: MessageSetBody :one
UPDATE messages SET body = @body, edited_at = now()
WHERE conversation_id = @conversation_id AND seq = @seq
RETURNING *;

-- name: MessageTombstone :one
-- A deleted message keeps its place in history without its body.
UPDATE messages SET body = '', deleted_at = now()
WHERE conversation_id = @conversation_id AND seq = @seq
RETURNING *;

-- name: MessageListAfter :many
SELECT * FROM messages
WHERE conversation_id = @conversation_id AND seq > @after_seq
ORDER BY seq
LIMIT @max_rows;

-- name: MessageListBefore :many
-- Descending: the caller reverses the page.
SELECT * FROM messages
WHERE conversation_id = @conversation_id AND seq < @before_seq
ORDER BY seq DESC
LIMIT @max_rows;

-- name: MessageLatestPerConversation :many
-- The newest message that is not deleted of each listed conversation.
SELECT DISTINCT ON (conversation_id) *
FROM messages
WHERE conversation_id = ANY(@conversation_ids::uuid[]) AND deleted_at IS NULL
ORDER BY conversation_id, seq DESC;
