//! The store port: the platform's source of truth behind traits, with two adapters —
//! MongoDB in production (`MONGO_URI`) and an embedded SQLite file under `DATA_DIR` when no
//! MongoDB is configured (development, tests, the one-command run).

mod mongo;
mod sqlite;

use std::{path::PathBuf, sync::Arc};

/// Which adapter to open.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// An SQLite file in this directory.
    Embedded { data_dir: PathBuf },
    /// A MongoDB deployment; the database is the URI's default database, else `noillin`.
    Mongo { uri: String },
}

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// The store as the services see it.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// `"sqlite"` or `"mongodb"`, for logs and readiness.
    fn adapter(&self) -> &'static str;
    /// Answers when the store can serve requests.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the configured adapter.
pub async fn open(config: &StoreConfig) -> Result<Arc<dyn Store>, StoreError> {
    match config {
        StoreConfig::Embedded { data_dir } => {
            Ok(Arc::new(sqlite::SqliteStore::open(data_dir).await?))
        }
        StoreConfig::Mongo { uri } => Ok(Arc::new(mongo::MongoStore::open(uri).await?)),
    }
}
