//! What the worker does with each kind of message.

use noillin_messaging::{Concern, Envelope, Event};

/// Why a message could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("no handler for {0} on this queue")]
    Unhandled(&'static str),
}

impl Failure {
    /// Whether trying again later can succeed (a dependency that is down) or never will (a
    /// message that cannot be read or handled).
    pub fn retryable(&self) -> bool {
        match self {
            Failure::Malformed(_) | Failure::Unhandled(_) => false,
        }
    }
}

/// The concerns this worker consumes.
pub const CONSUMED: [Concern; 1] = [Concern::System];

/// Runs the effect of one message. Must be idempotent: a message can arrive more than once.
pub fn handle(envelope: &Envelope) -> Result<(), Failure> {
    match &envelope.event {
        Event::InstanceStarted { service, instance } => {
            tracing::info!(service, instance, "platform instance started");
            Ok(())
        }
        // Mails wait, durable, in their queue until the mail pipeline consumes them.
        other => Err(Failure::Unhandled(other.routing_key())),
    }
}
