//! Forwards pushes from the Redis push channel to this node's sockets.

use std::time::Duration;

use noillin_redis::{RealtimeCommand, Redis};

use crate::Io;

/// Rooms a push may target; anything else is dropped.
const ROOM_PREFIXES: [&str; 2] = ["user:", "conversation:"];

/// Runs for the life of the node, resubscribing whenever the Redis connection drops. Pushes
/// published while no subscription is live are lost, as Socket.IO delivery is at most once
/// anyway; clients catch up from the API.
pub async fn forward(redis: Redis, io: Io) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match redis.subscribe_pushes().await {
            Ok(mut subscription) => {
                tracing::info!("subscribed to pushes");
                backoff = Duration::from_millis(200);
                while let Some(command) = subscription.next().await {
                    execute(&io, command).await;
                }
                tracing::warn!("push subscription lost; resubscribing");
            }
            Err(e) => tracing::warn!(error = %e, retry_in = ?backoff, "cannot subscribe to pushes"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn execute(io: &Io, command: RealtimeCommand) {
    let room = command.room();
    if !ROOM_PREFIXES.iter().any(|p| room.starts_with(p)) {
        tracing::warn!(room = %room, "command for an unknown kind of room dropped");
        return;
    }
    // Every node receives every command, so each acts on its own sockets only.
    let sockets = io.to(room.to_owned()).local();
    let result = match &command {
        RealtimeCommand::Emit(push) => sockets
            .emit(&push.event, &push.data)
            .await
            .map_err(|e| e.to_string()),
        RealtimeCommand::Disconnect { .. } => sockets.disconnect().await.map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => metrics::counter!("realtime_commands_total").increment(1),
        Err(e) => tracing::warn!(error = %e, room = %room, "command not carried out"),
    }
}
