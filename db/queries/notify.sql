-- name: NotifyDueJobs :many
-- New messages of the given shards whose notification delay has passed, and settle_seconds more
-- for the receipts of the delay's last moments to be written, oldest first.
SELECT conversation_id, seq, shard FROM notify_jobs
WHERE shard = ANY(sqlc.arg(shards)::smallint[])
  AND due_at <= now() - make_interval(secs => sqlc.arg(settle_seconds)::float8)
ORDER BY due_at
LIMIT sqlc.arg(max_rows);

-- name: NotifyJobTake :execrows
-- Takes a job for the deciding transaction: 0 rows when another node decided it already.
DELETE FROM notify_jobs WHERE conversation_id = @conversation_id AND seq = @seq;

-- name: NotifyRecipients :many
-- The members a new message may notify: everyone who was a member when it was sent, but its
-- sender, with what the decision needs. No rows when the message has been deleted since.
SELECT m.user_id, m.muted, msg.id AS message_id, msg.sender_id,
    EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = m.user_id AND b.blocked_id = msg.sender_id) AS blocks_sender,
    (m.user_id = ANY(msg.mentions))::boolean AS mentioned,
    (m.last_read_seq >= msg.seq)::boolean AS read,
    (c.message_count - m.read_ordinal - m.own_unread
     - (SELECT count(*) FROM messages d
        WHERE d.conversation_id = c.id AND d.seq > m.last_read_seq
          AND d.deleted_at IS NOT NULL AND d.sender_id <> m.user_id))::bigint AS unread_count
FROM messages msg
JOIN conversations c ON c.id = msg.conversation_id
JOIN members m ON m.conversation_id = msg.conversation_id
WHERE msg.conversation_id = @conversation_id AND msg.seq = @seq
  AND msg.deleted_at IS NULL
  AND m.user_id <> msg.sender_id
  AND m.joined_at <= msg.created_at
ORDER BY m.user_id;

-- name: NotificationInsert :exec
-- The notification.requested webhooks of one message; a request already written is not
-- written again.
INSERT INTO webhook_deliveries (id, ordering_key, conversation_id, seq, shard, type, body)
SELECT n.id, n.id, @conversation_id, @seq, @shard, 'notification.requested', n.body
FROM (SELECT unnest(@ids::text[]) AS id, unnest(@bodies::text[]) AS body) n
ON CONFLICT (id) DO NOTHING;
