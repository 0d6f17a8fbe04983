-- Password resets become requests: stored when asked for, without a token; the mail worker mints
-- the token and stores only its hash (replacing an earlier one, so one token per request works).
-- The audit log of administrative actions.

CREATE TABLE password_reset_requests (
    id          TEXT    PRIMARY KEY NOT NULL,
    user_id     TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    -- NULL until the token is minted; SQLite lets UNIQUE columns hold several NULLs.
    token_hash  TEXT    UNIQUE,
    used_at     INTEGER
) STRICT;

CREATE INDEX password_reset_requests_user_id ON password_reset_requests (user_id);

-- Links mailed before the change keep working: their hash is their id.
INSERT INTO password_reset_requests (id, user_id, expires_at, token_hash, used_at)
    SELECT token_hash, user_id, expires_at, token_hash, used_at FROM password_resets;

DROP TABLE password_resets;

CREATE TABLE audit_log (
    id        TEXT    PRIMARY KEY NOT NULL, -- UUIDv7: id order is time order
    actor_id  TEXT,                         -- NULL: the operator at the command line
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    details   TEXT    NOT NULL              -- JSON object
) STRICT;
