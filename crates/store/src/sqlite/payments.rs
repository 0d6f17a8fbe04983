//! Provider events in SQLite: one `payment_events` row per event id, inserted with the event's
//! outbox message in one transaction; a second delivery's insert does nothing and the message
//! is not stored again.

use async_trait::async_trait;
use jiff::Timestamp;
use noillin_domain::payment::PaymentEvent;

use super::{SqliteStore, db_error, millis, outbox};
use crate::{OutboxMessage, PaymentEventRepository, StoreError};

#[async_trait]
impl PaymentEventRepository for SqliteStore {
    async fn record(
        &self,
        event: &PaymentEvent,
        received_at: Timestamp,
        outbox: &[OutboxMessage],
    ) -> Result<bool, StoreError> {
        let id = event.id.clone();
        let kind = event.kind.name();
        let received_at = millis(received_at);
        let messages = outbox.to_vec();
        self.write(move |tx| {
            let inserted = tx
                .execute(
                    "INSERT INTO payment_events (id, type, received_at_ms) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (id) DO NOTHING",
                    rusqlite::params![id, kind, received_at],
                )
                .map_err(db_error)?;
            if inserted == 1 {
                outbox::insert_messages(tx, &messages)?;
            }
            Ok(inserted == 1)
        })
        .await
    }
}
