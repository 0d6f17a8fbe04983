//! Idempotency keys on requests that create or change things (IETF idempotency-key draft, as
//! Stripe does it): a client that sends `Idempotency-Key` may repeat the request after a lost
//! answer, and only the first runs.
//!
//! - Keys belong to the caller: the same key from two users names two requests.
//! - The same key with the same request within [`REPLAY_TTL`] answers the first response again
//!   (status, content type, `Location`, body) with `Idempotent-Replayed: true`.
//! - The same key with another request is a 422; the same key while the first request still
//!   runs, a 409.
//! - A first request that ends in a 5xx, panics or is dropped stores nothing, so the client may
//!   retry; its running marker is removed, and lapses after [`RUNNING_TTL`] if the process dies.
//! - Without Redis nothing runs: a 503 with `Retry-After` (fail closed), never a second run.

use std::{future::Future, time::Duration};

use axum::{
    body::Body,
    extract::FromRequestParts,
    http::{HeaderName, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use noillin_domain::UserId;
use noillin_redis::{Attempt, Begun, Redis, StoredResponse};
use noillin_service::problem::Problem;

use crate::error::ApiError;

/// How long a first request may run before its key is free again: far longer than any request
/// takes, short enough that a process that died mid-request blocks the key only briefly.
pub const RUNNING_TTL: Duration = Duration::from_secs(60);

/// How long a response is replayed to repeats of its request.
pub const REPLAY_TTL: Duration = Duration::from_secs(24 * 3600);

/// Longest key a client may send.
const MAX_KEY_LEN: usize = 255;

/// The request header carrying the key.
const KEY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");

/// Marks a response as a replay of the first one.
pub const REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The headers a replay repeats; the rest (request ids, dates) belong to each answer.
const REPLAYED_HEADERS: [HeaderName; 2] = [header::CONTENT_TYPE, header::LOCATION];

/// The `Idempotency-Key` header, if the client sent one: 1 to 255 visible ASCII characters, or
/// a 422 problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(KEY_HEADER).iter();
        let Some(value) = values.next() else {
            return Ok(Self(None));
        };
        if values.next().is_some() {
            return Err(invalid_key("must be sent once"));
        }
        let key = value.as_bytes();
        if key.is_empty() || key.len() > MAX_KEY_LEN || !key.iter().all(u8::is_ascii_graphic) {
            return Err(invalid_key(
                "must be 1 to 255 visible ASCII characters, without spaces",
            ));
        }
        // Visible ASCII is UTF-8.
        Ok(Self(Some(String::from_utf8_lossy(key).into_owned())))
    }
}

impl utoipa::IntoParams for IdempotencyKey {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::{Object, Type, path::ParameterBuilder, path::ParameterIn};
        vec![
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .description(Some(
                    "Makes the request safe to retry: the same key and body within 24 hours \
                     answer the first response again (`Idempotent-Replayed: true`); the same \
                     key with another body is a 422, and while the first request runs, a 409. \
                     1 to 255 visible ASCII characters.",
                ))
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::from(Object::with_type(Type::String))
                        .min_length(Some(1))
                        .max_length(Some(MAX_KEY_LEN))
                        .pattern(Some("^[!-~]+$")),
                ))
                .build(),
        ]
    }
}

/// What names a request for its idempotency key: the method, the path and the canonical JSON of
/// the parsed body (so whitespace or key order in what the client sent does not matter).
pub fn fingerprint<T: serde::Serialize>(
    method: &axum::http::Method,
    path: &str,
    body: &T,
) -> Vec<u8> {
    let mut fingerprint = format!("{method} {path}\n").into_bytes();
    // Serializing our own request types cannot fail; an empty body would only weaken the check.
    fingerprint.extend(serde_json::to_vec(body).unwrap_or_default());
    fingerprint
}

fn invalid_key(message: &str) -> ApiError {
    ApiError::invalid("Idempotency-Key", "invalid", message)
}

/// Runs `run` once per (`scope`, `key`, `fingerprint`), answering repeats with the stored
/// response (see the module documentation). Without a key, `run` simply runs. The fingerprint
/// names the request: method, path and the canonical JSON of the parsed body.
pub async fn once<F>(
    redis: &Redis,
    scope: &UserId,
    key: Option<&str>,
    fingerprint: &[u8],
    run: F,
) -> Response
where
    F: Future<Output = Response>,
{
    let Some(key) = key else {
        return run.await;
    };
    let attempt = match start(redis, scope, key, fingerprint).await {
        Ok(attempt) => attempt,
        Err(answer) => return answer,
    };
    let mut pending = PendingAttempt {
        redis: redis.clone(),
        attempt: Some(attempt),
    };
    let response = run.await;
    pending.settle(response).await
}

/// The right to run the request of `key`, or the answer that stands in for running it.
async fn start(
    redis: &Redis,
    scope: &UserId,
    key: &str,
    fingerprint: &[u8],
) -> Result<Attempt, Response> {
    let begun = redis
        .idempotency()
        .begin(scope.as_str(), key, fingerprint, RUNNING_TTL)
        .await;
    match begun {
        Ok(Begun::Started(attempt)) => Ok(attempt),
        Ok(Begun::Running) => Err(ApiError::Conflict(
            "idempotency-key-in-use",
            "A request with this Idempotency-Key is still being processed; retry later".to_owned(),
        )
        .into_response()),
        Ok(Begun::Mismatch) => Err(key_reused().into_response()),
        Ok(Begun::Completed(stored)) => Err(replay(stored)),
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

/// 422: the key was already used for another request.
fn key_reused() -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
        "Idempotency-Key is already used",
    )
    .with_detail("This key was sent with a different request; send a new key for a new request")
}

/// The stored response again, marked as a replay.
fn replay(stored: StoredResponse) -> Response {
    let Ok(status) = StatusCode::from_u16(stored.status) else {
        return corrupt(format!("status {}", stored.status));
    };
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    for (name, value) in stored.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            return corrupt(format!("header {name}"));
        };
        headers.insert(name, value);
    }
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

/// 500: what Redis holds is not a response this code stored.
fn corrupt(what: String) -> Response {
    ApiError::Internal(anyhow::anyhow!("unreadable stored response: {what}")).into_response()
}

/// The attempt of a first request while it runs. Dropped before it is settled (the request's
/// future panicked or was dropped), it frees the key in the background, so a retry may run.
struct PendingAttempt {
    redis: Redis,
    attempt: Option<Attempt>,
}

impl PendingAttempt {
    /// Stores `response` for replay and answers it, or frees the key when the response is a
    /// server error or cannot be kept.
    async fn settle(&mut self, response: Response) -> Response {
        if response.status().is_server_error() {
            self.abandon().await;
            return response;
        }
        let (parts, body) = response.into_parts();
        // Our handlers build their bodies in memory: nothing large or endless comes through here.
        let bytes = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => bytes,
            Err(e) => {
                self.abandon().await;
                return ApiError::Internal(anyhow::anyhow!("reading a response body: {e}"))
                    .into_response();
            }
        };
        let Ok(text) = std::str::from_utf8(&bytes) else {
            tracing::warn!("a response that is not UTF-8 cannot be replayed; its key is freed");
            self.abandon().await;
            return Response::from_parts(parts, Body::from(bytes));
        };
        let stored = StoredResponse {
            status: parts.status.as_u16(),
            headers: REPLAYED_HEADERS
                .iter()
                .filter_map(|name| {
                    let value = parts.headers.get(name)?.to_str().ok()?;
                    Some((name.as_str().to_owned(), value.to_owned()))
                })
                .collect(),
            body: text.to_owned(),
        };
        self.complete(&stored).await;
        Response::from_parts(parts, Body::from(bytes))
    }

    /// Frees the key: the request stored nothing. A failure leaves the marker to lapse.
    async fn abandon(&mut self) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        if let Err(e) = self.redis.idempotency().abandon(&attempt).await {
            tracing::warn!(error = %e, "idempotency key not freed; it frees itself shortly");
        }
    }

    /// Stores the response for replay. A failure leaves the marker to lapse: until then the key
    /// answers 409 rather than run the request a second time. Settled before the call, so that a
    /// drop while it is in flight does not race it with an abandon.
    async fn complete(&mut self, stored: &StoredResponse) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        match self
            .redis
            .idempotency()
            .complete(&attempt, stored, REPLAY_TTL)
            .await
        {
            Ok(true) => {}
            Ok(false) => tracing::warn!("idempotency key lapsed before its response was stored"),
            Err(e) => tracing::warn!(error = %e, "response not stored for replay"),
        }
    }
}

impl Drop for PendingAttempt {
    fn drop(&mut self) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let redis = self.redis.clone();
        runtime.spawn(async move {
            if let Err(e) = redis.idempotency().abandon(&attempt).await {
                tracing::warn!(error = %e, "idempotency key not freed; it frees itself shortly");
            }
        });
    }
}

#[cfg(test)]
mod tests;
