-- name: BlockInsert :exec
INSERT INTO blocks (user_id, blocked_id) VALUES (@user_id, @blocked_id) ON CONFLICT DO NOTHING;

-- name: BlockDelete :exec
DELETE FROM blocks WHERE user_id = @user_id AND blocked_id = @blocked_id;

-- name: BlockList :many
-- Newest first.
SELECT blocked_id, created_at FROM blocks
WHERE user_id = @user_id
ORDER BY created_at DESC, blocked_id
LIMIT @max_rows;

-- name: BlockCount :one
SELECT count(*)::integer AS blocks FROM blocks WHERE user_id = @user_id;
