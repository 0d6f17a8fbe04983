//! Records of outgoing mail in SQLite: one `mails` row each.

use async_trait::async_trait;
use jiff::Timestamp;
use noillin_domain::{
    Email,
    mail::{Mail, MailId, MailStatus},
};
use rusqlite::{Connection, OptionalExtension};

use super::{SqliteStore, corrupt, db_error, millis, timestamp};
use crate::{MailRepository, StoreError};

/// The columns of `mails`, in the order [`MailRow::read`] reads them.
const COLUMNS: &str =
    "id, recipient, template, subject, status, attempts, last_error, created_at, updated_at";

/// A row as stored, decoded outside rusqlite's row callback (whose error type cannot carry a
/// [`StoreError`]).
struct MailRow {
    id: String,
    recipient: String,
    template: String,
    subject: String,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl MailRow {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            recipient: row.get(1)?,
            template: row.get(2)?,
            subject: row.get(3)?,
            status: row.get(4)?,
            attempts: row.get(5)?,
            last_error: row.get(6)?,
            created_at: row.get(7)?,
            updated_at: row.get(8)?,
        })
    }

    fn into_mail(self) -> Result<Mail, StoreError> {
        Ok(Mail {
            id: MailId::from_string(self.id),
            to: Email::parse(&self.recipient).map_err(|e| corrupt("mail recipient", e))?,
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

/// The mail with this id, as stored.
fn select(connection: &Connection, id: &str) -> Result<Option<MailRow>, StoreError> {
    connection
        .query_row(
            &format!("SELECT {COLUMNS} FROM mails WHERE id = ?1"),
            [id],
            MailRow::read,
        )
        .optional()
        .map_err(db_error)
}

#[async_trait]
impl MailRepository for SqliteStore {
    async fn insert(&self, mail: &Mail) -> Result<Mail, StoreError> {
        let mail = mail.clone();
        // One IMMEDIATE transaction: of two racing inserts the second finds the first one's
        // row, and both return it.
        let row = self
            .write(move |tx| {
                let inserted = tx
                    .query_row(
                        &format!(
                            "INSERT INTO mails ({COLUMNS}) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                             ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
                        ),
                        rusqlite::params![
                            mail.id.as_str(),
                            mail.to.as_str(),
                            mail.template,
                            mail.subject,
                            mail.status.as_str(),
                            i64::from(mail.attempts),
                            mail.last_error,
                            millis(mail.created_at),
                            millis(mail.updated_at),
                        ],
                        MailRow::read,
                    )
                    .optional()
                    .map_err(db_error)?;
                match inserted {
                    Some(row) => Ok(row),
                    None => select(tx, mail.id.as_str())?.ok_or_else(|| {
                        StoreError::Unavailable("mail vanished after a duplicate insert".into())
                    }),
                }
            })
            .await?;
        row.into_mail()
    }

    async fn find(&self, id: &MailId) -> Result<Option<Mail>, StoreError> {
        let id = id.as_str().to_owned();
        self.read(move |connection| select(connection, &id)?.map(MailRow::into_mail).transpose())
            .await
    }

    async fn start_attempt(
        &self,
        id: &MailId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<Mail>, StoreError> {
        let id = id.as_str().to_owned();
        let (now, until) = (millis(now), millis(until));
        let row = self
            .write(move |tx| {
                tx.query_row(
                    &format!(
                        "UPDATE mails SET attempt_until = ?1 WHERE id = ?2 AND status = 'queued' \
                         AND (attempt_until IS NULL OR attempt_until < ?3) RETURNING {COLUMNS}"
                    ),
                    rusqlite::params![until, id, now],
                    MailRow::read,
                )
                .optional()
                .map_err(db_error)
            })
            .await?;
        row.map(MailRow::into_mail).transpose()
    }

    async fn record_attempt(
        &self,
        id: &MailId,
        status: MailStatus,
        error: Option<&str>,
        now: Timestamp,
    ) -> Result<Mail, StoreError> {
        let id = id.as_str().to_owned();
        let error = error.map(str::to_owned);
        let now = millis(now);
        let row = self
            .write(move |tx| {
                tx.query_row(
                    &format!(
                        "UPDATE mails SET attempts = attempts + 1, status = ?1, last_error = ?2, \
                         updated_at = ?3, attempt_until = NULL WHERE id = ?4 RETURNING {COLUMNS}"
                    ),
                    rusqlite::params![status.as_str(), error, now, id],
                    MailRow::read,
                )
                .optional()
                .map_err(db_error)
            })
            .await?;
        row.ok_or(StoreError::NotFound)?.into_mail()
    }
}
