//! `/payments/webhook`: Stripe's deliveries. No access token: a delivery proves itself with its
//! `Stripe-Signature` header, checked before anything is read or stored.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use noillin_payments::WebhookRejection;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::RequestId,
    payments::{self, Receipt, WebhookError},
    routes::problems::problem_response,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive_webhook))
}

/// The header Stripe signs its deliveries in.
const SIGNATURE_HEADER: &str = "stripe-signature";

/// What became of a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceipt {
    /// `recorded` (applied shortly), `duplicate` (this event id came before) or `ignored` (an
    /// event type the platform does not act on).
    pub outcome: String,
}

/// 401 for a delivery that is not genuine (or is stale), 400 for a genuine one that cannot be
/// read.
struct Rejected;

impl utoipa::IntoResponses for Rejected {
    fn responses()
    -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
        [
            (
                "400".to_owned(),
                problem_response("A genuine event of a handled type that cannot be read", &[])
                    .into(),
            ),
            (
                "401".to_owned(),
                problem_response(
                    "No valid `Stripe-Signature` for any configured secret, or one more than five \
                     minutes from now (`/problems/webhook-signature`)",
                    &[],
                )
                .into(),
            ),
            (
                "413".to_owned(),
                problem_response("The body is larger than 64 KiB", &[]).into(),
            ),
        ]
        .into_iter()
        .collect()
    }
}

/// Receives one Stripe event (for Stripe only). The body is taken exactly as sent and checked
/// against the `Stripe-Signature` header (v1 scheme, any configured secret, five minutes'
/// tolerance: otherwise 401); the event is then stored once by its id and applied by the worker.
/// A second delivery of an event is acknowledged and changes nothing.
#[utoipa::path(post, path = "/payments/webhook", tag = "payments",
    request_body(content = String, content_type = "application/json",
        description = "The event, byte for byte as Stripe sent it"),
    params(("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256>`")),
    responses((status = 200, description = "Accepted (recorded, a duplicate, or ignored)", body = WebhookReceipt), Rejected))]
async fn receive_webhook(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, axum::Json<WebhookReceipt>)> {
    let body = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("the body is not UTF-8".into()))?;
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok());
    let receipt = payments::receive(&state, body, signature, request_id.as_deref())
        .await
        .map_err(|e| match e {
            WebhookError::Rejected(WebhookRejection::Malformed(reason)) => {
                tracing::warn!(reason, "payment webhook unreadable");
                ApiError::BadRequest(format!("unreadable event: {reason}"))
            }
            // Not Stripe, or a replay: the sender is not authenticated.
            WebhookError::Rejected(rejection) => {
                tracing::warn!(%rejection, "payment webhook rejected");
                ApiError::Unauthorized("webhook-signature")
            }
            WebhookError::Store(e) => e.into(),
            WebhookError::Outbox(e) => ApiError::Internal(e),
        })?;
    let outcome = match receipt {
        Receipt::Recorded => "recorded",
        Receipt::Duplicate => "duplicate",
        Receipt::Ignored => "ignored",
    };
    Ok((
        StatusCode::OK,
        axum::Json(WebhookReceipt {
            outcome: outcome.to_owned(),
        }),
    ))
}
