//! Chat: `/conversations` (open, list) and each conversation's history, messages and read
//! receipts. Every route answers a conversation's parties only; anyone else gets 404.

use axum::{
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use noillin_domain::chat::{Conversation, Subject};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    chat::{self, ChatError, HistoryRequest, MessageView, OpenRequest},
    error::{ApiError, ApiResult},
    extract::{ApiJson, ApiQuery, AuthUser, PathId, RequestId},
    paging::Page,
    routes::problems::{Authenticated, InvalidQuery, JsonBody, ObjectInPath, RoleRequired},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_conversation, list_conversations))
        .routes(routes!(get_conversation))
        .routes(routes!(send_message, message_history))
        .routes(routes!(mark_conversation_read))
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::NotFound => ApiError::NotFound,
            ChatError::Invalid(errors) => ApiError::Validation(errors),
            ChatError::BrandsOnly => ApiError::Forbidden("brands-only"),
            ChatError::GigNotPublished => {
                ApiError::Conflict("gig-not-published", "the gig is not published".into())
            }
            ChatError::TooManyOpens { retry_after_secs } => {
                ApiError::TooManyRequests { retry_after_secs }
            }
            ChatError::Store(e) => e.into(),
            ChatError::Redis(e) => e.into(),
        }
    }
}

/// What a conversation is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectView {
    /// `direct` (an inquiry to one influencer), `gig` (to every member of a group gig) or
    /// `booking`.
    #[schema(example = "direct")]
    pub kind: &'static str,
    /// For a `gig` conversation only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gig_id: Option<String>,
    /// For a `booking` conversation only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_id: Option<String>,
}

/// The start of a conversation's last message.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastMessageView {
    pub id: u64,
    pub sender_id: String,
    /// The first 140 characters.
    pub text: String,
    pub sent_at: String,
}

/// A conversation as one of its parties sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    pub id: String,
    pub subject: SubjectView,
    pub brand_id: String,
    /// The influencers in it.
    pub member_ids: Vec<String>,
    pub created_at: String,
    /// The opening, or the last message.
    pub last_activity_at: String,
    /// The id of the last message; 0 before the first.
    pub last_message_id: u64,
    /// Your read mark: the id of the last message you read (sending reads up to your message).
    pub read_up_to: u64,
    /// Messages after your read mark.
    pub unread_count: u64,
    pub last_message: Option<LastMessageView>,
}

impl ConversationView {
    fn of(conversation: &Conversation, viewer: &AuthUser) -> Self {
        let viewer = &viewer.0.id;
        let (kind, gig_id, booking_id) = match &conversation.subject {
            Subject::Direct => ("direct", None, None),
            Subject::Gig { gig_id } => ("gig", Some(gig_id.to_string()), None),
            Subject::Booking { booking_id } => ("booking", None, Some(booking_id.to_string())),
        };
        Self {
            id: conversation.id.to_string(),
            subject: SubjectView {
                kind,
                gig_id,
                booking_id,
            },
            brand_id: conversation.brand_id.to_string(),
            member_ids: conversation
                .member_ids
                .iter()
                .map(ToString::to_string)
                .collect(),
            created_at: conversation.created_at.to_string(),
            last_activity_at: conversation.last_activity_at.to_string(),
            last_message_id: conversation.last_seq,
            read_up_to: conversation.read_seq(viewer),
            unread_count: conversation.unread_for(viewer),
            last_message: conversation.last_message.as_ref().map(|m| LastMessageView {
                id: m.seq,
                sender_id: m.sender_id.to_string(),
                text: m.text.clone(),
                sent_at: m.sent_at.to_string(),
            }),
        }
    }
}

/// An inquiry to one influencer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithInfluencer {
    #[schema(max_length = 64)]
    pub influencer_id: String,
}

/// An inquiry to every member of a published group gig.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AboutGig {
    #[schema(max_length = 64)]
    pub gig_id: String,
}

/// A booking's conversation: its brand and its members.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AboutBooking {
    #[schema(max_length = 64)]
    pub booking_id: String,
}

/// Exactly one of the three.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OpenConversation {
    WithInfluencer(WithInfluencer),
    AboutGig(AboutGig),
    AboutBooking(AboutBooking),
}

/// Opens a conversation, or answers the one there is (each influencer, group gig and booking
/// has one conversation per brand). A brand writes to an active influencer or to every member
/// of a published group gig; a booking's conversation is opened by its brand or any of its
/// members. Influencers cannot start one outside a booking (403). A brand opens at most
/// `CHAT_OPENS_PER_HOUR` new conversations an hour (429 with `Retry-After`); reopening one
/// is free.
#[utoipa::path(post, path = "/conversations", tag = "chat", security(("bearer" = [])),
    request_body = OpenConversation,
    responses(
        (status = 201, description = "Opened now", body = ConversationView),
        (status = 200, description = "It was open already", body = ConversationView),
        Authenticated, RoleRequired, JsonBody,
        (status = 404, description = "No such influencer, gig or booking, or one you may not see", body = crate::routes::ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The gig is not published", body = crate::routes::ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Too many new conversations this hour", body = crate::routes::ProblemDoc, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait before opening another"))),
    ))]
async fn open_conversation(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<OpenConversation>,
) -> ApiResult<(StatusCode, axum::Json<ConversationView>)> {
    let request = match body {
        OpenConversation::WithInfluencer(b) => OpenRequest::Influencer(b.influencer_id),
        OpenConversation::AboutGig(b) => OpenRequest::Gig(b.gig_id),
        OpenConversation::AboutBooking(b) => OpenRequest::Booking(b.booking_id),
    };
    let (conversation, created) = chat::open(&state, &user.0, request).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        axum::Json(ConversationView::of(&conversation, &user)),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConversationsQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(max_length = 64, pattern = "^[0-9]{1,13}_[0-9A-Za-z-]{1,40}$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationList {
    pub items: Vec<ConversationView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Your conversations, newest activity first, each with your unread count and its last
/// message.
#[utoipa::path(get, path = "/conversations", tag = "chat", security(("bearer" = [])),
    params(ConversationsQuery),
    responses((status = 200, description = "One page of conversations", body = ConversationList),
        Authenticated, InvalidQuery))]
async fn list_conversations(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ConversationsQuery>,
) -> ApiResult<axum::Json<ConversationList>> {
    let page = Page::read(query.limit, "cursor", query.cursor)?;
    let (conversations, next_cursor) = chat::list(&state, &user.0, page).await?;
    Ok(axum::Json(ConversationList {
        items: conversations
            .iter()
            .map(|c| ConversationView::of(c, &user))
            .collect(),
        next_cursor,
    }))
}

/// A conversation you are a party to.
#[utoipa::path(get, path = "/conversations/{id}", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "The conversation's id")),
    responses((status = 200, description = "The conversation", body = ConversationView),
        Authenticated, ObjectInPath))]
async fn get_conversation(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
) -> ApiResult<axum::Json<ConversationView>> {
    let conversation = chat::get(&state, &user.0, &id).await?;
    Ok(axum::Json(ConversationView::of(&conversation, &user)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// The messages just before this id (older history).
    #[param(minimum = 0)]
    pub before: Option<u64>,
    /// The messages just after this id: the catch-up after a reconnect, from the last id you
    /// saw. With `before` too, the messages between the two.
    #[param(minimum = 0)]
    pub after: Option<u64>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    /// Oldest first.
    pub items: Vec<MessageView>,
    /// Whether there is more beyond this page: older messages for the latest page and
    /// `before`, newer ones for `after`.
    pub has_more: bool,
}

/// A page of a conversation's history, oldest first: the latest messages, those `before` an
/// id (scrolling back), or those `after` one (catching up after a reconnect).
#[utoipa::path(get, path = "/conversations/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "The conversation's id"), HistoryQuery),
    responses((status = 200, description = "One page of messages", body = MessagePage),
        Authenticated, ObjectInPath, InvalidQuery))]
async fn message_history(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<axum::Json<MessagePage>> {
    let request = HistoryRequest {
        before: query.before,
        after: query.after,
        limit: query.limit,
    };
    let (messages, has_more) = chat::history(&state, &user.0, &id, request).await?;
    Ok(axum::Json(MessagePage {
        items: messages.iter().map(MessageView::from).collect(),
        has_more,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessageBody {
    /// Your own id for the message: sending again with the same one (a retry) stores it once.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub client_id: String,
    /// 1 to 4,000 characters, not only spaces.
    #[schema(min_length = 1, max_length = 4000, pattern = "\\S")]
    pub text: String,
}

/// Sends a message. It is stored first, then pushed as the socket event `message` to every
/// party's open sockets (yours included). Parties with no socket open get a notification, and a
/// mail if it is still unread after `CHAT_MAIL_DELAY_SECS`.
#[utoipa::path(post, path = "/conversations/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "The conversation's id")),
    request_body = NewMessageBody,
    responses(
        (status = 201, description = "Stored now", body = MessageView),
        (status = 200, description = "Stored before with this `client_id`: the stored message", body = MessageView),
        Authenticated, ObjectInPath, JsonBody))]
async fn send_message(
    State(state): State<AppState>,
    user: AuthUser,
    RequestId(request_id): RequestId,
    PathId(id): PathId,
    ApiJson(body): ApiJson<NewMessageBody>,
) -> ApiResult<Response> {
    let (message, created) = chat::send(
        &state,
        &user.0,
        &id,
        body.client_id,
        body.text,
        request_id.as_deref(),
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, axum::Json(MessageView::from(&message))).into_response();
    if !created {
        // A retry must not be mistaken for a second message by a cache in between.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    /// The id of the last message you read; a mark never moves back and stops at the last
    /// message.
    #[schema(minimum = 0)]
    pub up_to: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadMark {
    pub read_up_to: u64,
    pub unread_count: u64,
}

/// A read receipt: moves your read mark. The other parties' sockets get the event `read`
/// (`conversation_id`, `user_id`, `up_to`) when it moved.
#[utoipa::path(post, path = "/conversations/{id}/read", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "The conversation's id")),
    request_body = ReadBody,
    responses((status = 200, description = "Your read mark now", body = ReadMark),
        Authenticated, ObjectInPath, JsonBody))]
async fn mark_conversation_read(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
    ApiJson(body): ApiJson<ReadBody>,
) -> ApiResult<axum::Json<ReadMark>> {
    let (read_up_to, unread_count) = chat::read(&state, &user.0, &id, body.up_to).await?;
    Ok(axum::Json(ReadMark {
        read_up_to,
        unread_count,
    }))
}
