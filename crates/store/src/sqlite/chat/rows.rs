//! How chat lies in SQLite's rows: the columns, encoding and decoding, and the reads of one
//! conversation (by id or key) and of one message (by its sender's client id).

use noillin_domain::{
    UserId,
    chat::{Conversation, ConversationId, Message, MessagePreview, Participant, Subject},
};
use rusqlite::{Connection, OptionalExtension};

use super::super::{corrupt, db_error, from_json, millis, timestamp, to_json};
use crate::{StoreError, distinct};

/// The conversation columns in the order [`conversation_from_row`] reads them.
const CONVERSATION_COLUMNS: &str = "id, key, subject, brand_id, member_ids, created_at, \
     last_activity_at, last_seq, last_message";

/// A `conversations` row as raw column values, decoded outside rusqlite's row callback (whose
/// error type cannot carry a [`StoreError`]).
type ConversationRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<String>,
);

fn conversation_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ConversationRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

/// The message columns in the order [`message_from_row`] reads them.
pub(super) const MESSAGE_COLUMNS: &str =
    "conversation_id, seq, sender_id, client_id, text, sent_at";

type MessageRow = (String, i64, String, String, String, i64);

pub(super) fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

pub(super) fn decode_message(row: MessageRow) -> Result<Message, StoreError> {
    let (conversation_id, seq, sender_id, client_id, text, sent_at) = row;
    Ok(Message {
        conversation_id: ConversationId::from_string(conversation_id),
        seq: stored_seq("message number", seq)?,
        sender_id: UserId::from_string(sender_id),
        client_id,
        text,
        sent_at: timestamp(sent_at)?,
    })
}

/// A number as stored (SQLite's signed INTEGER): never negative in data we wrote.
pub(super) fn stored_seq(what: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|e| corrupt(what, e))
}

/// A number the caller gave, as SQLite compares it: beyond `i64::MAX` no stored number is that
/// high, so `i64::MAX` compares the same.
pub(super) fn seq_value(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// A number the store is about to write.
fn seq_to_store(what: &str, seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq)
        .map_err(|_| StoreError::Unavailable(format!("{what} {seq} does not fit SQLite's INTEGER")))
}

/// The conversation with `id`, with its parties (brand first, then the members in order).
pub(super) fn load(connection: &Connection, id: &str) -> Result<Option<Conversation>, StoreError> {
    let row = connection
        .prepare_cached(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?1"
        ))
        .map_err(db_error)?
        .query_row([id], conversation_from_row)
        .optional()
        .map_err(db_error)?;
    row.map(|row| decode_conversation(connection, row))
        .transpose()
}

/// The conversation with `key`.
pub(super) fn load_by_key(
    connection: &Connection,
    key: &str,
) -> Result<Option<Conversation>, StoreError> {
    let row = connection
        .prepare_cached(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE key = ?1"
        ))
        .map_err(db_error)?
        .query_row([key], conversation_from_row)
        .optional()
        .map_err(db_error)?;
    row.map(|row| decode_conversation(connection, row))
        .transpose()
}

/// Decodes a `conversations` row and reads its parties on the same connection (in a write, the
/// same transaction).
fn decode_conversation(
    connection: &Connection,
    row: ConversationRow,
) -> Result<Conversation, StoreError> {
    let (id, key, subject, brand_id, member_ids, created_at, last_activity_at, last_seq, last) =
        row;
    let participants = connection
        .prepare_cached(
            "SELECT user_id, read_seq FROM conversation_participants \
             WHERE conversation_id = ?1 ORDER BY position",
        )
        .map_err(db_error)?
        .query_map([&id], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?
        .into_iter()
        .map(|(user_id, read_seq)| {
            Ok(Participant {
                user_id: UserId::from_string(user_id),
                read_seq: stored_seq("read mark", read_seq)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Conversation {
        id: ConversationId::from_string(id),
        key,
        subject: from_json::<Subject>("conversation subject", &subject)?,
        brand_id: UserId::from_string(brand_id),
        member_ids: from_json("conversation members", &member_ids)?,
        participants,
        created_at: timestamp(created_at)?,
        last_activity_at: timestamp(last_activity_at)?,
        last_seq: stored_seq("conversation's last number", last_seq)?,
        last_message: last
            .map(|last| from_json::<MessagePreview>("last message", &last))
            .transpose()?,
    })
}

/// The message `sender` stored with `client_id` in `conversation`, if any.
pub(super) fn find_by_client_id(
    connection: &Connection,
    conversation: &str,
    sender: &str,
    client_id: &str,
) -> Result<Option<Message>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE conversation_id = ?1 AND sender_id = ?2 AND client_id = ?3"
        ))
        .map_err(db_error)?
        .query_row([conversation, sender, client_id], message_from_row)
        .optional()
        .map_err(db_error)?
        .map(decode_message)
        .transpose()
}

/// The conversation as the store will hold it: each party once (the first time it is listed),
/// timestamps to the millisecond.
pub(super) struct ConversationRecord {
    pub(super) id: String,
    pub(super) key: String,
    subject: String,
    brand_id: String,
    member_ids: String,
    created_at: i64,
    last_activity_at: i64,
    last_seq: i64,
    last_message: Option<String>,
    /// `(user_id, read_seq)` in order.
    participants: Vec<(String, i64)>,
}

impl ConversationRecord {
    pub(super) fn encode(conversation: &Conversation) -> Result<Self, StoreError> {
        let last_message = conversation
            .last_message
            .as_ref()
            .map(|last| {
                to_json(&MessagePreview {
                    sent_at: timestamp(millis(last.sent_at))?,
                    ..last.clone()
                })
            })
            .transpose()?;
        let mut participants: Vec<(String, i64)> = Vec::new();
        for participant in &conversation.participants {
            if participants
                .iter()
                .all(|(user, _)| user != participant.user_id.as_str())
            {
                participants.push((
                    participant.user_id.as_str().to_owned(),
                    seq_to_store("read mark", participant.read_seq)?,
                ));
            }
        }
        Ok(Self {
            id: conversation.id.as_str().to_owned(),
            key: conversation.key.clone(),
            subject: to_json(&conversation.subject)?,
            brand_id: conversation.brand_id.as_str().to_owned(),
            member_ids: to_json(&distinct(&conversation.member_ids))?,
            created_at: millis(conversation.created_at),
            last_activity_at: millis(conversation.last_activity_at),
            last_seq: seq_to_store("last number", conversation.last_seq)?,
            last_message,
            participants,
        })
    }

    pub(super) fn insert(&self, tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
        tx.prepare_cached(&format!(
            "INSERT INTO conversations ({CONVERSATION_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ))
        .map_err(db_error)?
        .execute(rusqlite::params![
            self.id,
            self.key,
            self.subject,
            self.brand_id,
            self.member_ids,
            self.created_at,
            self.last_activity_at,
            self.last_seq,
            self.last_message,
        ])
        .map_err(db_error)?;
        let mut statement = tx
            .prepare_cached(
                "INSERT INTO conversation_participants \
                 (conversation_id, user_id, position, read_seq, last_activity_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(db_error)?;
        for ((user_id, read_seq), position) in self.participants.iter().zip(0_i64..) {
            statement
                .execute(rusqlite::params![
                    self.id,
                    user_id,
                    position,
                    read_seq,
                    self.last_activity_at
                ])
                .map_err(db_error)?;
        }
        Ok(())
    }
}
