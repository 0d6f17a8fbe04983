//! core-api: accounts, profiles, gigs, availability and slots, notifications and the admin API,
//! under `/api/v1`. Writes the store, keeps rate limits and session state in Redis, and publishes
//! domain events to RabbitMQ through the transactional outbox.

pub mod accounts;
mod availability;
mod bookings;
mod chat;
pub mod cli;
pub mod clock;
mod config;
mod earnings;
mod error;
mod extract;
mod gigs;
mod idempotency;
mod notifications;
pub mod outbox;
mod paging;
mod payments;
mod profiles;
mod reviews;
mod routes;
mod search;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use noillin_auth::TokenKeys;
use noillin_domain::event::Event;
use noillin_messaging::BrokerLink;
use noillin_redis::Redis;
use noillin_service::{http, ops::Readiness, shutdown::Shutdown};
use noillin_store::Store;
use tokio::net::TcpListener;

pub use bookings::BookingSettings;
pub use chat::ChatSettings;
pub use config::{Config, DEFAULT_PORT};
pub use routes::api as api_description;

const SERVICE: &str = "core-api";

/// What every request handler and use case can reach. Cloned for every request (axum's `State`),
/// so it is one reference-counted pointer.
#[derive(Clone)]
pub struct AppState(std::sync::Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The process's handles and settings behind [`AppState`].
pub struct Services {
    /// The source of truth.
    pub store: Store,
    /// Locks, rate limits and pushes.
    pub redis: Redis,
    /// Tells this process's outbox relay that messages wait. (Requests never publish to the
    /// broker themselves, so they get no handle on it.)
    pub relay_waker: outbox::RelayWaker,
    /// Signs and checks access tokens.
    pub tokens: TokenKeys,
    /// Token lifetimes and sign-in limits.
    pub auth: accounts::AuthSettings,
    /// A real argon2id hash of a random password: sign-ins for unknown emails verify against
    /// it, so they take as long as sign-ins with a wrong password.
    pub dummy_password_hash: String,
    /// What time it is for the services.
    pub clock: std::sync::Arc<dyn clock::Clock>,
    /// Hold time and the cap on a brand's unpaid holds.
    pub bookings: bookings::BookingSettings,
    /// Stripe: payment intents and refunds.
    pub payments: noillin_payments::Payments,
    /// Checks Stripe's webhook deliveries.
    pub webhooks: noillin_payments::WebhookVerifier,
    /// Where Stripe sends influencers back after onboarding their payout account.
    pub dashboard_url: String,
    /// The search index, read-only (the worker writes it); opened at first use, so core-api
    /// serves everything else while search is down.
    pub search: std::sync::Arc<noillin_search::LazySearch>,
    /// How many conversations a brand may open, and when unread messages are mailed.
    pub chat: ChatSettings,
}

impl AppState {
    /// Opens the store and prepares the Redis client (connections are made lazily).
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let store = noillin_store::open(&config.store)
            .await
            .context("opening the store")?;
        tracing::info!(adapter = store.adapter(), "store adapter selected");
        accounts::secrets::limit_hashing(config.hashing);
        let redis = Redis::new(&config.redis_url, &config.common.namespace).context("REDIS_URL")?;
        let dummy_password_hash =
            accounts::secrets::hash_password(accounts::secrets::random_token()?).await?;
        let payments = noillin_payments::Payments::new(
            config.payments.secret_key.expose(),
            config.payments.api_base.as_deref(),
        )
        .context("STRIPE_SECRET_KEY")?;
        let webhooks = noillin_payments::WebhookVerifier::new(
            config
                .payments
                .webhook_secrets
                .iter()
                .map(|secret| secret.expose().to_owned()),
        );
        Ok(Self(std::sync::Arc::new(Services {
            store,
            redis,
            relay_waker: outbox::RelayWaker::default(),
            tokens: TokenKeys::new(config.jwt_secret.expose().as_bytes()),
            auth: config.auth.clone(),
            dummy_password_hash,
            clock: clock::system(),
            bookings: config.bookings.clone(),
            chat: config.chat.clone(),
            payments,
            webhooks,
            dashboard_url: config.payments.dashboard_url.clone(),
            search: std::sync::Arc::new(noillin_search::LazySearch::new(config.search.clone())),
        })))
    }
}

/// A built core-api, bound to its port, not yet serving.
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
    /// Domain events out, for the outbox relay; connects and heals in the background.
    broker: BrokerLink,
    relay: outbox::RelaySettings,
    shutdown: Shutdown,
}

impl App {
    /// Builds the app on `config.common.port` (0 picks a free port: see [`App::port`]).
    /// `metrics` renders `/metrics`; the binary passes the process-wide recorder's handle, an
    /// in-process test one of its own.
    pub async fn build(config: Config, metrics: PrometheusHandle) -> anyhow::Result<Self> {
        let state = AppState::connect(&config).await?;
        let broker = BrokerLink::start(
            config.rabbitmq_url.clone(),
            config.common.namespace.clone(),
            format!("{SERVICE}:{}", std::process::id()),
        );
        let router = routes::router(state.clone(), readiness(&state, &broker), metrics);
        let listener = http::bind(config.common.port)
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", config.common.port))?;
        Ok(Self {
            listener,
            router,
            state,
            broker,
            relay: outbox::RelaySettings::with_max_attempts(config.outbox_max_attempts),
            shutdown: Shutdown::default(),
        })
    }

    /// The port the app listens on.
    pub fn port(&self) -> anyhow::Result<u16> {
        Ok(self.listener.local_addr()?.port())
    }

    /// Stops the app when triggered, as SIGTERM does.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Serves until SIGTERM/SIGINT (or [`App::shutdown`]), then drains in-flight requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        http::log_listening(SERVICE, &self.listener)?;
        self.shutdown.trigger_on_signal();
        announce_start(&self.state).await;
        let relay = tokio::spawn(
            outbox::Relay::new(
                self.state.store.outbox.clone(),
                self.broker.clone(),
                self.state.relay_waker.clone(),
                self.relay,
            )
            .run(self.shutdown.clone()),
        );
        http::serve(self.listener, self.router, self.shutdown).await?;
        relay.await.context("outbox relay")?;
        self.broker.close().await;
        tracing::info!("core-api stopped");
        Ok(())
    }
}

fn readiness(state: &AppState, broker: &BrokerLink) -> Readiness {
    let broker = broker.clone();
    Readiness::default()
        .probe("store", state.store.clone(), |store| async move {
            store.ping().await
        })
        .probe("redis", state.redis.clone(), |redis| async move {
            redis.ping().await
        })
        .check("rabbitmq", move || {
            std::future::ready(
                broker
                    .current()
                    .map(drop)
                    .ok_or_else(|| "not connected".to_owned()),
            )
        })
}

/// Puts `system.instance_started` in the outbox, so deployments are visible in the event stream
/// (and the pipeline is proven end to end at every start). A store that cannot take it is no
/// reason not to serve.
async fn announce_start(state: &AppState) {
    let event = Event::InstanceStarted {
        service: SERVICE.to_owned(),
        instance: format!("{}", std::process::id()),
    };
    let appended = async {
        let messages = outbox::messages(vec![event], None)?;
        state.store.outbox.append(&messages).await?;
        anyhow::Ok(())
    };
    match appended.await {
        Ok(()) => state.relay_waker.wake(),
        Err(e) => tracing::warn!(error = %e, "start not announced"),
    }
}
