//! Socket lifecycle: handshake authentication, room membership and presence.

use noillin_auth::{Claims, TokenError};
use noillin_redis::{SignInState, sign_in_room, user_room};
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
    if let Some(origin) = socket.req_parts().headers.get("origin") {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| state.allowed_origins.iter().any(|a| a == o));
        if !allowed {
            return Err(Refusal::Origin);
        }
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
