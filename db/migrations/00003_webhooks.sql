-- +goose Up

-- Webhooks waiting to be sent. The dispatcher writes a row for each published event in the
-- transaction that deletes its outbox row; the notification decider writes a row for each
-- notification.requested. A row is deleted once the receiver acknowledged it (2xx).
--
-- id is the webhook-id: <conversation_id>:<seq> for an event, <conversation_id>:<seq>:<user_id>
-- for a notification, so a row can be written only once. Rows of one ordering_key are sent in seq
-- order, one at a time: an event's key is its conversation, a notification's its own id. body is
-- the exact JSON signed and sent. shard picks the node that sends the row (webhook_leases).
CREATE TABLE webhook_deliveries (
    id              text        PRIMARY KEY,
    ordering_key    text        NOT NULL,
    conversation_id uuid        NOT NULL,
    seq             bigint      NOT NULL,
    shard           smallint    NOT NULL,
    type            text        NOT NULL,
    body            text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text
);

-- The sender reads each key's head, then its rows in order, shard by shard.
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (shard, ordering_key, seq);

-- Webhooks that failed for the whole retry period. `parley webhooks list` shows them and
-- `parley webhooks retry` moves them back to webhook_deliveries.
CREATE TABLE webhook_dead_letters (
    id              text        PRIMARY KEY,
    ordering_key    text        NOT NULL,
    conversation_id uuid        NOT NULL,
    seq             bigint      NOT NULL,
    shard           smallint    NOT NULL,
    type            text        NOT NULL,
    body            text        NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        integer     NOT NULL,
    last_error      text,
    dead_at         timestamptz NOT NULL DEFAULT now()
);

-- message.created events whose recipients are decided once due_at (commit + --notify-delay) has
-- passed: who did not receive it gets a notification.requested webhook. Deleted in the
-- transaction that writes those webhooks, so each is decided once.
CREATE TABLE notify_jobs (
    conversation_id uuid        NOT NULL,
    seq             bigint      NOT NULL,
    shard           smallint    NOT NULL,
    due_at          timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

CREATE INDEX notify_jobs_due_idx ON notify_jobs (shard, due_at);

-- Which node sends the webhooks and decides the notifications of each shard: a node holds a
-- lease for a while and renews it; a dead node's leases lapse and live nodes take them.
CREATE TABLE webhook_leases (
    shard       smallint    PRIMARY KEY,
    owner       text,
    lease_until timestamptz NOT NULL DEFAULT '-infinity'
);

INSERT INTO webhook_leases (shard) SELECT generate_series(0, 15);

-- The nodes sending webhooks, so each can take its fair share of the shards.
CREATE TABLE webhook_nodes (
    node       text        PRIMARY KEY,
    seen_until timestamptz NOT NULL
);

-- +goose Down
DROP TABLE webhook_nodes;
DROP TABLE webhook_leases;
DROP TABLE notify_jobs;
DROP TABLE webhook_dead_letters;
DROP TABLE webhook_deliveries;
