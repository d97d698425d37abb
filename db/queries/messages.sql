-- name: MessageInsert :one
INSERT INTO messages (id, conversation_id, seq, sender_id, client_msg_id, body)
VALUES (@id, @conversation_id, @seq, @sender_id, @client_msg_id, @body)
RETURNING *;

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
