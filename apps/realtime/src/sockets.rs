//! Socket lifecycle: handshake authentication, room membership and presence.

use axum::{
    extract::Request,
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use noillin_auth::{Claims, TokenError};
use noillin_redis::{SignInState, sign_in_room, user_room};
use noillin_service::problem::Problem;
use serde::Deserialize;
use serde_json::json;
use socketioxide::{
    adapter::Adapter,
    extract::{Extension, SocketRef, State, TryData},
    handler::ConnectHandler,
};

use crate::{Io, SocketState};

/// The handshake's auth payload: `io(url, { auth: { token } })` on the client. Tokens never
/// travel in the URL, where proxies and logs would keep them.
#[derive(Debug, Deserialize)]
struct Handshake {
    token: String,
}

/// Why a handshake was refused; the client sees the message in `connect_error`.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("unauthorized")]
    Unauthorized,
    #[error("token expired")]
    Expired,
    #[error("origin not allowed")]
    Origin,
    #[error("token revoked")]
    Revoked,
    #[error("temporarily unavailable")]
    Unavailable,
}

/// The authenticated user of a socket.
#[derive(Debug, Clone)]
struct SocketUser {
    id: String,
    /// The sign-in its token belongs to.
    sign_in: String,
}

pub async fn register(io: &Io) -> anyhow::Result<()> {
    io.ns("/", on_connect.with(authenticate)).await?;
    Ok(())
}

async fn authenticate<A: Adapter>(
    socket: SocketRef<A>,
    State(state): State<SocketState>,
    TryData(handshake): TryData<Handshake>,
) -> Result<(), Refusal> {
    if !origin_allowed(&socket.req_parts().headers, &state.allowed_origins) {
        return Err(Refusal::Origin);
    }
    let handshake = handshake.map_err(|_| Refusal::Unauthorized)?;
    let claims: Claims = state.tokens.verify(&handshake.token).map_err(|e| match e {
        TokenError::Expired => Refusal::Expired,
        TokenError::Invalid => Refusal::Unauthorized,
    })?;
    // Tokens issued before a suspension or password change carry an older version than the one
    // core-api recorded; tokens of a sign-in that ended (logout, refresh-token reuse) are
    // recorded by their sign-in. Both are read in one round trip. Without Redis we cannot
    // tell: refuse.
    match state.redis.sign_in_state(&claims.sub, &claims.sid).await {
        Ok(sign_in) if sign_in.ended => return Err(Refusal::Revoked),
        Ok(SignInState {
            token_version: Some(current),
            ..
        }) if claims.ver < current => return Err(Refusal::Revoked),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "sign-in state unavailable");
            return Err(Refusal::Unavailable);
        }
    }
    socket.extensions.insert(SocketUser {
        id: claims.sub,
        sign_in: claims.sid,
    });
    Ok(())
}

/// Whether a handshake's `Origin` may open a socket: none (not a browser), or exactly one that
/// is allowed. A browser sends one `Origin`; with two, a check of either one alone could be
/// passed by the allowed one while the other is what the client really is.
fn origin_allowed(headers: &HeaderMap, allowed_origins: &[String]) -> bool {
    let mut origins = headers.get_all(header::ORIGIN).iter();
    match (origins.next(), origins.next()) {
        (None, _) => true,
        (Some(origin), None) => origin
            .to_str()
            .is_ok_and(|o| allowed_origins.iter().any(|a| a == o)),
        (Some(_), Some(_)) => false,
    }
}

/// Refuses any request with more than one `Origin` header (400) before it reaches Socket.IO or
/// any other route: no client sends that honestly, and each consumer of the header would
/// otherwise pick one of them.
pub async fn refuse_repeated_origin(request: Request, next: Next) -> Response {
    if request
        .headers()
        .get_all(header::ORIGIN)
        .iter()
        .nth(1)
        .is_some()
    {
        return Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "The request is malformed",
        )
        .with_detail("more than one Origin header")
        .into_response();
    }
    next.run(request).await
}

async fn on_connect<A: Adapter>(socket: SocketRef<A>, Extension(user): Extension<SocketUser>) {
    // Before any await: a socket that closes while this handler waits would otherwise never
    // run its disconnect handler, and the gauge would count it forever.
    socket.on_disconnect(on_disconnect);
    let room = user_room(&user.id);
    socket.join([room.clone(), sign_in_room(&user.id, &user.sign_in)]);
    metrics::gauge!("realtime_sockets_connected").increment(1.0);
    tracing::info!(user_id = %user.id, sid = %socket.id, "socket connected");
    // Tell the user's other sessions, on whichever node they are.
    if let Err(e) = socket
        .to(room)
        .emit(
            "presence",
            &json!({ "user_id": user.id, "status": "online" }),
        )
        .await
    {
        tracing::warn!(error = %e, "presence not broadcast");
    }
}

async fn on_disconnect<A: Adapter>(socket: SocketRef<A>) {
    metrics::gauge!("realtime_sockets_connected").decrement(1.0);
    tracing::info!(sid = %socket.id, "socket disconnected");
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn origins(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::ORIGIN, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn a_handshake_is_judged_by_all_of_its_origins_not_the_first() {
        let allowed = vec!["http://app.noillin.test".to_owned()];

        assert!(origin_allowed(&origins(&[]), &allowed));
        assert!(origin_allowed(
            &origins(&["http://app.noillin.test"]),
            &allowed
        ));
        assert!(!origin_allowed(
            &origins(&["https://evil.example"]),
            &allowed
        ));
        assert!(!origin_allowed(
            &origins(&["http://app.noillin.test", "https://evil.example"]),
            &allowed
        ));
        assert!(!origin_allowed(
            &origins(&["http://app.noillin.test", "http://app.noillin.test"]),
            &allowed
        ));
    }
}
