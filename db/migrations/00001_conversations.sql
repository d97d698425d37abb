-- +goose Up

-- A conversation's every change takes the next seq (last_seq + 1) while the row is locked, so seqs
-- of one conversation are 1, 2, 3… with no gaps. direct_key makes a direct conversation between
-- the same two users unique.
CREATE TABLE conversations (
    id               uuid        PRIMARY KEY,
    type             text        NOT NULL CHECK (type IN ('direct', 'group')),
    title            text        CHECK (char_length(title) BETWEEN 1 AND 200),
    direct_key       text        UNIQUE,
    created_by       text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    last_seq         bigint      NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    member_count     integer     NOT NULL DEFAULT 0 CHECK (member_count >= 0),
    CHECK ((type = 'direct') = (direct_key IS NOT NULL))
);

-- The conversation list pages by (last_activity_at, id) descending.
CREATE INDEX conversations_activity_idx ON conversations (last_activity_at DESC, id DESC);

CREATE TABLE members (
    conversation_id uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         text        NOT NULL,
    role            text        NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at       timestamptz NOT NULL DEFAULT now(),
    last_read_seq   bigint      NOT NULL DEFAULT 0 CHECK (last_read_seq >= 0),
    PRIMARY KEY (conversation_id, user_id)
);

CREATE INDEX members_user_idx ON members (user_id, conversation_id);

CREATE TABLE messages (
    id              uuid        PRIMARY KEY,
    conversation_id uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             bigint      NOT NULL CHECK (seq > 0),
    sender_id       text        NOT NULL,
    client_msg_id   text        NOT NULL CHECK (char_length(client_msg_id) BETWEEN 1 AND 64),
    body            text        NOT NULL CHECK (char_length(body) <= 4000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    edited_at       timestamptz,
    deleted_at      timestamptz,
    UNIQUE (conversation_id, seq),
    -- Retrying a send never duplicates it.
    CONSTRAINT messages_client_msg_id_key UNIQUE (conversation_id, sender_id, client_msg_id)
);

-- The durable event log: one row per seq of a conversation. payload is the API's Event object.
CREATE TABLE events (
    conversation_id uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             bigint      NOT NULL CHECK (seq > 0),
    type            text        NOT NULL,
    actor_id        text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    payload         jsonb       NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

-- Events waiting to be published. Written in the same transaction as the event; the dispatcher
-- claims rows with FOR UPDATE SKIP LOCKED, publishes them and deletes them.
CREATE TABLE outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id uuid        NOT NULL,
    seq             bigint      NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (conversation_id, seq) REFERENCES events (conversation_id, seq) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE outbox;
DROP TABLE events;
DROP TABLE messages;
DROP TABLE members;
DROP TABLE conversations;
