//! Request extractors that reject with [`ApiError`]: JSON bodies, query strings, path
//! parameters, the authenticated user, role guards and the client address. Handlers declare what
//! they need in their signature; no handler parses a header, checks a role or bounds an id
//! itself.

use std::marker::PhantomData;

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Path, Query, Request, rejection::JsonRejection},
    http::{StatusCode, header, request::Parts},
};
use noillin_auth::TokenError;
use noillin_domain::{MAX_ID_LEN, Role, User, UserId, UserStatus, ValidationErrors};
use serde::de::DeserializeOwned;

use crate::{AppState, error::ApiError};

/// A JSON body, always an object. Malformed JSON is a 400, a wrong content type 415, an
/// oversized body 413, and well-formed JSON of the wrong shape (not an object, missing or unknown
/// fields, wrong types) a 422 naming the field.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                // Reading the body fails for other reasons too (a client that hangs up).
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::BadRequest(rejection.body_text())
                }
            })?;
        // serde reads a struct from an array too (`[]` would be a body with every field left
        // out): every body of this API is an object, so anything else is refused first.
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(
                match serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
                    Ok(_) => ApiError::invalid("body", "invalid", "must be a JSON object"),
                    Err(e) => ApiError::BadRequest(format!("malformed JSON: {e}")),
                },
            );
        }
        match axum::Json::<T>::from_bytes(&body) {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// `application/json`, or a `+json` media type, as axum's own JSON extractor accepts.
fn has_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::BadRequest(format!("malformed JSON: {}", source_text(&e)))
        }
        JsonRejection::JsonDataError(e) => {
            let text = source_text(&e);
            // serde_path_to_error puts the field path first: "email: invalid type ...".
            let (field, message) = match text.split_once(": ") {
                Some((path, rest)) if !path.contains(' ') => (path.to_owned(), rest.to_owned()),
                _ => (field_from_message(&text), text.clone()),
            };
            let mut errors = ValidationErrors::default();
            errors.add(field, "invalid", message);
            ApiError::Validation(errors)
        }
        // Reading the body fails for other reasons too (a client that hangs up).
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        other => ApiError::BadRequest(other.body_text()),
    }
}

/// The innermost message of a rejection, without axum's prefix.
fn source_text(e: &dyn std::error::Error) -> String {
    let mut current: &dyn std::error::Error = e;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// `unknown field `role`` / `missing field `email`` name their field in backticks.
fn field_from_message(message: &str) -> String {
    message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("unknown field") || message.starts_with("missing field"))
        .unwrap_or("body")
        .to_owned()
}

/// A query string. One that does not fit `T` (unknown parameters, wrong types) is a 422.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::invalid("query", "invalid", rejection.body_text())),
        }
    }
}

/// A path parameter. One that cannot be decoded (bad percent-encoding) is a 400 problem
/// document, not axum's plain-text answer.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// The `{id}` of an object in the path. An id longer than any we issue answers 404, like an
/// unknown id or someone else's object.
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ApiPath(id) = ApiPath::<String>::from_request_parts(parts, state).await?;
        if id.len() > MAX_ID_LEN {
            return Err(ApiError::NotFound);
        }
        Ok(Self(id))
    }
}

/// The signed-in user, loaded fresh from the store: a suspended user, a token issued before
/// the user's token version was bumped (suspension, password change), or a token of a sign-in
/// that ended (logout, refresh-token reuse) is refused even though the token itself has not
/// expired.
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

impl AuthUser {
    pub fn id(&self) -> &UserId {
        &self.0.id
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(ApiError::Unauthorized("missing-token"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(bearer_token)
            .ok_or(ApiError::Unauthorized("invalid-token"))?;
        let claims = state.tokens.verify(token).map_err(|e| match e {
            TokenError::Expired => ApiError::Unauthorized("token-expired"),
            TokenError::Invalid => ApiError::Unauthorized("invalid-token"),
        })?;
        let user_id = UserId::from_string(claims.sub);
        // The store and Redis are asked at once. Without Redis an ended sign-in cannot be told
        // apart: the request fails (503) rather than trusting the token.
        let (user, ended) = tokio::try_join!(
            async { Ok::<_, ApiError>(state.store.users.find_by_id(&user_id).await?) },
            async { Ok::<_, ApiError>(state.redis.sign_in_ended(&claims.sid).await?) },
        )?;
        let user = user.ok_or(ApiError::Unauthorized("invalid-token"))?;
        if ended || user.status != UserStatus::Active || user.token_version != claims.ver {
            return Err(ApiError::Unauthorized("token-revoked"));
        }
        Ok(Self(user))
    }
}

/// The token of an `Authorization: Bearer <token>` value. The scheme is case-insensitive
/// (RFC 9110, section 11.1): `bearer` and `BEARER` are `Bearer` too.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A role the route requires.
pub trait RequiredRole {
    const ROLE: Role;
}

pub struct Influencer;
pub struct Brand;
pub struct Admin;

impl RequiredRole for Influencer {
    const ROLE: Role = Role::Influencer;
}
impl RequiredRole for Brand {
    const ROLE: Role = Role::Brand;
}
impl RequiredRole for Admin {
    const ROLE: Role = Role::Admin;
}

/// The signed-in user, who must have role `R`; anyone else gets 403.
pub struct WithRole<R>(pub AuthUser, pub PhantomData<R>);

impl<R: RequiredRole> FromRequestParts<AppState> for WithRole<R> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if user.0.role != R::ROLE {
            return Err(ApiError::Forbidden("wrong-role"));
        }
        Ok(Self(user, PhantomData))
    }
}

/// The client's address as the gateway saw it (`X-Real-IP`). Backends listen on 127.0.0.1
/// only, so the header can only come from NGINX, which overwrites it.
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .headers
            .get("x-real-ip")
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 45)
            .map(str::to_owned)
            .or_else(|| {
                parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|c| c.0.ip().to_string())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        Ok(Self(ip))
    }
}

/// The request id the gateway assigned, to carry into events as their correlation id.
pub struct RequestId(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .headers
                .get(noillin_service::http::REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        ))
    }
}

#[cfg(test)]
mod tests {
    use axum::{Router, routing::get};
    use serde::Deserialize;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Page {
        limit: Option<u32>,
    }

    /// Serves a router with one route per extractor and answers `GET {target}` with its status
    /// line and content type.
    async fn get_raw(target: &str) -> (u16, String) {
        let router = Router::new()
            .route("/objects/{id}", get(|PathId(id): PathId| async move { id }))
            .route(
                "/dates/{date}",
                get(|ApiPath(date): ApiPath<String>| async move { date }),
            )
            .route(
                "/pages",
                get(|ApiQuery(page): ApiQuery<Page>| async move { format!("{:?}", page.limit) }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let status = response[9..12].parse().unwrap();
        let content_type = response
            .lines()
            .find_map(|l| l.strip_prefix("content-type: "))
            .unwrap_or_default()
            .to_owned();
        (status, content_type)
    }

    #[tokio::test]
    async fn an_overlong_object_id_is_not_found_and_an_undecodable_one_is_a_problem() {
        let problem = "application/problem+json".to_owned();
        assert_eq!(get_raw("/objects/abc").await.0, 200);
        let longest = "x".repeat(MAX_ID_LEN);
        assert_eq!(get_raw(&format!("/objects/{longest}")).await.0, 200);
        assert_eq!(
            get_raw(&format!("/objects/{longest}x")).await,
            (404, problem.clone())
        );
        assert_eq!(get_raw("/objects/%FF").await, (400, problem.clone()));
        assert_eq!(get_raw("/dates/%FF").await, (400, problem));
    }

    #[test]
    fn the_bearer_scheme_is_read_whatever_its_case() {
        for value in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR  abc "] {
            assert_eq!(bearer_token(value), Some("abc"), "{value}");
        }
        for value in ["Basic abc", "Bearer", "Bearer ", "Bearerabc", "abc", ""] {
            assert_eq!(bearer_token(value), None, "{value}");
        }
    }

    #[tokio::test]
    async fn a_query_of_the_wrong_shape_is_a_problem() {
        assert_eq!(get_raw("/pages?limit=5").await.0, 200);
        for query in ["limit=many", "limit=-1", "colour=red"] {
            assert_eq!(
                get_raw(&format!("/pages?{query}")).await,
                (422, "application/problem+json".to_owned()),
                "{query}"
            );
        }
    }
}
