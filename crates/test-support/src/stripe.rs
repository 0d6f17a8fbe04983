//! The Stripe stand-in as the tests run it: one per platform or in-process app, with keys of
//! its own, and the variables that point core-api and the worker at it.

use std::time::Duration;

use noillin_stripe_standin::{Settings, StandIn};

/// Starts a stand-in on a free port of the current runtime, with keys of its own. Failed
/// deliveries come back after half a second, doubling, so a test that takes the receiver down
/// sees the redelivery within seconds.
pub async fn start_stripe() -> StandIn {
    let id = uuid::Uuid::new_v4().simple().to_string();
    StandIn::start(
        "127.0.0.1:0",
        Settings {
            api_key: format!("sk_test_{id}"),
            webhook_secret: format!("whsec_{id}"),
            webhook_url: None,
            retry_first_delay: Duration::from_millis(500),
            retry_max_attempts: 8,
        },
    )
    .await
    .expect("the Stripe stand-in starts")
}

/// The variables that make core-api and the worker use `stripe`.
pub fn stripe_env(stripe: &StandIn) -> Vec<(String, String)> {
    let settings = stripe.settings();
    vec![
        ("STRIPE_SECRET_KEY".to_owned(), settings.api_key.clone()),
        ("STRIPE_API_BASE".to_owned(), stripe.base_url()),
        (
            "STRIPE_WEBHOOK_SECRETS".to_owned(),
            settings.webhook_secret.clone(),
        ),
    ]
}
