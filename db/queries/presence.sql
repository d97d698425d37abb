-- name: PresenceVisible :many
-- Which of user_ids share a conversation with user_id: only their presence is shown to them.
SELECT DISTINCT other.user_id
FROM members me
JOIN members other ON other.conversation_id = me.conversation_id
WHERE me.user_id = @user_id AND other.user_id = ANY(@user_ids::text[]);
