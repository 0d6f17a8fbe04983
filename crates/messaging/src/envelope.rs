//! Typed messages and their wire form.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Version of the envelope layout; consumers refuse versions they do not know.
pub const SCHEMA_VERSION: u32 = 1;

/// A domain event as it travels: a unique id (consumers deduplicate on it), when it happened,
/// the request that caused it, and the event itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub version: u32,
    pub id: Uuid,
    pub occurred_at: Timestamp,
    /// The HTTP request id that caused the event, when there was one.
    pub correlation_id: Option<String>,
    pub event: Event,
}

impl Envelope {
    /// Wraps an event that happens now.
    pub fn new(event: Event, correlation_id: Option<String>) -> Self {
        Self {
            version: SCHEMA_VERSION,
            id: Uuid::now_v7(),
            occurred_at: Timestamp::now(),
            correlation_id,
            event,
        }
    }
}

/// Every event the platform emits. The serde tag is the routing key, so the broker routes on
/// exactly what consumers deserialize.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    /// A process of the platform started (deploy tracking; also proves the pipeline end to end).
    #[serde(rename = "system.instance_started")]
    InstanceStarted { service: String, instance: String },
    /// Someone asked to reset the password of this account: mail them the link. The token is
    /// the only copy of the secret (the store keeps its hash); never log it.
    #[serde(rename = "email.password_reset")]
    PasswordResetMail {
        user_id: String,
        email: String,
        display_name: String,
        reset_token: String,
        expires_at: Timestamp,
    },
}

impl Event {
    /// The routing key on the events exchange.
    pub fn routing_key(&self) -> &'static str {
        match self {
            Event::InstanceStarted { .. } => "system.instance_started",
            Event::PasswordResetMail { .. } => "email.password_reset",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_round_trips_through_json_with_its_routing_key_as_type() {
        let envelope = Envelope::new(
            Event::InstanceStarted {
                service: "core-api".into(),
                instance: "a".into(),
            },
            Some("req-1".into()),
        );
        let json = serde_json::to_value(&envelope).unwrap();
        assert_eq!(json["event"]["type"], envelope.event.routing_key());
        assert_eq!(json["version"], SCHEMA_VERSION);
        let back: Envelope = serde_json::from_value(json).unwrap();
        assert_eq!(back, envelope);
    }
}
