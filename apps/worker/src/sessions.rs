//! Ended sessions (`user.sessions_ended`): realtime has no store, so the worker tells it, through
//! Redis, the user's new token version (realtime refuses socket tokens older than that) and
//! then closes the user's open sockets. The version is written first, so a socket that
//! reconnects after the close is refused with its old token.

use noillin_domain::event::Event;
use noillin_messaging::Envelope;
use noillin_redis::{RealtimeCommand, user_room};

use crate::handlers::{Failure, Handlers};

/// How long a handled event is remembered, so a redelivery does not close the sockets the
/// user opened since (with a new token) — far beyond any retry delay.
const HANDLED_TTL_SECS: u64 = 7 * 24 * 60 * 60;

pub async fn ended(handlers: &Handlers, envelope: &Envelope) -> Result<(), Failure> {
    let Event::UserSessionsEnded {
        user_id,
        token_version,
    } = &envelope.event
    else {
        return Err(Failure::Malformed("not a sessions-ended event".into()));
    };
    let redis = &handlers.redis;
    let handled = format!("sessions-ended:{}", envelope.id);
    if redis.is_marked(&handled).await? {
        tracing::info!(user_id, "sessions already ended for this event");
        return Ok(());
    }
    // Only ever raised: a redelivered or late event never lowers it.
    redis.publish_token_version(user_id, *token_version).await?;
    redis
        .publish_command(&RealtimeCommand::Disconnect {
            room: user_room(user_id),
        })
        .await?;
    // A failure past this point repeats the close on redelivery: harmless, the user's sockets
    // with current tokens reconnect.
    redis.mark(&handled, HANDLED_TTL_SECS).await?;
    tracing::info!(user_id, token_version, "sessions ended; realtime told");
    Ok(())
}
