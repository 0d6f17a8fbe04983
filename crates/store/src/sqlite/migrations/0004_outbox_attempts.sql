-- Messages the broker refuses (no queue bound, nacked). `attempts` counts the refusals and
-- `last_error` keeps the last one's reason; between refusals `lease_until` holds the message
-- back with `claim_token` NULL. After too many a message is parked: `parked_at` is set, and no
-- claim takes it until an operator retries it. Parked messages are few; the partial index lists
-- them without walking the outbox.
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN parked_at INTEGER;

CREATE INDEX outbox_parked ON outbox (parked_at, id) WHERE parked_at IS NOT NULL;
