-- name: MemberInsert :one
-- No row when the user is a member already.
INSERT INTO members (conversation_id, user_id, role)
VALUES (@conversation_id, @user_id, @role)
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
-- The read position never moves backwards.
UPDATE members SET last_read_seq = GREATEST(last_read_seq, @seq::bigint)
WHERE conversation_id = @conversation_id AND user_id = @user_id
RETURNING last_read_seq;

-- name: MemberConversations :many
-- The user's conversations with the seq each stands at: the membership as of that seq.
SELECT m.conversation_id, c.last_seq
FROM members m
JOIN conversations c ON c.id = m.conversation_id
WHERE m.user_id = @user_id;

-- name: MemberUsers :many
-- The conversation's members, with the seq the conversation stands at.
SELECT m.user_id, c.last_seq
FROM members m
JOIN conversations c ON c.id = m.conversation_id
WHERE m.conversation_id = @conversation_id;
