//! Provider events in MongoDB: one document per event in `payment_events` (`_id` = the
//! provider's event id), inserted in the same transaction as the event's outbox message. The
//! `_id` is unique, so of two deliveries of one event racing, the second's insert fails with a
//! duplicate key and its transaction (the message with it) is aborted.

use async_trait::async_trait;
use futures::FutureExt;
use jiff::Timestamp;
use mongodb::bson::DateTime;
use noillin_domain::payment::PaymentEvent;
use serde::{Deserialize, Serialize};

use super::{MongoStore, date, is_duplicate_key};
use crate::{OutboxMessage, PaymentEventRepository, StoreError};

/// A document of `payment_events`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PaymentEventDoc {
    #[serde(rename = "_id")]
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    received_at: DateTime,
}

#[async_trait]
impl PaymentEventRepository for MongoStore {
    async fn record(
        &self,
        event: &PaymentEvent,
        received_at: Timestamp,
        outbox: &[OutboxMessage],
    ) -> Result<bool, StoreError> {
        let document = PaymentEventDoc {
            id: event.id.clone(),
            event_type: event.kind.name().to_owned(),
            received_at: date(received_at),
        };
        let recorded = self
            .transact(outbox, &document, |store, session, document| {
                async move {
                    match store
                        .payment_events
                        .insert_one(document)
                        .session(session)
                        .await
                    {
                        Ok(_) => Ok(Ok(())),
                        // Recorded before: abort, so the message is not stored twice.
                        Err(e) if is_duplicate_key(&e) => Ok(Err(())),
                        Err(e) => Err(e),
                    }
                }
                .boxed()
            })
            .await;
        match recorded {
            Ok(Ok(())) => Ok(true),
            Ok(Err(())) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use mongodb::bson;

    use super::*;

    #[test]
    fn event_documents_keep_the_provider_id_as_their_key() {
        let document = PaymentEventDoc {
            id: "evt_1".into(),
            event_type: "payment_intent.succeeded".into(),
            received_at: DateTime::from_millis(1_780_000_000_000),
        };
        let bson = bson::to_document(&document).unwrap();
        assert_eq!(bson.get_str("_id").unwrap(), "evt_1");
        assert_eq!(bson.get_str("type").unwrap(), "payment_intent.succeeded");
    }
}
