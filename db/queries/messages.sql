-- name: MessageSend :one
-- A whole send in one statement: when send_refusal allows it, take the conversation's next seq
-- and the message's ordinal (locking the conversation row), insert the message, its
-- message.created event (the payload gets the seq here) and the event's outbox row, count the
-- message among the sender's own unread-excluded ones, store its mentions, and count a reply on
-- its root. No row when refused: send_refusal then says why. A repeated client_msg_id fails on
-- messages_client_msg_id_key, and the failed statement gives its seq back.
-- For a send written alone (see server/sendgroup.go): MessageSendGroup below stores several the
-- same way, but costs PostgreSQL more for one.
WITH next AS (
    UPDATE conversations AS c
    SET last_seq = c.last_seq + 1, message_count = c.message_count + 1,
        updated_at = @created_at, last_activity_at = @created_at
    WHERE c.id = @conversation_id
      AND send_refusal(c.id, @sender_id, sqlc.narg(reply_to_seq)::bigint, @mentions::text[]) IS NULL
    RETURNING c.last_seq AS seq, c.message_count AS ordinal
), message AS (
    INSERT INTO messages (id, conversation_id, seq, ordinal, sender_id, client_msg_id, body, created_at, reply_to_seq, mentions)
    SELECT @id, @conversation_id, next.seq, next.ordinal, @sender_id, @client_msg_id, @body, @created_at,
           sqlc.narg(reply_to_seq)::bigint, COALESCE(@mentions::text[], '{}')
    FROM next
), sender AS (
    UPDATE members AS m SET own_unread = m.own_unread + 1
    FROM next
    WHERE m.conversation_id = @conversation_id AND m.user_id = @sender_id
), mentioned AS (
    INSERT INTO mentions (conversation_id, user_id, seq)
    SELECT @conversation_id, u.user_id, next.seq
    FROM next, unnest(@mentions::text[]) AS u(user_id)
    WHERE u.user_id <> @sender_id
), root AS (
    UPDATE messages AS r SET reply_count = r.reply_count + 1, last_reply_at = @created_at
    FROM next
    WHERE r.conversation_id = @conversation_id AND r.seq = sqlc.narg(reply_to_seq)::bigint
), event AS (
    INSERT INTO events (conversation_id, seq, type, actor_id, created_at, payload)
    SELECT @conversation_id, next.seq, 'message.created', @sender_id, @created_at,
           jsonb_set(jsonb_set(@payload::jsonb, '{seq}', to_jsonb(next.seq)), '{message,seq}', to_jsonb(next.seq))
    FROM next
)
INSERT INTO outbox (conversation_id, seq, trace_context)
SELECT @conversation_id, next.seq, sqlc.narg(trace_context)::text FROM next
RETURNING seq;

-- name: MessageSendGroup :many
-- A group of sends in one statement (see server/sendgroup.go), each stored as MessageSend stores
-- one alone. The sends are parallel arrays in arrival order; a conversation's
-- sends take its seqs in that order. mention_sends (1-based) and mention_users list the mentions;
-- a reply_to_seq of 0 and a trace_context of '' are none. One row per stored send, none for a
-- refused one: send_refusal then says why. A repeated client_msg_id fails the whole statement on
-- messages_client_msg_id_key, and the failed statement gives its seqs back.
-- Conversation rows are locked in id order before they are updated, so that groups written at
-- once, on this node or another, never deadlock.
WITH input AS (
    SELECT g.ord, (@ids::uuid[])[g.ord] AS id, (@conversation_ids::uuid[])[g.ord] AS conversation_id,
           (@sender_ids::text[])[g.ord] AS sender_id, (@client_msg_ids::text[])[g.ord] AS client_msg_id,
           (@bodies::text[])[g.ord] AS body, (@created_ats::timestamptz[])[g.ord] AS created_at,
           NULLIF((@reply_to_seqs::bigint[])[g.ord], 0) AS reply_to_seq,
           (@payloads::text[])[g.ord]::jsonb AS payload,
           NULLIF((@trace_contexts::text[])[g.ord], '') AS trace_context,
           ARRAY(SELECT (@mention_users::text[])[j] FROM generate_subscripts(@mention_sends::int[], 1) AS j
                 WHERE (@mention_sends::int[])[j] = g.ord)::text[] AS mentions
    FROM generate_subscripts(@ids::uuid[], 1) AS g(ord)
), allowed AS (
    SELECT input.*, row_number() OVER (PARTITION BY conversation_id ORDER BY ord) AS k
    FROM input
    WHERE send_refusal(conversation_id, sender_id, reply_to_seq, mentions) IS NULL
), counts AS (
    SELECT conversation_id, count(*) AS n, max(created_at) AS at FROM allowed GROUP BY conversation_id
), locked AS (
    SELECT c.id FROM conversations AS c
    WHERE c.id IN (SELECT conversation_id FROM counts)
    ORDER BY c.id
    FOR NO KEY UPDATE
), next AS (
    UPDATE conversations AS c
    SET last_seq = c.last_seq + counts.n, message_count = c.message_count + counts.n,
        updated_at = counts.at, last_activity_at = counts.at
    FROM counts, locked
    WHERE c.id = counts.conversation_id AND locked.id = counts.conversation_id
    RETURNING c.id, c.last_seq - counts.n AS seq0, c.message_count - counts.n AS ordinal0
), sent AS (
    SELECT allowed.*, next.seq0 + allowed.k AS seq, next.ordinal0 + allowed.k AS ordinal
    FROM allowed JOIN next ON next.id = allowed.conversation_id
), message AS (
    INSERT INTO messages (id, conversation_id, seq, ordinal, sender_id, client_msg_id, body, created_at, reply_to_seq, mentions)
    SELECT id, conversation_id, seq, ordinal, sender_id, client_msg_id, body, created_at, reply_to_seq, mentions
    FROM sent
), sender AS (
    UPDATE members AS m SET own_unread = m.own_unread + s.n
    FROM (SELECT conversation_id, sender_id, count(*) AS n FROM sent GROUP BY conversation_id, sender_id) AS s
    WHERE m.conversation_id = s.conversation_id AND m.user_id = s.sender_id
), mentioned AS (
    INSERT INTO mentions (conversation_id, user_id, seq)
    SELECT sent.conversation_id, u.user_id, sent.seq
    FROM sent, unnest(sent.mentions) AS u(user_id)
    WHERE u.user_id <> sent.sender_id
), root AS (
    UPDATE messages AS r SET reply_count = r.reply_count + x.n, last_reply_at = x.at
    FROM (SELECT conversation_id, reply_to_seq, count(*) AS n, max(created_at) AS at
          FROM sent WHERE reply_to_seq IS NOT NULL GROUP BY conversation_id, reply_to_seq) AS x
    WHERE r.conversation_id = x.conversation_id AND r.seq = x.reply_to_seq
), event AS (
    INSERT INTO events (conversation_id, seq, type, actor_id, created_at, payload)
    SELECT conversation_id, seq, 'message.created', sender_id, created_at,
           jsonb_set(jsonb_set(payload, '{seq}', to_jsonb(seq)), '{message,seq}', to_jsonb(seq))
    FROM sent
), queued AS (
    INSERT INTO outbox (conversation_id, seq, trace_context)
    SELECT conversation_id, seq, trace_context FROM sent
)
SELECT ord::int AS ord, seq::bigint AS seq FROM sent;

-- name: MessageSendRefusal :one
-- Why MessageSend stored nothing ('': it would store it now).
SELECT COALESCE(send_refusal(@conversation_id, @sender_id, sqlc.narg(reply_to_seq)::bigint, @mentions::text[]), '')::text AS refusal;

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
-- A deleted message keeps its place in history without its body and mentions.
UPDATE messages SET body = '', mentions = '{}', deleted_at = now()
WHERE conversation_id = @conversation_id AND seq = @seq
RETURNING *;

-- name: MessageUncountReply :exec
-- A deleted reply leaves its root's reply_count.
UPDATE messages SET reply_count = reply_count - 1
WHERE conversation_id = @conversation_id AND seq = @seq AND reply_count > 0;

-- name: MentionDeleteForMessage :exec
DELETE FROM mentions WHERE conversation_id = @conversation_id AND seq = @seq;

-- name: MessageListAfter :many
SELECT * FROM messages
WHERE conversation_id = @conversation_id AND seq > @after_seq
  AND (NOT @roots_only::boolean OR reply_to_seq IS NULL)
ORDER BY seq
LIMIT @max_rows;

-- name: MessageListBefore :many
-- Descending: the caller reverses the page.
SELECT * FROM messages
WHERE conversation_id = @conversation_id AND seq < @before_seq
  AND (NOT @roots_only::boolean OR reply_to_seq IS NULL)
ORDER BY seq DESC
LIMIT @max_rows;

-- name: MessageLatestPerConversation :many
-- The newest message that is not deleted of each listed conversation: one short backward index
-- scan per conversation, however long its history. (A lateral join has no other plan; a join of
-- ids to messages could get a generic plan, prepared while the table was small, that hashes it
-- whole.)
SELECT latest.*
FROM unnest(@conversation_ids::uuid[]) AS ids(id)
CROSS JOIN LATERAL (
    SELECT * FROM messages l
    WHERE l.conversation_id = ids.id AND l.deleted_at IS NULL
    ORDER BY l.seq DESC LIMIT 1
) latest;

-- name: MessageListReplies :many
-- The thread under a root, ascending.
SELECT * FROM messages
WHERE conversation_id = @conversation_id AND reply_to_seq = @root_seq AND seq > @after_seq
ORDER BY seq
LIMIT @max_rows;

-- name: MessageSearch :many
-- Full-text search over the messages of the user's conversations (or one of them), best match
-- first, newer first among equals, keyset-paged by (rank, id). The snippet marks matches with
-- \x01 and \x02, and has the body's < > & as \x03 \x04 \x05 (the headline would drop what
-- reads as a tag or an entity); those five are taken out of the body first, and the caller
-- escapes the text around them.
SELECT sqlc.embed(m), hit.rank::real AS rank,
       ts_headline('english', translate(m.body, E'<>&\x01\x02\x03\x04\x05', E'\x03\x04\x05'), hit.query,
                   E'StartSel=\x01, StopSel=\x02, MaxWords=30, MinWords=12')::text AS snippet
FROM (
    SELECT candidate.id, candidate.rank, candidate.query FROM (
        SELECT x.id, ts_rank(x.search, q.query) AS rank, q.query
        FROM messages x, websearch_to_tsquery('english', @query) AS q(query)
        WHERE x.conversation_id = ANY(ARRAY(
                SELECT mb.conversation_id FROM members mb
                WHERE mb.user_id = @user_id
                  AND (sqlc.narg(conversation_id)::uuid IS NULL OR mb.conversation_id = sqlc.narg(conversation_id)::uuid)))
          AND x.search @@ q.query
          AND x.deleted_at IS NULL
    ) candidate
    WHERE sqlc.narg(after_rank)::real IS NULL
       OR (candidate.rank, candidate.id) < (sqlc.narg(after_rank)::real, sqlc.narg(after_id)::uuid)
    ORDER BY candidate.rank DESC, candidate.id DESC
    LIMIT @max_rows
) hit
JOIN messages m ON m.id = hit.id
ORDER BY hit.rank DESC, hit.id DESC;

-- name: SearchQueryWords :one
-- How many words and operators q leaves to search for: 0 when it holds only operators or
-- words too common to be indexed.
SELECT numnode(websearch_to_tsquery('english', @query))::integer AS words;
