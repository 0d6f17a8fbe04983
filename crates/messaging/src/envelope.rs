//! Typed messages and their wire form.

use jiff::Timestamp;
use noillin_domain::event::Event;
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
    /// The message as the broker will carry it.
    pub fn outgoing(&self) -> Result<OutgoingMessage, serde_json::Error> {
        Ok(OutgoingMessage {
            message_id: self.id.to_string(),
            routing_key: self.event.name().to_owned(),
            correlation_id: self.correlation_id.clone(),
            payload: serde_json::to_vec(self)?,
            occurred_at: self.occurred_at,
        })
    }

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

/// A serialized message ready to publish: what the outbox keeps, and what the broker gets with
/// its id, type and correlation id in the AMQP properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub message_id: String,
    pub routing_key: String,
    pub correlation_id: Option<String>,
    /// The envelope as JSON.
    pub payload: Vec<u8>,
    pub occurred_at: Timestamp,
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
        assert_eq!(json["event"]["type"], envelope.event.name());
        assert_eq!(json["version"], SCHEMA_VERSION);
        let back: Envelope = serde_json::from_value(json).unwrap();
        assert_eq!(back, envelope);
    }
}
