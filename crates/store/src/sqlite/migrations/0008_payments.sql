-- Payments: provider events received once, notifications about bookings, and the payment
-- reconciler's walk over lapsed unpaid holds.

-- Every verified provider event, by its id: a second delivery of one finds it here.
CREATE TABLE payment_events (
    id              TEXT    PRIMARY KEY NOT NULL, -- the provider's event id
    type            TEXT    NOT NULL,
    received_at_ms  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

ALTER TABLE notifications ADD COLUMN booking_id TEXT;

-- Unpaid holds by expiry (the reconciler's oldest-first walk).
CREATE INDEX bookings_pending_expiry ON bookings (hold_expires_ms)
    WHERE state = 'pending_payment';
