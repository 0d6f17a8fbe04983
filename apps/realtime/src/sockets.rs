//! Socket lifecycle: handshake authentication, room membership and presence.

use std::sync::{Arc, Mutex};

use axum::{
    extract::Request,
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use noillin_auth::{Claims, TokenError};
use noillin_redis::{Connected, SignInState, sign_in_room, user_room};
use noillin_service::problem::Problem;
use serde::Deserialize;
use socketioxide::{
    SocketIo,
    adapter::Adapter,
    extract::{Extension, SocketRef, State, TryData},
    handler::ConnectHandler,
};

use crate::{
    Io, SocketState, chat,
    limits::{SocketLimits, now_ms},
    presence::{self, Status},
};

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

/// What the node keeps for one socket, in its extensions: who it is, and its limits. One
/// allocation per socket, shared by its handlers (memory per socket is what bounds a node).
#[derive(Debug)]
pub struct Session {
    pub user_id: String,
    /// The sign-in its token belongs to.
    pub sign_in: String,
    state: Mutex<SessionState>,
}

#[derive(Debug)]
struct SessionState {
    limits: SocketLimits,
    presence: Counting,
}

/// Where the socket's count in presence is: counting takes a Redis round trip, and the socket
/// may close meanwhile; whichever of the two handlers comes second uncounts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counting {
    /// The connect handler is counting it.
    Pending,
    /// It is counted.
    Counted,
    /// It is not counted (the close came first, or counting failed).
    NotCounted,
    /// It closed while being counted.
    ClosedWhilePending,
}

impl Session {
    fn new(user_id: String, sign_in: String) -> Self {
        Self {
            user_id,
            sign_in,
            state: Mutex::new(SessionState {
                limits: SocketLimits::new(now_ms()),
                presence: Counting::Pending,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SessionState> {
        // No code panics while holding the lock; should one have, its state is still sound.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a token of the socket's event rate limit; false when it is exceeded.
    pub fn admit_event(&self) -> bool {
        self.state().limits.events.take(now_ms())
    }

    /// Whether a `typing` for the conversation may go out now (see [`TypingThrottle`]).
    ///
    /// [`TypingThrottle`]: crate::limits::TypingThrottle
    pub fn allow_typing(&self, conversation_id: &str) -> bool {
        self.state().limits.typing.allow(conversation_id, now_ms())
    }
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
    let session = Session::new(claims.sub, claims.sid);
    // All here rather than in the connect handler, which runs after the client is told it is
    // connected: an event it sends at once, a push for it, or its close would otherwise find no
    // handler or room yet.
    socket.join([
        user_room(&session.user_id),
        sign_in_room(&session.user_id, &session.sign_in),
    ]);
    socket.extensions.insert(Arc::new(session));
    socket.on_disconnect(on_disconnect);
    chat::register(&socket);
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

async fn on_connect<A: Adapter>(
    socket: SocketRef<A>,
    io: SocketIo<A>,
    State(state): State<SocketState>,
    Extension(session): Extension<Arc<Session>>,
) {
    metrics::gauge!("realtime_sockets_connected").increment(1.0);
    tracing::info!(user_id = %session.user_id, sid = %socket.id, "socket connected");

    {
        let mut session_state = session.state();
        if session_state.presence == Counting::ClosedWhilePending {
            // Closed before this handler ran: nothing to count, nobody to tell.
            session_state.presence = Counting::NotCounted;
            return;
        }
    }
    let counted = match state
        .redis
        .presence_connect(&state.node_id, &session.user_id)
        .await
    {
        Ok(Connected::WentOnline) => {
            presence::announce(&io, &state.redis, &session.user_id, Status::Online).await;
            true
        }
        Ok(Connected::AlreadyOnline) => true,
        Ok(Connected::NodeUnknown) => {
            // This node was taken over as dead and has not heartbeat since: it counts no
            // socket until it does. The client reconnects, here or elsewhere.
            tracing::warn!(user_id = %session.user_id, "node not registered; closing the socket");
            let _ = socket.clone().disconnect();
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, user_id = %session.user_id, "socket not counted in presence");
            metrics::counter!("realtime_redis_errors_total", "op" => "presence_connect")
                .increment(1);
            false
        }
    };
    let closed_meanwhile = {
        let mut session_state = session.state();
        let closed = session_state.presence == Counting::ClosedWhilePending;
        session_state.presence = if counted && !closed {
            Counting::Counted
        } else {
            Counting::NotCounted
        };
        closed
    };
    if counted && closed_meanwhile {
        uncount(&io, &state, &session).await;
    }
}

async fn on_disconnect<A: Adapter>(
    socket: SocketRef<A>,
    io: SocketIo<A>,
    State(state): State<SocketState>,
    Extension(session): Extension<Arc<Session>>,
) {
    metrics::gauge!("realtime_sockets_connected").decrement(1.0);
    tracing::info!(sid = %socket.id, "socket disconnected");
    let counted = {
        let mut session_state = session.state();
        match session_state.presence {
            Counting::Pending => {
                session_state.presence = Counting::ClosedWhilePending;
                false
            }
            Counting::Counted => {
                session_state.presence = Counting::NotCounted;
                true
            }
            Counting::NotCounted | Counting::ClosedWhilePending => false,
        }
    };
    if counted {
        uncount(&io, &state, &session).await;
    }
}

/// Removes a closed socket from presence, telling the user's contacts if it was the user's last.
async fn uncount<A: Adapter>(io: &SocketIo<A>, state: &SocketState, session: &Session) {
    match state
        .redis
        .presence_disconnect(&state.node_id, &session.user_id)
        .await
    {
        Ok(true) => presence::announce(io, &state.redis, &session.user_id, Status::Offline).await,
        Ok(false) => {}
        Err(e) => {
            // The count stays until this node leaves or lapses: the user may look online
            // until then.
            tracing::warn!(error = %e, user_id = %session.user_id, "socket not uncounted in presence");
            metrics::counter!("realtime_redis_errors_total", "op" => "presence_disconnect")
                .increment(1);
        }
    }
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
