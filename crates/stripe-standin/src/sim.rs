//! The `/_sim` test controls (JSON, no authentication); documented in the crate docs.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::response::Redirect;
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::api::{confirm, onboard, render_intent};
use crate::controls::{FlushOrder, TransferFailures, TransferRecord, WebhookSettings};
use crate::delivery::attempt_delivery;
use crate::errors::{ApiError, to_json};
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
        .route("/accounts/{id}/onboard", post(onboard_account))
        .route("/onboarding/{id}", get(onboarding_page))
        .route("/transfers/failures", post(fail_transfers))
        .route("/transfers", get(transfers))
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

async fn onboard_account(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(id): Path<String>,
) -> Answer {
    let ctx = ctx(false);
    shared.with_state(|state| to_json(&onboard(state, &ctx, &id)?).map(Json))
}

#[derive(Deserialize)]
struct OnboardingQuery {
    return_url: Option<String>,
}

/// Where an account link leads: onboarding completes at once, and the browser goes back to
/// the platform.
async fn onboarding_page(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<OnboardingQuery>,
) -> Result<Redirect, ApiError> {
    let Some(return_url) = query.return_url.filter(|url| !url.is_empty()) else {
        return Err(ApiError::bad_param(
            "return_url",
            "The onboarding page needs the return_url of its account link.".to_owned(),
        ));
    };
    let ctx = ctx(false);
    shared.with_state(|state| onboard(state, &ctx, &id))?;
    Ok(Redirect::to(&return_url))
}

async fn fail_transfers(AxumState(shared): AxumState<Arc<Shared>>, bytes: Bytes) -> Answer {
    let request: TransferFailures = serde_json::from_slice(&bytes)
        .map_err(|err| ApiError::bad_param("body", format!("Invalid JSON body: {err}")))?;
    let mut state = shared.lock();
    if !state.accounts.contains_key(&request.destination) {
        return Err(ApiError::no_such(
            "account",
            &request.destination,
            "destination",
        ));
    }
    state
        .transfer_failures
        .insert(request.destination, request.count);
    Ok(Json(serde_json::json!({})))
}

async fn transfers(AxumState(shared): AxumState<Arc<Shared>>) -> Answer {
    let state = shared.lock();
    let records: Vec<TransferRecord> = state
        .transfer_order
        .iter()
        .filter_map(|id| state.transfers.get(id))
        .map(|transfer| TransferRecord {
            id: transfer.id.to_string(),
            amount: transfer.amount,
            currency: transfer.currency.to_string(),
            destination: transfer
                .destination
                .as_ref()
                .map(|account| account.id().to_string())
                .unwrap_or_default(),
            transfer_group: transfer.transfer_group.clone(),
            metadata: transfer.metadata.clone(),
        })
        .collect();
    drop(state);
    serde_json::to_value(records)
        .map(Json)
        .map_err(|err| ApiError::internal(format!("could not serialize the transfers: {err}")))
}
