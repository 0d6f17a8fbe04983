//! Chat follow-ups: a recipient with no socket open is notified of a new message, and one who
//! still has not read it once `CHAT_MAIL_DELAY_SECS` passed gets one mail about what is unread.
//!
//! The mail is named after where the recipient's reading stopped, so every message of one
//! unread stretch leads to the same mail record: the first due check sends it, the later ones
//! find it sent. Reading moves the mark, which makes the due checks of read messages do
//! nothing, and makes the next unread stretch a new mail.

use std::collections::HashMap;

use noillin_domain::{
    User, UserId,
    chat::{ConversationId, HistoryPage, Message, preview},
    event::Event,
    mail::MailId,
    notification::Notification,
};
use noillin_mail::templates::UnreadLine;
use noillin_messaging::Envelope;

use crate::{
    handlers::{Failure, Handlers},
    notify,
};

/// The most messages one unread-messages mail lists; it counts the rest.
const MAILED_MESSAGES: u32 = 10;

/// Notifies the recipients of a new message who have no socket open anywhere.
pub async fn message_created(
    handlers: &Handlers,
    envelope: &Envelope,
    last_attempt: bool,
) -> Result<(), Failure> {
    let Event::MessageCreated {
        conversation_id,
        seq,
        sender_id,
        recipient_ids,
    } = &envelope.event
    else {
        return Err(Failure::Malformed("not a message.created event".into()));
    };
    let conversation = ConversationId::from_string(conversation_id);
    let Some(message) = message_at(handlers, &conversation, *seq).await? else {
        tracing::warn!(conversation_id, seq, "notification for an unknown message");
        return Ok(());
    };
    let sender_name = display_name(handlers, &UserId::from_string(sender_id)).await?;
    for recipient in recipient_ids {
        // Someone with a socket open saw the message arrive; a notification would say it twice.
        if handlers.redis.is_online(recipient).await? {
            continue;
        }
        let notification = Notification::about_message(
            envelope.id,
            envelope.occurred_at,
            &UserId::from_string(recipient),
            &conversation,
            &sender_name,
            &preview(&message.text),
        );
        notify::deliver(
            handlers,
            notification,
            notify::Mailed::Nothing,
            last_attempt,
        )
        .await?;
    }
    Ok(())
}

/// Mails `recipient_id` about what is unread in the conversation, if message `seq` still is.
pub async fn unread_mail_due(
    handlers: &Handlers,
    envelope: &Envelope,
    last_attempt: bool,
) -> Result<(), Failure> {
    let Event::ChatUnreadMailDue {
        conversation_id,
        recipient_id,
        seq,
    } = &envelope.event
    else {
        return Err(Failure::Malformed(
            "not a chat.unread_mail_due event".into(),
        ));
    };
    let store = &handlers.store;
    let id = ConversationId::from_string(conversation_id);
    let recipient_id = UserId::from_string(recipient_id);
    let Some(conversation) = store.chat.find(&id).await? else {
        return Ok(());
    };
    if !conversation.is_party(&recipient_id) {
        return Ok(());
    }
    let read_up_to = conversation.read_seq(&recipient_id);
    if read_up_to >= *seq {
        metrics::counter!("chat_unread_mails_skipped_total").increment(1);
        return Ok(());
    }
    let Some(recipient) = store.users.find_by_id(&recipient_id).await? else {
        return Ok(());
    };
    let unread = store
        .chat
        .messages(&id, HistoryPage::After(read_up_to), MAILED_MESSAGES)
        .await?;
    let lines = lines(handlers, &unread).await?;
    let more = conversation
        .last_seq
        .saturating_sub(read_up_to)
        .saturating_sub(lines.len() as u64);
    let mail_id = MailId::from_string(format!("unread-{id}-{recipient_id}-{read_up_to}"));
    handlers
        .mail
        .unread_messages(
            &mail_id,
            &recipient,
            conversation_id,
            &lines,
            more,
            last_attempt,
        )
        .await
}

async fn message_at(
    handlers: &Handlers,
    conversation: &ConversationId,
    seq: u64,
) -> Result<Option<Message>, Failure> {
    let page = handlers
        .store
        .chat
        .messages(conversation, HistoryPage::After(seq.saturating_sub(1)), 1)
        .await?;
    Ok(page.into_iter().find(|m| m.seq == seq))
}

/// The mail's lines: who wrote each message (every sender read once), when, and its start.
async fn lines(handlers: &Handlers, messages: &[Message]) -> Result<Vec<UnreadLine>, Failure> {
    let mut names: HashMap<&UserId, String> = HashMap::new();
    let mut lines = Vec::with_capacity(messages.len());
    for message in messages {
        if !names.contains_key(&message.sender_id) {
            let name = display_name(handlers, &message.sender_id).await?;
            names.insert(&message.sender_id, name);
        }
        lines.push(UnreadLine {
            sender_name: names.get(&message.sender_id).cloned().unwrap_or_default(),
            sent_at: message
                .sent_at
                .strftime("%a %-d %b %Y, %H:%M UTC")
                .to_string(),
            text: preview(&message.text),
        });
    }
    Ok(lines)
}

async fn display_name(handlers: &Handlers, user: &UserId) -> Result<String, Failure> {
    Ok(handlers
        .store
        .users
        .find_by_id(user)
        .await?
        .map_or_else(|| "Someone".to_owned(), |u: User| u.display_name))
}
