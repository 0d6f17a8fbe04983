//! Events as Stripe sends them, and their queues: paused, or one lane per object so that the
//! events of one object are delivered in the order they happened while a retry of one object's
//! event does not hold up the others.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::controls::{Delivery, EventRecord, FlushOrder, WebhookSettings};
use crate::errors::ApiError;
use crate::ids;

/// Stripe's `request` field: the API request that caused the event.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct EventRequest {
    pub id: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(Serialize)]
struct EventData<'a> {
    object: &'a serde_json::Value,
}

/// The event envelope, fields in the order Stripe writes them.
#[derive(Serialize)]
struct EventPayload<'a> {
    id: &'a str,
    object: &'static str,
    api_version: &'a str,
    created: i64,
    data: EventData<'a>,
    livemode: bool,
    pending_webhooks: i64,
    request: &'a EventRequest,
    #[serde(rename = "type")]
    type_: &'a str,
}

struct StoredEvent {
    id: String,
    type_: &'static str,
    object_id: String,
    /// Signed and sent as is by every delivery, duplicate and replay.
    payload: Arc<str>,
    deliveries: Vec<Delivery>,
}

/// One delivery to make, with its retries.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Job {
    pub event: usize,
    pub delay: Duration,
}

#[derive(Debug, Default)]
struct WebhookConfig {
    url: Option<String>,
    delay: Duration,
    duplicates: u32,
    paused: bool,
}

pub(crate) struct Outbox {
    events: Vec<StoredEvent>,
    by_id: HashMap<String, usize>,
    config: WebhookConfig,
    paused: Vec<usize>,
    lanes: HashMap<String, VecDeque<Job>>,
    new_lanes: Vec<String>,
}

impl Outbox {
    pub fn new(url: Option<String>) -> Outbox {
        Outbox {
            events: Vec::new(),
            by_id: HashMap::new(),
            config: WebhookConfig {
                url,
                ..WebhookConfig::default()
            },
            paused: Vec::new(),
            lanes: HashMap::new(),
            new_lanes: Vec::new(),
        }
    }

    pub fn emit(
        &mut self,
        request: &EventRequest,
        type_: &'static str,
        object_id: &str,
        object: serde_json::Value,
        created: i64,
    ) -> Result<(), ApiError> {
        let id = ids::new_id("evt");
        let payload = serde_json::to_string(&EventPayload {
            id: &id,
            object: "event",
            api_version: stripe_shared::version::VERSION.as_str(),
            created,
            data: EventData { object: &object },
            livemode: false,
            pending_webhooks: i64::from(self.config.url.is_some()),
            request,
            type_,
        })
        .map_err(|err| ApiError::internal(format!("could not serialize an event: {err}")))?;
        let index = self.events.len();
        self.by_id.insert(id.clone(), index);
        self.events.push(StoredEvent {
            id,
            type_,
            object_id: object_id.to_owned(),
            payload: payload.into(),
            deliveries: Vec::new(),
        });
        self.enqueue(index);
        Ok(())
    }

    /// Queues an event's deliveries: held while paused; never sent when no endpoint is set
    /// (as Stripe, which delivers only to the endpoints that exist when the event happens).
    fn enqueue(&mut self, event: usize) {
        if self.config.paused {
            self.paused.push(event);
            return;
        }
        if self.config.url.is_none() {
            return;
        }
        let object = self.events[event].object_id.clone();
        let job = Job {
            event,
            delay: self.config.delay,
        };
        let new_lanes = &mut self.new_lanes;
        let lane = self.lanes.entry(object.clone()).or_insert_with(|| {
            new_lanes.push(object);
            VecDeque::new()
        });
        for _ in 0..=self.config.duplicates {
            lane.push_back(job);
        }
    }

    /// Lanes opened since the last call; each needs a task to drain it.
    pub fn take_new_lanes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.new_lanes)
    }

    /// The next job of an object's lane; closes the lane when it is empty, in the same step,
    /// so that a later event opens a new one.
    pub fn next_job(&mut self, object: &str) -> Option<Job> {
        let job = self.lanes.get_mut(object).and_then(VecDeque::pop_front);
        if job.is_none() {
            self.lanes.remove(object);
        }
        job
    }

    pub fn update(&mut self, update: WebhookSettings) {
        if let Some(url) = update.url {
            self.config.url = Some(url).filter(|url| !url.is_empty());
        }
        if let Some(delay_ms) = update.delay_ms {
            self.config.delay = Duration::from_millis(delay_ms);
        }
        if let Some(duplicates) = update.duplicates {
            self.config.duplicates = duplicates;
        }
        match update.paused {
            Some(true) => self.config.paused = true,
            Some(false) if self.config.paused => self.flush(FlushOrder::Fifo),
            _ => {}
        }
    }

    /// Sends every held event in `order` and unpauses.
    pub fn flush(&mut self, order: FlushOrder) {
        self.config.paused = false;
        let mut held = std::mem::take(&mut self.paused);
        if matches!(order, FlushOrder::Reverse) {
            held.reverse();
        }
        for event in held {
            self.enqueue(event);
        }
    }

    pub fn find(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// Where and what to send for an event now, if an endpoint is set.
    pub fn target(&self, event: usize) -> Option<(String, Arc<str>)> {
        let url = self.config.url.clone()?;
        Some((url, Arc::clone(&self.events[event].payload)))
    }

    pub fn record(&mut self, event: usize, delivery: Delivery) {
        self.events[event].deliveries.push(delivery);
    }

    pub fn records(&self) -> Vec<EventRecord> {
        self.events
            .iter()
            .map(|event| EventRecord {
                id: event.id.clone(),
                r#type: event.type_.to_owned(),
                object_id: event.object_id.clone(),
                deliveries: event.deliveries.clone(),
                delivered: event.deliveries.iter().any(|delivery| {
                    delivery
                        .status
                        .is_some_and(|status| (200..300).contains(&status))
                }),
            })
            .collect()
    }
}
