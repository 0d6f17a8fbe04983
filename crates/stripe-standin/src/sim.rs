//! The `/_sim` test controls (JSON, no authentication); documented in the crate docs.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::api::{confirm, render_intent};
use crate::controls::{FlushOrder, WebhookSettings};
use crate::delivery::attempt_delivery;
use crate::errors::ApiError;
use crate::events::EventRequest;
use crate::ids;
use crate::params::Params;
use crate::state::{Ctx, Shared};

type Answer = Result<Json<serde_json::Value>, ApiError>;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/payment_intents/{id}/pay", post(pay))
        .route(
            "/payment_intents/{id}/succeed_silently",
            post(succeed_silently),
        )
        .route("/webhooks", put(set_webhooks))
        .route("/webhooks/flush", post(flush))
        .route("/events/{id}/resend", post(resend))
        .route("/events", get(events))
}

/// A JSON body, or the defaults when there is none.
fn body<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|err| ApiError::bad_param("body", format!("Invalid JSON body: {err}")))
}

fn ctx(silent: bool) -> Ctx {
    Ctx {
        now: ids::now(),
        request: EventRequest {
            id: Some(ids::request_id()),
            idempotency_key: None,
        },
        silent,
    }
}

#[derive(Default, Deserialize)]
struct PayRequest {
    payment_method: Option<String>,
}

/// Confirms as the customer's browser would; answers the intent whatever the card did.
async fn pay(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Answer {
    let request: PayRequest = body(&bytes)?;
    let payment_method = request
        .payment_method
        .unwrap_or_else(|| "pm_card_visa".to_owned());
    let ctx = ctx(false);
    shared.with_state(|state| {
        // A declined card is an answer for the API, not for the browser: the intent tells it.
        confirm(state, &ctx, &id, Some(&payment_method))?;
        render_intent(state, &id, &Params::default()).map(Json)
    })
}

async fn succeed_silently(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(id): Path<String>,
) -> Answer {
    let ctx = ctx(true);
    shared.with_state(|state| {
        confirm(state, &ctx, &id, Some("pm_card_visa"))?;
        render_intent(state, &id, &Params::default()).map(Json)
    })
}

async fn set_webhooks(AxumState(shared): AxumState<Arc<Shared>>, bytes: Bytes) -> Answer {
    let update: WebhookSettings = body(&bytes)?;
    shared.with_state(|state| state.outbox.update(update));
    Ok(Json(serde_json::json!({})))
}

#[derive(Default, Deserialize)]
struct FlushRequest {
    #[serde(default)]
    order: FlushOrder,
}

async fn flush(AxumState(shared): AxumState<Arc<Shared>>, bytes: Bytes) -> Answer {
    let request: FlushRequest = body(&bytes)?;
    shared.with_state(|state| state.outbox.flush(request.order));
    Ok(Json(serde_json::json!({})))
}

#[derive(Default, Deserialize)]
struct ResendRequest {
    signed_at: Option<i64>,
}

/// One attempt, outside the object's lane (a replay is not held behind retries), answered
/// once the receiver has answered.
async fn resend(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Answer {
    let request: ResendRequest = body(&bytes)?;
    let event = shared
        .lock()
        .outbox
        .find(&id)
        .ok_or_else(|| ApiError::no_such("event", &id, "id"))?;
    let Some(status) = attempt_delivery(&shared, event, request.signed_at).await else {
        return Err(ApiError::bad_param(
            "url",
            "No webhook endpoint is set (PUT /_sim/webhooks).".to_owned(),
        ));
    };
    Ok(Json(serde_json::json!({ "status": status })))
}

async fn events(AxumState(shared): AxumState<Arc<Shared>>) -> Answer {
    let records = shared.lock().outbox.records();
    serde_json::to_value(records)
        .map(Json)
        .map_err(|err| ApiError::internal(format!("could not serialize the events: {err}")))
}
