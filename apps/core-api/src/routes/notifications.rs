//! `/notifications`: what the signed-in user was told about, newest first, and marking it read.
//! Everyone sees only their own; another user's notification id answers 404.

use axum::extract::State;
use noillin_domain::notification::{Notification, NotificationId, NotificationKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::{ApiQuery, AuthUser, PathId},
    notifications::{self, ListRequest, NotificationsError, NotificationsPage},
    routes::problems::{Authenticated, InvalidQuery, ObjectInPath},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(mark_read))
        .routes(routes!(mark_all_read))
}

impl From<NotificationsError> for ApiError {
    fn from(e: NotificationsError) -> Self {
        match e {
            NotificationsError::NotFound => ApiError::NotFound,
            NotificationsError::Invalid(errors) => ApiError::Validation(errors),
            NotificationsError::Store(e) => e.into(),
        }
    }
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationTopic {
    GigInvitation,
    GigInvitationAccepted,
    GigInvitationDeclined,
    GigPublished,
    GigArchived,
    BookingConfirmed,
    BookingCancelled,
    PaymentFailed,
    RefundIssued,
    BookingDelivered,
    RevisionRequested,
    BookingCompleted,
    PayoutSent,
    ReviewPosted,
    MessageReceived,
}

impl From<NotificationKind> for NotificationTopic {
    fn from(kind: NotificationKind) -> Self {
        match kind {
            NotificationKind::GigInvitation => Self::GigInvitation,
            NotificationKind::GigInvitationAccepted => Self::GigInvitationAccepted,
            NotificationKind::GigInvitationDeclined => Self::GigInvitationDeclined,
            NotificationKind::GigPublished => Self::GigPublished,
            NotificationKind::GigArchived => Self::GigArchived,
            NotificationKind::BookingConfirmed => Self::BookingConfirmed,
            NotificationKind::BookingCancelled => Self::BookingCancelled,
            NotificationKind::PaymentFailed => Self::PaymentFailed,
            NotificationKind::RefundIssued => Self::RefundIssued,
            NotificationKind::BookingDelivered => Self::BookingDelivered,
            NotificationKind::RevisionRequested => Self::RevisionRequested,
            NotificationKind::BookingCompleted => Self::BookingCompleted,
            NotificationKind::PayoutSent => Self::PayoutSent,
            NotificationKind::ReviewPosted => Self::ReviewPosted,
            NotificationKind::MessageReceived => Self::MessageReceived,
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
    /// The booking it is about.
    pub booking_id: Option<String>,
    /// The conversation it is about (`message_received`).
    pub conversation_id: Option<String>,
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
            booking_id: n.booking_id.as_ref().map(ToString::to_string),
            conversation_id: n.conversation_id.as_ref().map(ToString::to_string),
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

impl From<ListQuery> for ListRequest {
    fn from(query: ListQuery) -> Self {
        Self {
            unread_only: query.unread,
            limit: query.limit,
            before: query.before,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<NotificationView>,
    /// How many of your notifications are unread in all.
    pub unread_count: u64,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<String>,
}

impl From<NotificationsPage> for NotificationPage {
    fn from(page: NotificationsPage) -> Self {
        Self {
            items: page.items.iter().map(NotificationView::from).collect(),
            unread_count: page.unread_count,
            next_before: page.next_before.map(|id| id.to_string()),
        }
    }
}

/// Lists your notifications, newest first.
#[utoipa::path(get, path = "/notifications", tag = "notifications", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "One page of your notifications", body = NotificationPage), Authenticated, InvalidQuery))]
async fn list_notifications(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<axum::Json<NotificationPage>> {
    let page = notifications::list(&state, user.id(), query.into()).await?;
    Ok(axum::Json(page.into()))
}

/// Marks one of your notifications read (reading it again keeps the first read time).
#[utoipa::path(post, path = "/notifications/{id}/read", tag = "notifications", security(("bearer" = [])), params(("id" = String, Path, max_length = 64, description = "The notification's id")),
    responses((status = 200, description = "The notification, read", body = NotificationView), Authenticated, ObjectInPath))]
async fn mark_read(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
) -> ApiResult<axum::Json<NotificationView>> {
    let notification =
        notifications::mark_read(&state, user.id(), &NotificationId::from_string(id)).await?;
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
    let marked = notifications::mark_all_read(&state, user.id()).await?;
    Ok(axum::Json(MarkedRead { marked }))
}
