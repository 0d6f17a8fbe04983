//! What the worker does with each kind of message.

use noillin_messaging::{Envelope, Event};

/// Why a message could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// Runs the effect of one message. Must be idempotent: a message can arrive more than once.
pub fn handle(envelope: &Envelope) -> Result<(), Failure> {
    match &envelope.event {
        Event::InstanceStarted { service, instance } => {
            tracing::info!(service, instance, "platform instance started");
            Ok(())
        }
    }
}
