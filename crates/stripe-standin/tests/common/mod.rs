//! What the stand-in's tests share: a stand-in with quick retries, an SDK client for it, and a
//! webhook receiver that verifies every delivery with the SDK's own verifier.

#![allow(dead_code, reason = "each test binary uses a part")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use noillin_stripe_standin::{Settings, StandIn};
use stripe_connect::account::{
    CreateAccount, CreateAccountCapabilities, CreateAccountCapabilitiesTransfers, CreateAccountType,
};
use stripe_webhook::{Event, Webhook, WebhookError};
use tokio::sync::watch;

pub const WEBHOOK_SECRET: &str = "whsec_test_standin_suite";
pub const WAIT: Duration = Duration::from_secs(10);

pub fn settings() -> Settings {
    Settings {
        webhook_secret: WEBHOOK_SECRET.to_owned(),
        retry_first_delay: Duration::from_millis(20),
        retry_max_attempts: 4,
        ..Settings::default()
    }
}

pub async fn start(settings: Settings) -> StandIn {
    // The SDK's rustls needs a process-wide provider; another test may have installed it.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    StandIn::start("127.0.0.1:0", settings)
        .await
        .expect("the stand-in starts")
}

pub fn client(standin: &StandIn) -> stripe::Client {
    client_with_key(standin, &standin.settings().api_key)
}

pub fn client_with_key(standin: &StandIn, key: &str) -> stripe::Client {
    stripe::ClientBuilder::new(key)
        .url(standin.base_url())
        .build()
        .expect("a client for the stand-in")
}

/// What the receiver made of one delivery.
#[derive(Debug)]
pub enum Verified {
    Event(Box<Event>),
    BadTimestamp(i64),
    Refused(String),
}

#[derive(Debug)]
pub struct Received {
    pub id: String,
    pub r#type: String,
    pub object_id: String,
    pub payload: String,
    pub verified: Verified,
    pub answered: u16,
}

impl Received {
    pub fn event(&self) -> &Event {
        match &self.verified {
            Verified::Event(event) => event,
            other => panic!(
                "delivery {} of {} was not verified: {other:?}",
                self.id, self.r#type
            ),
        }
    }
}

#[derive(Default)]
struct Inbox {
    received: Vec<Received>,
    /// Event type → how many more deliveries to answer 500.
    failures: HashMap<String, u32>,
}

/// A webhook endpoint that verifies with `Webhook::construct_event`, answers 400 to what does
/// not verify and 500 to the deliveries it is told to fail.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inbox: Arc<Mutex<Inbox>>,
    changed: Arc<watch::Sender<usize>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the receiver");
        let url = format!(
            "http://{}/webhooks/stripe",
            listener.local_addr().expect("the receiver's address")
        );
        let receiver = Receiver {
            url,
            inbox: Arc::default(),
            changed: Arc::new(watch::channel(0).0),
        };
        let app = Router::new()
            .route("/webhooks/stripe", post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the receiver serves")
        });
        receiver
    }

    /// Answers 500 to the next `times` deliveries of events of type `type_`.
    pub fn fail(&self, type_: &str, times: u32) {
        self.inbox
            .lock()
            .expect("the inbox")
            .failures
            .insert(type_.to_owned(), times);
    }

    /// Waits until `pred` holds for what was received so far.
    pub async fn wait_for(&self, pred: impl Fn(&[Received]) -> bool) {
        let mut changes = self.changed.subscribe();
        let reached = tokio::time::timeout(
            WAIT,
            changes.wait_for(|_| pred(&self.inbox.lock().expect("the inbox").received)),
        )
        .await;
        if reached.is_err() {
            let inbox = self.inbox.lock().expect("the inbox");
            panic!(
                "the receiver did not get what was expected: {:#?}",
                inbox.received
            );
        }
    }

    /// Runs `check` on everything received so far.
    pub fn inspect<R>(&self, check: impl FnOnce(&[Received]) -> R) -> R {
        check(&self.inbox.lock().expect("the inbox").received)
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    payload: String,
) -> StatusCode {
    let signature = headers
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let verified = match Webhook::construct_event(&payload, signature, WEBHOOK_SECRET) {
        Ok(event) => Verified::Event(Box::new(event)),
        Err(WebhookError::BadTimestamp(at)) => Verified::BadTimestamp(at),
        Err(err) => Verified::Refused(err.to_string()),
    };
    let raw: serde_json::Value = serde_json::from_str(&payload).unwrap_or_default();
    let field = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_owned();
    let r#type = field(&raw["type"]);
    let mut inbox = receiver.inbox.lock().expect("the inbox");
    let answered = match (&verified, inbox.failures.get_mut(&r#type)) {
        (Verified::Event(_), Some(left)) if *left > 0 => {
            *left -= 1;
            500
        }
        (Verified::Event(_), _) => 200,
        _ => 400,
    };
    inbox.received.push(Received {
        id: field(&raw["id"]),
        r#type,
        object_id: field(&raw["data"]["object"]["id"]),
        payload,
        verified,
        answered,
    });
    drop(inbox);
    receiver.changed.send_modify(|count| *count += 1);
    StatusCode::from_u16(answered).expect("a status")
}

/// How many deliveries of `type_` about `object_id` were received.
pub fn count(received: &[Received], type_: &str, object_id: &str) -> usize {
    received
        .iter()
        .filter(|r| r.r#type == type_ && r.object_id == object_id)
        .count()
}

/// Metadata with characters the form encoding must carry: a space, brackets, `&` and `=`.
pub fn metadata(booking: &str) -> HashMap<String, String> {
    HashMap::from([
        ("booking_id".to_owned(), booking.to_owned()),
        ("gig id".to_owned(), "g[1]&x=y".to_owned()),
    ])
}

/// An Express account asking for the `transfers` capability, not onboarded.
pub async fn new_account(client: &stripe::Client) -> stripe_shared::Account {
    let mut capabilities = CreateAccountCapabilities::new();
    capabilities.transfers = Some(CreateAccountCapabilitiesTransfers {
        requested: Some(true),
    });
    CreateAccount::new()
        .type_(CreateAccountType::Express)
        .country("FR")
        .email("creator@example.com")
        .business_type(stripe_shared::AccountBusinessType::Individual)
        .capabilities(capabilities)
        .metadata(HashMap::from([("user_id".to_owned(), "u1".to_owned())]))
        .send(client)
        .await
        .expect("the account is created")
}

/// An account that transfers can be made to: created, then onboarded through the controls.
pub async fn onboarded_account(standin: &StandIn, client: &stripe::Client) -> String {
    let account = new_account(client).await.id.to_string();
    standin
        .controls()
        .onboard(&account)
        .await
        .expect("the account is onboarded");
    account
}

/// The Stripe error a call failed with, and its HTTP status.
pub fn stripe_error<T: std::fmt::Debug>(
    result: Result<T, stripe::StripeError>,
) -> (stripe::ApiErrors, u16) {
    match result {
        Err(stripe::StripeError::Stripe(error, status)) => (*error, status),
        other => panic!("expected a Stripe error, got {other:?}"),
    }
}
