-- Users with their profiles, refresh-token families and password reset tokens.
-- Timestamps are INTEGER unix milliseconds (UTC); lists are JSON text.

CREATE TABLE users (
    id             TEXT    PRIMARY KEY NOT NULL,
    -- Normalized (trimmed, lower-cased) by the domain, so this is case-insensitive uniqueness.
    email          TEXT    NOT NULL UNIQUE,
    password_hash  TEXT    NOT NULL,
    role           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    token_version  INTEGER NOT NULL,
    display_name   TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE influencer_profiles (
    user_id          TEXT    PRIMARY KEY NOT NULL REFERENCES users (id),
    display_name     TEXT    NOT NULL,
    bio              TEXT    NOT NULL,
    niches           TEXT    NOT NULL, -- JSON array of strings
    languages        TEXT    NOT NULL, -- JSON array of BCP 47 tags
    location         TEXT,
    time_zone        TEXT    NOT NULL,
    social_accounts  TEXT    NOT NULL, -- JSON array of {platform, handle, followers}
    rating           REAL,
    review_count     INTEGER NOT NULL
) STRICT;

CREATE TABLE brand_profiles (
    user_id       TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    company_name  TEXT NOT NULL,
    industry      TEXT NOT NULL,
    website       TEXT,
    contact_name  TEXT
) STRICT;

CREATE TABLE refresh_tokens (
    token_hash   TEXT    PRIMARY KEY NOT NULL,
    family_id    TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    issued_at    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    consumed_at  INTEGER,
    revoked_at   INTEGER
) STRICT;

CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);

CREATE TABLE password_resets (
    token_hash  TEXT    PRIMARY KEY NOT NULL,
    user_id     TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
) STRICT;

CREATE INDEX password_resets_user_id ON password_resets (user_id);
