//! The chat port: conversations, their numbered messages and each party's read mark.

use async_trait::async_trait;
use jiff::Timestamp;
use noillin_domain::{
    UserId,
    chat::{Conversation, ConversationId, HistoryPage, Message, NewMessage},
};

use crate::{OutboxMessage, StoreError};

/// Where a page of conversation lists starts: after this conversation, in the list's order
/// (newest activity first, then descending id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationCursor {
    pub last_activity_at: Timestamp,
    pub id: ConversationId,
}

/// The outbox messages of a stored message, made once the store has numbered it.
pub type MessageOutbox<'a> = &'a (dyn Fn(&Message) -> Vec<OutboxMessage> + Send + Sync);

/// Conversations and messages. Who may do what is the caller's to check (`append` takes any
/// sender); each party and member is stored once even when listed twice; what reads back is
/// what was stored, timestamps cut to the millisecond.
#[async_trait]
pub trait ChatRepository: Send + Sync {
    /// Stores `conversation` unless one with its `key` exists; returns the stored one and
    /// whether it was stored now. Racing opens of one key store one conversation.
    async fn open(&self, conversation: &Conversation) -> Result<(Conversation, bool), StoreError>;
    async fn find(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError>;
    /// The conversation about a subject: the one with this `key`.
    async fn find_by_key(&self, key: &str) -> Result<Option<Conversation>, StoreError>;
    /// `user`'s conversations, newest activity first (ties: descending id), at most `limit`,
    /// after `after` when given.
    async fn list_for(
        &self,
        user: &UserId,
        after: Option<&ConversationCursor>,
        limit: u32,
    ) -> Result<Vec<Conversation>, StoreError>;
    /// Stores the message with the next number of its conversation, with `outbox(&message)`,
    /// and in the same atomic step: the conversation's `last_seq`, `last_activity_at` (the
    /// message's `sent_at`) and `last_message`, and the sender's read mark (to the message).
    /// When the sender already stored a message with this `client_id` in this conversation,
    /// nothing is written and that message is returned; the flag says whether it was stored
    /// now. Racing sends get distinct consecutive numbers. `NotFound` when the conversation does
    /// not exist.
    async fn append(
        &self,
        message: NewMessage,
        outbox: MessageOutbox<'_>,
    ) -> Result<(Message, bool), StoreError>;
    /// A page of history in ascending number: the latest `limit`, the `limit` just before a
    /// number, or the `limit` just after one. Empty for a conversation that does not exist.
    async fn messages(
        &self,
        conversation: &ConversationId,
        page: HistoryPage,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError>;
    /// Moves `user`'s read mark to `up_to`, capped at the conversation's `last_seq`; a mark never
    /// moves back. Returns the mark after the call, or `None` when `user` is not a party (or the
    /// conversation does not exist).
    async fn mark_read(
        &self,
        conversation: &ConversationId,
        user: &UserId,
        up_to: u64,
    ) -> Result<Option<u64>, StoreError>;
}
