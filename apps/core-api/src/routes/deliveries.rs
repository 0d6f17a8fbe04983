//! After the booking: `/bookings/{id}/deliver`, `/approve` and `/revisions`, and the views of
//! deliveries and settlements a booking shows.

use axum::extract::State;
use noillin_domain::booking::{
    Delivery, MAX_DELIVERY_LINKS, MAX_DELIVERY_NOTE_LEN, MAX_LINK_LEN, Settlement,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    bookings::after::{self, DeliveryRequest},
    error::ApiResult,
    extract::{ApiJson, AuthUser, PathId, RequestId},
    routes::{
        bookings::BookingView,
        problems::{Authenticated, Conflict, JsonBody, ObjectInPath, RoleRequired},
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(deliver))
        .routes(routes!(approve))
        .routes(routes!(request_revision))
}

/// One delivery: what was handed in, and the revision asked for it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub links: Vec<String>,
    pub note: String,
    /// The influencer who delivered.
    pub by: String,
    pub at: String,
    /// Why the brand asked for another version; absent when it did not.
    pub revision_reason: Option<String>,
    pub revision_requested_at: Option<String>,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        Self {
            links: d.links.clone(),
            note: d.note.clone(),
            by: d.by.to_string(),
            at: d.at.to_string(),
            revision_reason: d.revision.as_ref().map(|r| r.reason.clone()),
            revision_requested_at: d.revision.as_ref().map(|r| r.at.to_string()),
        }
    }
}

/// What the platform kept of the payment and who it is for, in the price's currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementView {
    pub at: String,
    pub currency: String,
    /// Minor units kept of the payment: all of it on completion, what the brand did not get
    /// back on a cancellation.
    pub gross_minor: i64,
    /// The platform's fee (`PLATFORM_FEE_BPS` of the gross, rounded down).
    pub fee_minor: i64,
    pub shares: Vec<ShareView>,
    /// When the influencers are paid.
    pub payout_due_at: String,
}

/// One influencer's share and its payout.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareView {
    pub user_id: String,
    pub earned_minor: i64,
    /// Taken back by refunds after settlement.
    pub reversed_minor: i64,
    /// Minor units paid out; absent before the payout.
    pub paid_out_minor: Option<i64>,
    /// The Stripe transfer (`tr_…`); absent until made.
    pub transfer_id: Option<String>,
}

impl From<&Settlement> for SettlementView {
    fn from(s: &Settlement) -> Self {
        Self {
            at: s.at.to_string(),
            currency: s.currency.clone(),
            gross_minor: s.gross_minor,
            fee_minor: s.fee_minor,
            shares: s
                .shares
                .iter()
                .map(|share| ShareView {
                    user_id: share.user_id.to_string(),
                    earned_minor: share.earned_minor,
                    reversed_minor: share.reversed_minor,
                    paid_out_minor: share.payout.as_ref().map(|p| p.amount_minor),
                    transfer_id: share.payout.as_ref().and_then(|p| p.transfer_id.clone()),
                })
                .collect(),
            payout_due_at: s.payout_due_at.to_string(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDelivery {
    /// Links to the published content: 1 to 10 http(s) URLs.
    #[schema(min_items = 1, max_items = 10, inline)]
    pub links: Vec<LinkDoc>,
    /// For the brand, up to 4,000 characters.
    #[schema(max_length = 4000)]
    pub note: Option<String>,
}

/// An http(s) URL of at most 2,048 printable ASCII characters.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, max_length = 2048, pattern = "^https?://[!-~]+$")]
pub struct LinkDoc(String);

/// A booked influencer delivers a confirmed booking once it has started: `delivered`. The
/// brand is told; it approves or asks for a revision, and without an answer within
/// `AUTO_COMPLETE_HOURS` the booking completes by itself.
#[utoipa::path(post, path = "/bookings/{id}/deliver", tag = "bookings", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "The booking's id")),
    request_body = NewDelivery,
    responses((status = 200, description = "The booking, delivered", body = BookingView),
        Authenticated, RoleRequired, ObjectInPath, JsonBody, Conflict))]
async fn deliver(
    State(state): State<AppState>,
    user: AuthUser,
    RequestId(request_id): RequestId,
    PathId(id): PathId,
    ApiJson(body): ApiJson<NewDelivery>,
) -> ApiResult<axum::Json<BookingView>> {
    let request = DeliveryRequest {
        links: body.links.into_iter().map(|link| link.0).collect(),
        note: body.note,
    };
    let booking = after::deliver(&state, &user.0, &id, request, request_id.as_deref()).await?;
    Ok(axum::Json(BookingView::new(&booking, &user.0.id)))
}

/// The booking's brand approves the delivery: `completed`. The platform's fee and each
/// influencer's share are written to the ledger; they are paid after `PAYOUT_DELAY_HOURS`.
#[utoipa::path(post, path = "/bookings/{id}/approve", tag = "bookings", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "The booking's id")),
    responses((status = 200, description = "The booking, completed", body = BookingView),
        Authenticated, RoleRequired, ObjectInPath, Conflict))]
async fn approve(
    State(state): State<AppState>,
    user: AuthUser,
    RequestId(request_id): RequestId,
    PathId(id): PathId,
) -> ApiResult<axum::Json<BookingView>> {
    let booking = after::approve(&state, &user.0, &id, request_id.as_deref()).await?;
    Ok(axum::Json(BookingView::new(&booking, &user.0.id)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRevision {
    /// What to change, 1 to 500 characters, not only spaces; the influencers read it.
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub reason: String,
}

/// The booking's brand asks for another version of the delivery: back to `confirmed`, the
/// delivery kept in the booking's history. At most `MAX_REVISIONS` per booking (409
/// `revision-limit` after).
#[utoipa::path(post, path = "/bookings/{id}/revisions", tag = "bookings", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "The booking's id")),
    request_body = NewRevision,
    responses((status = 200, description = "The booking, back to confirmed", body = BookingView),
        Authenticated, RoleRequired, ObjectInPath, JsonBody, Conflict))]
async fn request_revision(
    State(state): State<AppState>,
    user: AuthUser,
    RequestId(request_id): RequestId,
    PathId(id): PathId,
    ApiJson(body): ApiJson<NewRevision>,
) -> ApiResult<axum::Json<BookingView>> {
    let booking =
        after::request_revision(&state, &user.0, &id, body.reason, request_id.as_deref()).await?;
    Ok(axum::Json(BookingView::new(&booking, &user.0.id)))
}

// The limits the schema states are the domain's.
const _: () = assert!(MAX_DELIVERY_LINKS == 10 && MAX_LINK_LEN == 2048);
const _: () = assert!(MAX_DELIVERY_NOTE_LEN == 4000);
