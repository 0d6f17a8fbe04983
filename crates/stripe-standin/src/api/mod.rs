//! The Stripe API under `/v1`: authentication, form-encoded parameters, idempotency keys and
//! the routes, every answer an SDK object or a Stripe error.

mod account_links;
mod accounts;
mod charges;
mod intents;
mod refunds;
mod transfers;

use std::str::FromStr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use stripe_types::Currency;

use crate::Settings;
use crate::errors::ApiError;
use crate::events::EventRequest;
use crate::idempotency::{Lookup, StoredResponse};
use crate::ids;
use crate::params::Params;
use crate::state::{Ctx, Shared, State};

pub(crate) use accounts::onboard;
pub(crate) use intents::{confirm, render_intent};

pub(crate) async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = ids::request_id();
    if let Err(err) = authorize(&shared.settings, &headers) {
        return respond(
            &headers,
            err.status.as_u16(),
            &err.body(),
            &request_id,
            false,
        );
    }
    let path = uri.path().to_owned();
    let params = if method == Method::POST {
        Params::parse(&String::from_utf8_lossy(&body))
    } else {
        Params::parse(uri.query().unwrap_or_default())
    };
    let key = (method == Method::POST)
        .then(|| {
            headers
                .get("idempotency-key")
                .and_then(|value| value.to_str().ok())
        })
        .flatten()
        .map(str::to_owned);
    let ctx = Ctx {
        now: ids::now(),
        request: EventRequest {
            id: Some(request_id.clone()),
            idempotency_key: key.clone(),
        },
        silent: false,
    };
    let api_key = &shared.settings.api_key;
    let (stored, replayed) = shared.with_state(|state| {
        if let Some(key) = &key {
            match state.idempotency.lookup(api_key, key, &path, &params) {
                Err(err) => {
                    let response = StoredResponse {
                        status: err.status.as_u16(),
                        body: err.body(),
                        request_id,
                    };
                    return (response, false);
                }
                Ok(Lookup::Replay(response)) => return (response, true),
                Ok(Lookup::New) => {}
            }
        }
        let (status, body, saved) = match route(state, &ctx, &method, &path, &params) {
            Ok(body) => (200, body, true),
            Err(err) => (err.status.as_u16(), err.body(), err.saved),
        };
        let response = StoredResponse {
            status,
            body,
            request_id,
        };
        if let (Some(key), true) = (&key, saved) {
            state
                .idempotency
                .store(api_key, key, &path, &params, response.clone());
        }
        (response, false)
    });
    respond(
        &headers,
        stored.status,
        &stored.body,
        &stored.request_id,
        replayed,
    )
}

fn route(
    state: &mut State,
    ctx: &Ctx,
    method: &Method,
    path: &str,
    params: &Params,
) -> Result<serde_json::Value, ApiError> {
    let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["payment_intents"]) => intents::create(state, ctx, params),
        ("GET", ["payment_intents", id]) => intents::retrieve(state, id, params),
        ("POST", ["payment_intents", id, "confirm"]) => {
            intents::confirm_request(state, ctx, id, params)
        }
        ("POST", ["payment_intents", id, "cancel"]) => intents::cancel(state, ctx, id, params),
        ("GET", ["charges", id]) => charges::retrieve(state, id),
        ("POST", ["refunds"]) => refunds::create(state, ctx, params),
        ("GET", ["refunds", id]) => refunds::retrieve(state, id),
        ("POST", ["transfers"]) => transfers::create(state, ctx, params),
        ("GET", ["transfers", id]) => transfers::retrieve(state, id),
        ("POST", ["accounts"]) => accounts::create(state, ctx, params),
        ("GET", ["accounts", id]) => accounts::retrieve(state, id),
        ("POST", ["account_links"]) => account_links::create(state, ctx, params),
        _ => Err(ApiError::unrecognized_url(method.as_str(), path)),
    }
}

fn authorize(settings: &Settings, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the Authorization header, \
             using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        ));
    };
    let key = value
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if key == settings.api_key {
        Ok(())
    } else {
        Err(ApiError::unauthorized(&format!(
            "Invalid API Key provided: {}",
            mask(key)
        )))
    }
}

/// As Stripe shows a key it refuses: its prefix and last four characters.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len());
    }
    let prefix: String = chars[..8].iter().collect();
    let last: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}{}{last}", "*".repeat(chars.len() - 12))
}

fn respond(
    request: &HeaderMap,
    status: u16,
    body: &serde_json::Value,
    request_id: &str,
    replayed: bool,
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("request-id", value);
    }
    let version = request
        .get("stripe-version")
        .cloned()
        .or_else(|| HeaderValue::from_str(stripe_shared::version::VERSION.as_str()).ok());
    if let Some(version) = version {
        headers.insert("stripe-version", version);
    }
    if let Some(key) = request.get("idempotency-key") {
        headers.insert("idempotency-key", key.clone());
    }
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// A three-letter ISO code the SDK knows (Stripe's list).
fn currency(params: &Params) -> Result<Currency, ApiError> {
    let raw = params.required("currency")?.to_ascii_lowercase();
    match Currency::from_str(&raw) {
        Ok(Currency::Unknown(_)) | Err(_) => Err(ApiError::bad_param(
            "currency",
            format!("Invalid currency: {raw}."),
        )),
        Ok(currency) => Ok(currency),
    }
}
