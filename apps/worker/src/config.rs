//! worker configuration, read from the environment.

use std::time::Duration;

use noillin_mail::MailTransport;
use noillin_messaging::RetryPolicy;
use noillin_search::SearchConfig;
use noillin_service::{
    ServiceConfig,
    config::{CommonConfig, ConfigError, EnvSource, Secret},
};
use noillin_store::StoreConfig;

/// Port of the worker's operational endpoints unless `PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 4002;

/// Where the worker's mails go.
#[derive(Clone, PartialEq, Eq)]
pub enum MailConfig {
    /// The SMTP relay at this URL (which may hold credentials).
    Smtp(String),
    /// The log, for development only (`MAIL_TRANSPORT=log`).
    Log,
}

impl MailConfig {
    pub fn transport(&self) -> MailTransport<'_> {
        match self {
            MailConfig::Smtp(url) => MailTransport::Smtp(url),
            MailConfig::Log => MailTransport::Log,
        }
    }
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry the relay's password.
        match self {
            MailConfig::Smtp(_) => f.write_str("Smtp(..)"),
            MailConfig::Log => f.write_str("Log"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT` (operational endpoints only), `LOG_FORMAT`, `NAMESPACE`.
    pub common: CommonConfig,
    /// `RABBITMQ_URL`: where the jobs and events come from.
    pub rabbitmq_url: String,
    /// `MONGO_URI` when set, otherwise the embedded SQLite file under `DATA_DIR` (the same
    /// store core-api writes).
    pub store: StoreConfig,
    /// `REDIS_URL`: pushes to the realtime nodes, and the clock that versions search documents.
    pub redis_url: String,
    /// `MEILI_HOST` (with `MEILI_API_KEY`, `MEILI_INDEX_PREFIX`) when set, otherwise the
    /// embedded index under `DATA_DIR/search`, which only the worker writes.
    pub search: SearchConfig,
    /// `SMTP_URL` (`smtp://`, `smtps://`, with credentials if needed), or `MAIL_TRANSPORT=log`
    /// to write mails (reset links included) to the log, for development. One of the two must
    /// be set: mails never go to the log by default.
    pub mail: MailConfig,
    /// `SMTP_TIMEOUT_SECS`: how long a mail waits for the SMTP server before the attempt counts
    /// as failed (transiently).
    pub smtp_timeout: Duration,
    /// `MAIL_FROM`: the sender of every mail.
    pub mail_from: String,
    /// `APP_URL`: where the web apps are, for links in mails.
    pub app_url: String,
    /// `WORKER_PREFETCH`: unacknowledged messages the broker may hand this process per queue.
    pub prefetch: u16,
    /// `WORKER_CONCURRENCY`: messages handled at once per queue (at most the prefetch).
    pub concurrency: usize,
    /// `WORKER_RETRY_DELAYS_MS`: comma-separated waits before each retry of a failed message
    /// (default 1 s, 10 s, 1 min, 5 min, 30 min); after the last, it is parked.
    pub retry: RetryPolicy,
    /// `STRIPE_SECRET_KEY` and `STRIPE_API_BASE` (Stripe's own when unset).
    pub payments: PaymentsSettings,
    /// `RECONCILE_EVERY_SECS` (default 60) and `RECONCILE_GRACE_SECS` (default 300): how often
    /// the payment reconciler walks, and how long after a hold lapsed it steps in.
    pub reconciler: crate::reconciler::Settings,
    /// `PLATFORM_FEE_BPS`, `PAYOUT_DELAY_HOURS`, `AUTO_COMPLETE_HOURS`, `MAX_REVISIONS`: the
    /// terms completion and payouts apply (core-api reads the same ones).
    pub terms: noillin_domain::booking::MarketTerms,
}

/// How the worker reaches Stripe.
#[derive(Debug, Clone)]
pub struct PaymentsSettings {
    pub secret_key: Secret,
    pub api_base: Option<String>,
}

impl ServiceConfig for Config {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn from_env(source: &EnvSource) -> Result<Self, ConfigError> {
        let mut env = source.reader();
        let common = CommonConfig::read(&mut env, DEFAULT_PORT);
        let rabbitmq_url = env.string_or("RABBITMQ_URL", noillin_messaging::DEFAULT_URL);
        if let Err(e) = noillin_messaging::check_url(&rabbitmq_url) {
            env.problem("RABBITMQ_URL", e);
        }
        let store = StoreConfig::from_vars(|name| env.optional(name));
        let redis_url = env.string_or("REDIS_URL", noillin_redis::DEFAULT_URL);
        let search = SearchConfig::from_vars(|name| env.optional(name), false);
        let mail = match (env.optional("SMTP_URL"), env.optional("MAIL_TRANSPORT")) {
            (Some(url), None) => Some(MailConfig::Smtp(url)),
            (Some(url), Some(transport)) if transport.eq_ignore_ascii_case("smtp") => {
                Some(MailConfig::Smtp(url))
            }
            (None, Some(transport)) if transport.eq_ignore_ascii_case("log") => {
                Some(MailConfig::Log)
            }
            (None, None) => {
                env.problem(
                    "SMTP_URL",
                    "must be set, or MAIL_TRANSPORT=log to write mails (reset links included) \
                     to the log, for development only",
                );
                None
            }
            (_, Some(transport)) if transport.eq_ignore_ascii_case("log") => {
                env.problem(
                    "MAIL_TRANSPORT",
                    "is `log` while SMTP_URL is set: choose one",
                );
                None
            }
            (_, Some(_)) => {
                env.problem("MAIL_TRANSPORT", "must be `smtp` (with SMTP_URL) or `log`");
                None
            }
        };
        let smtp_timeout = env.parse_or("SMTP_TIMEOUT_SECS", 10u64);
        if !(1..=300).contains(&smtp_timeout) {
            env.problem("SMTP_TIMEOUT_SECS", "must be between 1 and 300");
        }
        let mail_from = env.string_or("MAIL_FROM", "Noillin <no-reply@noillin.local>");
        let app_url = env
            .string_or("APP_URL", "http://localhost:8080")
            .trim_end_matches('/')
            .to_owned();
        if !(app_url.starts_with("http://") || app_url.starts_with("https://")) {
            env.problem("APP_URL", "must be an http:// or https:// URL");
        }
        let prefetch = env.parse_or("WORKER_PREFETCH", 32u16);
        if prefetch == 0 {
            env.problem("WORKER_PREFETCH", "must be at least 1");
        }
        let concurrency = env.parse_or("WORKER_CONCURRENCY", 8usize);
        if concurrency == 0 || concurrency > usize::from(prefetch.max(1)) {
            env.problem(
                "WORKER_CONCURRENCY",
                "must be between 1 and WORKER_PREFETCH",
            );
        }
        let retry = env.parse_or("WORKER_RETRY_DELAYS_MS", RetryPolicy::default());
        let secret_key = env.secret("STRIPE_SECRET_KEY", 1);
        let api_base = env.optional("STRIPE_API_BASE");
        let mut seconds = |name: &str, default: u64| {
            let value = env.parse_or(name, default);
            if !(1..=86_400).contains(&value) {
                env.problem(name, "must be between 1 and 86400");
            }
            Duration::from_secs(value)
        };
        let reconciler = crate::reconciler::Settings {
            every: seconds("RECONCILE_EVERY_SECS", 60),
            grace: seconds("RECONCILE_GRACE_SECS", 300),
        };
        let terms = noillin_service::config::market_terms(&mut env);
        env.finish(|| {
            Some(Self {
                common,
                rabbitmq_url,
                store,
                redis_url,
                search,
                mail: mail?,
                smtp_timeout: Duration::from_secs(smtp_timeout),
                mail_from,
                app_url,
                prefetch,
                concurrency,
                retry,
                payments: PaymentsSettings {
                    secret_key: secret_key?,
                    api_base,
                },
                reconciler,
                terms,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut vars = vec![("STRIPE_SECRET_KEY", "sk_test_worker")];
        vars.extend_from_slice(pairs);
        Config::from_env(&EnvSource::from_pairs(vars))
    }

    #[test]
    fn without_smtp_url_or_log_transport_the_worker_refuses_to_start_naming_both() {
        let error = config(&[]).unwrap_err().to_string();
        assert!(error.contains("SMTP_URL"), "{error}");
        assert!(error.contains("MAIL_TRANSPORT=log"), "{error}");
    }

    #[test]
    fn mails_go_to_the_log_only_when_chosen() {
        assert_eq!(
            config(&[("MAIL_TRANSPORT", "log")]).unwrap().mail,
            MailConfig::Log
        );
        assert_eq!(
            config(&[("SMTP_URL", "smtp://127.0.0.1:25")]).unwrap().mail,
            MailConfig::Smtp("smtp://127.0.0.1:25".into())
        );
        for (pairs, variable) in [
            (
                &[
                    ("SMTP_URL", "smtp://127.0.0.1:25"),
                    ("MAIL_TRANSPORT", "log"),
                ][..],
                "MAIL_TRANSPORT",
            ),
            (
                &[("MAIL_TRANSPORT", "carrier-pigeon")][..],
                "MAIL_TRANSPORT",
            ),
        ] {
            let error = config(pairs).unwrap_err().to_string();
            assert!(error.contains(variable), "{pairs:?}: {error}");
        }
    }

    #[test]
    fn the_worker_writes_the_embedded_index_unless_meilisearch_is_configured() {
        match config(&[("MAIL_TRANSPORT", "log"), ("DATA_DIR", "/srv/noillin")])
            .unwrap()
            .search
        {
            SearchConfig::Embedded { dir, read_only } => {
                assert_eq!(dir, std::path::Path::new("/srv/noillin/search"));
                assert!(!read_only, "the worker is the embedded index's one writer");
            }
            other => panic!("{other:?}"),
        }
        let meili = config(&[
            ("MAIL_TRANSPORT", "log"),
            ("MEILI_HOST", "http://127.0.0.1:7700"),
            ("MEILI_API_KEY", "hunter2-master-key"),
        ])
        .unwrap();
        assert!(matches!(meili.search, SearchConfig::Meili { .. }));
        assert!(!format!("{meili:?}").contains("hunter2"));
    }

    #[test]
    fn the_smtp_url_and_the_stripe_key_never_show_in_debug_output() {
        let config = config(&[("SMTP_URL", "smtp://user:hunter2@mail.example.com:587")]).unwrap();
        let printed = format!("{config:?}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("sk_test"),
            "{printed}"
        );
    }
}
