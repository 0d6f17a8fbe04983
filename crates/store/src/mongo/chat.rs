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
    bson::{DateTime, doc},
    options::{ReadConcern, ReturnDocument},
};
use noillin_domain::{
    UserId,
    chat::{
        Conversation, ConversationId, HistoryPage, Message, MessagePreview, NewMessage,
        Participant, Subject, preview,
    },
};
use serde::{Deserialize, Serialize};

use super::{
    MongoStore, collect, corrupt, date, index, is_duplicate_key, outbox::OutboxDoc, timestamp,
    unavailable,
};
use crate::{ChatRepository, ConversationCursor, MessageOutbox, StoreError, distinct};

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

/// A document of `conversations`. The subject keeps the domain's serde form (`{kind, …}`).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ConversationDoc {
    #[serde(rename = "_id")]
    id: String,
    key: String,
    subject: Subject,
    brand_id: String,
    member_ids: Vec<String>,
    /// The brand first, then the members; each party once.
    participants: Vec<ParticipantDoc>,
    created_at: DateTime,
    last_activity_at: DateTime,
    last_seq: i64,
    last_message: Option<PreviewDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ParticipantDoc {
    user_id: String,
    read_seq: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct PreviewDoc {
    seq: i64,
    sender_id: String,
    text: String,
    sent_at: DateTime,
}

/// A document of `messages` (its `_id` is the server's ObjectId, never read).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct MessageDoc {
    conversation_id: String,
    seq: i64,
    sender_id: String,
    client_id: String,
    text: String,
    sent_at: DateTime,
}

/// A number the store writes, as MongoDB's int64.
fn seq_to_store(what: &str, seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq)
        .map_err(|_| StoreError::Unavailable(format!("{what} {seq} does not fit MongoDB's int64")))
}

/// A number as stored: never negative in documents we wrote.
fn stored_seq(what: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|e| corrupt(what, e))
}

/// A number the caller gave, as MongoDB compares it: beyond `i64::MAX` no stored number is that
/// high, so `i64::MAX` compares the same.
fn seq_value(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

impl ConversationDoc {
    fn encode(conversation: &Conversation) -> Result<Self, StoreError> {
        let mut participants: Vec<ParticipantDoc> = Vec::new();
        for participant in &conversation.participants {
            if participants
                .iter()
                .all(|p| p.user_id != participant.user_id.as_str())
            {
                participants.push(ParticipantDoc {
                    user_id: participant.user_id.as_str().to_owned(),
                    read_seq: seq_to_store("read mark", participant.read_seq)?,
                });
            }
        }
        Ok(Self {
            id: conversation.id.as_str().to_owned(),
            key: conversation.key.clone(),
            subject: conversation.subject.clone(),
            brand_id: conversation.brand_id.as_str().to_owned(),
            member_ids: distinct(&conversation.member_ids)
                .into_iter()
                .map(|id| id.as_str().to_owned())
                .collect(),
            participants,
            created_at: date(conversation.created_at),
            last_activity_at: date(conversation.last_activity_at),
            last_seq: seq_to_store("last number", conversation.last_seq)?,
            last_message: conversation
                .last_message
                .as_ref()
                .map(PreviewDoc::encode)
                .transpose()?,
        })
    }

    fn into_conversation(self) -> Result<Conversation, StoreError> {
        Ok(Conversation {
            id: ConversationId::from_string(self.id),
            key: self.key,
            subject: self.subject,
            brand_id: UserId::from_string(self.brand_id),
            member_ids: self
                .member_ids
                .into_iter()
                .map(UserId::from_string)
                .collect(),
            participants: self
                .participants
                .into_iter()
                .map(|p| {
                    Ok(Participant {
                        user_id: UserId::from_string(p.user_id),
                        read_seq: stored_seq("read mark", p.read_seq)?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            created_at: timestamp(self.created_at)?,
            last_activity_at: timestamp(self.last_activity_at)?,
            last_seq: stored_seq("conversation's last number", self.last_seq)?,
            last_message: self
                .last_message
                .map(PreviewDoc::into_preview)
                .transpose()?,
        })
    }
}

impl PreviewDoc {
    fn encode(preview: &MessagePreview) -> Result<Self, StoreError> {
        Ok(Self {
            seq: seq_to_store("message number", preview.seq)?,
            sender_id: preview.sender_id.as_str().to_owned(),
            text: preview.text.clone(),
            sent_at: date(preview.sent_at),
        })
    }

    fn into_preview(self) -> Result<MessagePreview, StoreError> {
        Ok(MessagePreview {
            seq: stored_seq("message number", self.seq)?,
            sender_id: UserId::from_string(self.sender_id),
            text: self.text,
            sent_at: timestamp(self.sent_at)?,
        })
    }
}

impl MessageDoc {
    fn encode(message: &Message) -> Result<Self, StoreError> {
        Ok(Self {
            conversation_id: message.conversation_id.as_str().to_owned(),
            seq: seq_to_store("message number", message.seq)?,
            sender_id: message.sender_id.as_str().to_owned(),
            client_id: message.client_id.clone(),
            text: message.text.clone(),
            sent_at: date(message.sent_at),
        })
    }

    fn into_message(self) -> Result<Message, StoreError> {
        Ok(Message {
            conversation_id: ConversationId::from_string(self.conversation_id),
            seq: stored_seq("message number", self.seq)?,
            sender_id: UserId::from_string(self.sender_id),
            client_id: self.client_id,
            text: self.text,
            sent_at: timestamp(self.sent_at)?,
        })
    }
}

/// `conversations` projected on the last number.
#[derive(Debug, Deserialize)]
struct LastSeqOnly {
    last_seq: i64,
}

/// `conversations` projected on what a read mark needs.
#[derive(Debug, Deserialize)]
struct ReadMarks {
    last_seq: i64,
    participants: Vec<ParticipantDoc>,
}

impl ReadMarks {
    /// `user`'s mark, `None` when `user` is not a party.
    fn of(&self, user: &str) -> Option<i64> {
        self.participants
            .iter()
            .find(|p| p.user_id == user)
            .map(|p| p.read_seq)
    }
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

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use mongodb::bson::{self, Document};
    use noillin_domain::{booking::BookingId, gig::GigId};

    use super::*;

    fn conversation() -> Conversation {
        let at = Timestamp::from_millisecond(1_780_000_000_123).unwrap();
        let brand = UserId::generate();
        let ana = UserId::generate();
        let bea = UserId::generate();
        Conversation {
            id: ConversationId::generate(),
            key: format!("gig:{brand}:g"),
            subject: Subject::Gig {
                gig_id: GigId::generate(),
            },
            brand_id: brand.clone(),
            member_ids: vec![ana.clone(), bea.clone()],
            participants: vec![
                Participant {
                    user_id: brand.clone(),
                    read_seq: 7,
                },
                Participant {
                    user_id: ana.clone(),
                    read_seq: 5_000_000_000,
                },
                Participant {
                    user_id: bea,
                    read_seq: 0,
                },
            ],
            created_at: at,
            last_activity_at: at + jiff::SignedDuration::from_secs(60),
            last_seq: 5_000_000_000,
            last_message: Some(MessagePreview {
                seq: 5_000_000_000,
                sender_id: ana,
                text: "Olá — \"até já\"".into(),
                sent_at: at + jiff::SignedDuration::from_secs(60),
            }),
        }
    }

    #[test]
    fn conversation_documents_use_native_types_and_round_trip() {
        let conversation = conversation();
        let document: Document =
            bson::to_document(&ConversationDoc::encode(&conversation).unwrap()).unwrap();
        assert_eq!(document.get_str("_id").unwrap(), conversation.id.as_str());
        assert_eq!(document.get_i64("last_seq").unwrap(), 5_000_000_000);
        assert!(document.get_datetime("last_activity_at").is_ok());
        let subject = document.get_document("subject").unwrap();
        assert_eq!(subject.get_str("kind").unwrap(), "gig");
        let participants = document.get_array("participants").unwrap();
        let ana = participants[1].as_document().unwrap();
        assert_eq!(
            ana.get_str("user_id").unwrap(),
            conversation.member_ids[0].as_str()
        );
        assert_eq!(ana.get_i64("read_seq").unwrap(), 5_000_000_000);
        let last = document.get_document("last_message").unwrap();
        assert!(last.get_datetime("sent_at").is_ok());

        let back: ConversationDoc = bson::from_document(document).unwrap();
        assert_eq!(back.into_conversation().unwrap(), conversation);
    }

    #[test]
    fn every_subject_round_trips() {
        for subject in [
            Subject::Direct,
            Subject::Booking {
                booking_id: BookingId::generate(),
            },
        ] {
            let conversation = Conversation {
                subject,
                last_message: None,
                ..conversation()
            };
            let document =
                bson::to_document(&ConversationDoc::encode(&conversation).unwrap()).unwrap();
            let back: ConversationDoc = bson::from_document(document).unwrap();
            assert_eq!(back.into_conversation().unwrap(), conversation);
        }
    }

    #[test]
    fn a_party_listed_twice_is_stored_once() {
        let mut conversation = conversation();
        conversation
            .participants
            .push(conversation.participants[0].clone());
        conversation
            .member_ids
            .push(conversation.member_ids[0].clone());
        let document = ConversationDoc::encode(&conversation).unwrap();
        assert_eq!(document.participants.len(), 3);
        assert_eq!(document.member_ids.len(), 2);
    }

    #[test]
    fn message_documents_round_trip() {
        let message = Message {
            conversation_id: ConversationId::generate(),
            seq: 3,
            sender_id: UserId::generate(),
            client_id: "c-1_x".into(),
            text: "hello 👋".into(),
            sent_at: Timestamp::from_millisecond(1_780_000_000_123).unwrap(),
        };
        let document = bson::to_document(&MessageDoc::encode(&message).unwrap()).unwrap();
        assert_eq!(document.get_i64("seq").unwrap(), 3);
        assert!(document.get_datetime("sent_at").is_ok());
        let back: MessageDoc = bson::from_document(document).unwrap();
        assert_eq!(back.into_message().unwrap(), message);
    }

    #[test]
    fn unexpected_documents_are_errors_not_panics() {
        let mut document = ConversationDoc::encode(&conversation()).unwrap();
        document.last_seq = -1;
        assert!(matches!(
            document.into_conversation(),
            Err(StoreError::Corrupt(_))
        ));
        let mut document = ConversationDoc::encode(&conversation()).unwrap();
        document.participants[0].read_seq = -3;
        assert!(matches!(
            document.into_conversation(),
            Err(StoreError::Corrupt(_))
        ));
        assert!(seq_to_store("n", u64::MAX).is_err());
        assert_eq!(seq_value(u64::MAX), i64::MAX);
    }
}
