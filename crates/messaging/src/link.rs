//! A broker connection that heals itself: connects with backoff, declares the topology on every
//! (re)connection, and reconnects when the connection drops. Processes keep a [`BrokerLink`]
//! instead of a bare connection, so a broker restart is an outage to wait out, not a crash.

use std::{sync::Arc, time::Duration};

use tokio::sync::watch;

use crate::Broker;

/// Upper bound of the reconnection backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How often a live connection is checked.
const HEALTH_INTERVAL: Duration = Duration::from_millis(500);

/// The current broker connection, if any, kept alive by a background task.
#[derive(Clone)]
pub struct BrokerLink {
    current: watch::Receiver<Option<Arc<Broker>>>,
    supervisor: Arc<tokio::task::JoinHandle<()>>,
}

impl BrokerLink {
    /// Starts connecting to `url` in the background.
    pub fn start(url: String, namespace: String, client: String) -> Self {
        let (sender, current) = watch::channel(None);
        let supervisor = tokio::spawn(supervise(url, namespace, client, sender));
        Self {
            current,
            supervisor: Arc::new(supervisor),
        }
    }

    /// The live connection, if there is one now.
    pub fn current(&self) -> Option<Arc<Broker>> {
        self.current
            .borrow()
            .clone()
            .filter(|broker| broker.is_connected())
    }

    /// Waits for a live connection.
    pub async fn connected(&self) -> Arc<Broker> {
        let mut receiver = self.current.clone();
        loop {
            if let Some(broker) = receiver.borrow_and_update().clone()
                && broker.is_connected()
            {
                return broker;
            }
            if receiver.changed().await.is_err() {
                // The supervisor is gone (process shutting down): never resolve.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Stops reconnecting and closes the connection.
    pub async fn close(&self) {
        self.supervisor.abort();
        if let Some(broker) = self.current.borrow().clone() {
            broker.close().await;
        }
    }
}

async fn supervise(
    url: String,
    namespace: String,
    client: String,
    sender: watch::Sender<Option<Arc<Broker>>>,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match connect_and_declare(&url, &namespace, &client).await {
            Ok(broker) => {
                tracing::info!("connected to rabbitmq");
                backoff = Duration::from_millis(200);
                let broker = Arc::new(broker);
                sender.send_replace(Some(broker.clone()));
                while broker.is_connected() {
                    tokio::time::sleep(HEALTH_INTERVAL).await;
                }
                tracing::warn!("rabbitmq connection lost; reconnecting");
                sender.send_replace(None);
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "cannot reach rabbitmq");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn connect_and_declare(
    url: &str,
    namespace: &str,
    client: &str,
) -> Result<Broker, crate::Error> {
    let broker = Broker::connect(url, namespace, client).await?;
    broker.declare_topology().await?;
    Ok(broker)
}
