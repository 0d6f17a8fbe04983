//! Errors in Stripe's shape, `{"error": {"type", "code", "message", "param", …}}`, built from
//! the SDK's own `ApiErrors` so that the SDK reports them as Stripe errors.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use stripe_shared::{ApiErrors, ApiErrorsCode, ApiErrorsType, PaymentIntent};

#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub error: Box<ApiErrors>,
    /// Stripe keeps no idempotent result for a request that failed validation before the
    /// endpoint ran, so retrying it with the same key and fixed parameters is not an error.
    pub saved: bool,
}

pub(crate) fn api_errors(
    type_: ApiErrorsType,
    code: Option<ApiErrorsCode>,
    message: String,
) -> ApiErrors {
    ApiErrors {
        advice_code: None,
        charge: None,
        doc_url: code
            .as_ref()
            .map(|code| format!("https://stripe.com/docs/error-codes/{}", code.as_str())),
        code,
        decline_code: None,
        message: Some(message),
        network_advice_code: None,
        network_decline_code: None,
        param: None,
        payment_intent: None,
        payment_method: None,
        payment_method_type: None,
        request_log_url: None,
        setup_intent: None,
        source: None,
        type_,
    }
}

impl ApiError {
    fn new(
        status: StatusCode,
        type_: ApiErrorsType,
        code: Option<ApiErrorsCode>,
        message: String,
    ) -> Self {
        ApiError {
            status,
            error: Box::new(api_errors(type_, code, message)),
            saved: true,
        }
    }

    fn invalid(status: StatusCode, code: Option<ApiErrorsCode>, message: String) -> Self {
        Self::new(status, ApiErrorsType::InvalidRequestError, code, message)
    }

    pub fn param(mut self, param: &str) -> Self {
        self.error.param = Some(param.to_owned());
        self
    }

    fn unsaved(mut self) -> Self {
        self.saved = false;
        self
    }

    /// A parameter that is malformed or not allowed.
    pub fn bad_param(param: &str, message: String) -> Self {
        Self::invalid(StatusCode::BAD_REQUEST, None, message)
            .param(param)
            .unsaved()
    }

    pub fn missing_param(param: &str) -> Self {
        Self::invalid(
            StatusCode::BAD_REQUEST,
            Some(ApiErrorsCode::ParameterMissing),
            format!("Missing required param: {param}."),
        )
        .param(param)
        .unsaved()
    }

    pub fn invalid_integer(param: &str, value: &str) -> Self {
        Self::invalid(
            StatusCode::BAD_REQUEST,
            Some(ApiErrorsCode::ParameterInvalidInteger),
            format!("Invalid integer: {value}"),
        )
        .param(param)
        .unsaved()
    }

    /// `resource` as Stripe names it in the message: `payment_intent`, `charge`, `transfer`, …
    pub fn no_such(resource: &str, id: &str, param: &str) -> Self {
        Self::invalid(
            StatusCode::NOT_FOUND,
            Some(ApiErrorsCode::ResourceMissing),
            format!("No such {resource}: '{id}'"),
        )
        .param(param)
    }

    /// An id in a parameter that names nothing (Stripe answers 400, not 404, for those).
    pub fn no_such_param(resource: &str, id: &str, param: &str) -> Self {
        let mut error = Self::no_such(resource, id, param);
        error.status = StatusCode::BAD_REQUEST;
        error
    }

    /// A request that is valid but not in the object's current state (Stripe answers 400).
    pub fn state(code: ApiErrorsCode, message: String) -> Self {
        Self::invalid(StatusCode::BAD_REQUEST, Some(code), message)
    }

    /// A request that is well formed but can never succeed as sent, with no code (Stripe
    /// answers 400 and keeps the answer under the idempotency key).
    pub fn invalid_request(param: &str, message: String) -> Self {
        Self::invalid(StatusCode::BAD_REQUEST, None, message).param(param)
    }

    /// What confirming with a declined card answers: 402 with the intent as it is now.
    pub fn card_declined(intent: PaymentIntent) -> Self {
        let mut error = Self::new(
            StatusCode::PAYMENT_REQUIRED,
            ApiErrorsType::CardError,
            Some(ApiErrorsCode::CardDeclined),
            "Your card was declined.".to_owned(),
        );
        error.error.decline_code = Some("generic_decline".to_owned());
        error.error.payment_intent = Some(intent);
        error
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::invalid(StatusCode::UNAUTHORIZED, None, message.to_owned()).unsaved()
    }

    pub fn idempotency(message: String) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ApiErrorsType::IdempotencyError,
            None,
            message,
        )
        .unsaved()
    }

    pub fn unrecognized_url(method: &str, path: &str) -> Self {
        Self::invalid(
            StatusCode::NOT_FOUND,
            None,
            format!("Unrecognized request URL ({method}: {path})."),
        )
        .unsaved()
    }

    pub fn internal(message: String) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ApiErrorsType::ApiError,
            None,
            message,
        )
        .unsaved()
    }

    /// Stripe's error object, without the fields that are null: Stripe leaves them out.
    pub fn body(&self) -> serde_json::Value {
        let error = serde_json::to_value(&self.error).unwrap_or_else(|err| {
            serde_json::json!({"type": "api_error", "message": format!("could not render an error: {err}")})
        });
        let error = match error {
            serde_json::Value::Object(fields) => serde_json::Value::Object(
                fields
                    .into_iter()
                    .filter(|(_, value)| !value.is_null())
                    .collect(),
            ),
            other => other,
        };
        serde_json::json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// Serializes an SDK object for a response or an event.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value)
        .map_err(|err| ApiError::internal(format!("could not serialize: {err}")))
}
