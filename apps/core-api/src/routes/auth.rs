//! `/auth`: registration, sign-in, token refresh, sign-out, the current user, password reset.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use noillin_domain::Role;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    accounts::secrets::Secret,
    accounts::{self, AccountsError, Registration, TokenPair},
    error::{ApiError, ApiResult},
    extract::{ApiJson, AuthUser, ClientIp, RequestId},
    routes::{
        ProblemDoc,
        problems::{Authenticated, JsonBody},
        views::UserView,
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(request_password_reset))
        .routes(routes!(confirm_password_reset))
}

/// The problem document of each account outcome (for `/auth` and `/admin` alike).
impl From<AccountsError> for ApiError {
    fn from(e: AccountsError) -> Self {
        match e {
            AccountsError::Invalid(errors) => ApiError::Validation(errors),
            AccountsError::EmailTaken => {
                ApiError::Conflict("email-taken", "an account with this email exists".into())
            }
            AccountsError::InvalidCredentials => ApiError::Unauthorized("invalid-credentials"),
            AccountsError::Suspended => ApiError::Forbidden("account-suspended"),
            AccountsError::Throttled { retry_after_secs } => {
                ApiError::TooManyRequests { retry_after_secs }
            }
            AccountsError::InvalidRefreshToken => ApiError::Unauthorized("invalid-refresh-token"),
            AccountsError::InvalidResetToken => {
                ApiError::invalid("token", "invalid_token", "is invalid, used or expired")
            }
            AccountsError::NotFound => ApiError::NotFound,
            AccountsError::CannotChangeOwnStatus => ApiError::Conflict(
                "cannot-change-self",
                "administrators cannot change their own status".into(),
            ),
            AccountsError::HashingBusy => {
                ApiError::Unavailable("password hashing is at capacity".into())
            }
            AccountsError::Store(e) => e.into(),
            AccountsError::Redis(e) => e.into(),
            AccountsError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// Roles open to self-registration.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationRole {
    Brand,
    Influencer,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = "ana@example.com", max_length = 254)]
    pub email: String,
    /// 10 to 128 characters, not the email, not a common password.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    pub role: RegistrationRole,
    /// Shown on the profile (an influencer's name, a brand's company name), 1 to 80
    /// characters.
    #[schema(min_length = 1, max_length = 80)]
    pub display_name: String,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Registered {
    pub user: UserView,
    pub tokens: TokenPair,
}

/// Creates a brand or influencer account and signs it in.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered and signed in", body = Registered),
        JsonBody,
        (status = 409, description = "Email taken", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<impl IntoResponse> {
    let role = match body.role {
        RegistrationRole::Brand => Role::Brand,
        RegistrationRole::Influencer => Role::Influencer,
    };
    let (user, tokens) = accounts::register(
        &state,
        Registration {
            email: body.email,
            password: body.password,
            role,
            display_name: body.display_name,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(Registered {
            user: UserView::from(&user),
            tokens,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// Signs in. Wrong email and wrong password get the same answer; repeated failures per account
/// or per address get 429 with `Retry-After`.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenPair),
        JsonBody,
        (status = 401, description = "Wrong email or password", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Account suspended", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = ProblemDoc, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait before trying again"))),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<axum::Json<TokenPair>> {
    Ok(axum::Json(
        accounts::login(&state, &body.email, body.password, &ip).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchanges a refresh token for a new pair. Each refresh token works once; presenting a used
/// one revokes every token of that sign-in.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the presented refresh token is used up", body = TokenPair),
        JsonBody,
        (status = 401, description = "Unknown, expired, revoked or reused token", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<axum::Json<TokenPair>> {
    Ok(axum::Json(
        accounts::refresh(&state, &body.refresh_token).await?,
    ))
}

/// Signs out: revokes the sign-in the refresh token belongs to.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = RefreshRequest,
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out (also when the token was already revoked)"), Authenticated, JsonBody))]
async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<StatusCode> {
    accounts::logout(&state, &user.0, &body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = UserView), Authenticated))]
async fn me(user: AuthUser) -> axum::Json<UserView> {
    axum::Json(UserView::from(&user.0))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
}

/// Mails a reset link if the account exists. Always 202, whether it exists or not.
#[utoipa::path(post, path = "/auth/password-reset", tag = "auth", request_body = PasswordResetRequest,
    responses((status = 202, description = "Accepted; a mail follows if the account exists"), JsonBody))]
async fn request_password_reset(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<PasswordResetRequest>,
) -> ApiResult<StatusCode> {
    accounts::request_password_reset(&state, &body.email, request_id).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    /// The token from the reset mail.
    #[schema(value_type = String)]
    pub token: Secret,
    #[schema(value_type = String)]
    pub password: Secret,
}

/// Sets a new password with a reset token and signs the account out everywhere.
#[utoipa::path(post, path = "/auth/password-reset/confirm", tag = "auth", request_body = PasswordResetConfirm,
    responses((status = 204, description = "Password changed; every sign-in ended"), JsonBody,
        (status = 422, description = "Invalid, used or expired token, or a password that breaks the rules", body = ProblemDoc, content_type = "application/problem+json")))]
async fn confirm_password_reset(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<PasswordResetConfirm>,
) -> ApiResult<StatusCode> {
    accounts::confirm_password_reset(&state, &body.token, body.password, request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use axum::{
        body::to_bytes,
        http::{StatusCode, header},
        response::IntoResponse,
    };
    use noillin_store::StoreError;

    use super::*;

    /// Status, problem type and the headers that matter, of the answer to `error`.
    async fn answer(error: AccountsError) -> (StatusCode, String, Option<String>, Option<String>) {
        let response = ApiError::from(error).into_response();
        let status = response.status();
        let header_of = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &axum::http::HeaderValue| v.to_str().unwrap_or_default().to_owned())
        };
        let retry_after = header_of(header::RETRY_AFTER);
        let www_authenticate = header_of(header::WWW_AUTHENTICATE);
        let body = to_bytes(response.into_body(), 64 * 1024).await.unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let kind = problem["type"].as_str().unwrap_or_default().to_owned();
        (status, kind, retry_after, www_authenticate)
    }

    #[tokio::test]
    async fn each_account_outcome_is_answered_with_its_problem_document() {
        let bearer = Some("Bearer".to_owned());
        let cases = [
            (
                AccountsError::EmailTaken,
                (StatusCode::CONFLICT, "/problems/email-taken", None, None),
            ),
            (
                AccountsError::InvalidCredentials,
                (
                    StatusCode::UNAUTHORIZED,
                    "/problems/invalid-credentials",
                    None,
                    bearer.clone(),
                ),
            ),
            (
                AccountsError::Suspended,
                (
                    StatusCode::FORBIDDEN,
                    "/problems/account-suspended",
                    None,
                    None,
                ),
            ),
            (
                AccountsError::Throttled {
                    retry_after_secs: 42,
                },
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    "/problems/rate-limited",
                    Some("42".to_owned()),
                    None,
                ),
            ),
            (
                AccountsError::InvalidRefreshToken,
                (
                    StatusCode::UNAUTHORIZED,
                    "/problems/invalid-refresh-token",
                    None,
                    bearer,
                ),
            ),
            (
                AccountsError::InvalidResetToken,
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "/problems/validation-failed",
                    None,
                    None,
                ),
            ),
            (
                AccountsError::NotFound,
                (StatusCode::NOT_FOUND, "/problems/not-found", None, None),
            ),
            (
                AccountsError::CannotChangeOwnStatus,
                (
                    StatusCode::CONFLICT,
                    "/problems/cannot-change-self",
                    None,
                    None,
                ),
            ),
            (
                AccountsError::HashingBusy,
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "/problems/unavailable",
                    Some("5".to_owned()),
                    None,
                ),
            ),
            (
                AccountsError::Store(StoreError::Unavailable("locked".into())),
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "/problems/unavailable",
                    Some("5".to_owned()),
                    None,
                ),
            ),
            (
                AccountsError::Internal(anyhow::anyhow!("signing failed")),
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "/problems/internal",
                    None,
                    None,
                ),
            ),
        ];
        for (error, (status, kind, retry_after, www_authenticate)) in cases {
            let case = format!("{error:?}");
            assert_eq!(
                answer(error).await,
                (status, kind.to_owned(), retry_after, www_authenticate),
                "{case}"
            );
        }
    }
}
