-- name: ReactionInsert :one
-- No row when the user reacted with this emoji already.
INSERT INTO reactions (conversation_id, message_seq, emoji, user_id)
VALUES (@conversation_id, @message_seq, @emoji, @user_id)
ON CONFLICT DO NOTHING
RETURNING created_at;

-- name: ReactionDelete :one
-- No row when the user had not reacted with this emoji.
DELETE FROM reactions
WHERE conversation_id = @conversation_id AND message_seq = @message_seq AND emoji = @emoji AND user_id = @user_id
RETURNING created_at;

-- name: ReactionDistinctEmoji :one
SELECT count(DISTINCT emoji)::integer AS emoji FROM reactions
WHERE conversation_id = @conversation_id AND message_seq = @message_seq;

-- name: ReactionDeleteForMessage :exec
-- A deleted message keeps no reactions.
DELETE FROM reactions WHERE conversation_id = @conversation_id AND message_seq = @message_seq;

-- name: ReactionCounts :many
-- The reactions on the listed messages (conversation_ids[i], message_seqs[i]): each emoji with its
-- count and whether the user is among those who reacted, the first used first.
SELECT r.conversation_id, r.message_seq, r.emoji, count(*)::integer AS reactors,
       bool_or(r.user_id = @user_id)::boolean AS mine
FROM reactions r
JOIN (SELECT unnest(@conversation_ids::uuid[]) AS conversation_id, unnest(@message_seqs::bigint[]) AS message_seq) k
  ON r.conversation_id = k.conversation_id AND r.message_seq = k.message_seq
GROUP BY r.conversation_id, r.message_seq, r.emoji
ORDER BY r.conversation_id, r.message_seq, min(r.created_at), r.emoji;

-- name: ReactionListUsers :many
-- Who reacted with an emoji, oldest first, keyset-paged by (created_at, user_id).
SELECT user_id, created_at FROM reactions
WHERE conversation_id = @conversation_id AND message_seq = @message_seq AND emoji = @emoji
  AND (sqlc.narg(after_created)::timestamptz IS NULL
       OR (created_at, user_id) > (sqlc.narg(after_created)::timestamptz, sqlc.narg(after_user)::text))
ORDER BY created_at, user_id
LIMIT @max_rows;
