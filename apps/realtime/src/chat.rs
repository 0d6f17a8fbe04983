//! What clients send on a socket: `typing` and `presence`, each authorized against the parties
//! core-api recorded in Redis, and every event under the socket's rate limit.

use std::{collections::HashMap, sync::Arc};

use noillin_redis::user_room;
use serde::Deserialize;
use serde_json::json;
use socketioxide::{
    adapter::Adapter,
    extract::{AckSender, Event, Extension, SocketRef, State, TryData},
};

use crate::{SocketState, sockets::Session};

/// Longest conversation id a `typing` may name (ids are UUIDs; this leaves room).
const MAX_CONVERSATION_ID_CHARS: usize = 64;

/// Most users one `presence` may ask about.
const MAX_PRESENCE_IDS: usize = 100;

#[derive(Debug, Deserialize)]
struct Typing {
    conversation_id: String,
}

#[derive(Debug, Deserialize)]
struct PresenceQuery {
    user_ids: Vec<String>,
}

pub fn register<A: Adapter>(socket: &SocketRef<A>) {
    socket.on("typing", on_typing);
    socket.on("presence", on_presence);
    socket.on_fallback(on_unknown_event);
}

/// Counts an event against the socket's rate limit; a socket over it is closed.
fn admit<A: Adapter>(socket: &SocketRef<A>, session: &Session, event: &str) -> bool {
    if session.admit_event() {
        return true;
    }
    tracing::warn!(user_id = %session.user_id, sid = %socket.id, event, "socket over its event rate limit; closing it");
    metrics::counter!("realtime_sockets_rate_limited_total").increment(1);
    let _ = socket.clone().disconnect();
    false
}

fn dropped(event: &'static str, reason: &'static str) {
    metrics::counter!("realtime_events_dropped_total", "event" => event, "reason" => reason)
        .increment(1);
}

async fn on_typing<A: Adapter>(
    socket: SocketRef<A>,
    State(state): State<SocketState>,
    Extension(session): Extension<Arc<Session>>,
    TryData(typing): TryData<Typing>,
) {
    if !admit(&socket, &session, "typing") {
        return;
    }
    let Some(conversation_id) = typing
        .ok()
        .map(|t| t.conversation_id)
        .filter(|id| !id.is_empty() && id.chars().count() <= MAX_CONVERSATION_ID_CHARS)
    else {
        tracing::debug!(user_id = %session.user_id, "malformed typing dropped");
        dropped("typing", "malformed");
        return;
    };
    if !session.allow_typing(&conversation_id) {
        dropped("typing", "throttled");
        return;
    }
    let members = match state.redis.conversation_members(&conversation_id).await {
        Ok(members) => members,
        Err(e) => {
            tracing::warn!(error = %e, "conversation members unavailable; typing dropped");
            metrics::counter!("realtime_redis_errors_total", "op" => "members").increment(1);
            return;
        }
    };
    if !members.contains(&session.user_id) {
        tracing::debug!(user_id = %session.user_id, conversation_id, "typing from a non-member dropped");
        dropped("typing", "not_member");
        return;
    }
    let rooms: Vec<String> = members
        .iter()
        .filter(|member| **member != session.user_id)
        .map(|member| user_room(member))
        .collect();
    // An empty room list would mean every socket.
    if rooms.is_empty() {
        return;
    }
    let payload = json!({ "conversation_id": conversation_id, "user_id": session.user_id });
    match socket.to(rooms).emit("typing", &payload).await {
        Ok(()) => metrics::counter!("realtime_typing_forwarded_total").increment(1),
        Err(e) => tracing::warn!(error = %e, "typing not forwarded"),
    }
}

async fn on_presence<A: Adapter>(
    socket: SocketRef<A>,
    State(state): State<SocketState>,
    Extension(session): Extension<Arc<Session>>,
    TryData(query): TryData<PresenceQuery>,
    ack: AckSender<A>,
) {
    if !admit(&socket, &session, "presence") {
        return;
    }
    let Some(user_ids) = query
        .ok()
        .map(|q| q.user_ids)
        .filter(|ids| ids.len() <= MAX_PRESENCE_IDS)
    else {
        tracing::debug!(user_id = %session.user_id, "malformed presence query dropped");
        dropped("presence", "malformed");
        return;
    };
    let statuses = match state
        .redis
        .contact_statuses(&session.user_id, &user_ids)
        .await
    {
        Ok(statuses) => statuses,
        Err(e) => {
            tracing::warn!(error = %e, "presence unavailable; query dropped");
            metrics::counter!("realtime_redis_errors_total", "op" => "contact_statuses")
                .increment(1);
            return;
        }
    };
    let statuses: HashMap<String, &str> = statuses
        .into_iter()
        .map(|(id, online)| (id, if online { "online" } else { "offline" }))
        .collect();
    if let Err(e) = ack.send(&json!({ "statuses": statuses })) {
        tracing::debug!(error = %e, "presence ack not sent");
    }
}

/// Events no handler knows still count against the rate limit, so a flood of them closes the
/// socket too.
async fn on_unknown_event<A: Adapter>(
    socket: SocketRef<A>,
    Event(event): Event,
    Extension(session): Extension<Arc<Session>>,
) {
    if admit(&socket, &session, "unknown") {
        tracing::debug!(user_id = %session.user_id, event = %event, "unknown event dropped");
        dropped("unknown", "unknown_event");
    }
}
