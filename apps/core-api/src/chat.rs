//! Chat: opening conversations, sending and reading messages. A message is stored first (with
//! its events, in one step), then pushed to every party's sockets through Redis; the push is at
//! most once and the history is the truth, so a lost push costs nothing a client's catch-up
//! (`after`) does not recover.
//!
//! Realtime authorizes socket events (typing, presence) from what this module records in Redis:
//! each conversation's parties. It is recorded when a conversation is opened and again with
//! every message, so a Redis that lost it learns it back.

use std::time::Duration;

use jiff::Timestamp;
use noillin_domain::{
    Role, User, UserId, ValidationErrors,
    chat::{
        Conversation, ConversationId, HistoryPage, Message, NewMessage, OpenError, Subject,
        validate_message,
    },
    event::Event,
};
use noillin_redis::{Admission, Push, user_room};
use noillin_store::{ConversationCursor, OutboxMessage, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{AppState, accounts, bookings, gigs, outbox, paging::Page};

/// The socket event a stored message is pushed as.
pub const MESSAGE_EVENT: &str = "message";
/// The socket event a read receipt is pushed as.
pub const READ_EVENT: &str = "read";
/// The longest history page.
pub const MAX_HISTORY_PAGE: u32 = 100;
/// A history page unless asked otherwise.
pub const DEFAULT_HISTORY_PAGE: u32 = 50;

/// Limits of chat, from the configuration.
#[derive(Debug, Clone)]
pub struct ChatSettings {
    /// `CHAT_OPENS_PER_HOUR`: new conversations a brand may open in an hour.
    pub opens_per_hour: u64,
    /// `CHAT_MAIL_DELAY_SECS`: how long a message may stay unread before its recipient gets a
    /// mail about it.
    pub mail_delay: Duration,
}

/// Why a chat request failed. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// No such conversation or target, or one the caller is no party to: the same answer.
    #[error("not found")]
    NotFound,
    #[error("invalid: {0}")]
    Invalid(ValidationErrors),
    /// Influencers do not start conversations outside a booking.
    #[error("only brands start conversations")]
    BrandsOnly,
    /// The gig is not published (archived): nobody is there to write to.
    #[error("the gig is not published")]
    GigNotPublished,
    /// The brand opened as many new conversations as it may this hour.
    #[error("too many new conversations")]
    TooManyOpens { retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("redis: {0}")]
    Redis(#[from] noillin_redis::Error),
}

impl From<gigs::GigError> for ChatError {
    fn from(e: gigs::GigError) -> Self {
        match e {
            gigs::GigError::Store(e) => ChatError::Store(e),
            _ => ChatError::NotFound,
        }
    }
}

impl From<bookings::BookingError> for ChatError {
    fn from(e: bookings::BookingError) -> Self {
        match e {
            bookings::BookingError::Store(e) => ChatError::Store(e),
            _ => ChatError::NotFound,
        }
    }
}

/// What a conversation is opened about, as the client named it.
#[derive(Debug, Clone)]
pub enum OpenRequest {
    Influencer(String),
    Gig(String),
    Booking(String),
}

/// Opens the conversation about `request`, or finds the one there is; `true` when it is new.
pub async fn open(
    state: &AppState,
    caller: &User,
    request: OpenRequest,
) -> Result<(Conversation, bool), ChatError> {
    let now = state.clock.now();
    let conversation = match request {
        OpenRequest::Influencer(id) => {
            brands_only(caller)?;
            let influencer = UserId::from_string(id);
            if accounts::active_influencer(state, &influencer)
                .await?
                .is_none()
            {
                return Err(ChatError::NotFound);
            }
            Conversation::direct(&caller.id, &influencer, now)
        }
        OpenRequest::Gig(id) => {
            brands_only(caller)?;
            let gig = gigs::visible(state, &id, &caller.id).await?;
            Conversation::about_gig(&caller.id, &gig, now).map_err(open_error)?
        }
        OpenRequest::Booking(id) => {
            let booking = bookings::get(state, caller, &id).await?;
            Conversation::about_booking(&caller.id, &booking, now).map_err(open_error)?
        }
    };
    // Reopening costs nothing. A new conversation is counted before the store step, so racing
    // opens cannot all pass, and given back when nothing new was stored after all.
    if let Some(existing) = state.store.chat.find_by_key(&conversation.key).await? {
        record_parties(state, &existing).await?;
        return Ok((existing, false));
    }
    let counter = format!("chat-opens:{}", conversation.brand_id);
    // Inquiries are what a spam run would open; a booking's conversation is not one.
    let counted = !matches!(conversation.subject, Subject::Booking { .. });
    if counted {
        let limit = [(counter.as_str(), state.chat.opens_per_hour)];
        if let Admission::Refused { retry_after_secs } = state.redis.admit(&limit, 3600).await? {
            return Err(ChatError::TooManyOpens { retry_after_secs });
        }
    }
    let opened = state.store.chat.open(&conversation).await;
    if counted && !matches!(opened, Ok((_, true))) {
        state.redis.give_back(&[counter.as_str()]).await?;
    }
    let (conversation, created) = opened?;
    record_parties(state, &conversation).await?;
    if created {
        tracing::info!(conversation_id = %conversation.id, "conversation opened");
    }
    Ok((conversation, created))
}

fn brands_only(caller: &User) -> Result<(), ChatError> {
    if caller.role == Role::Brand {
        Ok(())
    } else {
        Err(ChatError::BrandsOnly)
    }
}

fn open_error(e: OpenError) -> ChatError {
    match e {
        OpenError::NotABrand => ChatError::BrandsOnly,
        OpenError::NotAParty => ChatError::NotFound,
        OpenError::NotPublished => ChatError::GigNotPublished,
    }
}

/// Tells realtime who belongs to the conversation.
async fn record_parties(state: &AppState, conversation: &Conversation) -> Result<(), ChatError> {
    let parties: Vec<String> = conversation
        .participants
        .iter()
        .map(|p| p.user_id.to_string())
        .collect();
    state
        .redis
        .record_conversation(conversation.id.as_str(), &parties)
        .await?;
    Ok(())
}

/// Conversation `id`, for one of its parties only.
pub async fn get(state: &AppState, caller: &User, id: &str) -> Result<Conversation, ChatError> {
    let conversation = state
        .store
        .chat
        .find(&ConversationId::from_string(id))
        .await?
        .ok_or(ChatError::NotFound)?;
    if conversation.is_party(&caller.id) {
        Ok(conversation)
    } else {
        Err(ChatError::NotFound)
    }
}

/// One page of the caller's conversations, newest activity first, and the cursor of the next.
pub async fn list(
    state: &AppState,
    caller: &User,
    page: Page,
) -> Result<(Vec<Conversation>, Option<String>), ChatError> {
    let after = match page.cursor.as_deref() {
        None => None,
        Some(cursor) => Some(parse_cursor(cursor).ok_or_else(|| {
            let mut errors = ValidationErrors::default();
            errors.add("cursor", "invalid", "must be a cursor from a previous page");
            ChatError::Invalid(errors)
        })?),
    };
    let conversations = state
        .store
        .chat
        .list_for(&caller.id, after.as_ref(), page.limit)
        .await?;
    let next = page.next(&conversations, |c| {
        format_cursor(&ConversationCursor {
            last_activity_at: c.last_activity_at,
            id: c.id.clone(),
        })
    });
    Ok((conversations, next))
}

/// A list cursor: the last item's activity in milliseconds since the epoch, `_`, its id.
fn format_cursor(cursor: &ConversationCursor) -> String {
    format!("{}_{}", cursor.last_activity_at.as_millisecond(), cursor.id)
}

/// Reads a cursor, admitting exactly what the documented pattern does
/// (`^[0-9]{1,13}_[0-9A-Za-z-]{1,40}$`).
fn parse_cursor(text: &str) -> Option<ConversationCursor> {
    let (millis, id) = text.split_once('_')?;
    let digits = (1..=13).contains(&millis.len()) && millis.bytes().all(|b| b.is_ascii_digit());
    let id_ok =
        (1..=40).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !digits || !id_ok {
        return None;
    }
    let last_activity_at = Timestamp::from_millisecond(millis.parse().ok()?).ok()?;
    Some(ConversationCursor {
        last_activity_at,
        id: ConversationId::from_string(id),
    })
}

/// Which history page a client asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct HistoryRequest {
    pub before: Option<u64>,
    pub after: Option<u64>,
    pub limit: Option<u32>,
}

/// A page of history in ascending order, and whether there is more beyond it (older for the
/// latest page and `before`, newer for `after`).
pub async fn history(
    state: &AppState,
    caller: &User,
    id: &str,
    request: HistoryRequest,
) -> Result<(Vec<Message>, bool), ChatError> {
    let mut errors = ValidationErrors::default();
    let limit = request.limit.unwrap_or(DEFAULT_HISTORY_PAGE);
    if !(1..=MAX_HISTORY_PAGE).contains(&limit) {
        errors.add("limit", "out_of_range", "must be between 1 and 100");
    }
    errors.into_result(()).map_err(ChatError::Invalid)?;
    // With both bounds: the messages after one and before the other.
    let page = match (request.before, request.after) {
        (None, None) => HistoryPage::Latest,
        (Some(before), None) => HistoryPage::Before(before),
        (_, Some(after)) => HistoryPage::After(after),
    };
    let conversation = get(state, caller, id).await?;
    // One more than asked tells whether the page is the last one.
    let mut messages = state
        .store
        .chat
        .messages(&conversation.id, page, limit + 1)
        .await?;
    if let (Some(before), Some(_)) = (request.before, request.after) {
        messages.retain(|m| m.seq < before);
    }
    let more = messages.len() > limit as usize;
    if more {
        match page {
            HistoryPage::After(_) => {
                messages.pop();
            }
            HistoryPage::Latest | HistoryPage::Before(_) => {
                messages.remove(0);
            }
        }
    }
    Ok((messages, more))
}

/// Stores a message from the caller, or finds the one they stored with this `client_id`
/// before; `true` when it is stored now. A new message is pushed to every party's sockets.
pub async fn send(
    state: &AppState,
    caller: &User,
    id: &str,
    client_id: String,
    text: String,
    correlation_id: Option<&str>,
) -> Result<(Message, bool), ChatError> {
    let mut errors = ValidationErrors::default();
    validate_message(&client_id, &text, &mut errors);
    errors.into_result(()).map_err(ChatError::Invalid)?;
    let conversation = get(state, caller, id).await?;
    let recipients: Vec<UserId> = conversation.others(&caller.id).cloned().collect();
    let mail_delay = state.chat.mail_delay;
    let events =
        |message: &Message| message_events(message, &recipients, mail_delay, correlation_id);
    let new = NewMessage {
        conversation_id: conversation.id.clone(),
        sender_id: caller.id.clone(),
        client_id,
        text,
        sent_at: state.clock.now(),
    };
    let (message, created) = state.store.chat.append(new, &events).await?;
    if created {
        state.relay_waker.wake();
        metrics::counter!("chat_messages_total").increment(1);
        // Stored is what counts: a push or a membership record that fails now is made up for
        // by the clients' catch-up and by the next message.
        if let Err(e) = record_parties(state, &conversation).await {
            tracing::warn!(error = %e, conversation_id = %conversation.id, "parties not recorded for realtime");
        }
        let payload = serde_json::to_value(MessageView::from(&message)).unwrap_or_default();
        let parties = conversation.participants.iter().map(|p| &p.user_id);
        push_to(state, parties, MESSAGE_EVENT, &payload).await;
    }
    Ok((message, created))
}

/// The events of a stored message: `message.created` now, and for each recipient the check
/// whether it is still unread once a mail would be due.
fn message_events(
    message: &Message,
    recipients: &[UserId],
    mail_delay: Duration,
    correlation_id: Option<&str>,
) -> Vec<OutboxMessage> {
    let created = Event::MessageCreated {
        conversation_id: message.conversation_id.to_string(),
        seq: message.seq,
        sender_id: message.sender_id.to_string(),
        recipient_ids: recipients.iter().map(ToString::to_string).collect(),
    };
    let made = outbox::messages(vec![created], correlation_id).and_then(|mut made| {
        for recipient in recipients {
            let due = Event::ChatUnreadMailDue {
                conversation_id: message.conversation_id.to_string(),
                recipient_id: recipient.to_string(),
                seq: message.seq,
            };
            made.push(outbox::delayed_message(due, correlation_id, mail_delay)?);
        }
        Ok(made)
    });
    // Events are plain strings and numbers: encoding them cannot fail. Were it to, the message
    // is still stored and pushed; only its notification and mail would be missing.
    made.unwrap_or_else(|e| {
        tracing::error!(error = %e, "the events of a message could not be encoded");
        Vec::new()
    })
}

/// Moves the caller's read mark to `up_to` (capped at the last message; never back); returns
/// the mark and what is still unread. The other parties' sockets hear of a mark that moved.
pub async fn read(
    state: &AppState,
    caller: &User,
    id: &str,
    up_to: u64,
) -> Result<(u64, u64), ChatError> {
    let conversation = get(state, caller, id).await?;
    let before = conversation.read_seq(&caller.id);
    let mark = state
        .store
        .chat
        .mark_read(&conversation.id, &caller.id, up_to)
        .await?
        .ok_or(ChatError::NotFound)?;
    if mark > before {
        let payload = serde_json::json!({
            "conversation_id": conversation.id.as_str(),
            "user_id": caller.id.as_str(),
            "up_to": mark,
        });
        push_to(state, conversation.others(&caller.id), READ_EVENT, &payload).await;
    }
    Ok((mark, conversation.last_seq.max(mark).saturating_sub(mark)))
}

/// Pushes one event to each user's sockets, on whichever node they are.
async fn push_to<'a>(
    state: &AppState,
    users: impl Iterator<Item = &'a UserId>,
    event: &str,
    payload: &serde_json::Value,
) {
    for user in users {
        let push = Push {
            room: user_room(user.as_str()),
            event: event.to_owned(),
            data: payload.clone(),
        };
        if let Err(e) = state.redis.publish_push(&push).await {
            tracing::warn!(error = %e, event, "push not published");
            return;
        }
    }
}

/// A message as the API and the `message` socket event show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    /// 1, 2, 3, … within the conversation, in the order stored: `before`/`after` take it.
    pub id: u64,
    pub conversation_id: String,
    pub sender_id: String,
    /// The sender's own id for the message.
    pub client_id: String,
    pub text: String,
    pub sent_at: String,
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        Self {
            id: m.seq,
            conversation_id: m.conversation_id.to_string(),
            sender_id: m.sender_id.to_string(),
            client_id: m.client_id.clone(),
            text: m.text.clone(),
            sent_at: m.sent_at.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_it_was_made_of_and_nothing_else_reads() {
        let cursor = ConversationCursor {
            last_activity_at: Timestamp::from_millisecond(1_800_000_000_123).unwrap(),
            id: ConversationId::from_string("0190-abc"),
        };
        assert_eq!(parse_cursor(&format_cursor(&cursor)), Some(cursor));
        for bad in [
            "",
            "_",
            "12_",
            "x_abc",
            "1800000000123",
            "99999999999999999999_a",
        ] {
            assert_eq!(parse_cursor(bad), None, "{bad}");
        }
    }
}
