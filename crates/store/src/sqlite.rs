//! The embedded adapter: one SQLite file in WAL mode, shared safely by several processes.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use rusqlite::Connection;

use crate::{Store, StoreError};

/// File name of the database inside `DATA_DIR`.
const FILE_NAME: &str = "noillin.sqlite3";

pub struct SqliteStore {
    // rusqlite is synchronous: every use goes through `spawn_blocking`, one statement at a time.
    connection: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let data_dir = data_dir.to_owned();
        let connection = tokio::task::spawn_blocking(move || -> Result<Connection, StoreError> {
            std::fs::create_dir_all(&data_dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", data_dir.display()))
            })?;
            let connection = Connection::open(data_dir.join(FILE_NAME)).map_err(unavailable)?;
            // WAL lets readers in other processes (core-api replicas, worker) run beside a
            // writer; the busy timeout makes writers wait for each other instead of failing.
            connection
                .busy_timeout(Duration::from_secs(5))
                .map_err(unavailable)?;
            connection
                .pragma_update(None, "journal_mode", "WAL")
                .map_err(unavailable)?;
            connection
                .pragma_update(None, "foreign_keys", "ON")
                .map_err(unavailable)?;
            Ok(connection)
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))??;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn adapter(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let connection = connection
                .lock()
                .map_err(|_| StoreError::Unavailable("connection poisoned".into()))?;
            connection
                .query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                .map_err(unavailable)?;
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opening_creates_the_directory_and_a_wal_database() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("nested/data");
        let store = SqliteStore::open(&data_dir).await.unwrap();
        store.ping().await.unwrap();
        assert!(data_dir.join(FILE_NAME).exists());
        let mode: String = store
            .connection
            .lock()
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
}
