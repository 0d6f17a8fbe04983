//! Chat in SQLite (migration `0010_chat.sql`): a `conversations` row per conversation with its
//! last number and last message, a `conversation_participants` row per party with its read mark
//! (and a copy of the conversation's last activity, so a user's list walks one index in order),
//! and a `messages` row per message, keyed by its number.
//!
//! An append is one `BEGIN IMMEDIATE` transaction: every writer of the file, in this process or
//! another, waits for the write lock before reading the conversation's last number, so racing
//! appends get distinct consecutive numbers. The outbox messages depend on the number, and the
//! caller's outbox function cannot move to the blocking pool (it borrows from the caller), so
//! the transaction hands the numbered message back to the calling task and waits for the
//! function's answer before it inserts them and commits.

use async_trait::async_trait;
use noillin_domain::{
    UserId,
    chat::{
        Conversation, ConversationId, HistoryPage, Message, MessagePreview, NewMessage,
        Participant, Subject, preview,
    },
};
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::{SqliteStore, corrupt, db_error, from_json, millis, outbox, timestamp, to_json};
use crate::{
    ChatRepository, ConversationCursor, MessageOutbox, OutboxMessage, StoreError, distinct,
};

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
const MESSAGE_COLUMNS: &str = "conversation_id, seq, sender_id, client_id, text, sent_at";

type MessageRow = (String, i64, String, String, String, i64);

fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn decode_message(row: MessageRow) -> Result<Message, StoreError> {
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
fn stored_seq(what: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|e| corrupt(what, e))
}

/// A number the caller gave, as SQLite compares it: beyond `i64::MAX` no stored number is that
/// high, so `i64::MAX` compares the same.
fn seq_value(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// A number the store is about to write.
fn seq_to_store(what: &str, seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq)
        .map_err(|_| StoreError::Unavailable(format!("{what} {seq} does not fit SQLite's INTEGER")))
}

/// The conversation with `id`, with its parties (brand first, then the members in order).
fn load(connection: &Connection, id: &str) -> Result<Option<Conversation>, StoreError> {
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
fn load_by_key(connection: &Connection, key: &str) -> Result<Option<Conversation>, StoreError> {
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
fn find_by_client_id(
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
struct ConversationRecord {
    id: String,
    key: String,
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
    fn encode(conversation: &Conversation) -> Result<Self, StoreError> {
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

    fn insert(&self, tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
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

#[async_trait]
impl ChatRepository for SqliteStore {
    async fn open(&self, conversation: &Conversation) -> Result<(Conversation, bool), StoreError> {
        let record = ConversationRecord::encode(conversation)?;
        self.write(move |tx| {
            // Inside the write lock: of racing opens of one key, the first stores it and the
            // others find it here.
            if let Some(existing) = load_by_key(tx, &record.key)? {
                return Ok((existing, false));
            }
            record.insert(tx)?;
            let stored = load(tx, &record.id)?
                .ok_or_else(|| StoreError::Unavailable("a stored conversation vanished".into()))?;
            Ok((stored, true))
        })
        .await
    }

    async fn find(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError> {
        let id = id.as_str().to_owned();
        self.look_up(move |connection| snapshot(connection, |connection| load(connection, &id)))
            .await
    }

    async fn list_for(
        &self,
        user: &UserId,
        after: Option<&ConversationCursor>,
        limit: u32,
    ) -> Result<Vec<Conversation>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let user = user.as_str().to_owned();
        let after = after.map(|cursor| (millis(cursor.last_activity_at), cursor.id.to_string()));
        self.read(move |connection| {
            // One snapshot for the page: outside a transaction each statement would get its own,
            // and a message arriving in between could show a conversation whose last activity
            // is not the one it was placed by.
            snapshot(connection, |connection| {
                let limit = i64::from(limit);
                let ids = match &after {
                    None => connection
                        .prepare_cached(LIST_FIRST_PAGE)
                        .map_err(db_error)?
                        .query_map(rusqlite::params![user, limit], |row| {
                            row.get::<_, String>(0)
                        })
                        .map_err(db_error)?
                        .collect::<Result<Vec<_>, _>>(),
                    Some((activity, id)) => connection
                        .prepare_cached(LIST_NEXT_PAGE)
                        .map_err(db_error)?
                        .query_map(rusqlite::params![user, activity, id, limit], |row| {
                            row.get::<_, String>(0)
                        })
                        .map_err(db_error)?
                        .collect::<Result<Vec<_>, _>>(),
                }
                .map_err(db_error)?;
                ids.iter()
                    .map(|id| {
                        load(connection, id)?.ok_or_else(|| {
                            StoreError::Corrupt(format!(
                                "participant row of missing conversation {id}"
                            ))
                        })
                    })
                    .collect()
            })
        })
        .await
    }

    async fn append(
        &self,
        message: NewMessage,
        outbox: MessageOutbox<'_>,
    ) -> Result<(Message, bool), StoreError> {
        let (ask, asked) = oneshot::channel::<Message>();
        let (answer, answered) = oneshot::channel::<Vec<OutboxMessage>>();
        let sent_at = timestamp(millis(message.sent_at))?;
        let write = self.write(move |tx| {
            let conversation = message.conversation_id.as_str();
            let sender = message.sender_id.as_str();
            if let Some(first) = find_by_client_id(tx, conversation, sender, &message.client_id)? {
                return Ok((first, false));
            }
            let last_seq: i64 = tx
                .prepare_cached("SELECT last_seq FROM conversations WHERE id = ?1")
                .map_err(db_error)?
                .query_row([conversation], |row| row.get(0))
                .optional()
                .map_err(db_error)?
                .ok_or(StoreError::NotFound)?;
            let seq = last_seq
                .checked_add(1)
                .ok_or_else(|| StoreError::Unavailable("message numbers exhausted".into()))?;
            let stored = Message {
                sent_at,
                ..message.clone().numbered(stored_seq("message number", seq)?)
            };
            tx.prepare_cached(&format!(
                "INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))
            .map_err(db_error)?
            .execute(rusqlite::params![
                conversation,
                seq,
                sender,
                stored.client_id,
                stored.text,
                millis(sent_at),
            ])
            .map_err(db_error)?;
            let last_message = to_json(&MessagePreview {
                seq: stored.seq,
                sender_id: stored.sender_id.clone(),
                text: preview(&stored.text),
                sent_at,
            })?;
            tx.prepare_cached(
                "UPDATE conversations SET last_seq = ?2, last_activity_at = ?3, last_message = ?4 \
                 WHERE id = ?1",
            )
            .map_err(db_error)?
            .execute(rusqlite::params![
                conversation,
                seq,
                millis(sent_at),
                last_message
            ])
            .map_err(db_error)?;
            tx.prepare_cached(
                "UPDATE conversation_participants SET last_activity_at = ?2 \
                 WHERE conversation_id = ?1",
            )
            .map_err(db_error)?
            .execute(rusqlite::params![conversation, millis(sent_at)])
            .map_err(db_error)?;
            // Sending reads everything up to one's own message.
            tx.prepare_cached(
                "UPDATE conversation_participants SET read_seq = MAX(read_seq, ?3) \
                 WHERE conversation_id = ?1 AND user_id = ?2",
            )
            .map_err(db_error)?
            .execute(rusqlite::params![conversation, sender, seq])
            .map_err(db_error)?;
            ask.send(stored.clone())
                .map_err(|_| StoreError::Unavailable("the sender stopped waiting".into()))?;
            let messages = answered.blocking_recv().map_err(|_| {
                StoreError::Unavailable("the outbox messages of a message never came".into())
            })?;
            outbox::insert_messages(tx, &messages)?;
            Ok((stored, true))
        });
        // Answers the transaction's request, if it makes one: it asks only once it numbered a
        // new message, and drops `ask` unasked otherwise.
        let supply = async move {
            if let Ok(numbered) = asked.await {
                // A send fails only when the transaction gave up waiting; it reports that.
                answer.send(outbox(&numbered)).ok();
            }
        };
        let (appended, ()) = tokio::join!(write, supply);
        appended
    }

    async fn messages(
        &self,
        conversation: &ConversationId,
        page: HistoryPage,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let conversation = conversation.as_str().to_owned();
        self.read(move |connection| {
            let limit = i64::from(limit);
            let (sql, bound, newest_first) = match page {
                HistoryPage::Latest => (HISTORY_LATEST, i64::MAX, true),
                HistoryPage::Before(seq) => (HISTORY_BEFORE, seq_value(seq), true),
                HistoryPage::After(seq) => (HISTORY_AFTER, seq_value(seq), false),
            };
            let rows = connection
                .prepare_cached(sql)
                .map_err(db_error)?
                .query_map(
                    rusqlite::params![conversation, bound, limit],
                    message_from_row,
                )
                .map_err(db_error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_error)?;
            let mut messages = rows
                .into_iter()
                .map(decode_message)
                .collect::<Result<Vec<_>, _>>()?;
            if newest_first {
                messages.reverse();
            }
            Ok(messages)
        })
        .await
    }

    async fn mark_read(
        &self,
        conversation: &ConversationId,
        user: &UserId,
        up_to: u64,
    ) -> Result<Option<u64>, StoreError> {
        let conversation = conversation.as_str().to_owned();
        let user = user.as_str().to_owned();
        let up_to = seq_value(up_to);
        // Most calls re-read what was read already: those need no write lock.
        let current = {
            let (conversation, user) = (conversation.clone(), user.clone());
            self.look_up(move |connection| read_mark(connection, &conversation, &user))
                .await?
        };
        match current {
            None => return Ok(None),
            Some((read_seq, last_seq)) if read_seq >= up_to.min(last_seq) => {
                return Ok(Some(stored_seq("read mark", read_seq)?));
            }
            Some(_) => {}
        }
        self.write(move |tx| {
            tx.prepare_cached(
                "UPDATE conversation_participants SET read_seq = MAX(read_seq, \
                 MIN(?3, (SELECT last_seq FROM conversations WHERE id = ?1))) \
                 WHERE conversation_id = ?1 AND user_id = ?2 RETURNING read_seq",
            )
            .map_err(db_error)?
            .query_row(rusqlite::params![conversation, user, up_to], |row| {
                row.get::<_, i64>(0)
            })
            .optional()
            .map_err(db_error)?
            .map(|read_seq| stored_seq("read mark", read_seq))
            .transpose()
        })
        .await
    }
}

/// Runs the reads of `f` in one read transaction, so they all see one state of the file.
fn snapshot<T>(
    connection: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // Rolled back when dropped: it wrote nothing, so that only ends it.
    let tx = connection.unchecked_transaction().map_err(db_error)?;
    f(&tx)
}

/// `user`'s read mark in `conversation` and the conversation's last number; `None` when `user`
/// is not a party.
fn read_mark(
    connection: &Connection,
    conversation: &str,
    user: &str,
) -> Result<Option<(i64, i64)>, StoreError> {
    connection
        .prepare_cached(
            "SELECT p.read_seq, c.last_seq FROM conversation_participants AS p \
             JOIN conversations AS c ON c.id = p.conversation_id \
             WHERE p.conversation_id = ?1 AND p.user_id = ?2",
        )
        .map_err(db_error)?
        .query_row([conversation, user], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .map_err(db_error)
}

/// A user's first page of conversations: walks `conversation_participants_user` in order.
const LIST_FIRST_PAGE: &str = "SELECT conversation_id FROM conversation_participants \
     WHERE user_id = ?1 \
     ORDER BY last_activity_at DESC, conversation_id DESC LIMIT ?2";

/// The page after a cursor: the row-value comparison is a range on the same index, so the walk
/// starts at the cursor.
const LIST_NEXT_PAGE: &str = "SELECT conversation_id FROM conversation_participants \
     WHERE user_id = ?1 AND (last_activity_at, conversation_id) < (?2, ?3) \
     ORDER BY last_activity_at DESC, conversation_id DESC LIMIT ?4";

const HISTORY_LATEST: &str = "SELECT conversation_id, seq, sender_id, client_id, text, sent_at \
     FROM messages WHERE conversation_id = ?1 AND seq <= ?2 ORDER BY seq DESC LIMIT ?3";

const HISTORY_BEFORE: &str = "SELECT conversation_id, seq, sender_id, client_id, text, sent_at \
     FROM messages WHERE conversation_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3";

const HISTORY_AFTER: &str = "SELECT conversation_id, seq, sender_id, client_id, text, sent_at \
     FROM messages WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq ASC LIMIT ?3";

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan SQLite picks for `sql`, one detail per line.
    fn plan(connection: &Connection, sql: &str, params: impl rusqlite::Params) -> String {
        connection
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(params, |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .join("\n")
    }

    #[tokio::test]
    async fn conversation_lists_and_history_pages_walk_an_index_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let connection = store.connection.lock().unwrap();

        let first = plan(&connection, LIST_FIRST_PAGE, rusqlite::params!["u", 10]);
        let next = plan(
            &connection,
            LIST_NEXT_PAGE,
            rusqlite::params!["u", 1_i64, "c", 10],
        );
        for plan in [&first, &next] {
            assert!(
                plan.contains("USING COVERING INDEX conversation_participants_user"),
                "{plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
        assert!(
            next.contains("(user_id=? AND (last_activity_at,conversation_id)<(?,?))"),
            "the cursor is a range on the index, where the walk starts: {next}"
        );

        for sql in [HISTORY_LATEST, HISTORY_BEFORE, HISTORY_AFTER] {
            let plan = plan(&connection, sql, rusqlite::params!["c", 5_i64, 10]);
            assert!(plan.contains("PRIMARY KEY"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
}
