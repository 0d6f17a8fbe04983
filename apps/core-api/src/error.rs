//! The one error type of every core-api handler, answered as an RFC 9457 problem document.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use noillin_domain::ValidationErrors;
use noillin_service::problem::Problem;
use noillin_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422: the input is well-formed but breaks the rules; every field error is listed.
    #[error("validation failed")]
    Validation(ValidationErrors),
    /// 400: the body is not valid JSON, or a parameter cannot be read.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 415: the body is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 413: the body is larger than the limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 401: no credentials, or credentials that are not valid (`code` says which).
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// 403: authenticated, but this role may not do this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// 404: no such object — or one the caller may not see, which looks the same.
    #[error("not found")]
    NotFound,
    /// 409: the request conflicts with the current state.
    #[error("conflict: {1}")]
    Conflict(&'static str, String),
    /// 429: slow down; retry after the given seconds.
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// 429: a limit on what one may keep at once (not a rate): waiting alone may not help.
    #[error("limit reached: {detail}")]
    LimitReached { code: &'static str, detail: String },
    /// 503: a backing service is down; retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure. Logged; the client sees no detail.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Unavailable(reason) => ApiError::Unavailable(reason),
            // Retrying reads the same data: a 500 (the cause is logged, never sent), not a 503
            // that invites the client to try again.
            StoreError::Corrupt(reason) => {
                ApiError::Internal(anyhow::anyhow!("corrupt stored data: {reason}"))
            }
            StoreError::Conflict(constraint) => ApiError::Internal(anyhow::anyhow!(
                "unhandled store conflict on {constraint:?}"
            )),
        }
    }
}

impl From<noillin_redis::Error> for ApiError {
    fn from(e: noillin_redis::Error) -> Self {
        ApiError::Unavailable(format!("redis: {e}"))
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(e: ValidationErrors) -> Self {
        ApiError::Validation(e)
    }
}

impl ApiError {
    /// A 422 for one field.
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        let mut errors = ValidationErrors::default();
        errors.add(field, code, message);
        ApiError::Validation(errors)
    }

    fn problem(&self) -> Problem {
        match self {
            ApiError::Validation(errors) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation-failed",
                "The request has invalid fields",
            )
            .with_extension(
                "errors",
                serde_json::to_value(&errors.0).unwrap_or_default(),
            ),
            ApiError::BadRequest(detail) => Problem::new(
                StatusCode::BAD_REQUEST,
                "bad-request",
                "The request is malformed",
            )
            .with_detail(detail.clone()),
            ApiError::UnsupportedMediaType => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "The body must be application/json",
            ),
            ApiError::PayloadTooLarge => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            ApiError::Unauthorized(code) => {
                Problem::new(StatusCode::UNAUTHORIZED, code, "Authentication required")
            }
            ApiError::Forbidden(code) => Problem::new(StatusCode::FORBIDDEN, code, "Not allowed"),
            ApiError::NotFound => Problem::not_found(),
            ApiError::Conflict(code, detail) => {
                Problem::new(StatusCode::CONFLICT, code, "Conflict").with_detail(detail.clone())
            }
            ApiError::TooManyRequests { .. } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            ApiError::LimitReached { code, detail } => {
                Problem::new(StatusCode::TOO_MANY_REQUESTS, code, "Limit reached")
                    .with_detail(detail.clone())
            }
            ApiError::Unavailable(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service temporarily unavailable",
            ),
            ApiError::Internal(_) => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
            ApiError::Unavailable(reason) => tracing::warn!(reason, "dependency unavailable"),
            _ => {}
        }
        let mut response = self.problem().into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::TooManyRequests { retry_after_secs } => {
                if let Ok(value) = HeaderValue::from_str(&retry_after_secs.max(&1).to_string()) {
                    headers.insert(header::RETRY_AFTER, value);
                }
            }
            ApiError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_stored_data_is_an_internal_error_without_retry_after_or_detail() {
        let response = ApiError::from(StoreError::Corrupt(
            "unreadable role in SQLite: wizard".into(),
        ))
        .into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());

        let unavailable = ApiError::from(StoreError::Unavailable("locked".into())).into_response();
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(unavailable.headers().get(header::RETRY_AFTER).is_some());
    }
}
