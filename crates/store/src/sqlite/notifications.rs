//! Notifications in SQLite: one `notifications` row each, listed per user newest first through
//! `(user_id, id)` indexes (a partial one for the unread).

use async_trait::async_trait;
use jiff::Timestamp;
use noillin_domain::{
    UserId,
    booking::BookingId,
    chat::ConversationId,
    gig::GigId,
    notification::{Notification, NotificationId, NotificationKind},
};
use rusqlite::OptionalExtension;

use super::{SqliteStore, corrupt, db_error, millis, timestamp};
use crate::{NotificationRepository, StoreError};

/// The columns of `notifications`, in the order [`NotificationRow::read`] reads them.
const COLUMNS: &str = "id, user_id, kind, title, body, gig_id, created_at, read_at, pushed_at, booking_id, conversation_id";

/// A row as stored, decoded outside rusqlite's row callback (whose error type cannot carry a
/// [`StoreError`]).
struct NotificationRow {
    id: String,
    user_id: String,
    kind: String,
    title: String,
    body: String,
    gig_id: Option<String>,
    created_at: i64,
    read_at: Option<i64>,
    pushed_at: Option<i64>,
    booking_id: Option<String>,
    conversation_id: Option<String>,
}

impl NotificationRow {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            user_id: row.get(1)?,
            kind: row.get(2)?,
            title: row.get(3)?,
            body: row.get(4)?,
            gig_id: row.get(5)?,
            created_at: row.get(6)?,
            read_at: row.get(7)?,
            pushed_at: row.get(8)?,
            booking_id: row.get(9)?,
            conversation_id: row.get(10)?,
        })
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

#[async_trait]
impl NotificationRepository for SqliteStore {
    async fn insert(&self, notification: &Notification) -> Result<bool, StoreError> {
        let n = notification.clone();
        self.write(move |tx| {
            let inserted = tx
                .execute(
                    &format!(
                        "INSERT INTO notifications ({COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                         ON CONFLICT (id) DO NOTHING"
                    ),
                    rusqlite::params![
                        n.id.as_str(),
                        n.user_id.as_str(),
                        n.kind.as_str(),
                        n.title,
                        n.body,
                        n.gig_id.as_ref().map(GigId::as_str),
                        millis(n.created_at),
                        n.read_at.map(millis),
                        n.pushed_at.map(millis),
                        n.booking_id.as_ref().map(BookingId::as_str),
                        n.conversation_id.as_ref().map(ConversationId::as_str),
                    ],
                )
                .map_err(db_error)?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn find(&self, id: &NotificationId) -> Result<Option<Notification>, StoreError> {
        let id = id.as_str().to_owned();
        self.read(move |connection| {
            connection
                .query_row(
                    &format!("SELECT {COLUMNS} FROM notifications WHERE id = ?1"),
                    [id],
                    NotificationRow::read,
                )
                .optional()
                .map_err(db_error)?
                .map(NotificationRow::into_notification)
                .transpose()
        })
        .await
    }

    async fn list(
        &self,
        user: &UserId,
        unread_only: bool,
        before: Option<&NotificationId>,
        limit: u32,
    ) -> Result<Vec<Notification>, StoreError> {
        let user = user.as_str().to_owned();
        let before = before.map(|id| id.as_str().to_owned());
        let unread_clause = if unread_only {
            "AND read_at IS NULL"
        } else {
            ""
        };
        let before_clause = if before.is_some() { "AND id < ?2" } else { "" };
        let sql = format!(
            "SELECT {COLUMNS} FROM notifications WHERE user_id = ?1 {unread_clause} \
             {before_clause} ORDER BY id DESC LIMIT ?3"
        );
        let rows = self
            .read(move |connection| {
                let mut statement = connection.prepare_cached(&sql).map_err(db_error)?;
                statement
                    .query_map(
                        rusqlite::params![user, before.unwrap_or_default(), i64::from(limit)],
                        NotificationRow::read,
                    )
                    .map_err(db_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(db_error)
            })
            .await?;
        rows.into_iter()
            .map(NotificationRow::into_notification)
            .collect()
    }

    async fn unread_count(&self, user: &UserId) -> Result<u64, StoreError> {
        let user = user.as_str().to_owned();
        let count = self
            .read(move |connection| {
                connection
                    .query_row(
                        "SELECT COUNT(*) FROM notifications \
                         WHERE user_id = ?1 AND read_at IS NULL",
                        [user],
                        |row| row.get::<_, i64>(0),
                    )
                    .map_err(db_error)
            })
            .await?;
        u64::try_from(count).map_err(|e| corrupt("unread count", e))
    }

    async fn mark_read(
        &self,
        user: &UserId,
        id: &NotificationId,
        now: Timestamp,
    ) -> Result<Notification, StoreError> {
        let user = user.as_str().to_owned();
        let id = id.as_str().to_owned();
        let now = millis(now);
        let row = self
            .write(move |tx| {
                tx.query_row(
                    &format!(
                        "UPDATE notifications SET read_at = COALESCE(read_at, ?1) \
                         WHERE id = ?2 AND user_id = ?3 RETURNING {COLUMNS}"
                    ),
                    rusqlite::params![now, id, user],
                    NotificationRow::read,
                )
                .optional()
                .map_err(db_error)
            })
            .await?;
        row.ok_or(StoreError::NotFound)?.into_notification()
    }

    async fn mark_all_read(&self, user: &UserId, now: Timestamp) -> Result<u64, StoreError> {
        let user = user.as_str().to_owned();
        let now = millis(now);
        let changed = self
            .write(move |tx| {
                tx.execute(
                    "UPDATE notifications SET read_at = ?1 \
                     WHERE user_id = ?2 AND read_at IS NULL",
                    rusqlite::params![now, user],
                )
                .map_err(db_error)
            })
            .await?;
        Ok(changed as u64)
    }

    async fn mark_pushed(&self, id: &NotificationId, now: Timestamp) -> Result<bool, StoreError> {
        let id = id.as_str().to_owned();
        let now = millis(now);
        self.write(move |tx| {
            let taken = tx
                .execute(
                    "UPDATE notifications SET pushed_at = ?1 WHERE id = ?2 AND pushed_at IS NULL",
                    rusqlite::params![now, id],
                )
                .map_err(db_error)?;
            if taken == 1 {
                return Ok(true);
            }
            let exists = tx
                .query_row("SELECT 1 FROM notifications WHERE id = ?1", [&id], |_| {
                    Ok(())
                })
                .optional()
                .map_err(db_error)?;
            exists.map(|()| false).ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn unmark_pushed(&self, id: &NotificationId) -> Result<(), StoreError> {
        let id = id.as_str().to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE notifications SET pushed_at = NULL WHERE id = ?1",
                [id],
            )
            .map_err(db_error)
        })
        .await?;
        Ok(())
    }
}
