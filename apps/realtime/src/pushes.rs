//! Forwards pushes from the Redis push channel to this node's sockets.

use std::time::Duration;

use noillin_redis::{Push, Redis};

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
                while let Some(push) = subscription.next().await {
                    deliver(&io, push).await;
                }
                tracing::warn!("push subscription lost; resubscribing");
            }
            Err(e) => tracing::warn!(error = %e, retry_in = ?backoff, "cannot subscribe to pushes"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn deliver(io: &Io, push: Push) {
    if !ROOM_PREFIXES.iter().any(|p| push.room.starts_with(p)) {
        tracing::warn!(room = %push.room, "push to an unknown kind of room dropped");
        return;
    }
    // Every node receives every push, so each emits to its own sockets only.
    match io
        .to(push.room.clone())
        .local()
        .emit(&push.event, &push.data)
        .await
    {
        Ok(()) => metrics::counter!("realtime_pushes_delivered_total").increment(1),
        Err(e) => tracing::warn!(error = %e, room = %push.room, "push not delivered"),
    }
}
