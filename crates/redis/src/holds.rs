//! Slot holds: while a brand pays, the booked influencers' busy time is held in Redis, where
//! every core-api process sees it at once (DESIGN §5). The store's claim stays the final guard;
//! a hold is the fast one that keeps two brands from paying for the same time.
//!
//! - **Cells.** Time is cut into [`HOLD_CELL`](noillin_domain::booking::HOLD_CELL) cells
//!   ([`hold_cells`]). A hold touches one key per (member, cell) its span meets:
//!   `{namespace}:hold:{<member>}:<cell index>`, a hash whose field is the hold's token and whose
//!   value is `<start_ms>,<end_ms>,<expires_ms>`.
//! - **Exactness.** Gigs with different grids, durations and buffers meet on the same cells, and
//!   sharing a cell does not mean overlapping: inside each cell the script compares the exact
//!   half-open spans, so `[10:00, 10:20)` and `[10:20, 10:40)` are both taken.
//! - **TTL.** Each field carries its own expiry, checked against the clock of Redis itself
//!   (`TIME`), so a lapsed hold frees its time even while its key lives on for another hold with
//!   a longer TTL. Lapsed fields are deleted whenever a take reads them; a key expires no sooner
//!   than the longest hold it still carries.
//! - **Release.** Compare-and-delete by token: only the holder can release, and another hold's
//!   field in the same key is never touched. Releasing a hold that lapsed or was never taken is
//!   harmless.
//! - **Fail closed.** Every failure to reach Redis is an [`Error`]; callers answer it with 503
//!   and `Retry-After`, never by booking without a hold.
//! - **Groups.** One take covers every member of a group gig, all-or-nothing: one Lua script
//!   checks every key before it writes any. On a Redis Cluster one script cannot span slots; the
//!   braces around the member id are a hash tag, so each member's keys live on one slot. There a
//!   group hold is taken one member at a time, in sorted member order, each member's keys in one
//!   script; on a conflict the members already taken are released by token. Because every group
//!   hold acquires its members in the same order, two of them never each keep half of what the
//!   other needs. Only a single Redis runs here, so one script takes every member's keys.

use std::{sync::LazyLock, time::Duration};

use jiff::Timestamp;
use noillin_domain::{
    availability::Interval,
    booking::{Booking, hold_cells},
};
use redis::Script;

use crate::{Error, Redis, ttl_millis};

/// A hold of `[start, end)` (buffers included) on every member's time, for `ttl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotHold {
    /// The influencers whose time is held: one, or every member of a group gig.
    pub members: Vec<String>,
    /// Where the busy span begins (the slot's start minus its buffer before).
    pub start: Timestamp,
    /// Where the busy span ends, exclusive (the slot's end plus its buffer after).
    pub end: Timestamp,
    /// A random secret naming this hold: what re-takes and releases present.
    pub token: String,
    /// How long the hold lives unless released: the booking's payment window.
    pub ttl: Duration,
}

/// What a take found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldOutcome {
    /// Every member's span is held by this hold's token.
    Taken,
    /// Another live hold overlaps the span of at least one member; nothing was taken.
    Conflict,
}

/// Takes a hold on every key, or on none. KEYS: the hold's keys, sorted; ARGV: token, start ms,
/// end ms, TTL ms. A field of another token whose value cannot be read counts as a live hold
/// over all time (fail closed); its key still expires. Returns 1 when taken, 0 on a conflict.
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local token = ARGV[1]
local start_ms = tonumber(ARGV[2])
local end_ms = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
for _, key in ipairs(KEYS) do
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local holder = fields[i]
    local s, e, x = string.match(fields[i + 1], '^(%-?%d+),(%-?%d+),(%-?%d+)$')
    if x == nil then
      if holder ~= token then return 0 end
      redis.call('HDEL', key, holder)
    elseif tonumber(x) <= now then
      redis.call('HDEL', key, holder)
    elseif holder ~= token and tonumber(s) < end_ms and start_ms < tonumber(e) then
      return 0
    end
  end
end
local value = ARGV[2] .. ',' .. ARGV[3] .. ',' .. string.format('%.0f', now + ttl)
for _, key in ipairs(KEYS) do
  redis.call('HSETNX', key, token, value)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
return 1
",
    )
});

/// Deletes the hold's field from each key, leaving every other hold's field. KEYS: the hold's
/// keys; ARGV[1]: its token.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for _, key in ipairs(KEYS) do redis.call('HDEL', key, ARGV[1]) end
return 1
",
    )
});

impl SlotHold {
    /// The hold of `booking`: every member's busy span, under its token, for the hold time it
    /// was given when made.
    pub fn of(booking: &Booking) -> Self {
        let ttl = booking
            .hold_expires_at
            .duration_since(booking.created_at)
            .try_into()
            .unwrap_or_default();
        Self {
            members: booking
                .members
                .iter()
                .map(|m| m.user_id.as_str().to_owned())
                .collect(),
            start: booking.busy_start,
            end: booking.busy_end,
            token: booking.hold_token.clone(),
            ttl,
        }
    }
}

impl Redis {
    /// Deletes every hold of the namespace, as a Redis that lost its data would: for tests of
    /// the store's final guard. Returns how many keys were deleted.
    pub async fn delete_holds(&self) -> Result<u64, Error> {
        self.delete_matching("hold:*").await
    }

    /// How many hold keys the namespace has (each a member's cell, live or lapsing): for tests.
    pub async fn count_holds(&self) -> Result<u64, Error> {
        Ok(self.keys_matching("hold:*").await?.len() as u64)
    }

    /// Takes `hold` on every member's time, all-or-nothing: [`HoldOutcome::Conflict`], changing
    /// nothing, when a live hold with another token overlaps the span of any member. Taking
    /// again with the same token changes nothing while the hold lives. A hold with no members or
    /// an empty span holds no time, so it is taken without asking Redis.
    pub async fn take_hold(&self, hold: &SlotHold) -> Result<HoldOutcome, Error> {
        let keys = self.hold_keys(hold);
        if keys.is_empty() {
            return Ok(HoldOutcome::Taken);
        }
        let mut invocation = TAKE.prepare_invoke();
        for key in &keys {
            invocation.key(key);
        }
        invocation
            .arg(&hold.token)
            .arg(hold.start.as_millisecond())
            .arg(hold.end.as_millisecond())
            .arg(ttl_millis(hold.ttl));
        let mut conn = self.pool().get().await?;
        let taken: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(if taken == 1 {
            HoldOutcome::Taken
        } else {
            HoldOutcome::Conflict
        })
    }

    /// Releases `hold` on every member's time, if its token still holds it. Other holds in the
    /// same cells are untouched.
    pub async fn release_hold(&self, hold: &SlotHold) -> Result<(), Error> {
        let keys = self.hold_keys(hold);
        if keys.is_empty() {
            return Ok(());
        }
        let mut invocation = RELEASE.prepare_invoke();
        for key in &keys {
            invocation.key(key);
        }
        invocation.arg(&hold.token);
        let mut conn = self.pool().get().await?;
        let _: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(())
    }

    /// The key of every (member, cell) the hold's span meets, sorted, each once.
    fn hold_keys(&self, hold: &SlotHold) -> Vec<String> {
        if hold.start >= hold.end {
            return Vec::new();
        }
        let cells = hold_cells(Interval::new(hold.start, hold.end));
        let mut keys: Vec<String> = hold
            .members
            .iter()
            .flat_map(|member| {
                cells
                    .clone()
                    .map(move |cell| self.key(&format!("hold:{{{member}}}:{cell}")))
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}
