//! `/notifications`: what the signed-in user was told about, newest first, and marking it read.
//! Everyone sees only their own; another user's notification id answers 404.

use axum::extract::State;
use noillin_domain::notification::{Notification, NotificationId, NotificationKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    error::ApiResult,
    extract::{ApiQuery, AuthUser, PathId},
    routes::{
        next_cursor, page_limit,
        problems::{Authenticated, InvalidQuery, ObjectInPath},
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(mark_read))
        .routes(routes!(mark_all_read))
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[expect(
    clippy::enum_variant_names,
    reason = "the variants spell the wire names of the domain's kinds"
)]
pub enum NotificationTopic {
    GigInvitation,
    GigInvitationAccepted,
    GigInvitationDeclined,
    GigPublished,
    GigArchived,
}

impl From<NotificationKind> for NotificationTopic {
    fn from(kind: NotificationKind) -> Self {
        match kind {
            NotificationKind::GigInvitation => Self::GigInvitation,
            NotificationKind::GigInvitationAccepted => Self::GigInvitationAccepted,
            NotificationKind::GigInvitationDeclined => Self::GigInvitationDeclined,
            NotificationKind::GigPublished => Self::GigPublished,
            NotificationKind::GigArchived => Self::GigArchived,
        }
    }
}

/// A notification.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: String,
    pub kind: NotificationTopic,
    pub title: String,
    pub body: String,
    /// The gig it is about.
    pub gig_id: Option<String>,
    /// RFC 3339, UTC: when it happened.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339, UTC; absent while unread.
    #[schema(format = DateTime)]
    pub read_at: Option<String>,
}

impl From<&Notification> for NotificationView {
    fn from(n: &Notification) -> Self {
        Self {
            id: n.id.to_string(),
            kind: n.kind.into(),
            title: n.title.clone(),
            body: n.body.clone(),
            gig_id: n.gig_id.as_ref().map(ToString::to_string),
            created_at: n.created_at.to_string(),
            read_at: n.read_at.map(|t| t.to_string()),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `true`: only unread notifications.
    #[serde(default)]
    pub unread: bool,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The last id of the previous page: the page continues with older notifications.
    #[param(max_length = 64)]
    pub before: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<NotificationView>,
    /// How many of your notifications are unread in all.
    pub unread_count: u64,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<String>,
}

/// Lists your notifications, newest first.
#[utoipa::path(get, path = "/notifications", tag = "notifications", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "One page of your notifications", body = NotificationPage), Authenticated, InvalidQuery))]
async fn list_notifications(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<axum::Json<NotificationPage>> {
    let limit = page_limit(query.limit, "before", query.before.as_deref())?;
    let before = query.before.map(NotificationId::from_string);
    let notifications = &state.store.notifications;
    let items = notifications
        .list(user.id(), query.unread, before.as_ref(), limit)
        .await?;
    let unread_count = notifications.unread_count(user.id()).await?;
    Ok(axum::Json(NotificationPage {
        items: items.iter().map(NotificationView::from).collect(),
        unread_count,
        next_before: next_cursor(&items, limit, |n| n.id.to_string()),
    }))
}

/// Marks one of your notifications read (reading it again keeps the first read time).
#[utoipa::path(post, path = "/notifications/{id}/read", tag = "notifications", security(("bearer" = [])), params(("id" = String, Path, max_length = 64, description = "The notification's id")),
    responses((status = 200, description = "The notification, read", body = NotificationView), Authenticated, ObjectInPath))]
async fn mark_read(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
) -> ApiResult<axum::Json<NotificationView>> {
    let notification = state
        .store
        .notifications
        .mark_read(
            user.id(),
            &NotificationId::from_string(id),
            state.clock.now(),
        )
        .await?;
    Ok(axum::Json(NotificationView::from(&notification)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkedRead {
    /// How many notifications were unread and are read now.
    pub marked: u64,
}

/// Marks all your notifications read.
#[utoipa::path(post, path = "/notifications/read-all", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, description = "How many were marked", body = MarkedRead), Authenticated))]
async fn mark_all_read(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<axum::Json<MarkedRead>> {
    let marked = state
        .store
        .notifications
        .mark_all_read(user.id(), state.clock.now())
        .await?;
    Ok(axum::Json(MarkedRead { marked }))
}
