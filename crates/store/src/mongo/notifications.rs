//! Notifications in MongoDB: one document per notification in `notifications` (`_id` =
//! notification id), `{user_id, kind, title, body, gig_id, created_at, read_at, pushed_at}`,
//! the optional fields null when unset. Listed per user newest first through the indexes
//! `(user_id, _id)` and `(user_id, read_at, _id)` (the unread have `read_at: null`), walked
//! backwards.

use async_trait::async_trait;
use jiff::Timestamp;
use mongodb::{
    Collection,
    bson::{DateTime, doc},
    options::ReturnDocument,
};
use noillin_domain::{
    UserId,
    booking::BookingId,
    chat::ConversationId,
    gig::GigId,
    notification::{Notification, NotificationId, NotificationKind},
};
use serde::{Deserialize, Serialize};

use super::{MongoStore, collect, corrupt, date, index, is_duplicate_key, timestamp, unavailable};
use crate::{NotificationRepository, StoreError};

/// Creates the indexes of `notifications`.
pub(super) async fn create_indexes(
    notifications: &Collection<NotificationDoc>,
) -> Result<(), StoreError> {
    notifications
        .create_indexes([
            index(
                doc! { "user_id": 1, "_id": 1 },
                "notifications_user_id",
                |_| {},
            ),
            index(
                doc! { "user_id": 1, "read_at": 1, "_id": 1 },
                "notifications_user_id_read_at",
                |_| {},
            ),
        ])
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// A document of `notifications`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct NotificationDoc {
    #[serde(rename = "_id")]
    id: String,
    user_id: String,
    kind: String,
    title: String,
    body: String,
    gig_id: Option<String>,
    #[serde(default)]
    booking_id: Option<String>,
    #[serde(default)]
    conversation_id: Option<String>,
    created_at: DateTime,
    read_at: Option<DateTime>,
    pushed_at: Option<DateTime>,
}

impl NotificationDoc {
    fn encode(notification: &Notification) -> Self {
        Self {
            id: notification.id.as_str().to_owned(),
            user_id: notification.user_id.as_str().to_owned(),
            kind: notification.kind.as_str().to_owned(),
            title: notification.title.clone(),
            body: notification.body.clone(),
            gig_id: notification
                .gig_id
                .as_ref()
                .map(|id| id.as_str().to_owned()),
            booking_id: notification
                .booking_id
                .as_ref()
                .map(|id| id.as_str().to_owned()),
            conversation_id: notification
                .conversation_id
                .as_ref()
                .map(|id| id.as_str().to_owned()),
            created_at: date(notification.created_at),
            read_at: notification.read_at.map(date),
            pushed_at: notification.pushed_at.map(date),
        }
    }

    fn into_notification(self) -> Result<Notification, StoreError> {
        Ok(Notification {
            id: NotificationId::from_string(self.id),
            user_id: UserId::from_string(self.user_id),
            kind: NotificationKind::parse(&self.kind)
                .ok_or_else(|| corrupt("notification kind", &self.kind))?,
            title: self.title,
            body: self.body,
            gig_id: self.gig_id.map(GigId::from_string),
            booking_id: self.booking_id.map(BookingId::from_string),
            conversation_id: self.conversation_id.map(ConversationId::from_string),
            created_at: timestamp(self.created_at)?,
            read_at: self.read_at.map(timestamp).transpose()?,
            pushed_at: self.pushed_at.map(timestamp).transpose()?,
        })
    }
}

/// `notifications` projected on `pushed_at`.
#[derive(Debug, Deserialize)]
struct PushedAtOnly {
    #[serde(default)]
    pushed_at: Option<DateTime>,
}

#[async_trait]
impl NotificationRepository for MongoStore {
    async fn insert(&self, notification: &Notification) -> Result<bool, StoreError> {
        match self
            .notifications
            .insert_one(NotificationDoc::encode(notification))
            .await
        {
            Ok(_) => Ok(true),
            // `_id` is the only unique index: the notification is stored already.
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn find(&self, id: &NotificationId) -> Result<Option<Notification>, StoreError> {
        self.notifications
            .find_one(doc! { "_id": id.as_str() })
            .await
            .map_err(unavailable)?
            .map(NotificationDoc::into_notification)
            .transpose()
    }

    async fn list(
        &self,
        user: &UserId,
        unread_only: bool,
        before: Option<&NotificationId>,
        limit: u32,
    ) -> Result<Vec<Notification>, StoreError> {
        // A limit of 0 means "no limit" to the server.
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut filter = doc! { "user_id": user.as_str() };
        if unread_only {
            filter.insert("read_at", mongodb::bson::Bson::Null);
        }
        if let Some(before) = before {
            filter.insert("_id", doc! { "$lt": before.as_str() });
        }
        let cursor = self
            .notifications
            .find(filter)
            .sort(doc! { "_id": -1 })
            .limit(i64::from(limit))
            .await
            .map_err(unavailable)?;
        collect(cursor, NotificationDoc::into_notification).await
    }

    async fn unread_count(&self, user: &UserId) -> Result<u64, StoreError> {
        self.notifications
            .count_documents(doc! { "user_id": user.as_str(), "read_at": null })
            .await
            .map_err(unavailable)
    }

    async fn mark_read(
        &self,
        user: &UserId,
        id: &NotificationId,
        now: Timestamp,
    ) -> Result<Notification, StoreError> {
        // An update pipeline, so that keeping the first read time is part of the one atomic
        // write.
        self.notifications
            .find_one_and_update(
                doc! { "_id": id.as_str(), "user_id": user.as_str() },
                vec![doc! { "$set": { "read_at": { "$ifNull": ["$read_at", date(now)] } } }],
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(unavailable)?
            .ok_or(StoreError::NotFound)?
            .into_notification()
    }

    async fn mark_all_read(&self, user: &UserId, now: Timestamp) -> Result<u64, StoreError> {
        let result = self
            .notifications
            .update_many(
                doc! { "user_id": user.as_str(), "read_at": null },
                doc! { "$set": { "read_at": date(now) } },
            )
            .await
            .map_err(unavailable)?;
        Ok(result.modified_count)
    }

    async fn mark_pushed(&self, id: &NotificationId, now: Timestamp) -> Result<bool, StoreError> {
        // One atomic write that keeps a push time already set (an update pipeline); the
        // document as it was before tells whether this call set it.
        let before = self
            .notifications
            .clone_with_type::<PushedAtOnly>()
            .find_one_and_update(
                doc! { "_id": id.as_str() },
                vec![doc! { "$set": { "pushed_at": { "$ifNull": ["$pushed_at", date(now)] } } }],
            )
            .projection(doc! { "pushed_at": 1 })
            .return_document(ReturnDocument::Before)
            .await
            .map_err(unavailable)?
            .ok_or(StoreError::NotFound)?;
        Ok(before.pushed_at.is_none())
    }

    async fn unmark_pushed(&self, id: &NotificationId) -> Result<(), StoreError> {
        self.notifications
            .update_one(
                doc! { "_id": id.as_str() },
                doc! { "$set": { "pushed_at": null } },
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use mongodb::bson::{self, Bson};
    use noillin_domain::notification::GigNotice;

    use super::*;

    #[test]
    fn notification_documents_use_native_types_and_round_trip() {
        let gig = GigId::generate();
        let mut notification = Notification::about_gig(
            uuid::Uuid::now_v7(),
            Timestamp::from_millisecond(1_780_000_000_123).unwrap(),
            &UserId::generate(),
            NotificationKind::GigInvitation,
            &GigNotice {
                gig_id: &gig,
                gig_title: "Lisbon food week",
                actor_name: "Rui",
            },
        );
        notification.pushed_at = Some(Timestamp::from_millisecond(1_780_000_000_456).unwrap());
        let document = bson::to_document(&NotificationDoc::encode(&notification)).unwrap();
        assert_eq!(document.get_str("kind").unwrap(), "gig_invitation");
        assert_eq!(document.get_str("gig_id").unwrap(), gig.as_str());
        assert!(document.get_datetime("pushed_at").is_ok());
        // Stored as null, not left out: the unread filter and index go by `read_at: null`.
        assert_eq!(document.get("read_at"), Some(&Bson::Null));
        let back: NotificationDoc = bson::from_document(document).unwrap();
        assert_eq!(back.into_notification().unwrap(), notification);
    }

    #[test]
    fn an_unknown_kind_is_an_error_not_a_panic() {
        let document = doc! {
            "_id": "n1", "user_id": "u1", "kind": "gig_exploded", "title": "", "body": "",
            "gig_id": null, "created_at": DateTime::from_millis(0), "read_at": null,
            "pushed_at": null,
        };
        let decoded: NotificationDoc = bson::from_document(document).unwrap();
        assert!(matches!(
            decoded.into_notification(),
            Err(StoreError::Corrupt(_))
        ));
    }
}
