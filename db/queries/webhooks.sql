-- name: WebhookEnqueue :exec
-- Handed off by the dispatcher in the transaction that deletes the events' outbox rows: a webhook
-- for each published event the operator wants.
INSERT INTO webhook_deliveries (id, ordering_key, conversation_id, seq, shard, type, body)
SELECT h.id, h.conversation_id::text, h.conversation_id, h.seq, h.shard, h.type, h.body
FROM (SELECT unnest(@ids::text[]) AS id, unnest(@conversation_ids::uuid[]) AS conversation_id,
             unnest(@seqs::bigint[]) AS seq, unnest(@shards::smallint[]) AS shard,
             unnest(@types::text[]) AS type, unnest(@bodies::text[]) AS body) h
ON CONFLICT (id) DO NOTHING;

-- name: NotifyJobEnqueue :exec
-- Handed off by the dispatcher: new messages, each decided once its due time has passed.
INSERT INTO notify_jobs (conversation_id, seq, shard, due_at)
SELECT unnest(@conversation_ids::uuid[]), unnest(@seqs::bigint[]), unnest(@shards::smallint[]),
       unnest(@due::timestamptz[])
ON CONFLICT DO NOTHING;

-- name: WebhookBatch :many
-- The next webhooks to send from the given shards: for up to max_keys ordering keys whose first
-- row is due, that row and up to per_key rows after it, in seq order. An event whose
-- conversation still has an earlier event in the outbox (claimed by another node's dispatcher,
-- not yet committed) waits, head or not: its conversation's webhooks go out in seq order.
-- The heads are found by skipping through the index key by key, shard by shard: a probe per
-- ordering key rather than a sort of every row waiting, which after an outage are many more.
WITH RECURSIVE heads AS (
    SELECT f.* FROM unnest(@shards::smallint[]) AS s(shard)
    CROSS JOIN LATERAL (
        SELECT d.shard, d.ordering_key, d.conversation_id, d.seq, d.type, d.next_attempt_at
        FROM webhook_deliveries d WHERE d.shard = s.shard
        ORDER BY d.ordering_key, d.seq LIMIT 1
    ) f
    UNION ALL
    SELECT n.* FROM heads h
    CROSS JOIN LATERAL (
        SELECT d.shard, d.ordering_key, d.conversation_id, d.seq, d.type, d.next_attempt_at
        FROM webhook_deliveries d WHERE d.shard = h.shard AND d.ordering_key > h.ordering_key
        ORDER BY d.ordering_key, d.seq LIMIT 1
    ) n
), unpublished AS (
    SELECT o.conversation_id, min(o.seq) AS seq FROM outbox o GROUP BY o.conversation_id
), ready AS (
    -- before: the conversation's earliest event still in the outbox, which none of its later
    -- webhooks may overtake (a notification's key is its own: nothing holds it back).
    SELECT h.ordering_key, h.shard,
           CASE WHEN h.type = 'notification.requested' THEN NULL ELSE u.seq END AS before
    FROM heads h
    LEFT JOIN unpublished u ON u.conversation_id = h.conversation_id
    WHERE h.next_attempt_at <= now()
      AND (h.type = 'notification.requested' OR u.seq IS NULL OR u.seq > h.seq)
    ORDER BY h.next_attempt_at
    LIMIT @max_keys
)
SELECT w.id, w.ordering_key, w.shard, w.seq, w.type, w.body, w.created_at, w.attempts
FROM ready r
CROSS JOIN LATERAL (
    SELECT d.id, d.ordering_key, d.shard, d.seq, d.type, d.body, d.created_at, d.attempts
    FROM webhook_deliveries d
    WHERE d.shard = r.shard AND d.ordering_key = r.ordering_key
      AND (r.before IS NULL OR d.seq < r.before)
    ORDER BY d.seq
    LIMIT @per_key
) w
ORDER BY w.ordering_key, w.seq;

-- name: WebhookDelete :exec
-- Webhooks the receiver acknowledged.
DELETE FROM webhook_deliveries WHERE id = ANY(@ids::text[]);

-- name: WebhookRetryLater :exec
-- Webhooks that failed: tried again after their backoff, counted from the database's clock (as
-- next_attempt_at is compared with it) so the nodes' clocks do not matter.
UPDATE webhook_deliveries AS d
SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => f.delay_seconds), last_error = f.error
FROM (SELECT unnest(@ids::text[]) AS id, unnest(@delay_seconds::float8[]) AS delay_seconds,
             unnest(@errors::text[]) AS error) f
WHERE d.id = f.id;

-- name: WebhookDeadLetterExpired :execrows
-- Of the given webhooks (which just failed), those created more than retry_seconds ago move to
-- the dead letters, so the rows after them in their ordering key go on.
WITH moved AS (
    DELETE FROM webhook_deliveries
    WHERE id = ANY(sqlc.arg(ids)::text[])
      AND created_at <= now() - make_interval(secs => sqlc.arg(retry_seconds)::float8)
    RETURNING id, ordering_key, conversation_id, seq, shard, type, body, created_at, attempts, last_error
)
INSERT INTO webhook_dead_letters (id, ordering_key, conversation_id, seq, shard, type, body, created_at, attempts, last_error)
SELECT id, ordering_key, conversation_id, seq, shard, type, body, created_at, attempts, last_error FROM moved
ON CONFLICT (id) DO UPDATE SET attempts = EXCLUDED.attempts, last_error = EXCLUDED.last_error, dead_at = now();

-- name: WebhookDeadLetter :exec
-- Webhooks that failed for the whole retry period move to the dead letters.
WITH moved AS (
    DELETE FROM webhook_deliveries WHERE id = ANY(@ids::text[])
    RETURNING id, ordering_key, conversation_id, seq, shard, type, body, created_at, attempts, last_error
)
INSERT INTO webhook_dead_letters (id, ordering_key, conversation_id, seq, shard, type, body, created_at, attempts, last_error)
SELECT id, ordering_key, conversation_id, seq, shard, type, body, created_at, attempts, last_error FROM moved
ON CONFLICT (id) DO UPDATE SET attempts = EXCLUDED.attempts, last_error = EXCLUDED.last_error, dead_at = now();

-- name: WebhookDeadLetterList :many
-- Oldest first.
SELECT id, type, attempts, last_error, created_at, dead_at
FROM webhook_dead_letters
ORDER BY dead_at, id
LIMIT @max_rows;

-- name: WebhookDeadLetterRetry :execrows
-- Moves dead letters (all of them when ids is empty) back to be sent, with a new retry period.
WITH moved AS (
    DELETE FROM webhook_dead_letters
    WHERE COALESCE(cardinality(@ids::text[]), 0) = 0 OR id = ANY(@ids::text[])
    RETURNING id, ordering_key, conversation_id, seq, shard, type, body
)
INSERT INTO webhook_deliveries (id, ordering_key, conversation_id, seq, shard, type, body)
SELECT id, ordering_key, conversation_id, seq, shard, type, body FROM moved
ON CONFLICT (id) DO NOTHING;

-- name: WebhookBacklog :one
SELECT (SELECT count(*) FROM webhook_deliveries)::bigint AS pending,
       COALESCE((SELECT EXTRACT(EPOCH FROM now() - min(created_at)) FROM webhook_deliveries), 0)::float8 AS oldest_age_seconds,
       (SELECT count(*) FROM webhook_dead_letters)::bigint AS dead_letters,
       (SELECT count(*) FROM notify_jobs)::bigint AS notify_jobs;

-- name: WebhookNodeBeat :one
-- Records that the node is alive for ttl_seconds more and counts the live nodes, itself included.
WITH beat AS (
    INSERT INTO webhook_nodes (node, seen_until)
    VALUES (sqlc.arg(self)::text, now() + make_interval(secs => sqlc.arg(ttl_seconds)::float8))
    ON CONFLICT (node) DO UPDATE SET seen_until = EXCLUDED.seen_until
)
SELECT (count(*) + 1)::integer AS nodes FROM webhook_nodes n
WHERE n.seen_until > now() AND n.node <> sqlc.arg(self)::text;

-- name: WebhookNodeLeave :exec
-- A node stopping cleanly is gone at once, so the others take its shards without waiting.
DELETE FROM webhook_nodes WHERE node = sqlc.arg(self)::text;

-- name: WebhookNodesForget :exec
-- Nodes not seen for a day are gone.
DELETE FROM webhook_nodes WHERE seen_until < now() - interval '1 day';

-- name: WebhookLeasesTake :many
-- Renews the node's leases and takes lapsed or free ones, its own first, up to fair shards in
-- all; returns the shards it holds now.
WITH candidates AS (
    SELECT shard FROM webhook_leases
    WHERE owner = sqlc.arg(self)::text OR owner IS NULL OR lease_until <= now()
    ORDER BY COALESCE(owner = sqlc.arg(self)::text AND lease_until > now(), false) DESC, shard
    LIMIT sqlc.arg(fair)::integer
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_leases AS l
SET owner = sqlc.arg(self)::text, lease_until = now() + make_interval(secs => sqlc.arg(ttl_seconds)::float8)
WHERE l.shard IN (SELECT shard FROM candidates)
RETURNING l.shard;

-- name: WebhookLeasesRelease :exec
-- Gives up the node's leases other than keep, for other nodes to take at once.
UPDATE webhook_leases SET owner = NULL, lease_until = '-infinity'
WHERE owner = sqlc.arg(self)::text AND NOT (shard = ANY(sqlc.arg(keep)::smallint[]));

-- name: WebhookRetryNow :execrows
-- The receiver is back after an outage: webhooks of the given shards waiting out a backoff are
-- due now, so the backlog drains at once rather than key by key as each backoff ends.
UPDATE webhook_deliveries SET next_attempt_at = now()
WHERE shard = ANY(@shards::smallint[]) AND next_attempt_at > now();

-- name: WebhookProbe :execrows
-- While the receiver seems down, the failed webhook (a key's head) due soonest is due now: one
-- POST that finds out whether it is back, rather than waiting for the first backoff to end.
UPDATE webhook_deliveries SET next_attempt_at = now()
WHERE id = (
    SELECT d.id FROM webhook_deliveries d
    WHERE d.shard = ANY(@shards::smallint[]) AND d.attempts > 0 AND d.next_attempt_at > now()
    ORDER BY d.next_attempt_at LIMIT 1
);
