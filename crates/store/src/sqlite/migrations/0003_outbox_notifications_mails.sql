-- The transactional outbox, users' notifications and records of outgoing mail.

-- Messages written in the same transaction as the state change that emitted them, deleted once
-- the broker confirmed them. A message is held by the claim `claim_token` until `lease_until`;
-- both are NULL when nobody holds it. Every access goes by id: claims walk the primary key in
-- order (the held messages are the few oldest), completing and releasing look ids up.
CREATE TABLE outbox (
    id              TEXT    PRIMARY KEY NOT NULL, -- UUIDv7: id order is creation order
    routing_key     TEXT    NOT NULL,
    correlation_id  TEXT,
    payload         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    claim_token     TEXT,
    lease_until     INTEGER
) STRICT;

CREATE TABLE notifications (
    id          TEXT    PRIMARY KEY NOT NULL, -- time-ordered: id order is event order
    user_id     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    gig_id      TEXT,
    created_at  INTEGER NOT NULL,
    read_at     INTEGER,
    pushed_at   INTEGER
) STRICT;

-- A user's notifications newest first, all or only the unread ones (keyset paging on id).
CREATE INDEX notifications_user_id ON notifications (user_id, id);
CREATE INDEX notifications_user_id_unread ON notifications (user_id, id) WHERE read_at IS NULL;

CREATE TABLE mails (
    id          TEXT    PRIMARY KEY NOT NULL,
    recipient   TEXT    NOT NULL,
    template    TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    status      TEXT    NOT NULL, -- queued | sent | failed
    attempts    INTEGER NOT NULL,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    -- While set and in the future, one sending attempt holds the mail.
    attempt_until INTEGER
) STRICT;
