//! core-api configuration, read from the environment.

use std::time::Duration;

use crate::{
    accounts::{AuthSettings, secrets::HashingLimits},
    bookings::BookingSettings,
    chat::ChatSettings,
};

use noillin_search::SearchConfig;
use noillin_service::{
    ServiceConfig,
    config::{CommonConfig, ConfigError, EnvSource, Secret},
};
use noillin_store::StoreConfig;

/// Port core-api listens on unless `PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 4000;

#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`, `LOG_FORMAT`, `NAMESPACE`.
    pub common: CommonConfig,
    /// `REDIS_URL`: rate limits, session state for realtime, pushes.
    pub redis_url: String,
    /// `RABBITMQ_URL`: domain events and jobs.
    pub rabbitmq_url: String,
    /// `MONGO_URI` when set, otherwise the embedded SQLite file under `DATA_DIR`.
    pub store: StoreConfig,
    /// `MEILI_HOST` (with `MEILI_API_KEY`, `MEILI_INDEX_PREFIX`) when set, otherwise the
    /// worker's embedded index under `DATA_DIR/search`, opened read-only.
    pub search: SearchConfig,
    /// `JWT_SECRET`: signs access tokens (at least 32 bytes).
    pub jwt_secret: Secret,
    /// Token lifetimes and sign-in limits (`ACCESS_TOKEN_TTL_SECS`, `REFRESH_TOKEN_TTL_SECS`,
    /// `LOGIN_MAX_FAILURES_PER_ACCOUNT`, `LOGIN_MAX_FAILURES_PER_IP`, `LOGIN_FAILURE_WINDOW_SECS`).
    pub auth: AuthSettings,
    /// `OUTBOX_MAX_ATTEMPTS`: refusals by the broker after which an outbox message is parked.
    pub outbox_max_attempts: u32,
    /// `PASSWORD_HASH_CONCURRENCY`, `PASSWORD_HASH_QUEUE`: how much password hashing runs and
    /// waits at once.
    pub hashing: HashingLimits,
    /// `HOLD_TTL_SECS`, `MAX_LIVE_HOLDS_PER_BRAND`: how long an unpaid hold keeps its slot, and
    /// how many a brand may have at once.
    pub bookings: BookingSettings,
    /// `CHAT_OPENS_PER_HOUR`, `CHAT_MAIL_DELAY_SECS`: new conversations a brand may open in an
    /// hour, and how long a message stays unread before its recipient is mailed about it.
    pub chat: ChatSettings,
    /// `STRIPE_SECRET_KEY`, `STRIPE_API_BASE` (Stripe's own when unset) and
    /// `STRIPE_WEBHOOK_SECRETS` (comma-separated: during a rotation, the old and the new).
    pub payments: PaymentsSettings,
}

/// How core-api reaches Stripe and checks its webhooks.
#[derive(Debug, Clone)]
pub struct PaymentsSettings {
    pub secret_key: Secret,
    pub api_base: Option<String>,
    pub webhook_secrets: Vec<Secret>,
    /// `DASHBOARD_URL`: the influencer dashboard, where Stripe sends an influencer back after
    /// onboarding their payout account (`payouts?onboarding=done|retry` under it). Set by the
    /// operator, never by a request, so the platform redirects nobody elsewhere.
    pub dashboard_url: String,
}

impl ServiceConfig for Config {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn from_env(source: &EnvSource) -> Result<Self, ConfigError> {
        let mut env = source.reader();
        let common = CommonConfig::read(&mut env, DEFAULT_PORT);
        let redis_url = env.string_or("REDIS_URL", noillin_redis::DEFAULT_URL);
        let rabbitmq_url = env.string_or("RABBITMQ_URL", noillin_messaging::DEFAULT_URL);
        if let Err(e) = noillin_messaging::check_url(&rabbitmq_url) {
            env.problem("RABBITMQ_URL", e);
        }
        let store = StoreConfig::from_vars(|name| env.optional(name));
        let search = SearchConfig::from_vars(|name| env.optional(name), true);
        let jwt_secret = env.secret("JWT_SECRET", 32);
        let mut positive = |name: &str, default: u64| {
            let value = env.parse_or(name, default);
            if value == 0 {
                env.problem(name, "must be at least 1");
            }
            value
        };
        let auth = AuthSettings {
            access_ttl: Duration::from_secs(positive("ACCESS_TOKEN_TTL_SECS", 15 * 60)),
            refresh_ttl: Duration::from_secs(positive("REFRESH_TOKEN_TTL_SECS", 30 * 24 * 3600)),
            reset_ttl: Duration::from_secs(positive("PASSWORD_RESET_TTL_SECS", 30 * 60)),
            max_failures_per_account: positive("LOGIN_MAX_FAILURES_PER_ACCOUNT", 10),
            max_failures_per_ip: positive("LOGIN_MAX_FAILURES_PER_IP", 100),
            failure_window: Duration::from_secs(positive("LOGIN_FAILURE_WINDOW_SECS", 15 * 60)),
            max_resets_per_hour: positive("PASSWORD_RESETS_PER_HOUR", 3),
        };
        let outbox_max_attempts =
            env.parse_or::<u32>("OUTBOX_MAX_ATTEMPTS", crate::outbox::DEFAULT_MAX_ATTEMPTS);
        if outbox_max_attempts == 0 {
            env.problem("OUTBOX_MAX_ATTEMPTS", "must be at least 1");
        }
        let hashing = HashingLimits {
            concurrency: bounded(
                &mut env,
                "PASSWORD_HASH_CONCURRENCY",
                HashingLimits::default_concurrency(),
                1..=HashingLimits::MAX_CONCURRENCY,
            ),
            queue: bounded(
                &mut env,
                "PASSWORD_HASH_QUEUE",
                HashingLimits::DEFAULT_QUEUE,
                0..=HashingLimits::MAX_QUEUE,
            ),
        };
        let bookings = BookingSettings {
            hold_ttl: Duration::from_secs(
                bounded(&mut env, "HOLD_TTL_SECS", 900, 1..=86_400) as u64
            ),
            max_live_holds: bounded(&mut env, "MAX_LIVE_HOLDS_PER_BRAND", 5, 1..=100) as u32,
            terms: noillin_service::config::market_terms(&mut env),
        };
        let chat = ChatSettings {
            opens_per_hour: bounded(&mut env, "CHAT_OPENS_PER_HOUR", 30, 1..=100_000) as u64,
            mail_delay: Duration::from_secs(bounded(
                &mut env,
                "CHAT_MAIL_DELAY_SECS",
                900,
                1..=7 * 86_400,
            ) as u64),
        };
        let mut dashboard_url = env.string_or("DASHBOARD_URL", "http://localhost:8080/");
        if !(dashboard_url.starts_with("https://") || dashboard_url.starts_with("http://")) {
            env.problem("DASHBOARD_URL", "must be an http(s) URL");
        }
        if !dashboard_url.ends_with('/') {
            dashboard_url.push('/');
        }
        let secret_key = env.secret("STRIPE_SECRET_KEY", 1);
        let api_base = env.optional("STRIPE_API_BASE");
        let webhook_secrets: Vec<Secret> = env
            .list("STRIPE_WEBHOOK_SECRETS")
            .into_iter()
            .map(Secret::new)
            .collect();
        if webhook_secrets.is_empty() {
            env.problem("STRIPE_WEBHOOK_SECRETS", "at least one secret is required");
        }
        env.finish(|| {
            Some(Self {
                common,
                redis_url,
                rabbitmq_url,
                store,
                search,
                jwt_secret: jwt_secret?,
                auth,
                outbox_max_attempts,
                hashing,
                bookings,
                chat,
                payments: PaymentsSettings {
                    secret_key: secret_key?,
                    api_base,
                    webhook_secrets,
                    dashboard_url,
                },
            })
        })
    }
}

/// A count read from `name`, reported as a problem when outside `range`.
fn bounded(
    env: &mut noillin_service::config::EnvReader<'_>,
    name: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> usize {
    let value = env.parse_or(name, default);
    if !range.contains(&value) {
        env.problem(
            name,
            format!("must be from {} to {}", range.start(), range.end()),
        );
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn read(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut vars = vec![
            ("JWT_SECRET", SECRET),
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRETS", "whsec_old, whsec_new"),
        ];
        vars.extend_from_slice(pairs);
        Config::from_env(&EnvSource::from_pairs(vars))
    }

    #[test]
    fn outbox_max_attempts_defaults_to_ten_and_must_be_a_positive_count() {
        assert_eq!(read(&[]).unwrap().outbox_max_attempts, 10);
        assert_eq!(
            read(&[("OUTBOX_MAX_ATTEMPTS", "3")])
                .unwrap()
                .outbox_max_attempts,
            3
        );
        for bad in ["0", "-1", "many", "99999999999"] {
            let problems = read(&[("OUTBOX_MAX_ATTEMPTS", bad)]).unwrap_err().problems;
            assert!(
                problems.len() == 1 && problems[0].starts_with("OUTBOX_MAX_ATTEMPTS:"),
                "{bad}: {problems:?}"
            );
        }
    }

    #[test]
    fn every_webhook_secret_of_a_rotation_is_kept_and_none_is_printed() {
        let config = read(&[]).unwrap();
        let secrets: Vec<&str> = config
            .payments
            .webhook_secrets
            .iter()
            .map(Secret::expose)
            .collect();
        assert_eq!(secrets, ["whsec_old", "whsec_new"]);
        let printed = format!("{config:?}");
        assert!(
            !printed.contains("whsec_") && !printed.contains("sk_test"),
            "{printed}"
        );
        let problems = read(&[("STRIPE_WEBHOOK_SECRETS", " , ")])
            .unwrap_err()
            .problems;
        assert!(
            problems[0].starts_with("STRIPE_WEBHOOK_SECRETS:"),
            "{problems:?}"
        );
    }

    #[test]
    fn password_hashing_runs_one_job_per_core_by_default() {
        let config = read(&[]).unwrap();
        assert_eq!(config.hashing, HashingLimits::default());
        assert!(config.hashing.concurrency >= 1);
        let config = read(&[
            ("PASSWORD_HASH_CONCURRENCY", "3"),
            ("PASSWORD_HASH_QUEUE", "0"),
        ])
        .unwrap();
        assert_eq!(
            config.hashing,
            HashingLimits {
                concurrency: 3,
                queue: 0
            }
        );
    }

    #[test]
    fn password_hashing_limits_out_of_range_are_refused_at_start() {
        for (name, value) in [
            ("PASSWORD_HASH_CONCURRENCY", "0"),
            ("PASSWORD_HASH_CONCURRENCY", "257"),
            ("PASSWORD_HASH_CONCURRENCY", "many"),
            ("PASSWORD_HASH_QUEUE", "65537"),
            ("PASSWORD_HASH_QUEUE", "-1"),
        ] {
            let problems = read(&[(name, value)]).unwrap_err().problems;
            assert!(
                problems.iter().any(|p| p.starts_with(name)),
                "{name}={value}: {problems:?}"
            );
        }
    }
}
