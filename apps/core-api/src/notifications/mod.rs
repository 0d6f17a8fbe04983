//! Notification use cases: a user lists what they were told about, newest first, and marks it
//! read. Everyone reaches only their own; another user's notification is as absent as an
//! unknown one.

use noillin_domain::{
    UserId, ValidationErrors,
    notification::{Notification, NotificationId},
};
use noillin_store::StoreError;

use crate::{AppState, paging::Page};

/// What a notification use case can answer besides its result.
#[derive(Debug, thiserror::Error)]
pub enum NotificationsError {
    /// No such notification of this user.
    #[error("notification not found")]
    NotFound,
    /// The paging query breaks a rule; every problem is listed.
    #[error(transparent)]
    Invalid(ValidationErrors),
    /// The store failed or is unreachable.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which page of a user's notifications to list.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// Only unread notifications.
    pub unread_only: bool,
    /// Page size, 1 to 100; 20 when absent.
    pub limit: Option<u32>,
    /// The last id of the previous page: the page continues with older notifications.
    pub before: Option<String>,
}

/// One page of a user's notifications, newest first.
#[derive(Debug, Clone)]
pub struct NotificationsPage {
    pub items: Vec<Notification>,
    /// How many of the user's notifications are unread in all.
    pub unread_count: u64,
    /// The cursor of the next page; `None` on the last page.
    pub next_before: Option<NotificationId>,
}

/// One page of `user`'s notifications.
pub async fn list(
    state: &AppState,
    user: &UserId,
    request: ListRequest,
) -> Result<NotificationsPage, NotificationsError> {
    let page =
        Page::read(request.limit, "before", request.before).map_err(NotificationsError::Invalid)?;
    let before = page.cursor.as_deref().map(NotificationId::from_string);
    let notifications = &state.store.notifications;
    let items = notifications
        .list(user, request.unread_only, before.as_ref(), page.limit)
        .await?;
    let unread_count = notifications.unread_count(user).await?;
    let next_before = page.next(&items, |n| n.id.clone());
    Ok(NotificationsPage {
        items,
        unread_count,
        next_before,
    })
}

/// Marks one of `user`'s notifications read and answers it; reading it again keeps the first
/// read time.
pub async fn mark_read(
    state: &AppState,
    user: &UserId,
    id: &NotificationId,
) -> Result<Notification, NotificationsError> {
    let mut notification = state
        .store
        .notifications
        .find(id)
        .await?
        .filter(|n| &n.user_id == user)
        .ok_or(NotificationsError::NotFound)?;
    let now = state.clock.now();
    if !notification.mark_read(now) {
        return Ok(notification);
    }
    // The store keeps the first read time too, so of two racing reads the earlier one stays.
    match state.store.notifications.mark_read(user, id, now).await {
        Err(StoreError::NotFound) => Err(NotificationsError::NotFound),
        other => Ok(other?),
    }
}

/// Marks every unread notification of `user` read; answers how many changed.
pub async fn mark_all_read(state: &AppState, user: &UserId) -> Result<u64, NotificationsError> {
    Ok(state
        .store
        .notifications
        .mark_all_read(user, state.clock.now())
        .await?)
}
