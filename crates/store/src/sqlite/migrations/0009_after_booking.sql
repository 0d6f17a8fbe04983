-- After the booking: what the sweep has to do and when, the ledger, reviews, ratings and payout
-- accounts.

-- Booking::due_at in unix milliseconds: NULL when nothing is due.
ALTER TABLE bookings ADD COLUMN due_ms INTEGER;
CREATE INDEX bookings_due ON bookings (due_ms, id) WHERE due_ms IS NOT NULL;

-- Every money movement, written once by its key, never changed.
CREATE TABLE ledger_entries (
    key                  TEXT    PRIMARY KEY NOT NULL,
    account              TEXT    NOT NULL,
    seq                  INTEGER NOT NULL, -- 1, 2, 3, … per account
    booking_id           TEXT    NOT NULL,
    kind                 TEXT    NOT NULL,
    amount_minor         INTEGER NOT NULL,
    currency             TEXT    NOT NULL,
    balance_after_minor  INTEGER NOT NULL,
    at_ms                INTEGER NOT NULL,
    available_at_ms      INTEGER NOT NULL,
    UNIQUE (account, seq)
) STRICT;
CREATE INDEX ledger_entries_booking ON ledger_entries (booking_id);
-- Earnings by payout date: what is pending is the few past `now`, not the whole account.
CREATE INDEX ledger_entries_pending ON ledger_entries (account, available_at_ms)
    WHERE kind = 'earning';

-- Each account's running balance per currency.
CREATE TABLE ledger_balances (
    account        TEXT    NOT NULL,
    currency       TEXT    NOT NULL,
    balance_minor  INTEGER NOT NULL,
    PRIMARY KEY (account, currency)
) STRICT, WITHOUT ROWID;

CREATE TABLE reviews (
    id          TEXT    PRIMARY KEY NOT NULL, -- the booking's id
    version     INTEGER NOT NULL,
    document    TEXT    NOT NULL
) STRICT;
-- The reviews counted in each member's rating.
CREATE TABLE review_members (
    user_id     TEXT NOT NULL,
    booking_id  TEXT NOT NULL,
    PRIMARY KEY (user_id, booking_id)
) STRICT, WITHOUT ROWID;

ALTER TABLE influencer_profiles ADD COLUMN rating_sum INTEGER NOT NULL DEFAULT 0;
ALTER TABLE influencer_profiles ADD COLUMN payout_account_id TEXT;
