//! Reviews: `/bookings/{id}/review` (the brand's, once; a member's reply, once) and
//! `/influencers/{id}/reviews` (those counted in an influencer's rating).

use axum::{extract::State, http::StatusCode};
use noillin_domain::{UserId, review::Review};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    error::ApiResult,
    extract::{ApiJson, ApiQuery, AuthUser, PathId, RequestId},
    paging::Page,
    profiles, reviews,
    routes::problems::{
        Authenticated, Conflict, InvalidQuery, JsonBody, ObjectInPath, RoleRequired,
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_review, get_review))
        .routes(routes!(reply_to_review))
        .routes(routes!(influencer_reviews))
}

/// A brand's review of a completed booking.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    pub booking_id: String,
    pub gig_id: String,
    pub gig_title: String,
    pub brand_id: String,
    /// 1 to 5.
    pub rating: u8,
    pub text: String,
    pub created_at: String,
    /// A booked influencer's answer; absent until one answered.
    pub reply: Option<ReplyView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplyView {
    pub by: String,
    pub text: String,
    pub at: String,
}

impl From<&Review> for ReviewView {
    fn from(r: &Review) -> Self {
        Self {
            booking_id: r.booking_id.to_string(),
            gig_id: r.gig_id.to_string(),
            gig_title: r.gig_title.clone(),
            brand_id: r.brand_id.to_string(),
            rating: r.rating,
            text: r.text.clone(),
            created_at: r.created_at.to_string(),
            reply: r.reply.as_ref().map(|reply| ReplyView {
                by: reply.by.to_string(),
                text: reply.text.clone(),
                at: reply.at.to_string(),
            }),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReview {
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    /// 1 to 2,000 characters, not only spaces.
    #[schema(min_length = 1, max_length = 2000, pattern = "\\S")]
    pub text: String,
}

/// The booking's brand reviews it once it is `completed`: 1 to 5 stars and a text. Every
/// booked influencer's rating (on their profile and in search) counts it at once.
#[utoipa::path(post, path = "/bookings/{id}/review", tag = "reviews", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "The booking's id")),
    request_body = NewReview,
    responses((status = 201, description = "The review", body = ReviewView),
        Authenticated, RoleRequired, ObjectInPath, JsonBody, Conflict))]
async fn post_review(
    State(state): State<AppState>,
    user: AuthUser,
    RequestId(request_id): RequestId,
    PathId(id): PathId,
    ApiJson(body): ApiJson<NewReview>,
) -> ApiResult<(StatusCode, axum::Json<ReviewView>)> {
    let review = reviews::post(
        &state,
        &user.0,
        &id,
        body.rating,
        body.text,
        request_id.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(ReviewView::from(&review))))
}

/// The review of a booking you are a party to.
#[utoipa::path(get, path = "/bookings/{id}/review", tag = "reviews", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "The booking's id")),
    responses((status = 200, description = "The review", body = ReviewView), Authenticated, ObjectInPath))]
async fn get_review(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
) -> ApiResult<axum::Json<ReviewView>> {
    let review = reviews::of_booking(&state, &user.0, &id).await?;
    Ok(axum::Json(ReviewView::from(&review)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReply {
    /// 1 to 2,000 characters, not only spaces.
    #[schema(min_length = 1, max_length = 2000, pattern = "\\S")]
    pub text: String,
}

/// A booked influencer answers the booking's review, once (for every member).
#[utoipa::path(post, path = "/bookings/{id}/review/reply", tag = "reviews", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "The booking's id")),
    request_body = NewReply,
    responses((status = 200, description = "The review with its reply", body = ReviewView),
        Authenticated, RoleRequired, ObjectInPath, JsonBody, Conflict))]
async fn reply_to_review(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
    ApiJson(body): ApiJson<NewReply>,
) -> ApiResult<axum::Json<ReviewView>> {
    let review = reviews::reply(&state, &user.0, &id, body.text).await?;
    Ok(axum::Json(ReviewView::from(&review)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReviewsQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The last `booking_id` of the previous page.
    #[param(max_length = 64)]
    pub before: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewList {
    pub items: Vec<ReviewView>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<String>,
}

/// The reviews counted in an influencer's rating, newest first.
#[utoipa::path(get, path = "/influencers/{id}/reviews", tag = "reviews", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "The influencer's user id"), ReviewsQuery),
    responses((status = 200, description = "One page of reviews", body = ReviewList),
        Authenticated, ObjectInPath, InvalidQuery))]
async fn influencer_reviews(
    State(state): State<AppState>,
    _viewer: AuthUser,
    PathId(id): PathId,
    ApiQuery(query): ApiQuery<ReviewsQuery>,
) -> ApiResult<axum::Json<ReviewList>> {
    let page = Page::read(query.limit, "before", query.before)?;
    // Unknown, suspended and non-influencer ids are not found, as for the profile.
    profiles::public_influencer_profile(&state, &UserId::from_string(id.clone())).await?;
    let (items, next) = reviews::of_influencer(&state, &id, page).await?;
    Ok(axum::Json(ReviewList {
        items: items.iter().map(ReviewView::from).collect(),
        next_before: next.map(|id| id.to_string()),
    }))
}
