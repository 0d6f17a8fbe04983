//! `spawn_app`: core-api built in-process on a free port, against a SQLite store in a temporary
//! directory and a namespace of its own on the shared Redis and RabbitMQ, torn down when dropped.

use std::thread::JoinHandle;

use core_api::{App, Config};
use noillin_service::{ServiceConfig, config::EnvSource, http, shutdown::Shutdown};
use noillin_test_support::{ApiClient, rabbitmq_url, redis_url, unique_namespace};
use tempfile::TempDir;

/// A running core-api. Dropping it stops the app (in-flight requests drained, the outbox relay
/// and the broker connection closed), then deletes its Redis keys, RabbitMQ names and files.
pub struct TestApp {
    /// `http://127.0.0.1:{port}`.
    pub address: String,
    /// A client of this app's `/api/v1`.
    pub api: ApiClient,
    pub namespace: String,
    /// The hold time it runs with: its expiry messages wait in a holding queue of that delay.
    hold_ttl: std::time::Duration,
    /// The delay of its unread-message checks: another holding queue.
    chat_mail_delay: std::time::Duration,
    /// The Stripe the app makes its payment intents with (no webhooks: no worker runs here).
    pub stripe: noillin_stripe_standin::StandIn,
    shutdown: Shutdown,
    /// The app runs on a runtime of its own, on this thread: joining it proves every task of the
    /// app has ended, so nothing re-declares RabbitMQ names after the cleanup deleted them.
    server: Option<JoinHandle<()>>,
    _dir: TempDir,
}

/// Starts core-api with the test's settings plus `extra` variables.
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    noillin_service::install_crypto_provider();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let namespace = unique_namespace();
    let mut vars = vec![
        ("PORT".to_owned(), "0".to_owned()),
        ("NAMESPACE".to_owned(), namespace.clone()),
        ("REDIS_URL".to_owned(), redis_url()),
        ("RABBITMQ_URL".to_owned(), rabbitmq_url()),
        (
            "JWT_SECRET".to_owned(),
            format!("in-process-secret-{}", uuid::Uuid::new_v4().simple()),
        ),
        ("DATA_DIR".to_owned(), dir.path().display().to_string()),
    ];
    let stripe = noillin_test_support::start_stripe().await;
    vars.extend(noillin_test_support::stripe_env(&stripe));
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let config = Config::from_env(&EnvSource::from_pairs(vars)).expect("a valid configuration");
    let hold_ttl = config.bookings.hold_ttl;
    let chat_mail_delay = config.chat.mail_delay;

    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the app");
        runtime.block_on(async move {
            let app = match App::build(config, http::unregistered_metrics()).await {
                Ok(app) => app,
                Err(e) => {
                    let _ = started_tx.send(Err(format!("{e:#}")));
                    return;
                }
            };
            let _ = started_tx.send(
                app.port()
                    .map_err(|e| e.to_string())
                    .map(|port| (port, app.shutdown())),
            );
            if let Err(e) = app.run_until_stopped().await {
                eprintln!("core-api stopped on an error: {e:#}");
            }
        });
    });
    let (port, shutdown) = started_rx
        .await
        .expect("the app thread reports its start")
        .expect("core-api builds");
    let address = format!("http://127.0.0.1:{port}");
    TestApp {
        api: ApiClient::new(&address),
        address,
        namespace,
        hold_ttl,
        chat_mail_delay,
        stripe,
        shutdown,
        server: Some(server),
        _dir: dir,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
        noillin_test_support::delete_shared_state(&self.namespace, Default::default());
        noillin_test_support::delete_delay_tiers(
            &self.namespace,
            &[self.hold_ttl, self.chat_mail_delay],
        );
    }
}

impl TestApp {
    /// Where the app reads the embedded search index (`DATA_DIR/search`): a test opens it for
    /// writing, as the worker would.
    pub fn search_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("search")
    }

    /// The app's own store (its SQLite file, opened a second time), for writing what another
    /// process would: a notification the worker would have stored, say.
    pub async fn store(&self) -> noillin_store::Store {
        noillin_store::open(&noillin_store::StoreConfig::Embedded {
            data_dir: self._dir.path().to_owned(),
        })
        .await
        .expect("the app's SQLite store opens")
    }
}

/// A new administrator of `app`, made as `core-api admin create` makes one (on the app's own
/// store, opened a second time), signed in through the API.
pub async fn sign_in_new_admin(app: &TestApp) -> noillin_test_support::TestUser {
    let email = format!(
        "admin-{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let password = "admin passphrase long enough".to_owned();
    let store = app.store().await;
    let admin = core_api::accounts::create_admin(
        &store,
        &email,
        password.clone().into(),
        "Test Admin",
        jiff::Timestamp::now(),
    )
    .await
    .expect("admin created");
    let login = app.api.login(&email, &password).await;
    assert_eq!(
        login.status,
        reqwest::StatusCode::OK,
        "admin login: {:?}",
        login.body
    );
    noillin_test_support::TestUser::from_tokens(
        email,
        password,
        &serde_json::json!({ "id": admin.id.to_string() }),
        &login.body,
    )
}
