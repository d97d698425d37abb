-- name: ConversationInsert :one
-- A direct conversation that already exists (same direct_key) inserts nothing and returns no row.
INSERT INTO conversations (id, type, title, direct_key, created_by, member_count)
VALUES (@id, @type, sqlc.narg(title), sqlc.narg(direct_key), @created_by, @member_count)
ON CONFLICT (direct_key) DO NOTHING
RETURNING *;

-- name: ConversationGetByDirectKey :one
SELECT * FROM conversations WHERE direct_key = @direct_key;

-- name: ConversationGetForMember :one
-- The conversation as seen by one of its members; no row when it does not exist or the user is not
-- a member, which callers answer alike (404).
SELECT sqlc.embed(c), m.role, m.last_read_seq
FROM conversations c
JOIN members m ON m.conversation_id = c.id AND m.user_id = @user_id
WHERE c.id = @id;

-- name: ConversationLockForMember :one
-- Like ConversationGetForMember, and locks the conversation row until the transaction ends: every
-- change to a conversation takes this lock first, which serialises seq allocation.
SELECT sqlc.embed(c), m.role, m.last_read_seq
FROM conversations c
JOIN members m ON m.conversation_id = c.id AND m.user_id = @user_id
WHERE c.id = @id
FOR UPDATE OF c;

-- name: ConversationSetTitle :one
UPDATE conversations SET title = @title, updated_at = now() WHERE id = @id RETURNING *;

-- name: ConversationAddMemberCount :one
UPDATE conversations SET member_count = member_count + @delta::integer WHERE id = @id RETURNING *;

-- name: ConversationGet :one
SELECT * FROM conversations WHERE id = @id;

-- name: ConversationListForUser :many
-- The user's conversations, most recent activity first, keyset-paged by (last_activity_at, id).
-- The unread counts come from counters (see migration 00002) and the few deleted messages and
-- mentions after the read position: the same cost however many messages are unread.
SELECT sqlc.embed(c), m.last_read_seq, m.muted,
    (c.message_count - m.read_ordinal - m.own_unread
     - (SELECT count(*) FROM messages d
        WHERE d.conversation_id = c.id AND d.seq > m.last_read_seq
          AND d.deleted_at IS NOT NULL AND d.sender_id <> m.user_id))::bigint AS unread_count,
    (SELECT count(*) FROM mentions mn
     WHERE mn.conversation_id = c.id AND mn.user_id = m.user_id AND mn.seq > m.last_read_seq)::bigint AS unread_mention_count
FROM members m
JOIN conversations c ON c.id = m.conversation_id
WHERE m.user_id = @user_id
  AND (sqlc.narg(before_activity)::timestamptz IS NULL
       OR (c.last_activity_at, c.id) < (sqlc.narg(before_activity)::timestamptz, sqlc.narg(before_id)::uuid))
ORDER BY c.last_activity_at DESC, c.id DESC
LIMIT @max_rows;

-- name: ConversationBlockedBetween :one
-- Whether either of two users blocks the other.
SELECT EXISTS (
    SELECT 1 FROM blocks
    WHERE (user_id = @a AND blocked_id = @b) OR (user_id = @b AND blocked_id = @a)) AS blocked;
