//! `/bookings`: brands hold a gig's slot until they pay; every party reads its bookings.

use axum::{
    extract::State,
    http::{Method, StatusCode},
    response::{IntoResponse, Response},
};
use jiff::{Timestamp, tz::TimeZone};
use noillin_domain::{
    UserId,
    booking::{Booking, BookingState},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    bookings::{self, BookingError, BookingPage, BookingRequest},
    error::{ApiError, ApiResult},
    extract::{ApiJson, ApiQuery, AuthUser, Brand, PathId, RequestId, WithRole},
    idempotency::{self, IdempotencyKey},
    paging::Page,
    routes::{
        ProblemDoc,
        deliveries::{DeliveryView, SettlementView},
        gigs::MoneyDto,
        problems::{
            Authenticated, Conflict, HoldLimit, InvalidQuery, JsonBody, ObjectInPath, RoleRequired,
        },
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_booking, list_bookings))
        .routes(routes!(get_booking))
        .routes(routes!(cancel_booking))
}

/// Where a booking is in its life.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BookingStateDto {
    PendingPayment,
    Confirmed,
    Delivered,
    Completed,
    Cancelled,
    Expired,
    Refunded,
}

impl From<BookingState> for BookingStateDto {
    fn from(state: BookingState) -> Self {
        match state {
            BookingState::PendingPayment => Self::PendingPayment,
            BookingState::Confirmed => Self::Confirmed,
            BookingState::Delivered => Self::Delivered,
            BookingState::Completed => Self::Completed,
            BookingState::Cancelled => Self::Cancelled,
            BookingState::Expired => Self::Expired,
            BookingState::Refunded => Self::Refunded,
        }
    }
}

impl From<BookingStateDto> for BookingState {
    fn from(state: BookingStateDto) -> Self {
        match state {
            BookingStateDto::PendingPayment => Self::PendingPayment,
            BookingStateDto::Confirmed => Self::Confirmed,
            BookingStateDto::Delivered => Self::Delivered,
            BookingStateDto::Completed => Self::Completed,
            BookingStateDto::Cancelled => Self::Cancelled,
            BookingStateDto::Expired => Self::Expired,
            BookingStateDto::Refunded => Self::Refunded,
        }
    }
}

/// An influencer booked, with their share of the payout.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookedMember {
    pub user_id: String,
    /// Basis points of the payout; the shares sum to 10,000.
    pub share_bps: u32,
}

/// One step of the booking's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct StateChangeView {
    pub state: BookingStateDto,
    pub at: String,
    pub reason: String,
    /// Who made the change; absent when the platform did (a lapsed hold).
    pub by: Option<String>,
}

/// A booking.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingView {
    pub id: String,
    pub gig_id: String,
    /// The gig's title when it was booked.
    pub gig_title: String,
    pub brand_id: String,
    /// Every influencer booked, the gig's owner first.
    pub members: Vec<BookedMember>,
    /// The price when booked: what the brand pays.
    pub price: MoneyDto,
    /// RFC 3339, UTC.
    pub start: String,
    pub end: String,
    /// The gig owner's IANA zone when booked.
    pub time_zone: String,
    /// The start and end in that zone, RFC 3339 with the offset and the zone, e.g.
    /// `2026-12-01T11:00:00+01:00[Europe/Paris]`.
    pub local_start: String,
    pub local_end: String,
    pub state: BookingStateDto,
    /// Until when an unpaid hold keeps the slot; present while `pending_payment`.
    pub hold_expires_at: Option<String>,
    /// The booking's payment; absent only for bookings made before payments existed.
    pub payment: Option<PaymentView>,
    /// Every delivery handed in, the current one last, with the revisions asked for.
    pub deliveries: Vec<DeliveryView>,
    /// While `delivered`: when the booking completes by itself without the brand's answer.
    pub auto_complete_at: Option<String>,
    /// Where the money kept goes, once settled; shown to the booked influencers and
    /// administrators.
    pub settlement: Option<SettlementView>,
    pub history: Vec<StateChangeView>,
    pub created_at: String,
    pub updated_at: String,
}

/// A booking's payment, in the price's currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    /// The Stripe PaymentIntent (`pi_…`).
    pub intent_id: String,
    /// What Stripe.js confirms the payment with (`stripe.confirmPayment`). Shown to the
    /// booking's brand alone, and only while the booking waits for payment.
    pub client_secret: Option<String>,
    /// When the payment arrived; absent until it did.
    pub paid_at: Option<String>,
    /// Minor units owed back to the brand (a cancellation, a payment the booking could not
    /// take); 0 when nothing is.
    #[schema(minimum = 0)]
    pub refund_due_minor: i64,
    /// Minor units Stripe reports returned so far.
    #[schema(minimum = 0)]
    pub refunded_minor: i64,
    /// Why money goes back; absent when none does.
    pub refund_reason: Option<String>,
}

impl BookingView {
    /// `booking` as `viewer` sees it: only its brand sees the payment's client secret.
    pub fn new(b: &Booking, viewer: &UserId) -> Self {
        let mut view = Self::from(b);
        if b.brand_id == *viewer {
            view.settlement = None;
        }
        if let (Some(view), Some(payment)) = (view.payment.as_mut(), b.payment.as_ref())
            && b.brand_id == *viewer
            && b.state == BookingState::PendingPayment
        {
            view.client_secret = Some(payment.client_secret.clone());
        }
        view
    }
}

impl From<&Booking> for BookingView {
    fn from(b: &Booking) -> Self {
        let zone = TimeZone::get(&b.time_zone).unwrap_or(TimeZone::UTC);
        let local = |instant: Timestamp| instant.to_zoned(zone.clone()).to_string();
        Self {
            id: b.id.to_string(),
            gig_id: b.gig_id.to_string(),
            gig_title: b.gig_title.clone(),
            brand_id: b.brand_id.to_string(),
            members: b
                .members
                .iter()
                .map(|m| BookedMember {
                    user_id: m.user_id.to_string(),
                    share_bps: m.share_bps,
                })
                .collect(),
            price: MoneyDto::from(&b.price),
            start: b.start.to_string(),
            end: b.end.to_string(),
            time_zone: b.time_zone.clone(),
            local_start: local(b.start),
            local_end: local(b.end),
            state: b.state.into(),
            hold_expires_at: (b.state == BookingState::PendingPayment)
                .then(|| b.hold_expires_at.to_string()),
            payment: b.payment.as_ref().map(|p| PaymentView {
                intent_id: p.intent_id.clone(),
                client_secret: None,
                paid_at: p.paid.as_ref().map(|paid| paid.at.to_string()),
                refund_due_minor: p.refund.as_ref().map_or(0, |r| r.due_minor),
                refunded_minor: p.refund.as_ref().map_or(0, |r| r.refunded_minor),
                refund_reason: p.refund.as_ref().map(|r| r.reason.clone()),
            }),
            deliveries: b.deliveries.iter().map(DeliveryView::from).collect(),
            auto_complete_at: b.auto_complete_at.map(|at| at.to_string()),
            settlement: b.settlement.as_ref().map(SettlementView::from),
            history: b
                .history
                .iter()
                .map(|change| StateChangeView {
                    state: change.state.into(),
                    at: change.at.to_string(),
                    reason: change.reason.clone(),
                    by: change.by.as_ref().map(ToString::to_string),
                })
                .collect(),
            created_at: b.created_at.to_string(),
            updated_at: b.updated_at.to_string(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBooking {
    /// A published gig.
    #[schema(max_length = 64)]
    pub gig_id: String,
    /// One of the gig's slots, as `GET /gigs/{id}/slots` lists it (RFC 3339).
    #[schema(example = "2026-12-01T10:00:00Z")]
    pub start: String,
}

/// Holds one of a gig's slots for you (brands only) until you pay: the booking is
/// `pending_payment` until `hold_expires_at`. Send an `Idempotency-Key` to retry safely: the same
/// key and body within 24 hours answer the first response again.
#[utoipa::path(post, path = "/bookings", tag = "bookings", security(("bearer" = [])), request_body = NewBooking,
    params(IdempotencyKey),
    responses(
        (status = 201, description = "The slot is held for you", body = BookingView),
        (status = 404, description = "No such published gig", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The slot is taken, or a request with this idempotency key is still running", body = ProblemDoc, content_type = "application/problem+json"),
        RoleRequired, JsonBody, HoldLimit))]
async fn create_booking(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Brand>,
    RequestId(request_id): RequestId,
    key: IdempotencyKey,
    ApiJson(body): ApiJson<NewBooking>,
) -> Response {
    let fingerprint = idempotency::fingerprint(&Method::POST, "/bookings", &body);
    idempotency::once(
        &state.redis,
        user.id(),
        key.0.as_deref(),
        &fingerprint,
        async {
            let request = BookingRequest {
                gig_id: body.gig_id,
                start: body.start,
            };
            match bookings::create(&state, user.id(), request, request_id.as_deref()).await {
                Ok(booking) => (
                    StatusCode::CREATED,
                    axum::Json(BookingView::new(&booking, user.id())),
                )
                    .into_response(),
                Err(e) => ApiError::from(e).into_response(),
            }
        },
    )
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only bookings in this state.
    pub state: Option<BookingStateDto>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The last id of the previous page: the page continues with older bookings.
    #[param(max_length = 64)]
    pub before: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BookingList {
    pub items: Vec<BookingView>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<String>,
}

impl BookingList {
    fn new(page: BookingPage, viewer: &UserId) -> Self {
        Self {
            items: page
                .bookings
                .iter()
                .map(|b| BookingView::new(b, viewer))
                .collect(),
            next_before: page.next_before.map(|id| id.to_string()),
        }
    }
}

/// Lists your bookings, newest first: as the brand that booked, or as a booked influencer
/// (administrators list every booking).
#[utoipa::path(get, path = "/bookings", tag = "bookings", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "One page of your bookings", body = BookingList), Authenticated, InvalidQuery))]
async fn list_bookings(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<axum::Json<BookingList>> {
    let page = Page::read(query.limit, "before", query.before)?;
    let page = bookings::list(&state, &user.0, query.state.map(Into::into), page).await?;
    Ok(axum::Json(BookingList::new(page, &user.0.id)))
}

/// One booking you are a party to (administrators: any).
#[utoipa::path(get, path = "/bookings/{id}", tag = "bookings", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "The booking's id")),
    responses((status = 200, description = "The booking", body = BookingView), Authenticated, ObjectInPath))]
async fn get_booking(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
) -> ApiResult<axum::Json<BookingView>> {
    let booking = bookings::get(&state, &user.0, &id).await?;
    Ok(axum::Json(BookingView::new(&booking, &user.0.id)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CancelBooking {
    /// Why, 1 to 500 characters; kept in the booking's history.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: Option<String>,
}

/// Cancels a booking; the slot is bookable again at once. An unpaid hold can be abandoned by
/// its brand alone (the reason is optional). A paid (`confirmed`) booking can be cancelled by
/// its brand, a booked influencer or an administrator, with a `reason`: the brand gets back
/// what the gig's cancellation policy gives for the notice left (everything when an
/// influencer or an administrator cancels), refunded through Stripe; every other party is
/// told. Takes an `Idempotency-Key` like booking creation.
#[utoipa::path(post, path = "/bookings/{id}/cancel", tag = "bookings", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "The booking's id"), IdempotencyKey),
    request_body = CancelBooking,
    responses((status = 200, description = "The booking, cancelled", body = BookingView),
        Authenticated, RoleRequired, ObjectInPath, JsonBody, Conflict))]
async fn cancel_booking(
    State(state): State<AppState>,
    user: AuthUser,
    RequestId(request_id): RequestId,
    PathId(id): PathId,
    key: IdempotencyKey,
    ApiJson(body): ApiJson<CancelBooking>,
) -> Response {
    let path = format!("/bookings/{id}/cancel");
    let fingerprint = idempotency::fingerprint(&Method::POST, &path, &body);
    idempotency::once(
        &state.redis,
        user.id(),
        key.0.as_deref(),
        &fingerprint,
        async {
            match bookings::cancel(&state, &user.0, &id, body.reason, request_id.as_deref()).await {
                Ok(booking) => axum::Json(BookingView::new(&booking, &user.0.id)).into_response(),
                Err(e) => ApiError::from(e).into_response(),
            }
        },
    )
    .await
}

impl From<BookingError> for ApiError {
    fn from(e: BookingError) -> Self {
        match e {
            BookingError::NotFound => ApiError::NotFound,
            BookingError::Invalid(errors) => ApiError::Validation(errors),
            BookingError::NotASlot => ApiError::invalid(
                "start",
                "not_a_slot",
                "the gig offers no slot at this start; list its slots first",
            ),
            BookingError::SlotTaken => {
                ApiError::Conflict("slot-taken", "the slot is no longer available".into())
            }
            BookingError::TooManyHolds { max } => ApiError::LimitReached {
                code: "too-many-holds",
                detail: format!("you may keep at most {max} unpaid holds; pay or cancel one"),
            },
            BookingError::BrandOnly => ApiError::Forbidden("brand-only"),
            BookingError::MembersOnly => ApiError::Forbidden("members-only"),
            BookingError::NotStarted => {
                ApiError::Conflict("not-started", "the booking has not started yet".into())
            }
            BookingError::RevisionLimit { max } => ApiError::Conflict(
                "revision-limit",
                format!("at most {max} revisions may be asked for per booking"),
            ),
            BookingError::AlreadyReviewed => {
                ApiError::Conflict("already-reviewed", "this was done once already".into())
            }
            BookingError::WrongState { state } => {
                ApiError::Conflict("wrong-state", format!("the booking is {}", state.as_str()))
            }
            BookingError::HoldsUnavailable(reason) | BookingError::PaymentsUnavailable(reason) => {
                ApiError::Unavailable(reason)
            }
            BookingError::ReasonRequired => ApiError::invalid(
                "reason",
                "required",
                "say why the paid booking is cancelled; the other party reads it",
            ),
            BookingError::Corrupt(reason) => ApiError::Internal(anyhow::anyhow!(reason)),
            BookingError::Store(e) => e.into(),
            BookingError::Outbox(e) => ApiError::Internal(e),
        }
    }
}
