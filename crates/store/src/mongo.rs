//! The production adapter: MongoDB through the official driver.

use mongodb::{Client, Database, bson::doc};

use crate::{Store, StoreError};

/// Database used when the URI names none.
const DEFAULT_DATABASE: &str = "noillin";

pub struct MongoStore {
    database: Database,
}

impl MongoStore {
    /// Parses the URI and prepares the client. The driver connects lazily, so an unreachable
    /// server shows up in readiness, not as a failed start.
    pub async fn open(uri: &str) -> Result<Self, StoreError> {
        let client = Client::with_uri_str(uri)
            .await
            .map_err(|e| StoreError::Unavailable(format!("MONGO_URI: {e}")))?;
        let database = client
            .default_database()
            .unwrap_or_else(|| client.database(DEFAULT_DATABASE));
        Ok(Self { database })
    }
}

#[async_trait::async_trait]
impl Store for MongoStore {
    fn adapter(&self) -> &'static str {
        "mongodb"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.database
            .run_command(doc! { "ping": 1 })
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }
}
