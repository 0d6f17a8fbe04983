//! Reading configuration from environment variables (and an optional `.env` file).
//!
//! Every binary describes its configuration as a typed struct built through [`EnvReader`], which
//! collects *all* problems before failing, so an operator fixes a bad deployment in one go and
//! every message names the variable at fault.

use std::{collections::HashMap, fmt, str::FromStr};

use jiff::SignedDuration;
use noillin_domain::booking::MarketTerms;

/// Where values come from: the process environment, over an optional `.env` file.
#[derive(Debug, Clone, Default)]
pub struct EnvSource {
    vars: HashMap<String, String>,
}

impl EnvSource {
    /// The process environment, after loading `.env` from the working directory if present.
    /// Variables already set in the environment win over the file.
    pub fn from_process() -> Result<Self, ConfigError> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => {
                return Err(ConfigError {
                    problems: vec![format!(".env: cannot be read: {e}")],
                });
            }
        }
        Ok(Self {
            vars: std::env::vars().collect(),
        })
    }

    /// A fixed set of variables (tests build configuration in code).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Starts reading a configuration.
    pub fn reader(&self) -> EnvReader<'_> {
        EnvReader {
            source: self,
            problems: Vec::new(),
        }
    }
}

/// Reads typed values, remembering every problem instead of stopping at the first.
pub struct EnvReader<'a> {
    source: &'a EnvSource,
    problems: Vec<String>,
}

impl EnvReader<'_> {
    /// An optional string.
    pub fn optional(&mut self, name: &str) -> Option<String> {
        self.source.get(name).map(str::to_owned)
    }

    /// A string with a default.
    pub fn string_or(&mut self, name: &str, default: &str) -> String {
        self.optional(name).unwrap_or_else(|| default.to_owned())
    }

    /// A value that must be set; records a problem (and returns `None`) when it is not.
    pub fn required(&mut self, name: &str) -> Option<String> {
        let value = self.optional(name);
        if value.is_none() {
            self.problems
                .push(format!("{name}: is required but not set"));
        }
        value
    }

    /// A parsed value with a default; a value that does not parse is a problem, not the default.
    pub fn parse_or<T>(&mut self, name: &str, default: T) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.source.get(name) {
            None => default,
            Some(raw) => match raw.parse() {
                Ok(value) => value,
                Err(e) => {
                    self.problems.push(format!("{name}: {e} (got {raw:?})"));
                    default
                }
            },
        }
    }

    /// A secret of at least `min_len` bytes. The value itself never appears in a message.
    pub fn secret(&mut self, name: &str, min_len: usize) -> Option<Secret> {
        let value = self.required(name)?;
        if value.len() < min_len {
            self.problems
                .push(format!("{name}: must be at least {min_len} bytes long"));
            return None;
        }
        Some(Secret(value))
    }

    /// A comma-separated list.
    pub fn list(&mut self, name: &str) -> Vec<String> {
        self.source
            .get(name)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Records a problem found by the caller's own validation.
    pub fn problem(&mut self, name: &str, message: impl fmt::Display) {
        self.problems.push(format!("{name}: {message}"));
    }

    /// Ends reading: `Ok(value)` when nothing was wrong, otherwise every problem at once.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ConfigError> {
        if !self.problems.is_empty() {
            return Err(ConfigError {
                problems: self.problems,
            });
        }
        build().ok_or_else(|| ConfigError {
            problems: vec!["configuration incomplete".to_owned()],
        })
    }
}

/// A configuration value that must never be printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The raw value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Everything wrong with a configuration, one line per variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  {}", problems.join("\n  "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Pretty,
    /// One JSON object per line (production).
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "pretty" | "text" => Ok(Self::Pretty),
            "json" => Ok(Self::Json),
            _ => Err("expected `pretty` or `json`".to_owned()),
        }
    }
}

/// Settings every binary shares.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// TCP port on 127.0.0.1 (0 picks a free one, which is then logged).
    pub port: u16,
    /// Log line format (`LOG_FORMAT`).
    pub log_format: LogFormat,
    /// Prefix of every Redis key and RabbitMQ name this deployment owns (`NAMESPACE`), so that
    /// several deployments or test runs share one server without seeing each other.
    pub namespace: String,
}

impl CommonConfig {
    /// Reads `PORT`, `LOG_FORMAT` and `NAMESPACE`.
    pub fn read(env: &mut EnvReader<'_>, default_port: u16) -> Self {
        let namespace = env.string_or("NAMESPACE", "noillin");
        if !is_valid_namespace(&namespace) {
            env.problem(
                "NAMESPACE",
                "use 1-64 characters among a-z, 0-9, '-' and '_'",
            );
        }
        Self {
            port: env.parse_or("PORT", default_port),
            log_format: env.parse_or("LOG_FORMAT", LogFormat::Pretty),
            namespace,
        }
    }
}

/// The marketplace's terms, read the same way by every binary that applies them:
/// `PLATFORM_FEE_BPS` (0–10,000, default 1,500), `PAYOUT_DELAY_HOURS` (default 24),
/// `AUTO_COMPLETE_HOURS` (default 72) and `MAX_REVISIONS` (0–20, default 2). Hours may be
/// fractional (`0.001` is 3.6 s), for tests and demonstrations.
pub fn market_terms(env: &mut EnvReader<'_>) -> MarketTerms {
    let defaults = MarketTerms::default();
    let fee_bps = env.parse_or("PLATFORM_FEE_BPS", defaults.fee_bps);
    if fee_bps > 10_000 {
        env.problem("PLATFORM_FEE_BPS", "must be from 0 to 10000");
    }
    let max_revisions = env.parse_or("MAX_REVISIONS", defaults.max_revisions);
    if max_revisions > 20 {
        env.problem("MAX_REVISIONS", "must be from 0 to 20");
    }
    MarketTerms {
        fee_bps: fee_bps.min(10_000),
        payout_delay: hours(env, "PAYOUT_DELAY_HOURS", defaults.payout_delay),
        approval_window: hours(env, "AUTO_COMPLETE_HOURS", defaults.approval_window),
        max_revisions,
    }
}

/// A duration written in hours, fractions allowed, from 0 to a year.
fn hours(env: &mut EnvReader<'_>, name: &str, default: SignedDuration) -> SignedDuration {
    let default_hours = default.as_secs_f64() / 3_600.0;
    let value = env.parse_or(name, default_hours);
    if !(0.0..=8_784.0).contains(&value) {
        env.problem(name, "must be a number of hours from 0 to 8784");
        return default;
    }
    SignedDuration::try_from_secs_f64(value * 3_600.0).unwrap_or(default)
}

fn is_valid_namespace(ns: &str) -> bool {
    (1..=64).contains(&ns.len())
        && ns
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_variable_name() {
        let source = EnvSource::from_pairs([("PORT", "eighty"), ("NAMESPACE", "Bad Name")]);
        let mut env = source.reader();
        let common = CommonConfig::read(&mut env, 4000);
        let _ = env.required("REDIS_URL");
        let err = env.finish(|| Some(common)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("PORT:"), "{text}");
        assert!(text.contains("NAMESPACE:"), "{text}");
        assert!(text.contains("REDIS_URL: is required"), "{text}");
        assert_eq!(err.problems.len(), 3);
    }

    #[test]
    fn defaults_apply_when_variables_are_absent_or_blank() {
        let source = EnvSource::from_pairs([("PORT", "  ")]);
        let mut env = source.reader();
        let common = CommonConfig::read(&mut env, 4000);
        let common = env.finish(|| Some(common)).unwrap();
        assert_eq!(common.port, 4000);
        assert_eq!(common.log_format, LogFormat::Pretty);
        assert_eq!(common.namespace, "noillin");
    }

    #[test]
    fn a_short_secret_is_refused_without_echoing_it() {
        let source = EnvSource::from_pairs([("JWT_SECRET", "hunter2")]);
        let mut env = source.reader();
        let secret = env.secret("JWT_SECRET", 32);
        assert!(secret.is_none());
        let err = env.finish(|| Some(())).unwrap_err().to_string();
        assert!(err.contains("JWT_SECRET: must be at least 32 bytes"));
        assert!(!err.contains("hunter2"));
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }

    #[test]
    fn market_terms_take_fractional_hours_and_refuse_what_is_out_of_range() {
        let source = EnvSource::from_pairs([
            ("PLATFORM_FEE_BPS", "1000"),
            ("PAYOUT_DELAY_HOURS", "0.5"),
            ("AUTO_COMPLETE_HOURS", "0.001"),
        ]);
        let mut env = source.reader();
        let terms = market_terms(&mut env);
        let terms = env.finish(|| Some(terms)).unwrap();
        assert_eq!(terms.fee_bps, 1_000);
        assert_eq!(terms.payout_delay, SignedDuration::from_mins(30));
        assert_eq!(terms.approval_window, SignedDuration::from_millis(3_600));
        assert_eq!(terms.max_revisions, 2);

        let source =
            EnvSource::from_pairs([("PLATFORM_FEE_BPS", "10001"), ("AUTO_COMPLETE_HOURS", "-1")]);
        let mut env = source.reader();
        let _ = market_terms(&mut env);
        let err = env.finish(|| Some(())).unwrap_err().to_string();
        assert!(err.contains("PLATFORM_FEE_BPS"), "{err}");
        assert!(err.contains("AUTO_COMPLETE_HOURS"), "{err}");
    }

    #[test]
    fn lists_split_on_commas_and_drop_blanks() {
        let source =
            EnvSource::from_pairs([("ALLOWED_ORIGINS", " https://a.example, ,https://b.example")]);
        let mut env = source.reader();
        assert_eq!(
            env.list("ALLOWED_ORIGINS"),
            vec!["https://a.example", "https://b.example"]
        );
    }
}
