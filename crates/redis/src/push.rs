//! The push channel: any process (core-api, worker) asks the realtime nodes to emit an event to
//! a Socket.IO room by publishing a [`Push`] on `{namespace}:push`. Every realtime node is
//! subscribed and emits to its own sockets in that room.
//!
//! A [`RealtimeCommand::Disconnect`] closes every socket in a room instead (a suspended user's
//! sessions, say).
//!
//! Like Socket.IO itself, a push is delivered at most once: it is a hint that something
//! changed, and clients fetch the stored state (messages, notifications) from the API.

use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::{Error, Redis};

/// One event for one room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Push {
    /// `user:{id}` or `conversation:{id}`.
    pub room: String,
    /// The Socket.IO event name.
    pub event: String,
    /// The event's payload.
    pub data: serde_json::Value,
}

/// The room of every socket of one user: where pushes for that user go, and what a
/// `disconnect` names to close that user's sessions.
pub fn user_room(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// The room of a user's sockets opened with the tokens of one sign-in: what a `disconnect`
/// names to close them when that sign-in ends.
pub fn sign_in_room(user_id: &str, session_id: &str) -> String {
    format!("user:{user_id}:sign-in:{session_id}")
}

/// What the realtime nodes are asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum RealtimeCommand {
    /// Emit an event to a room.
    Emit(Push),
    /// Close every socket in a room.
    Disconnect { room: String },
}

impl RealtimeCommand {
    /// The room the command is for.
    pub fn room(&self) -> &str {
        match self {
            RealtimeCommand::Emit(push) => &push.room,
            RealtimeCommand::Disconnect { room } => room,
        }
    }
}

impl Redis {
    fn push_channel(&self) -> String {
        self.key("push")
    }

    /// Publishes a push; returns how many realtime nodes received it.
    pub async fn publish_push(&self, push: &Push) -> Result<u64, Error> {
        self.publish_command(&RealtimeCommand::Emit(push.clone()))
            .await
    }

    /// Publishes a command to every realtime node; returns how many received it.
    pub async fn publish_command(&self, command: &RealtimeCommand) -> Result<u64, Error> {
        let payload = serde_json::to_string(command)?;
        let mut conn = self.pool().get().await?;
        let receivers: u64 = redis::cmd("PUBLISH")
            .arg(self.push_channel())
            .arg(payload)
            .query_async(&mut conn)
            .await?;
        Ok(receivers)
    }

    /// Subscribes to pushes on a dedicated connection. The stream ends when the connection
    /// drops; the caller resubscribes.
    pub async fn subscribe_pushes(&self) -> Result<PushSubscription, Error> {
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(self.push_channel()).await?;
        Ok(PushSubscription {
            inner: Box::pin(pubsub.into_on_message().filter_map(|msg| async move {
                let payload: String = msg.get_payload().ok()?;
                match serde_json::from_str::<RealtimeCommand>(&payload) {
                    Ok(command) => Some(command),
                    Err(e) => {
                        tracing::warn!(error = %e, "ignoring malformed push");
                        None
                    }
                }
            })),
        })
    }
}

/// Pushes as they arrive.
pub struct PushSubscription {
    inner: std::pin::Pin<Box<dyn Stream<Item = RealtimeCommand> + Send>>,
}

impl PushSubscription {
    /// The next command, or `None` once the connection is gone.
    pub async fn next(&mut self) -> Option<RealtimeCommand> {
        self.inner.next().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_travel_in_the_documented_json_shape() {
        let emit = RealtimeCommand::Emit(Push {
            room: "user:42".into(),
            event: "notification".into(),
            data: serde_json::json!({ "kind": "hello" }),
        });
        assert_eq!(
            serde_json::to_value(&emit).unwrap(),
            serde_json::json!({ "command": "emit", "room": "user:42", "event": "notification", "data": { "kind": "hello" } })
        );
        let disconnect = RealtimeCommand::Disconnect {
            room: "user:42".into(),
        };
        let json = serde_json::json!({ "command": "disconnect", "room": "user:42" });
        assert_eq!(serde_json::to_value(&disconnect).unwrap(), json);
        assert_eq!(
            serde_json::from_value::<RealtimeCommand>(json).unwrap(),
            disconnect
        );
    }
}
