//! This node's part in presence (see `noillin_redis` presence for the model): it heartbeats
//! its lease, takes dead nodes over, and tells a user's contacts when the user goes online or
//! offline.
//!
//! Bound: a node that dies without leaving (SIGKILL, a lost machine) stops renewing its lease;
//! it is dead [`LEASE`] after its last heartbeat at the latest, and the next sweep of any live
//! node, within [`SWEEP_INTERVAL`], takes it over and reports its users offline: within
//! `LEASE + SWEEP_INTERVAL` (8 s; 10 s with Redis and scheduling delays).

use std::time::Duration;

use noillin_redis::{Heartbeat, Redis, user_room};
use serde_json::json;
use socketioxide::{SocketIo, adapter::Adapter};

/// How often a node renews its lease and sweeps.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(2);

/// How long a node counts as live after a heartbeat: three heartbeats, so one late or failed
/// heartbeat (a busy node, a Redis hiccup) does not get a live node taken over.
pub const LEASE: Duration = Duration::from_secs(6);

/// A presence status as clients see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Online,
    Offline,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Offline => "offline",
        }
    }
}

/// Tells the user's contacts, on every node, that the user's status changed. Failures are
/// logged: presence is a hint, and clients can ask for it.
pub async fn announce<A: Adapter>(io: &SocketIo<A>, redis: &Redis, user_id: &str, status: Status) {
    let contacts = match redis.contacts(user_id).await {
        Ok(contacts) => contacts,
        Err(e) => {
            tracing::warn!(error = %e, user_id, "contacts unavailable; presence not announced");
            metrics::counter!("realtime_redis_errors_total", "op" => "contacts").increment(1);
            return;
        }
    };
    // An empty room list would mean every socket.
    if contacts.is_empty() {
        return;
    }
    let rooms: Vec<String> = contacts.iter().map(|c| user_room(c)).collect();
    let payload = json!({ "user_id": user_id, "status": status.as_str() });
    match io.to(rooms).emit("presence", &payload).await {
        Ok(()) => {
            metrics::counter!("realtime_presence_announced_total", "status" => status.as_str())
                .increment(1);
        }
        Err(e) => tracing::warn!(error = %e, user_id, "presence not announced"),
    }
}

/// Renews this node's lease and takes dead nodes over, every [`SWEEP_INTERVAL`], for the life of
/// the node (the caller aborts it on shutdown). The node heartbeats once before it serves; a
/// later heartbeat that finds it unregistered means it was taken over while alive.
pub async fn maintain<A: Adapter>(io: SocketIo<A>, redis: Redis, node_id: String) {
    let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate, and the node heartbeat before it served.
    ticks.tick().await;
    loop {
        ticks.tick().await;
        match redis.node_heartbeat(&node_id, LEASE).await {
            Ok(Heartbeat::Renewed) => {}
            Ok(Heartbeat::Registered) => {
                // Another node took this one over (it stalled past its lease) and reported
                // its users offline: its sockets are counted nowhere. Their clients
                // reconnect and are counted afresh.
                tracing::warn!(
                    node_id,
                    "this node was taken over as dead; closing its sockets"
                );
                metrics::counter!("realtime_node_taken_over_total").increment(1);
                if let Err(e) = io.local().disconnect().await {
                    tracing::warn!(error = %e, "sockets not closed");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat failed");
                metrics::counter!("realtime_redis_errors_total", "op" => "heartbeat").increment(1);
            }
        }
        match redis.sweep_dead_nodes().await {
            Ok(offline) => {
                if !offline.is_empty() {
                    tracing::info!(users = offline.len(), "took over a dead node");
                }
                // Apart from the loop: announcing a big node's users takes a round trip each,
                // and must not hold back this node's own heartbeat.
                let (io, redis) = (io.clone(), redis.clone());
                tokio::spawn(async move {
                    for user_id in offline {
                        announce(&io, &redis, &user_id, Status::Offline).await;
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "sweep failed");
                metrics::counter!("realtime_redis_errors_total", "op" => "sweep").increment(1);
            }
        }
    }
}

/// Forgets this node in Redis as it stops, announcing the users it was the last node of.
pub async fn leave<A: Adapter>(io: &SocketIo<A>, redis: &Redis, node_id: &str) {
    match redis.leave_node(node_id).await {
        Ok(offline) => {
            for user_id in offline {
                announce(io, redis, &user_id, Status::Offline).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "node not removed from presence; it will lapse"),
    }
}
