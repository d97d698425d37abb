-- name: ReactionInsert :one
-- Adds the user's reaction, and says whether it was new and how many distinct emoji the message
-- carries with it. (The statement's own insert is not visible to its subqueries, hence the sum.)
WITH added AS (
    INSERT INTO reactions (conversation_id, message_seq, emoji, user_id)
    VALUES (@conversation_id, @message_seq, @emoji, @user_id)
    ON CONFLICT DO NOTHING
    RETURNING emoji
)
SELECT EXISTS (SELECT 1 FROM added) AS added,
       ((SELECT count(DISTINCT r.emoji) FROM reactions r
         WHERE r.conversation_id = @conversation_id AND r.message_seq = @message_seq)
        + (SELECT count(*) FROM added a
           WHERE NOT EXISTS (SELECT 1 FROM reactions r
                             WHERE r.conversation_id = @conversation_id AND r.message_seq = @message_seq
                               AND r.emoji = a.emoji)))::integer AS distinct_emoji;

-- name: ReactionDelete :one
-- No row when the user had not reacted with this emoji.
DELETE FROM reactions
WHERE conversation_id = @conversation_id AND message_seq = @message_seq AND emoji = @emoji AND user_id = @user_id
RETURNING created_at;

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
