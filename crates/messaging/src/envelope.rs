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
    /// The message as the broker will carry it.
    pub fn outgoing(&self) -> Result<OutgoingMessage, serde_json::Error> {
        Ok(OutgoingMessage {
            message_id: self.id.to_string(),
            routing_key: self.event.routing_key().to_owned(),
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

/// Every event the platform emits. The serde tag is the routing key, so the broker routes on
/// exactly what consumers deserialize.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    /// A process of the platform started (deploy tracking; also proves the pipeline end to end).
    #[serde(rename = "system.instance_started")]
    InstanceStarted { service: String, instance: String },
    /// Someone asked to reset the password of this account: mint the link's token for the
    /// stored request and mail it. No secret travels: the mail worker makes the token and the
    /// store keeps only its hash.
    #[serde(rename = "email.password_reset")]
    PasswordResetMail { request_id: String, user_id: String },
    /// Every session of the user ended (password reset, suspension, reinstatement): its token
    /// version is now `token_version`. Tell the realtime nodes, which have no store, and close
    /// the user's open sockets.
    #[serde(rename = "user.sessions_ended")]
    UserSessionsEnded { user_id: String, token_version: u32 },
    /// The owner of a draft group gig invited an influencer into it.
    #[serde(rename = "gig.member_invited")]
    GigMemberInvited {
        gig_id: String,
        title: String,
        owner_id: String,
        member_id: String,
    },
    /// An invited member accepted or declined.
    #[serde(rename = "gig.member_answered")]
    GigMemberAnswered {
        gig_id: String,
        title: String,
        owner_id: String,
        member_id: String,
        accepted: bool,
    },
    /// A gig was published; `member_ids` are its members other than the owner.
    #[serde(rename = "gig.published")]
    GigPublished {
        gig_id: String,
        title: String,
        owner_id: String,
        member_ids: Vec<String>,
    },
    /// A gig was archived; `member_ids` are its accepted members other than the owner.
    #[serde(rename = "gig.archived")]
    GigArchived {
        gig_id: String,
        title: String,
        owner_id: String,
        member_ids: Vec<String>,
    },
}

impl Event {
    /// The routing key on the events exchange.
    pub fn routing_key(&self) -> &'static str {
        match self {
            Event::InstanceStarted { .. } => "system.instance_started",
            Event::PasswordResetMail { .. } => "email.password_reset",
            Event::UserSessionsEnded { .. } => "user.sessions_ended",
            Event::GigMemberInvited { .. } => "gig.member_invited",
            Event::GigMemberAnswered { .. } => "gig.member_answered",
            Event::GigPublished { .. } => "gig.published",
            Event::GigArchived { .. } => "gig.archived",
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
