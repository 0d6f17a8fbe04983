//! Records of outgoing mail in MongoDB: one document per mail in `mails` (`_id` = mail id),
//! `{to, template, subject, status, attempts, last_error, created_at, updated_at}`.

use async_trait::async_trait;
use jiff::Timestamp;
use mongodb::{
    bson::{DateTime, doc},
    options::{ReadConcern, ReturnDocument},
};
use noillin_domain::{
    Email,
    mail::{Mail, MailId, MailStatus},
};
use serde::{Deserialize, Serialize};

use super::{MongoStore, corrupt, date, is_duplicate_key, timestamp, unavailable};
use crate::{MailRepository, StoreError};

/// A document of `mails`. BSON has no unsigned integers: `attempts` is `i64` here and checked
/// on the way back.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct MailDoc {
    #[serde(rename = "_id")]
    id: String,
    to: String,
    template: String,
    subject: String,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    created_at: DateTime,
    updated_at: DateTime,
    /// While in the future, one sending attempt holds the mail.
    #[serde(default)]
    attempt_until: Option<DateTime>,
}

impl MailDoc {
    fn encode(mail: &Mail) -> Self {
        Self {
            id: mail.id.as_str().to_owned(),
            to: mail.to.as_str().to_owned(),
            template: mail.template.clone(),
            subject: mail.subject.clone(),
            status: mail.status.as_str().to_owned(),
            attempts: i64::from(mail.attempts),
            last_error: mail.last_error.clone(),
            created_at: date(mail.created_at),
            updated_at: date(mail.updated_at),
            attempt_until: None,
        }
    }

    fn into_mail(self) -> Result<Mail, StoreError> {
        Ok(Mail {
            id: MailId::from_string(self.id),
            to: Email::parse(&self.to).map_err(|e| corrupt("mail recipient", e))?,
            template: self.template,
            subject: self.subject,
            status: MailStatus::parse(&self.status)
                .ok_or_else(|| corrupt("mail status", &self.status))?,
            attempts: u32::try_from(self.attempts).map_err(|e| corrupt("mail attempts", e))?,
            last_error: self.last_error,
            created_at: timestamp(self.created_at)?,
            updated_at: timestamp(self.updated_at)?,
        })
    }
}

#[async_trait]
impl MailRepository for MongoStore {
    async fn insert(&self, mail: &Mail) -> Result<Mail, StoreError> {
        let document = MailDoc::encode(mail);
        match self.mails.insert_one(&document).await {
            // What was stored, at the precision it was stored with.
            Ok(_) => document.into_mail(),
            // `_id` is the only unique index: the mail is recorded already. Read it from the
            // primary's latest state: a racing insert may not be majority-committed yet.
            Err(e) if is_duplicate_key(&e) => self
                .mails
                .find_one(doc! { "_id": mail.id.as_str() })
                .read_concern(ReadConcern::local())
                .await
                .map_err(unavailable)?
                .ok_or_else(|| {
                    StoreError::Unavailable("mail vanished after a duplicate insert".into())
                })?
                .into_mail(),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn find(&self, id: &MailId) -> Result<Option<Mail>, StoreError> {
        self.mails
            .find_one(doc! { "_id": id.as_str() })
            .await
            .map_err(unavailable)?
            .map(MailDoc::into_mail)
            .transpose()
    }

    async fn start_attempt(
        &self,
        id: &MailId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<Mail>, StoreError> {
        self.mails
            .find_one_and_update(
                doc! {
                    "_id": id.as_str(),
                    "status": MailStatus::Queued.as_str(),
                    "$or": [
                        { "attempt_until": null },
                        { "attempt_until": { "$lt": date(now) } },
                    ],
                },
                doc! { "$set": { "attempt_until": date(until) } },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(unavailable)?
            .map(MailDoc::into_mail)
            .transpose()
    }

    async fn record_attempt(
        &self,
        id: &MailId,
        status: MailStatus,
        error: Option<&str>,
        now: Timestamp,
    ) -> Result<Mail, StoreError> {
        self.mails
            .find_one_and_update(
                doc! { "_id": id.as_str() },
                doc! {
                    "$inc": { "attempts": 1_i64 },
                    "$set": {
                        "status": status.as_str(),
                        "last_error": error,
                        "updated_at": date(now),
                        "attempt_until": null,
                    },
                },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(unavailable)?
            .ok_or(StoreError::NotFound)?
            .into_mail()
    }
}

#[cfg(test)]
mod tests {
    use mongodb::bson::{self, Bson};

    use super::*;

    #[test]
    fn mail_documents_use_native_types_and_round_trip() {
        let mail = Mail {
            attempts: 3,
            last_error: Some("421 try again later".into()),
            ..Mail::queued(
                MailId::from_string("m-1"),
                Email::parse("ana@example.com").unwrap(),
                "password_reset",
                "Reset your password",
                Timestamp::from_millisecond(1_780_000_000_123).unwrap(),
            )
        };
        let document = bson::to_document(&MailDoc::encode(&mail)).unwrap();
        assert_eq!(document.get_str("status").unwrap(), "queued");
        assert_eq!(document.get_i64("attempts").unwrap(), 3);
        assert!(document.get_datetime("updated_at").is_ok());
        let back: MailDoc = bson::from_document(document).unwrap();
        assert_eq!(back.into_mail().unwrap(), mail);

        let cleared = MailDoc::encode(&Mail {
            last_error: None,
            ..mail
        });
        let document = bson::to_document(&cleared).unwrap();
        assert_eq!(document.get("last_error"), Some(&Bson::Null));
    }

    #[test]
    fn negative_attempts_or_an_unknown_status_are_errors_not_panics() {
        let mail = Mail::queued(
            MailId::from_string("m-1"),
            Email::parse("ana@example.com").unwrap(),
            "password_reset",
            "Reset your password",
            Timestamp::UNIX_EPOCH,
        );
        let mut negative = MailDoc::encode(&mail);
        negative.attempts = -1;
        assert!(matches!(negative.into_mail(), Err(StoreError::Corrupt(_))));
        let mut bounced = MailDoc::encode(&mail);
        bounced.status = "bounced".into();
        assert!(matches!(bounced.into_mail(), Err(StoreError::Corrupt(_))));
    }
}
