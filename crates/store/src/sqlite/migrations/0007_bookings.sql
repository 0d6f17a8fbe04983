-- Bookings with their members' claims on time, and delayed outbox messages.

-- How long after publishing a message is delivered (a hold's expiry); NULL: at once.
ALTER TABLE outbox ADD COLUMN deliver_after_ms INTEGER;

-- One row per booking. `document` is the whole booking as JSON (the source of truth when
-- reading); the other columns are copies of its fields, kept for indexing, for the final guard
-- and for the compare-and-swap on `version`. Instants are unix milliseconds, rounded outwards.
CREATE TABLE bookings (
    id               TEXT    PRIMARY KEY NOT NULL, -- UUIDv7: id order is creation order
    brand_id         TEXT    NOT NULL,
    gig_id           TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    start_ms         INTEGER NOT NULL,
    hold_expires_ms  INTEGER NOT NULL,
    -- Until when the booking takes its members' time: live at `now` while `live_until_ms > now`.
    live_until_ms    INTEGER NOT NULL,
    version          INTEGER NOT NULL,
    document         TEXT    NOT NULL  -- JSON of the booking
) STRICT;

-- A party's bookings newest first (keyset paging on id), the brand's side.
CREATE INDEX bookings_brand_id ON bookings (brand_id, id);
-- Every booking in one state newest first (administrators).
CREATE INDEX bookings_state ON bookings (state, id);
-- The gig's bookings starting in a day (the daily cap, the slot listing).
CREATE INDEX bookings_gig_id_start ON bookings (gig_id, start_ms);
-- The brand's unpaid holds still live: a hold leaves this index once it is no longer pending.
CREATE INDEX bookings_brand_id_holds ON bookings (brand_id, live_until_ms)
    WHERE state = 'pending_payment';

-- Each member's claim on their time, rewritten with the booking in the same transaction on
-- every insert and update.
CREATE TABLE booking_members (
    booking_id     TEXT    NOT NULL REFERENCES bookings (id),
    user_id        TEXT    NOT NULL,
    busy_start_ms  INTEGER NOT NULL,
    busy_end_ms    INTEGER NOT NULL,
    live_until_ms  INTEGER NOT NULL,
    PRIMARY KEY (booking_id, user_id)
) STRICT, WITHOUT ROWID;

-- Overlaps of one member's time: a span meets [from, to) when it ends after `from` and starts
-- before `to`. Bookings are made for the future and most of a member's claims lie in the past,
-- so the range walked is "ends after `from`" (the few claims ahead), not "starts before `to`"
-- (every claim ever made); the other columns make the index covering.
CREATE INDEX booking_members_busy ON booking_members
    (user_id, busy_end_ms, busy_start_ms, live_until_ms);
-- A party's bookings newest first (keyset paging on id), the members' side.
CREATE INDEX booking_members_user_id ON booking_members (user_id, booking_id);
