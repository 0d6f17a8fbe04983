//! Notifications: a domain event becomes one notification per person it concerns, stored,
//! pushed live to `user:{id}`, and emailed for the kinds that ask the recipient to act.
//!
//! Each step is guarded by what is stored, so a redelivered or retried event repeats nothing
//! that took effect: the notification id derives from the event id (a second store is a
//! no-op), the push is taken by setting `pushed_at` first, the mail by holding its record.
//! A push that fails (Redis down) fails the message, which is retried later with the
//! notification already safe in the store.

use jiff::{Timestamp, tz::TimeZone};
use noillin_domain::event::Event;
use noillin_domain::{
    Role, UserId,
    booking::{Booking, BookingId},
    chat::ConversationId,
    gig::{GigId, Money},
    notification::{BookingNotice, GigNotice, Notification, NotificationKind},
};
use noillin_messaging::Envelope;
use noillin_redis::{Push, user_room};

use crate::handlers::{Failure, Handlers};

/// The Socket.IO event a notification is pushed as.
pub const PUSH_EVENT: &str = "notification";

/// Who hears of a gig event, told what, and who caused it.
struct GigNews<'a> {
    gig_id: &'a str,
    title: &'a str,
    actor: &'a str,
    recipients: Vec<(&'a str, NotificationKind)>,
}

fn news(event: &Event) -> Option<GigNews<'_>> {
    Some(match event {
        Event::GigMemberInvited {
            gig_id,
            title,
            owner_id,
            member_id,
        } => GigNews {
            gig_id,
            title,
            actor: owner_id,
            recipients: vec![(member_id, NotificationKind::GigInvitation)],
        },
        Event::GigMemberAnswered {
            gig_id,
            title,
            owner_id,
            member_id,
            accepted,
        } => GigNews {
            gig_id,
            title,
            actor: member_id,
            recipients: vec![(
                owner_id,
                if *accepted {
                    NotificationKind::GigInvitationAccepted
                } else {
                    NotificationKind::GigInvitationDeclined
                },
            )],
        },
        Event::GigPublished {
            gig_id,
            title,
            owner_id,
            member_ids,
        }
        | Event::GigArchived {
            gig_id,
            title,
            owner_id,
            member_ids,
        } => {
            let kind = if matches!(event, Event::GigPublished { .. }) {
                NotificationKind::GigPublished
            } else {
                NotificationKind::GigArchived
            };
            GigNews {
                gig_id,
                title,
                actor: owner_id,
                recipients: member_ids.iter().map(|m| (m.as_str(), kind)).collect(),
            }
        }
        _ => return None,
    })
}

/// Notifies everyone a gig event concerns.
pub async fn gig_event(
    handlers: &Handlers,
    envelope: &Envelope,
    last_attempt: bool,
) -> Result<(), Failure> {
    let Some(news) = news(&envelope.event) else {
        return Err(Failure::Malformed(format!(
            "{} is not a gig event",
            envelope.event.name()
        )));
    };
    let actor_name = match handlers
        .store
        .users
        .find_by_id(&UserId::from_string(news.actor))
        .await?
    {
        Some(user) => user.display_name,
        None => "Someone".to_owned(),
    };
    let gig_id = GigId::from_string(news.gig_id);
    let notice = GigNotice {
        gig_id: &gig_id,
        gig_title: news.title,
        actor_name: &actor_name,
    };
    for (recipient, kind) in news.recipients {
        let notification = Notification::about_gig(
            envelope.id,
            envelope.occurred_at,
            &UserId::from_string(recipient),
            kind,
            &notice,
        );
        deliver(handlers, notification, Mailed::Gig(&notice), last_attempt).await?;
    }
    Ok(())
}

/// Who hears of a booking event, told what, and why.
struct BookingNews<'a> {
    booking_id: &'a str,
    kind: NotificationKind,
    /// `true`: the brand alone; `false`: every party but `except`.
    brand_only: bool,
    except: Option<&'a str>,
    /// This one party alone (a member's payout).
    only: Option<&'a str>,
    /// The cause, when the event carries it.
    reason: Option<&'a str>,
}

fn booking_news(event: &Event) -> Option<BookingNews<'_>> {
    let news = |booking_id, kind, brand_only| BookingNews {
        booking_id,
        kind,
        brand_only,
        except: None,
        only: None,
        reason: None,
    };
    Some(match event {
        Event::BookingConfirmed { booking_id } => {
            news(booking_id, NotificationKind::BookingConfirmed, false)
        }
        Event::BookingCancelled { booking_id, by_id } => BookingNews {
            except: Some(by_id),
            ..news(booking_id, NotificationKind::BookingCancelled, false)
        },
        Event::BookingPaymentFailed { booking_id, reason } => BookingNews {
            reason: Some(reason),
            ..news(booking_id, NotificationKind::PaymentFailed, true)
        },
        Event::BookingRefundDue { booking_id } => {
            news(booking_id, NotificationKind::RefundIssued, true)
        }
        Event::BookingDelivered { booking_id } => {
            news(booking_id, NotificationKind::BookingDelivered, true)
        }
        Event::BookingRevisionRequested { booking_id } => {
            news(booking_id, NotificationKind::RevisionRequested, false)
        }
        Event::BookingCompleted { booking_id } => {
            news(booking_id, NotificationKind::BookingCompleted, false)
        }
        Event::BookingPayoutSent {
            booking_id,
            member_id,
        } => BookingNews {
            only: Some(member_id),
            ..news(booking_id, NotificationKind::PayoutSent, false)
        },
        Event::ReviewPosted { booking_id } => {
            news(booking_id, NotificationKind::ReviewPosted, false)
        }
        _ => return None,
    })
}

/// Notifies everyone a booking event concerns, each with the start in their own time zone
/// (an influencer's profile zone; the gig's zone for a brand, which has none of its own).
pub async fn booking_event(
    handlers: &Handlers,
    envelope: &Envelope,
    last_attempt: bool,
) -> Result<(), Failure> {
    let Some(news) = booking_news(&envelope.event) else {
        return Err(Failure::Malformed(format!(
            "{} is not a booking event",
            envelope.event.name()
        )));
    };
    let Some(booking) = handlers
        .store
        .bookings
        .find(&BookingId::from_string(news.booking_id))
        .await?
    else {
        tracing::warn!(
            booking_id = news.booking_id,
            "notification for an unknown booking"
        );
        return Ok(());
    };
    let mut recipients = vec![booking.brand_id.clone()];
    if !news.brand_only {
        recipients.extend(booking.member_ids());
    }
    recipients.retain(|r| Some(r.as_str()) != news.except);
    if news.kind == NotificationKind::RevisionRequested
        || news.kind == NotificationKind::ReviewPosted
    {
        // The brand asked or wrote it: the members are the ones to tell.
        recipients.retain(|r| *r != booking.brand_id);
    }
    if let Some(only) = news.only {
        recipients.retain(|r| r.as_str() == only);
    }
    for recipient in recipients {
        let (amount, reason) = what_and_why(&booking, &recipient, news.kind, news.reason);
        let local_start = local_start(handlers, &booking, &recipient).await?;
        let notice = BookingNotice {
            booking_id: &booking.id,
            gig_id: &booking.gig_id,
            gig_title: &booking.gig_title,
            local_start: &local_start,
            amount: &amount,
            reason: &reason,
        };
        let notification = Notification::about_booking(
            envelope.id,
            envelope.occurred_at,
            &recipient,
            news.kind,
            &notice,
        );
        deliver(
            handlers,
            notification,
            Mailed::Booking(&booking),
            last_attempt,
        )
        .await?;
    }
    Ok(())
}

/// The amount a notification of `kind` to `recipient` names (the price, what goes back, or
/// their payout) and its reason.
fn what_and_why(
    booking: &Booking,
    recipient: &UserId,
    kind: NotificationKind,
    reason: Option<&str>,
) -> (String, String) {
    let refund = booking.payment.as_ref().and_then(|p| p.refund.as_ref());
    let payout = booking
        .settlement
        .as_ref()
        .and_then(|s| s.shares.iter().find(|share| share.user_id == *recipient))
        .and_then(|share| share.payout.as_ref());
    let amount = match (kind, refund, payout) {
        (NotificationKind::RefundIssued, Some(refund), _) => Money {
            amount_minor: refund.due_minor,
            currency: booking.price.currency.clone(),
        },
        (NotificationKind::PayoutSent, _, Some(payout)) => Money {
            amount_minor: payout.amount_minor,
            currency: booking.price.currency.clone(),
        },
        _ => booking.price.clone(),
    };
    let reason = match (reason, kind, refund) {
        (Some(reason), _, _) => reason.to_owned(),
        (None, NotificationKind::RefundIssued, Some(refund)) => refund.reason.clone(),
        _ => booking
            .history
            .last()
            .map(|change| change.reason.clone())
            .unwrap_or_default(),
    };
    (amount.to_string(), reason)
}

/// The booking's start as `recipient` reads it: in their profile's zone if they are an
/// influencer with one, otherwise in the gig's zone, named either way.
async fn local_start(
    handlers: &Handlers,
    booking: &Booking,
    recipient: &UserId,
) -> Result<String, Failure> {
    let own_zone = match handlers.store.users.find_by_id(recipient).await? {
        Some(user) if user.role == Role::Influencer => handlers
            .store
            .profiles
            .influencer(recipient)
            .await?
            .map(|profile| profile.time_zone),
        _ => None,
    };
    let name = own_zone.unwrap_or_else(|| booking.time_zone.clone());
    let zone = TimeZone::get(&name).unwrap_or(TimeZone::UTC);
    let local = booking.start.to_zoned(zone);
    Ok(format!(
        "{} ({name})",
        local.strftime("%a %-d %b %Y, %H:%M")
    ))
}

/// What a notification's mail is about.
pub enum Mailed<'a> {
    Gig(&'a GigNotice<'a>),
    Booking(&'a Booking),
    /// A kind that is never mailed with its notification.
    Nothing,
}

/// Stores one notification, pushes it, and mails it if its kind is mailed, each at most once.
pub async fn deliver(
    handlers: &Handlers,
    notification: Notification,
    about: Mailed<'_>,
    last_attempt: bool,
) -> Result<(), Failure> {
    let store = &handlers.store;
    let Some(recipient) = store.users.find_by_id(&notification.user_id).await? else {
        // The account is gone: nobody to tell.
        tracing::info!(user_id = %notification.user_id, "notification for an unknown user skipped");
        return Ok(());
    };
    let stored = if store.notifications.insert(&notification).await? {
        metrics::counter!("notifications_stored_total", "kind" => notification.kind.as_str())
            .increment(1);
        notification
    } else {
        // A redelivery: push and mail what the first delivery stored (the actor may have been
        // renamed since, the user may have read it).
        store
            .notifications
            .find(&notification.id)
            .await?
            .unwrap_or(notification)
    };
    // Taken before pushing, so two deliveries of one event push once; given back if the push
    // fails, so the retry pushes.
    if stored.pushed_at.is_none()
        && store
            .notifications
            .mark_pushed(&stored.id, Timestamp::now())
            .await?
        && let Err(e) = handlers.redis.publish_push(&push(&stored)).await
    {
        store.notifications.unmark_pushed(&stored.id).await?;
        return Err(e.into());
    }
    if stored.kind.emailed() {
        match about {
            Mailed::Gig(notice) => {
                handlers
                    .mail
                    .gig_invitation(&stored, &recipient, notice, last_attempt)
                    .await?
            }
            Mailed::Booking(booking) if stored.kind == NotificationKind::PayoutSent => {
                handlers
                    .mail
                    .payout_statement(&stored, &recipient, booking, last_attempt)
                    .await?
            }
            Mailed::Booking(_) => {
                handlers
                    .mail
                    .booking_update(&stored, &recipient, last_attempt)
                    .await?
            }
            Mailed::Nothing => {}
        }
    }
    Ok(())
}

/// The push of a notification: the same fields the API lists.
fn push(notification: &Notification) -> Push {
    Push {
        room: user_room(notification.user_id.as_str()),
        event: PUSH_EVENT.to_owned(),
        data: serde_json::json!({
            "id": notification.id.as_str(),
            "kind": notification.kind.as_str(),
            "title": notification.title,
            "body": notification.body,
            "gig_id": notification.gig_id.as_ref().map(GigId::as_str),
            "booking_id": notification.booking_id.as_ref().map(BookingId::as_str),
            "conversation_id": notification.conversation_id.as_ref().map(ConversationId::as_str),
            "created_at": notification.created_at.to_string(),
            "read_at": notification.read_at.map(|t| t.to_string()),
        }),
    }
}
