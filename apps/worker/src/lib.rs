//! worker: the RabbitMQ consumers for all asynchronous work. A message is acknowledged only
//! after its effect is stored; one that cannot be processed is parked, never dropped.

mod chat;
mod config;
mod consumer;
mod handlers;
mod mailing;
mod notify;
mod payments;
mod payouts;
mod reconciler;
mod search;
mod sessions;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use anyhow::Context;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use noillin_mail::Mailer;
use noillin_messaging::{BrokerLink, Concern};
use noillin_redis::Redis;
use noillin_search::LazySearch;
use noillin_service::{http, ops, problem, shutdown::Shutdown};
use tokio::net::TcpListener;

pub use config::{Config, DEFAULT_PORT};

const SERVICE: &str = "worker";

/// A built worker, bound to its operational port, not yet consuming.
pub struct App {
    listener: TcpListener,
    router: Router,
    broker: BrokerLink,
    handlers: Arc<handlers::Handlers>,
    /// How many concerns have a live subscription now.
    consuming: Arc<AtomicUsize>,
    consumer: consumer::Settings,
    reconciler: reconciler::Settings,
    shutdown: Shutdown,
}

impl App {
    /// Builds the app; `metrics` is the handle `/metrics` renders (the binary passes the
    /// process-wide recorder's).
    pub async fn build(config: Config, metrics: PrometheusHandle) -> anyhow::Result<Self> {
        let store = noillin_store::open(&config.store)
            .await
            .context("opening the store")?;
        tracing::info!(adapter = store.adapter(), "store adapter selected");
        let redis = Redis::new(&config.redis_url, &config.common.namespace).context("REDIS_URL")?;
        let mailer = Mailer::with_timeout(
            config.mail.transport(),
            &config.mail_from,
            config.smtp_timeout,
        )
        .context("SMTP_URL or MAIL_FROM")?;
        tracing::info!(transport = %mailer.describe(), "mail transport selected");
        let search = Arc::new(LazySearch::new(config.search.clone()));
        match search.get().await {
            Ok(index) => tracing::info!(adapter = index.adapter(), "search adapter opened"),
            // Events wait in their queue until it opens; readiness says why.
            Err(e) => tracing::warn!(error = %e, "search index not opened yet"),
        }
        let handlers = Arc::new(handlers::Handlers {
            store: store.clone(),
            redis,
            mail: mailing::MailDesk::new(
                mailer,
                store,
                config.app_url.clone(),
                config.smtp_timeout,
            ),
            search,
            payments: noillin_payments::Payments::new(
                config.payments.secret_key.expose(),
                config.payments.api_base.as_deref(),
            )
            .context("STRIPE_SECRET_KEY")?,
            terms: config.terms,
        });
        let broker = BrokerLink::start(
            config.rabbitmq_url.clone(),
            config.common.namespace.clone(),
            format!("{SERVICE}:{}", std::process::id()),
        );
        let consuming = Arc::new(AtomicUsize::new(0));
        let readiness = {
            let broker = broker.clone();
            let consuming = consuming.clone();
            ops::Readiness::default()
                .probe("store", handlers.store.clone(), |store| async move {
                    store.ping().await
                })
                .probe("redis", handlers.redis.clone(), |redis| async move {
                    redis.ping().await
                })
                .probe("search", handlers.search.clone(), |search| async move {
                    search.ping().await
                })
                .check("rabbitmq", move || {
                    // Ready only while every concern has a live subscription.
                    let ready = broker.current().is_some()
                        && consuming.load(Ordering::Relaxed) == Concern::ALL.len();
                    std::future::ready(
                        ready
                            .then_some(())
                            .ok_or_else(|| "not connected or not consuming".to_owned()),
                    )
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
            handlers,
            consuming,
            consumer: consumer::Settings {
                prefetch: config.prefetch,
                concurrency: config.concurrency,
                retry: config.retry,
            },
            reconciler: config.reconciler,
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
        let consumers: Vec<_> = Concern::ALL
            .into_iter()
            .map(|concern| {
                tokio::spawn(consumer::run(
                    concern,
                    self.broker.clone(),
                    self.handlers.clone(),
                    self.consumer.clone(),
                    self.consuming.clone(),
                    self.shutdown.clone(),
                ))
            })
            .collect();
        let reconciler = tokio::spawn(reconciler::run(
            self.handlers.clone(),
            self.reconciler,
            self.shutdown.clone(),
        ));
        http::serve(self.listener, self.router, self.shutdown.clone()).await?;
        reconciler.await.context("reconciler task")?;
        for consumer in consumers {
            consumer.await.context("consumer task")?;
        }
        self.broker.close().await;
        tracing::info!("worker stopped");
        Ok(())
    }
}
