-- Gigs with a membership index, and influencers' availability rules.

-- One row per gig. `document` is the whole gig as JSON (the source of truth when reading);
-- `owner_id`, `status` and `version` are copies of its fields, kept for indexing and for the
-- compare-and-swap on `version`.
CREATE TABLE gigs (
    id        TEXT    PRIMARY KEY NOT NULL,
    owner_id  TEXT    NOT NULL,
    status    TEXT    NOT NULL, -- draft | published | archived
    version   INTEGER NOT NULL,
    document  TEXT    NOT NULL  -- JSON of the gig
) STRICT;

-- Keyset paging in id order: "gigs of this owner / with this status after id X".
CREATE INDEX gigs_owner_id ON gigs (owner_id, id);
CREATE INDEX gigs_status ON gigs (status, id);

-- Who appears in `members` of each gig (any membership state), rewritten with the gig in the
-- same transaction on every insert and update.
CREATE TABLE gig_members (
    gig_id   TEXT NOT NULL REFERENCES gigs (id),
    user_id  TEXT NOT NULL,
    PRIMARY KEY (gig_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX gig_members_user_id ON gig_members (user_id, gig_id);

-- The weekly windows of a user (JSON of WeeklyRules); no row means no windows.
CREATE TABLE availability_weekly (
    user_id  TEXT PRIMARY KEY NOT NULL,
    weekly   TEXT NOT NULL
) STRICT;

-- One row per overridden local date (`YYYY-MM-DD`) of a user; `value` is JSON of Override.
CREATE TABLE availability_overrides (
    user_id  TEXT NOT NULL,
    date     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (user_id, date)
) STRICT, WITHOUT ROWID;
