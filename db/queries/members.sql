-- name: MemberInsert :one
-- No row when the user is a member already. A user who joins again has their earlier messages
-- counted as their own (never unread).
INSERT INTO members (conversation_id, user_id, role, own_unread)
VALUES (@conversation_id, @user_id, @role,
        (SELECT count(*) FROM messages WHERE conversation_id = @conversation_id AND sender_id = @user_id))
ON CONFLICT (conversation_id, user_id) DO NOTHING
RETURNING *;

-- name: MemberInsertBatch :exec
INSERT INTO members (conversation_id, user_id, role)
SELECT @conversation_id, unnest(@user_ids::text[]), unnest(@roles::text[]);

-- name: MemberGet :one
SELECT * FROM members WHERE conversation_id = @conversation_id AND user_id = @user_id;

-- name: MemberList :many
SELECT * FROM members
WHERE conversation_id = @conversation_id
ORDER BY role = 'owner' DESC, joined_at, user_id;

-- name: MemberDelete :one
DELETE FROM members WHERE conversation_id = @conversation_id AND user_id = @user_id RETURNING *;

-- name: MemberPromoteSuccessor :one
-- When the owner leaves, the longest-standing admin, or else the longest-standing member, owns the
-- conversation.
UPDATE members AS m SET role = 'owner'
WHERE m.conversation_id = @conversation_id
  AND m.user_id = (
    SELECT s.user_id FROM members s
    WHERE s.conversation_id = m.conversation_id
    ORDER BY s.role = 'admin' DESC, s.joined_at, s.user_id
    LIMIT 1)
RETURNING *;

-- name: MemberMarkRead :one
-- The read position never moves backwards. Moving it forward moves the counters behind it: the
-- ordinal of the last message now read, and the reader's own messages no longer after it. Every
-- message up to seq is committed (seq is at most the conversation's last_seq), and the membership
-- row orders this against the reader's sends, so the counts are exact.
WITH moved AS (
    UPDATE members AS m SET
        last_read_seq = @seq::bigint,
        read_ordinal = COALESCE((
            SELECT r.ordinal FROM messages r
            WHERE r.conversation_id = m.conversation_id AND r.seq <= @seq::bigint
            ORDER BY r.seq DESC LIMIT 1), 0),
        own_unread = m.own_unread - (
            SELECT count(*) FROM messages o
            WHERE o.conversation_id = m.conversation_id AND o.sender_id = m.user_id
              AND o.seq > m.last_read_seq AND o.seq <= @seq::bigint)
    WHERE m.conversation_id = @conversation_id AND m.user_id = @user_id AND m.last_read_seq < @seq::bigint
    RETURNING m.last_read_seq
)
SELECT last_read_seq FROM moved
UNION ALL
SELECT m.last_read_seq FROM members m
WHERE m.conversation_id = @conversation_id AND m.user_id = @user_id AND NOT EXISTS (SELECT 1 FROM moved);

-- name: MemberSetMuted :one
UPDATE members SET muted = @muted
WHERE conversation_id = @conversation_id AND user_id = @user_id
RETURNING muted;

-- name: MemberConversationsOfUsers :many
-- The conversations of each of the users with the seq each stands at: their memberships as of
-- that seq. The handshakes of a reconnect storm read theirs together, in one statement.
SELECT m.user_id, m.conversation_id, c.last_seq
FROM members m
JOIN conversations c ON c.id = m.conversation_id
WHERE m.user_id = ANY(@user_ids::text[]);

-- name: MemberUsers :many
-- The conversation's members, with the seq the conversation stands at.
SELECT m.user_id, c.last_seq
FROM members m
JOIN conversations c ON c.id = m.conversation_id
WHERE m.conversation_id = @conversation_id;
