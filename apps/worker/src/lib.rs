//! worker: the RabbitMQ consumers for all asynchronous work. A message is acknowledged only
//! after its effect is stored; one that cannot be processed is parked, never dropped.

mod config;
mod consumer;
mod handlers;

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use anyhow::Context;
use axum::Router;
use noillin_messaging::BrokerLink;
use noillin_service::{http, ops, problem, shutdown::Shutdown};
use tokio::net::TcpListener;

pub use config::{Config, DEFAULT_PORT};

const SERVICE: &str = "worker";

/// A built worker, bound to its operational port, not yet consuming.
pub struct App {
    listener: TcpListener,
    router: Router,
    broker: BrokerLink,
    consuming: Arc<AtomicBool>,
    prefetch: u16,
    concurrency: usize,
    retry: noillin_messaging::RetryPolicy,
    shutdown: Shutdown,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let metrics = http::install_metrics()?;
        let broker = BrokerLink::start(
            config.rabbitmq_url.clone(),
            config.common.namespace.clone(),
            format!("{SERVICE}:{}", std::process::id()),
        );
        let consuming = Arc::new(AtomicBool::new(false));
        let readiness = {
            let broker = broker.clone();
            let consuming = consuming.clone();
            ops::Readiness::default().check("rabbitmq", move || {
                let ready = broker.current().is_some() && consuming.load(Ordering::Relaxed);
                async move {
                    ready
                        .then_some(())
                        .ok_or_else(|| "not connected or not consuming".to_owned())
                }
            })
        };
        let router = http::instrument(
            Router::new()
                .merge(ops::router(SERVICE, readiness, metrics))
                .fallback(problem::not_found),
        );
        let listener = http::bind(config.common.port)
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", config.common.port))?;
        Ok(Self {
            listener,
            router,
            broker,
            consuming,
            prefetch: config.prefetch,
            concurrency: config.concurrency,
            retry: config.retry,
            shutdown: Shutdown::default(),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Consumes until SIGTERM/SIGINT; then stops taking messages, finishes the ones in hand,
    /// and exits.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        http::log_listening(SERVICE, &self.listener)?;
        self.shutdown.trigger_on_signal();
        let consumers: Vec<_> = handlers::CONSUMED
            .into_iter()
            .map(|concern| {
                tokio::spawn(consumer::run(
                    concern,
                    self.broker.clone(),
                    self.prefetch,
                    self.concurrency,
                    self.retry.clone(),
                    self.consuming.clone(),
                    self.shutdown.clone(),
                ))
            })
            .collect();
        http::serve(self.listener, self.router, self.shutdown.clone()).await?;
        for consumer in consumers {
            consumer.await.context("consumer task")?;
        }
        self.broker.close().await;
        tracing::info!("worker stopped");
        Ok(())
    }
}
