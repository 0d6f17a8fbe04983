//! The slots a gig can be booked at: the query read and checked, then the engine over every
//! member's schedule and live bookings — the same calendar booking validates a start against.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use noillin_domain::{
    UserId, ValidationErrors,
    availability::{
        Interval, MAX_QUERY_DAYS, Schedule, SlotError, SlotQuery, SlotSettings, shifted,
    },
    gig::Gig,
};

use super::{GigError, members_active, visible};
use crate::AppState;

/// A slot query as the client wrote it.
#[derive(Debug, Clone)]
pub struct SlotsRequest {
    /// RFC 3339 instant, inclusive.
    pub from: String,
    /// RFC 3339 instant, exclusive.
    pub to: String,
    /// IANA zone to present the slots in; UTC when absent.
    pub time_zone: Option<String>,
}

/// The slots of one gig in a range, with the zone to present them in.
#[derive(Debug, Clone)]
pub struct GigSlots {
    pub gig: Gig,
    /// The zone's name as asked for.
    pub zone_name: String,
    pub zone: TimeZone,
    /// Start and end of each slot, earliest first.
    pub slots: Vec<(Timestamp, Timestamp)>,
}

/// The slots of gig `id` `viewer` may book within the requested range: none when the gig
/// offers none ([`Gig::offers_slots`]: archived, or a member suspended). Drafts are seen by
/// their members only, who may preview them. The query is checked before anything is loaded.
pub async fn slots(
    state: &AppState,
    id: &str,
    viewer: &UserId,
    request: SlotsRequest,
) -> Result<GigSlots, GigError> {
    let (from, to, zone) = read(&request)?;
    let gig = visible(state, id, viewer).await?;
    let starts = starts(state, &gig, from, to).await?;
    let duration = SignedDuration::from_mins(i64::from(gig.terms.duration_minutes));
    Ok(GigSlots {
        slots: starts
            .into_iter()
            .map(|start| (start, start + duration))
            .collect(),
        gig,
        zone_name: request.time_zone.unwrap_or_else(|| "UTC".to_owned()),
        zone,
    })
}

/// The range and the zone, with every field error at once.
fn read(request: &SlotsRequest) -> Result<(Timestamp, Timestamp, TimeZone), GigError> {
    let mut errors = ValidationErrors::default();
    let from = request
        .from
        .parse::<Timestamp>()
        .map_err(|_| errors.add("from", "invalid_instant", "must be an RFC 3339 instant"))
        .ok();
    let to = request
        .to
        .parse::<Timestamp>()
        .map_err(|_| errors.add("to", "invalid_instant", "must be an RFC 3339 instant"))
        .ok();
    let zone = TimeZone::get(request.time_zone.as_deref().unwrap_or("UTC"))
        .map_err(|_| errors.add("tz", "invalid_time_zone", "must be an IANA time zone"))
        .ok();
    let (Some(from), Some(to), Some(zone)) = (from, to, zone) else {
        return Err(GigError::Invalid(errors));
    };
    check_range(from, to)?;
    Ok((from, to, zone))
}

/// Refuses a range the engine would refuse, before anything is loaded.
fn check_range(from: Timestamp, to: Timestamp) -> Result<(), GigError> {
    if to <= from {
        return Err(slot_error(SlotError::EmptyRange));
    }
    if to.duration_since(from) > SignedDuration::from_hours(MAX_QUERY_DAYS * 24) {
        return Err(slot_error(SlotError::RangeTooLong));
    }
    Ok(())
}

/// The instants in `[from, to)` the gig can start at (none when it offers no slots).
pub async fn starts(
    state: &AppState,
    gig: &Gig,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Timestamp>, GigError> {
    if !gig.offers_slots(members_active(state, gig).await?) {
        return Ok(Vec::new());
    }
    let now = state.clock.now();
    let calendar = calendar(state, gig, from, to, now).await?;
    let settings = gig.terms.slot_settings();
    noillin_domain::availability::slots(&calendar.query(&settings, now), from, to)
        .map_err(slot_error)
}

/// What the slot engine needs to decide a gig's starts in a range, read once: every member's
/// zone, rules and live bookings (of any gig), and the gig's own live bookings for its daily
/// cap. Listing slots and booking one both read it here, so they can never disagree.
#[derive(Debug, Clone)]
pub struct GigCalendar {
    /// One per member, the owner first.
    pub schedules: Vec<Schedule>,
    /// The owner's zone: the daily cap counts its local days, and bookings show their start
    /// in it.
    pub owner_zone: TimeZone,
    pub owner_zone_name: String,
    /// Starts of the gig's live bookings on and around the range's days.
    pub booked_starts: Vec<Timestamp>,
}

impl GigCalendar {
    /// The engine's query over this calendar at `now`.
    pub fn query<'a>(&'a self, settings: &'a SlotSettings, now: Timestamp) -> SlotQuery<'a> {
        SlotQuery {
            members: &self.schedules,
            settings,
            cap_zone: &self.owner_zone,
            booked_starts: &self.booked_starts,
            now,
        }
    }

    /// The same calendar without any booking: what the gig offers at all, taken or not.
    pub fn unbooked(&self) -> GigCalendar {
        GigCalendar {
            schedules: self
                .schedules
                .iter()
                .map(|s| Schedule {
                    busy: Vec::new(),
                    ..s.clone()
                })
                .collect(),
            booked_starts: Vec::new(),
            ..self.clone()
        }
    }
}

/// Reads the calendar of `gig` for starts in `[from, to)`, with the bookings live at `now`.
pub async fn calendar(
    state: &AppState,
    gig: &Gig,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> Result<GigCalendar, GigError> {
    let member_ids: Vec<UserId> = gig.members.iter().map(|m| m.user_id.clone()).collect();
    let settings = gig.terms.slot_settings();
    // A start in the range keeps its members busy from `from - buffer_before` until
    // `to + duration + buffer_after` at the widest; the cap counts whole local days, which
    // reach at most two days beyond the range (the engine's own slack).
    let two_days = SignedDuration::from_hours(48);
    let (busy, booked_starts) = tokio::try_join!(
        state.store.bookings.busy(
            &member_ids,
            shifted(from, -settings.buffer_before),
            shifted(to, settings.duration + settings.buffer_after),
            now,
        ),
        state.store.bookings.live_starts(
            &gig.id,
            shifted(from, -two_days),
            shifted(to, two_days),
            now
        ),
    )?;
    let mut rules: HashMap<UserId, _> = state
        .store
        .availability
        .get_many(&member_ids)
        .await?
        .into_iter()
        .collect();
    let mut busy_of: HashMap<UserId, Vec<Interval>> = HashMap::new();
    for (member, span) in busy {
        busy_of.entry(member).or_default().push(span);
    }
    let mut schedules = Vec::with_capacity(member_ids.len());
    let mut owner_zone_name = None;
    for id in &member_ids {
        let profile = state
            .store
            .profiles
            .influencer(id)
            .await?
            .ok_or(GigError::NotFound)?;
        let time_zone = TimeZone::get(&profile.time_zone).map_err(|e| {
            GigError::Corrupt(format!("stored time zone {}: {e}", profile.time_zone))
        })?;
        owner_zone_name.get_or_insert(profile.time_zone);
        schedules.push(Schedule {
            time_zone,
            rules: rules.remove(id).unwrap_or_default(),
            busy: busy_of.remove(id).unwrap_or_default(),
        });
    }
    let (Some(owner), Some(owner_zone_name)) = (schedules.first(), owner_zone_name) else {
        return Err(GigError::NotFound);
    };
    Ok(GigCalendar {
        owner_zone: owner.time_zone.clone(),
        owner_zone_name,
        schedules,
        booked_starts,
    })
}

/// What a refused slot query answers: a bad range is the client's, anything else is stored
/// data the engine does not accept.
fn slot_error(e: SlotError) -> GigError {
    let invalid = |code, message: String| {
        let mut errors = ValidationErrors::default();
        errors.add("to", code, message);
        GigError::Invalid(errors)
    };
    match e {
        SlotError::EmptyRange => invalid("invalid_range", "must be after from".into()),
        SlotError::RangeTooLong => invalid(
            "range_too_long",
            format!("the range may span at most {MAX_QUERY_DAYS} days"),
        ),
        SlotError::OutOfRange => invalid("invalid_range", e.to_string()),
        SlotError::NoMembers | SlotError::Invalid(_) => {
            GigError::Corrupt(format!("stored gig or rules refused: {e:?}"))
        }
    }
}
