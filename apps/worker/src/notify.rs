//! Notifications: a domain event becomes one notification per person it concerns, stored,
//! pushed live to `user:{id}`, and emailed for the kinds that ask the recipient to act.
//!
//! Each step is guarded by what is stored, so a redelivered or retried event repeats nothing
//! that took effect: the notification id derives from the event id (a second store is a
//! no-op), the push is taken by setting `pushed_at` first, the mail by holding its record.
//! A push that fails (Redis down) fails the message, which is retried later with the
//! notification already safe in the store.

use jiff::Timestamp;
use noillin_domain::event::Event;
use noillin_domain::{
    UserId,
    gig::GigId,
    notification::{GigNotice, Notification, NotificationKind},
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
        Event::InstanceStarted { .. }
        | Event::PasswordResetMail { .. }
        | Event::UserSessionsEnded { .. }
        | Event::BookingHoldExpiryDue { .. }
        | Event::SearchInfluencerChanged { .. }
        | Event::SearchGigChanged { .. }
        | Event::SearchReindexRequested { .. } => return None,
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
        deliver(handlers, notification, &notice, last_attempt).await?;
    }
    Ok(())
}

/// Stores one notification, pushes it, and mails it if its kind is mailed, each at most once.
async fn deliver(
    handlers: &Handlers,
    notification: Notification,
    notice: &GigNotice<'_>,
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
        handlers
            .mail
            .gig_invitation(&stored, &recipient, notice, last_attempt)
            .await?;
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
            "created_at": notification.created_at.to_string(),
            "read_at": notification.read_at.map(|t| t.to_string()),
        }),
    }
}
