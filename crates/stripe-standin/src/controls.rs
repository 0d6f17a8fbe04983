//! The test controls' wire types and [`Controls`], their typed client.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// `PUT /_sim/webhooks`: every field left out keeps its value.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WebhookSettings {
    /// Where events are POSTed; an empty string removes the endpoint.
    pub url: Option<String>,
    /// Wait before the first attempt of each delivery.
    pub delay_ms: Option<u64>,
    /// Extra copies of each event, sent after it (same id, same payload).
    pub duplicates: Option<u32>,
    /// Hold new events until a flush (or until unpaused, which flushes in order).
    pub paused: Option<bool>,
}

/// The order in which `POST /_sim/webhooks/flush` sends the held events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlushOrder {
    #[default]
    Fifo,
    Reverse,
}

/// An event the stand-in created, with every delivery attempt made for it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventRecord {
    pub id: String,
    pub r#type: String,
    /// The id of the event's `data.object`.
    pub object_id: String,
    pub deliveries: Vec<Delivery>,
    /// Some attempt was answered 2xx.
    pub delivered: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Delivery {
    /// Unix seconds when the attempt ended.
    pub at: i64,
    /// The HTTP status answered; `None` for a connection error or a timeout.
    pub status: Option<u16>,
}

/// A transfer the stand-in made, as `GET /_sim/transfers` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRecord {
    pub id: String,
    pub amount: i64,
    /// Lower case, as Stripe writes currencies.
    pub currency: String,
    /// The connected account paid.
    pub destination: String,
    pub transfer_group: Option<String>,
    pub metadata: HashMap<String, String>,
}

/// `POST /_sim/transfers/failures`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct TransferFailures {
    pub destination: String,
    pub count: u32,
}

/// A typed client of the `/_sim` controls, for the in-process stand-in and the binary alike.
#[derive(Clone, Debug)]
pub struct Controls {
    base_url: String,
    http: reqwest::Client,
}

impl Controls {
    /// `base_url` as [`StandIn::base_url`](crate::StandIn::base_url) gives it, with or without
    /// the trailing slash.
    pub fn new(base_url: &str) -> Controls {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Controls {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}/_sim/{path}", self.base_url);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        anyhow::bail!("{method} {url} answered {status}: {text}")
    }

    async fn pay_with(
        &self,
        intent_id: &str,
        payment_method: &str,
    ) -> anyhow::Result<serde_json::Value> {
        let body = serde_json::json!({ "payment_method": payment_method });
        let response = self
            .call(
                reqwest::Method::POST,
                &format!("payment_intents/{intent_id}/pay"),
                Some(body),
            )
            .await?;
        Ok(response.json().await?)
    }

    /// Pays the intent with a card that succeeds, as a customer's browser would; the intent.
    pub async fn pay(&self, intent_id: &str) -> anyhow::Result<serde_json::Value> {
        self.pay_with(intent_id, "pm_card_visa").await
    }

    /// Pays with a card that is declined; the intent, back to `requires_payment_method`.
    pub async fn decline(&self, intent_id: &str) -> anyhow::Result<serde_json::Value> {
        self.pay_with(intent_id, "pm_card_chargeDeclined").await
    }

    /// Succeeds the intent without sending any event (a lost webhook).
    pub async fn succeed_silently(&self, intent_id: &str) -> anyhow::Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("payment_intents/{intent_id}/succeed_silently"),
            None,
        )
        .await?;
        Ok(())
    }

    pub async fn set_webhooks(&self, update: WebhookSettings) -> anyhow::Result<()> {
        self.call(
            reqwest::Method::PUT,
            "webhooks",
            Some(serde_json::to_value(update)?),
        )
        .await?;
        Ok(())
    }

    pub async fn flush(&self, order: FlushOrder) -> anyhow::Result<()> {
        let body = serde_json::json!({ "order": order });
        self.call(reqwest::Method::POST, "webhooks/flush", Some(body))
            .await?;
        Ok(())
    }

    /// Sends a stored event once more, signed at `signed_at` (unix seconds) or now; returns
    /// when the receiver has answered (its answer is in [`Controls::events`]).
    pub async fn resend(
        &self,
        event_id: &str,
        signed_at: Option<i64>,
    ) -> anyhow::Result<Option<u16>> {
        #[derive(Deserialize)]
        struct Answer {
            status: Option<u16>,
        }
        let body = serde_json::json!({ "signed_at": signed_at });
        let answer: Answer = self
            .call(
                reqwest::Method::POST,
                &format!("events/{event_id}/resend"),
                Some(body),
            )
            .await?
            .json()
            .await?;
        Ok(answer.status)
    }

    /// Completes the onboarding of the connected account `account_id` (details submitted,
    /// charges and payouts enabled, its requested `transfers` capability active) and sends
    /// `account.updated`; the account.
    pub async fn onboard(&self, account_id: &str) -> anyhow::Result<serde_json::Value> {
        let response = self
            .call(
                reqwest::Method::POST,
                &format!("accounts/{account_id}/onboard"),
                None,
            )
            .await?;
        Ok(response.json().await?)
    }

    /// Opens an account link as the account holder's browser would, which completes the
    /// onboarding; the `return_url` the page redirects to (the redirect is not followed).
    pub async fn open_account_link(&self, url: &str) -> anyhow::Result<String> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let response = http
            .get(url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        if status != reqwest::StatusCode::SEE_OTHER {
            let text = response.text().await.unwrap_or_default();
            anyhow::bail!("GET {url} answered {status}, not a redirect: {text}");
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .with_context(|| format!("GET {url} redirected without a Location"))?;
        Ok(location.to_owned())
    }

    /// Makes the next `count` transfer attempts to `destination` answer 500 `api_error` and
    /// make nothing, as an outage would (a count given again replaces what is left).
    pub async fn fail_transfers(&self, destination: &str, count: u32) -> anyhow::Result<()> {
        let body = serde_json::to_value(TransferFailures {
            destination: destination.to_owned(),
            count,
        })?;
        self.call(reqwest::Method::POST, "transfers/failures", Some(body))
            .await?;
        Ok(())
    }

    /// Every transfer made so far, in creation order.
    pub async fn transfers(&self) -> anyhow::Result<Vec<TransferRecord>> {
        Ok(self
            .call(reqwest::Method::GET, "transfers", None)
            .await?
            .json()
            .await?)
    }

    /// Every event created so far, in creation order.
    pub async fn events(&self) -> anyhow::Result<Vec<EventRecord>> {
        Ok(self
            .call(reqwest::Method::GET, "events", None)
            .await?
            .json()
            .await?)
    }

    /// Polls `events()` until `pred` holds or `timeout` passes.
    pub async fn wait_for_events(
        &self,
        timeout: Duration,
        pred: impl Fn(&[EventRecord]) -> bool,
    ) -> anyhow::Result<Vec<EventRecord>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let events = self.events().await?;
            if pred(&events) {
                return Ok(events);
            }
            if tokio::time::Instant::now() >= deadline {
                let summary: Vec<String> = events
                    .iter()
                    .map(|event| format!("{} {} {:?}", event.r#type, event.id, event.deliveries))
                    .collect();
                anyhow::bail!(
                    "events did not reach the expected state within {timeout:?}: {summary:#?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
