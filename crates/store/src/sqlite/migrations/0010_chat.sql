-- Chat: conversations, each party's read mark, and the numbered messages.

-- One row per conversation. `key` makes opening idempotent (one conversation per subject).
-- Instants are unix milliseconds.
CREATE TABLE conversations (
    id                TEXT    PRIMARY KEY NOT NULL,
    key               TEXT    NOT NULL UNIQUE,
    subject           TEXT    NOT NULL, -- JSON of the subject
    brand_id          TEXT    NOT NULL,
    member_ids        TEXT    NOT NULL, -- JSON array, the influencers in their stable order
    created_at        INTEGER NOT NULL,
    last_activity_at  INTEGER NOT NULL,
    last_seq          INTEGER NOT NULL, -- the number of the last message, 0: none
    last_message      TEXT              -- JSON of the last message's preview, NULL: none
) STRICT;

-- One row per party. `last_activity_at` is a copy of the conversation's, rewritten with it by
-- every message, so a user's conversation list (newest activity first, keyset paged) walks
-- `conversation_participants_user` in order and stops after one page, however many
-- conversations the user has; joining on `conversations` to order by its column would read and
-- sort all of them for every page. A conversation has a handful of parties, so the copy costs a
-- few row updates per message.
CREATE TABLE conversation_participants (
    conversation_id   TEXT    NOT NULL REFERENCES conversations (id),
    user_id           TEXT    NOT NULL,
    position          INTEGER NOT NULL, -- 0: the brand, then the members in order
    read_seq          INTEGER NOT NULL, -- the last message this party read, 0: none
    last_activity_at  INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX conversation_participants_user
    ON conversation_participants (user_id, last_activity_at DESC, conversation_id DESC);

-- Messages numbered 1, 2, 3, … per conversation; a sender's client id is stored once per
-- conversation, so a retried send finds its first copy.
CREATE TABLE messages (
    conversation_id  TEXT    NOT NULL REFERENCES conversations (id),
    seq              INTEGER NOT NULL,
    sender_id        TEXT    NOT NULL,
    client_id        TEXT    NOT NULL,
    text             TEXT    NOT NULL,
    sent_at          INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    UNIQUE (conversation_id, sender_id, client_id)
) STRICT, WITHOUT ROWID;
