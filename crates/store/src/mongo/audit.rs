//! The audit log in MongoDB: one document per entry in `audit_log` (`_id` = entry id, a UUIDv7,
//! so the `_id` index serves the newest-first listing), inserted in the transaction of the
//! action it records.

use async_trait::async_trait;
use mongodb::bson::{Bson, DateTime, doc};
use noillin_domain::UserId;
use serde::{Deserialize, Serialize};

use super::{MongoStore, collect, date, timestamp, to_bson, unavailable};
use crate::{AuditEntry, AuditLogRepository, StoreError};

/// A document of `audit_log`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct AuditDoc {
    #[serde(rename = "_id")]
    id: String,
    /// Null for the operator at the command line.
    actor_id: Option<String>,
    action: String,
    target: String,
    at: DateTime,
    details: Bson,
}

impl AuditDoc {
    pub(super) fn encode(entry: &AuditEntry) -> Result<Self, StoreError> {
        Ok(Self {
            id: entry.id.clone(),
            actor_id: entry.actor.as_ref().map(|actor| actor.as_str().to_owned()),
            action: entry.action.clone(),
            target: entry.target.clone(),
            at: date(entry.at),
            details: to_bson(&entry.details)?,
        })
    }

    fn into_entry(self) -> Result<AuditEntry, StoreError> {
        Ok(AuditEntry {
            id: self.id,
            actor: self.actor_id.map(UserId::from_string),
            action: self.action,
            target: self.target,
            at: timestamp(self.at)?,
            details: self.details.into_relaxed_extjson(),
        })
    }
}

#[async_trait]
impl AuditLogRepository for MongoStore {
    async fn list(&self, before: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let filter = match before {
            Some(before) => doc! { "_id": { "$lt": before } },
            None => doc! {},
        };
        let cursor = self
            .audit_log
            .find(filter)
            .sort(doc! { "_id": -1 })
            .limit(i64::from(limit))
            .await
            .map_err(unavailable)?;
        collect(cursor, AuditDoc::into_entry).await
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;

    #[test]
    fn an_entry_round_trips_through_its_document() {
        let entry = AuditEntry {
            id: "0191c1d2-0000-7000-8000-000000000000".into(),
            actor: Some(UserId::from_string("admin-1")),
            action: "user.suspended".into(),
            target: "user:u-1".into(),
            at: Timestamp::from_millisecond(1_780_000_000_123).unwrap(),
            details: serde_json::json!({ "status": "suspended", "token_version": 3 }),
        };
        let document = mongodb::bson::to_document(&AuditDoc::encode(&entry).unwrap()).unwrap();
        let decoded: AuditDoc = mongodb::bson::from_document(document).unwrap();
        assert_eq!(decoded.into_entry().unwrap(), entry);
    }
}
