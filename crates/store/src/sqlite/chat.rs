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
        Conversation, ConversationId, HistoryPage, Message, MessagePreview, NewMessage, preview,
    },
};
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::{SqliteStore, db_error, millis, outbox, timestamp, to_json};
use crate::{ChatRepository, ConversationCursor, MessageOutbox, OutboxMessage, StoreError};

mod rows;

use rows::{
    ConversationRecord, MESSAGE_COLUMNS, decode_message, find_by_client_id, load, load_by_key,
    message_from_row, seq_value, stored_seq,
};

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

    async fn find_by_key(&self, key: &str) -> Result<Option<Conversation>, StoreError> {
        let key = key.to_owned();
        self.look_up(move |connection| {
            snapshot(connection, |connection| load_by_key(connection, &key))
        })
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
