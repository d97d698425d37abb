-- +goose Up

-- Threads, mentions, reactions, search, blocks and mute, and unread counts that cost the same
-- however far behind a reader is.
--
-- Unread counts: a member's unread count is
--   conversations.message_count - members.read_ordinal - members.own_unread
--   - (deleted messages of others after last_read_seq),
-- where messages.ordinal numbers a conversation's messages 1, 2, 3… in seq order, read_ordinal is
-- the ordinal of the last message at or before last_read_seq, and own_unread counts the member's
-- own messages after it. A send updates two rows it already touches or owns (the conversation and
-- the sender's membership), never one row per member; deleted messages are few and found by a
-- partial index.

ALTER TABLE conversations
    ADD COLUMN message_count bigint NOT NULL DEFAULT 0 CHECK (message_count >= 0);

ALTER TABLE members
    ADD COLUMN read_ordinal bigint  NOT NULL DEFAULT 0 CHECK (read_ordinal >= 0),
    ADD COLUMN own_unread   bigint  NOT NULL DEFAULT 0 CHECK (own_unread >= 0),
    ADD COLUMN muted        boolean NOT NULL DEFAULT false;

ALTER TABLE messages
    ADD COLUMN ordinal       bigint,
    ADD COLUMN reply_to_seq  bigint CHECK (reply_to_seq > 0),
    ADD COLUMN reply_count   integer NOT NULL DEFAULT 0 CHECK (reply_count >= 0),
    ADD COLUMN last_reply_at timestamptz,
    ADD COLUMN mentions      text[] NOT NULL DEFAULT '{}';

-- Counters for what was stored before this migration.
UPDATE messages m SET ordinal = n.ordinal
FROM (SELECT id, row_number() OVER (PARTITION BY conversation_id ORDER BY seq) AS ordinal FROM messages) n
WHERE m.id = n.id;
ALTER TABLE messages ALTER COLUMN ordinal SET NOT NULL;
UPDATE conversations c SET message_count = (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id);
UPDATE members mb SET
    read_ordinal = (SELECT count(*) FROM messages m WHERE m.conversation_id = mb.conversation_id AND m.seq <= mb.last_read_seq),
    own_unread   = (SELECT count(*) FROM messages m WHERE m.conversation_id = mb.conversation_id AND m.sender_id = mb.user_id AND m.seq > mb.last_read_seq);
-- Stored events carry the fields every message has now.
UPDATE events SET payload = jsonb_set(payload, '{message}',
    '{"reply_count": 0, "mentions": [], "reactions": []}'::jsonb || (payload -> 'message'))
WHERE payload ? 'message';

-- A thread's replies in order.
CREATE INDEX messages_replies_idx ON messages (conversation_id, reply_to_seq, seq) WHERE reply_to_seq IS NOT NULL;
-- Deleted messages after a read position (unread counts).
CREATE INDEX messages_deleted_idx ON messages (conversation_id, seq) WHERE deleted_at IS NOT NULL;
-- A member's own messages after a read position (marking read, joining again).
CREATE INDEX messages_sender_idx ON messages (conversation_id, sender_id, seq);
-- Full-text search. English stems words and leaves out the most common ones, which keeps a
-- search for "the" from reading half the table; a tombstone's empty body matches nothing, and an
-- edit re-indexes itself. The vector is stored: ranking reads it instead of parsing each
-- candidate's body again (a third of the time of a search for a frequent word).
ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED;
CREATE INDEX messages_search_idx ON messages USING gin (search);

-- Who is mentioned where, for the mentioned (the sender's own mention is not stored: their own
-- message is never unread). Rows go when the message is deleted.
CREATE TABLE mentions (
    conversation_id uuid   NOT NULL,
    user_id         text   NOT NULL,
    seq             bigint NOT NULL,
    PRIMARY KEY (conversation_id, user_id, seq)
);

CREATE TABLE reactions (
    conversation_id uuid        NOT NULL,
    message_seq     bigint      NOT NULL,
    emoji           text        NOT NULL CHECK (octet_length(emoji) BETWEEN 1 AND 64),
    user_id         text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, message_seq, emoji, user_id),
    FOREIGN KEY (conversation_id, message_seq) REFERENCES messages (conversation_id, seq) ON DELETE CASCADE
);

-- Who reacted with an emoji, oldest first.
CREATE INDEX reactions_order_idx ON reactions (conversation_id, message_seq, emoji, created_at, user_id);

CREATE TABLE blocks (
    user_id    text        NOT NULL,
    blocked_id text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, blocked_id),
    CHECK (user_id <> blocked_id)
);

CREATE INDEX blocks_blocked_idx ON blocks (blocked_id, user_id);

-- Why sender may not send this message into conv now, or NULL when they may. MessageSend stores a
-- message only when it is NULL; after a refusal the same function says why. PL/pgSQL, not SQL: a
-- SQL function with subqueries is never inlined and plans them again on every send, while
-- PL/pgSQL keeps their plans for the session.
-- +goose StatementBegin
CREATE FUNCTION send_refusal(conv uuid, sender text, reply_to bigint, mentioned text[]) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM members WHERE conversation_id = conv AND user_id = sender) THEN
        RETURN 'not_member';
    END IF;
    IF EXISTS (
        SELECT 1 FROM conversations c
        JOIN members o ON o.conversation_id = c.id AND o.user_id <> sender
        JOIN blocks b ON (b.user_id = sender AND b.blocked_id = o.user_id)
                      OR (b.user_id = o.user_id AND b.blocked_id = sender)
        WHERE c.id = conv AND c.type = 'direct') THEN
        RETURN 'blocked';
    END IF;
    IF reply_to IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM messages r
        WHERE r.conversation_id = conv AND r.seq = reply_to
          AND r.reply_to_seq IS NULL AND r.deleted_at IS NULL) THEN
        RETURN 'invalid_reply_target';
    END IF;
    IF EXISTS (
        SELECT 1 FROM unnest(mentioned) AS x(user_id)
        WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = conv AND m.user_id = x.user_id)) THEN
        RETURN 'invalid_mention';
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION send_refusal(uuid, text, bigint, text[]);
DROP TABLE blocks;
DROP TABLE reactions;
DROP TABLE mentions;
DROP INDEX messages_search_idx;
ALTER TABLE messages DROP COLUMN search;
DROP INDEX messages_sender_idx;
DROP INDEX messages_deleted_idx;
DROP INDEX messages_replies_idx;
UPDATE events SET payload = jsonb_set(payload, '{message}',
    (payload -> 'message') - 'reply_count' - 'mentions' - 'reactions' - 'reply_to_seq' - 'last_reply_at')
WHERE payload ? 'message';
ALTER TABLE messages
    DROP COLUMN mentions, DROP COLUMN last_reply_at, DROP COLUMN reply_count,
    DROP COLUMN reply_to_seq, DROP COLUMN ordinal;
ALTER TABLE members DROP COLUMN muted, DROP COLUMN own_unread, DROP COLUMN read_ordinal;
ALTER TABLE conversations DROP COLUMN message_count;
