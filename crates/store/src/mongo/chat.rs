//! Chat in MongoDB:
//! - `conversations`: one document per conversation (`_id` = its id), `{key, subject, brand_id,
//!   member_ids, participants: [{user_id, read_seq}], created_at, last_activity_at, last_seq,
//!   last_message}`. `key` is unique (one conversation per subject), and
//!   `(participants.user_id, last_activity_at desc, _id desc)` serves a user's list, newest
//!   activity first, keyset paged, in index order.
//! - `messages`: one document per message, `{conversation_id, seq, sender_id, client_id, text,
//!   sent_at}`; `(conversation_id, seq)` is unique (and serves history pages), and so is
//!   `(conversation_id, sender_id, client_id)` (a retried send is stored once).
//!
//! # Why racing appends get distinct consecutive numbers
//!
//! An append is one transaction: it looks for the sender's earlier message with the same client
//! id, then `$inc`s the conversation's `last_seq` and takes the result as the message's number,
//! inserts the message, sets the conversation's last activity and message and the sender's read
//! mark, and inserts the outbox messages made for the numbered message. Of two transactions that
//! write one document only one commits; the other fails with a write conflict (so does one whose
//! snapshot predates the first's commit), and [`MongoStore::transact`] runs it again from the
//! start on a fresh snapshot. So the appends to one conversation run as if one at a time: each
//! numbers after its predecessor, and the look-up by client id, made in the same snapshot as the
//! `$inc`, sees every message committed before it (a send committed after that snapshot makes
//! the `$inc` conflict). The unique indexes back both rules up.
//!
//! Opening is a single insert: a racing open of the same key loses on the unique index and reads
//! the winner. Moving a read mark is a single `$max` on the party's array element.

use async_trait::async_trait;
use futures::FutureExt;
use mongodb::{
    Collection,
    bson::doc,
    options::{ReadConcern, ReturnDocument},
};
use noillin_domain::{
    UserId,
    chat::{Conversation, ConversationId, HistoryPage, Message, NewMessage, preview},
};

use super::{
    MongoStore, collect, date, index, is_duplicate_key, outbox::OutboxDoc, timestamp, unavailable,
};
use crate::{ChatRepository, ConversationCursor, MessageOutbox, StoreError};

mod documents;

pub(super) use documents::{ConversationDoc, MessageDoc};
use documents::{LastSeqOnly, ReadMarks, seq_value, stored_seq};

/// Creates the indexes of `conversations` and `messages`.
pub(super) async fn create_indexes(
    conversations: &Collection<ConversationDoc>,
    messages: &Collection<MessageDoc>,
) -> Result<(), StoreError> {
    conversations
        .create_index(index(doc! { "key": 1 }, "conversations_key", |options| {
            options.unique = Some(true);
        }))
        .await
        .map_err(unavailable)?;
    conversations
        .create_index(index(
            doc! { "participants.user_id": 1, "last_activity_at": -1, "_id": -1 },
            "conversations_participant_activity",
            |_| {},
        ))
        .await
        .map_err(unavailable)?;
    messages
        .create_index(index(
            doc! { "conversation_id": 1, "seq": 1 },
            "messages_conversation_seq",
            |options| options.unique = Some(true),
        ))
        .await
        .map_err(unavailable)?;
    messages
        .create_index(index(
            doc! { "conversation_id": 1, "sender_id": 1, "client_id": 1 },
            "messages_conversation_sender_client_id",
            |options| options.unique = Some(true),
        ))
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// What an append's transaction ends with when it stores nothing.
enum NotAppended {
    /// The sender stored a message with this client id already.
    Stored(Message),
    /// No such conversation.
    Missing,
    /// A unique index refused the message: a racing send of the same client id got in first.
    Duplicate,
    Failed(StoreError),
}

/// What an append's transaction works from, on each attempt.
struct Append<'a> {
    message: NewMessage,
    outbox: MessageOutbox<'a>,
}

impl MongoStore {
    /// The message `sender` stored with `client_id` in `conversation`, read from the primary's
    /// latest state (the write that made ours a duplicate may not be majority-committed yet).
    async fn stored_by_client_id(
        &self,
        conversation: &str,
        sender: &str,
        client_id: &str,
    ) -> Result<Option<Message>, StoreError> {
        self.messages
            .find_one(doc! {
                "conversation_id": conversation,
                "sender_id": sender,
                "client_id": client_id,
            })
            .read_concern(ReadConcern::local())
            .await
            .map_err(unavailable)?
            .map(MessageDoc::into_message)
            .transpose()
    }
}

#[async_trait]
impl ChatRepository for MongoStore {
    async fn open(&self, conversation: &Conversation) -> Result<(Conversation, bool), StoreError> {
        let document = ConversationDoc::encode(conversation)?;
        match self.conversations.insert_one(&document).await {
            Ok(_) => Ok((document.into_conversation()?, true)),
            Err(e) if is_duplicate_key(&e) => {
                // The winner of a racing open may not be majority-committed yet: read the
                // primary's latest state.
                let existing = self
                    .conversations
                    .find_one(doc! { "key": &document.key })
                    .read_concern(ReadConcern::local())
                    .await
                    .map_err(unavailable)?;
                match existing {
                    Some(existing) => Ok((existing.into_conversation()?, false)),
                    // The only other unique index is `_id`: a new UUIDv7 never collides.
                    None => Err(StoreError::Unavailable(format!(
                        "conversation {} exists under another key",
                        document.id
                    ))),
                }
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn find(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError> {
        self.conversations
            .find_one(doc! { "_id": id.as_str() })
            .await
            .map_err(unavailable)?
            .map(ConversationDoc::into_conversation)
            .transpose()
    }

    async fn find_by_key(&self, key: &str) -> Result<Option<Conversation>, StoreError> {
        self.conversations
            .find_one(doc! { "key": key })
            .await
            .map_err(unavailable)?
            .map(ConversationDoc::into_conversation)
            .transpose()
    }

    async fn list_for(
        &self,
        user: &UserId,
        after: Option<&ConversationCursor>,
        limit: u32,
    ) -> Result<Vec<Conversation>, StoreError> {
        // A limit of 0 means "no limit" to the server.
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut filter = doc! { "participants.user_id": user.as_str() };
        if let Some(after) = after {
            let at = date(after.last_activity_at);
            filter.insert(
                "$or",
                vec![
                    doc! { "last_activity_at": { "$lt": at } },
                    doc! { "last_activity_at": at, "_id": { "$lt": after.id.as_str() } },
                ],
            );
        }
        let cursor = self
            .conversations
            .find(filter)
            .sort(doc! { "last_activity_at": -1, "_id": -1 })
            .limit(i64::from(limit))
            .await
            .map_err(unavailable)?;
        collect(cursor, ConversationDoc::into_conversation).await
    }

    async fn append(
        &self,
        message: NewMessage,
        outbox: MessageOutbox<'_>,
    ) -> Result<(Message, bool), StoreError> {
        let conversation = message.conversation_id.as_str().to_owned();
        let sender = message.sender_id.as_str().to_owned();
        let client_id = message.client_id.clone();
        let context = Append {
            // Kept to the millisecond, as stored, so the message returned is the one read back.
            message: NewMessage {
                sent_at: timestamp(date(message.sent_at))?,
                ..message
            },
            outbox,
        };
        // The outbox messages depend on the number, so the transaction inserts them itself.
        let appended = self
            .transact(&[], &context, |store, session, context| {
                async move {
                    let new = &context.message;
                    let id = new.conversation_id.as_str();
                    let first = store
                        .messages
                        .find_one(doc! {
                            "conversation_id": id,
                            "sender_id": new.sender_id.as_str(),
                            "client_id": &new.client_id,
                        })
                        .session(&mut *session)
                        .await?;
                    if let Some(first) = first {
                        return Ok(Err(match first.into_message() {
                            Ok(first) => NotAppended::Stored(first),
                            Err(e) => NotAppended::Failed(e),
                        }));
                    }
                    let numbered = store
                        .conversations
                        .clone_with_type::<LastSeqOnly>()
                        .find_one_and_update(
                            doc! { "_id": id },
                            doc! { "$inc": { "last_seq": 1_i64 } },
                        )
                        .projection(doc! { "last_seq": 1 })
                        .return_document(ReturnDocument::After)
                        .session(&mut *session)
                        .await?;
                    let Some(numbered) = numbered else {
                        return Ok(Err(NotAppended::Missing));
                    };
                    let numbered = stored_seq("conversation's last number", numbered.last_seq)
                        .map(|seq| new.clone().numbered(seq))
                        .and_then(|message| Ok((MessageDoc::encode(&message)?, message)));
                    let (document, message) = match numbered {
                        Ok(numbered) => numbered,
                        Err(e) => return Ok(Err(NotAppended::Failed(e))),
                    };
                    match store
                        .messages
                        .insert_one(&document)
                        .session(&mut *session)
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if is_duplicate_key(&e) => {
                            return Ok(Err(NotAppended::Duplicate));
                        }
                        Err(e) => return Err(e),
                    }
                    let last_message = doc! {
                        "seq": document.seq,
                        "sender_id": &document.sender_id,
                        "text": preview(&document.text),
                        "sent_at": document.sent_at,
                    };
                    store
                        .conversations
                        .update_one(
                            doc! { "_id": id },
                            doc! {
                                "$set": {
                                    "last_activity_at": document.sent_at,
                                    "last_message": last_message,
                                },
                                // Sending reads everything up to one's own message.
                                "$max": { "participants.$[sender].read_seq": document.seq },
                            },
                        )
                        .array_filters(vec![doc! { "sender.user_id": &document.sender_id }])
                        .session(&mut *session)
                        .await?;
                    let messages: Vec<OutboxDoc> = (context.outbox)(&message)
                        .iter()
                        .map(OutboxDoc::encode)
                        .collect();
                    if !messages.is_empty() {
                        store
                            .outbox
                            .insert_many(&messages)
                            .session(&mut *session)
                            .await?;
                    }
                    Ok(Ok(message))
                }
                .boxed()
            })
            .await?;
        match appended {
            Ok(message) => Ok((message, true)),
            Err(NotAppended::Stored(first)) => Ok((first, false)),
            Err(NotAppended::Missing) => Err(StoreError::NotFound),
            Err(NotAppended::Failed(e)) => Err(e),
            Err(NotAppended::Duplicate) => self
                .stored_by_client_id(&conversation, &sender, &client_id)
                .await?
                .map(|first| (first, false))
                .ok_or_else(|| {
                    StoreError::Unavailable(format!(
                        "a message numbered in conversation {conversation} is stored already"
                    ))
                }),
        }
    }

    async fn messages(
        &self,
        conversation: &ConversationId,
        page: HistoryPage,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        // A limit of 0 means "no limit" to the server.
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut filter = doc! { "conversation_id": conversation.as_str() };
        let newest_first = match page {
            HistoryPage::Latest => true,
            HistoryPage::Before(seq) => {
                filter.insert("seq", doc! { "$lt": seq_value(seq) });
                true
            }
            HistoryPage::After(seq) => {
                filter.insert("seq", doc! { "$gt": seq_value(seq) });
                false
            }
        };
        let direction = if newest_first { -1 } else { 1 };
        let cursor = self
            .messages
            .find(filter)
            .sort(doc! { "seq": direction })
            .limit(i64::from(limit))
            .await
            .map_err(unavailable)?;
        let mut messages = collect(cursor, MessageDoc::into_message).await?;
        if newest_first {
            messages.reverse();
        }
        Ok(messages)
    }

    async fn mark_read(
        &self,
        conversation: &ConversationId,
        user: &UserId,
        up_to: u64,
    ) -> Result<Option<u64>, StoreError> {
        let marks = self
            .conversations
            .clone_with_type::<ReadMarks>()
            .find_one(doc! { "_id": conversation.as_str() })
            .projection(doc! { "last_seq": 1, "participants": 1 })
            .await
            .map_err(unavailable)?;
        let Some(marks) = marks else {
            return Ok(None);
        };
        let Some(current) = marks.of(user.as_str()) else {
            return Ok(None);
        };
        // `last_seq` only grows, so the number read here is a cap that holds at the write too.
        let target = seq_value(up_to).min(marks.last_seq);
        // Most calls re-read what was read already: those write nothing.
        if current >= target {
            return stored_seq("read mark", current).map(Some);
        }
        let marked = self
            .conversations
            .clone_with_type::<ReadMarks>()
            .find_one_and_update(
                doc! { "_id": conversation.as_str(), "participants.user_id": user.as_str() },
                doc! { "$max": { "participants.$[party].read_seq": target } },
            )
            .array_filters(vec![doc! { "party.user_id": user.as_str() }])
            .projection(doc! { "last_seq": 1, "participants": 1 })
            .return_document(ReturnDocument::After)
            .await
            .map_err(unavailable)?;
        marked
            .and_then(|marks| marks.of(user.as_str()))
            .map(|mark| stored_seq("read mark", mark))
            .transpose()
    }
}
