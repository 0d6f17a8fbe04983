//! How chat lies in MongoDB's documents: `conversations` and `messages`, their encoding and
//! decoding, and the projections the repository reads.

use mongodb::bson::DateTime;
use noillin_domain::{
    UserId,
    chat::{Conversation, ConversationId, Message, MessagePreview, Participant, Subject},
};
use serde::{Deserialize, Serialize};

use super::super::{corrupt, date, timestamp};
use crate::{StoreError, distinct};

/// A document of `conversations`. The subject keeps the domain's serde form (`{kind, …}`).
#[derive(Debug, Serialize, Deserialize)]
pub(in crate::mongo) struct ConversationDoc {
    #[serde(rename = "_id")]
    pub(super) id: String,
    pub(super) key: String,
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
pub(in crate::mongo) struct MessageDoc {
    conversation_id: String,
    pub(super) seq: i64,
    pub(super) sender_id: String,
    client_id: String,
    pub(super) text: String,
    pub(super) sent_at: DateTime,
}

/// A number the store writes, as MongoDB's int64.
fn seq_to_store(what: &str, seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq)
        .map_err(|_| StoreError::Unavailable(format!("{what} {seq} does not fit MongoDB's int64")))
}

/// A number as stored: never negative in documents we wrote.
pub(super) fn stored_seq(what: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|e| corrupt(what, e))
}

/// A number the caller gave, as MongoDB compares it: beyond `i64::MAX` no stored number is that
/// high, so `i64::MAX` compares the same.
pub(super) fn seq_value(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

impl ConversationDoc {
    pub(super) fn encode(conversation: &Conversation) -> Result<Self, StoreError> {
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

    pub(super) fn into_conversation(self) -> Result<Conversation, StoreError> {
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
    pub(super) fn encode(preview: &MessagePreview) -> Result<Self, StoreError> {
        Ok(Self {
            seq: seq_to_store("message number", preview.seq)?,
            sender_id: preview.sender_id.as_str().to_owned(),
            text: preview.text.clone(),
            sent_at: date(preview.sent_at),
        })
    }

    pub(super) fn into_preview(self) -> Result<MessagePreview, StoreError> {
        Ok(MessagePreview {
            seq: stored_seq("message number", self.seq)?,
            sender_id: UserId::from_string(self.sender_id),
            text: self.text,
            sent_at: timestamp(self.sent_at)?,
        })
    }
}

impl MessageDoc {
    pub(super) fn encode(message: &Message) -> Result<Self, StoreError> {
        Ok(Self {
            conversation_id: message.conversation_id.as_str().to_owned(),
            seq: seq_to_store("message number", message.seq)?,
            sender_id: message.sender_id.as_str().to_owned(),
            client_id: message.client_id.clone(),
            text: message.text.clone(),
            sent_at: date(message.sent_at),
        })
    }

    pub(super) fn into_message(self) -> Result<Message, StoreError> {
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
pub(super) struct LastSeqOnly {
    pub(super) last_seq: i64,
}

/// `conversations` projected on what a read mark needs.
#[derive(Debug, Deserialize)]
pub(super) struct ReadMarks {
    pub(super) last_seq: i64,
    participants: Vec<ParticipantDoc>,
}

impl ReadMarks {
    /// `user`'s mark, `None` when `user` is not a party.
    pub(super) fn of(&self, user: &str) -> Option<i64> {
        self.participants
            .iter()
            .find(|p| p.user_id == user)
            .map(|p| p.read_seq)
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
