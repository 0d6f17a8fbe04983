//! The stand-in's memory: Stripe's objects as the SDK types them, the idempotency keys and
//! the events, behind one mutex that is never held across an `.await`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use stripe_shared::{Account, Charge, PaymentIntent, Refund, Transfer};
use tokio::task::JoinSet;

use crate::Settings;
use crate::errors::{ApiError, to_json};
use crate::events::{EventRequest, Outbox};
use crate::idempotency::Idempotency;

/// What one request acts with: its time, who to name in its events' `request`, and whether it
/// emits events at all (a lost webhook emits none).
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    pub now: i64,
    pub request: EventRequest,
    pub silent: bool,
}

pub(crate) struct State {
    pub intents: HashMap<String, PaymentIntent>,
    pub charges: HashMap<String, Charge>,
    pub refunds: HashMap<String, Refund>,
    pub transfers: HashMap<String, Transfer>,
    /// Transfer ids in creation order.
    pub transfer_order: Vec<String>,
    pub accounts: HashMap<String, Account>,
    /// Destination → how many more transfer attempts to it answer 500.
    pub transfer_failures: HashMap<String, u32>,
    /// `http://127.0.0.1:PORT`, where the stand-in serves (its account links point there).
    pub base_url: String,
    pub idempotency: Idempotency,
    pub outbox: Outbox,
}

impl State {
    /// Records an event about `object` and queues its delivery.
    pub fn emit<T: serde::Serialize>(
        &mut self,
        ctx: &Ctx,
        type_: &'static str,
        object_id: &str,
        object: &T,
    ) -> Result<(), ApiError> {
        if ctx.silent {
            return Ok(());
        }
        let object = to_json(object)?;
        self.outbox
            .emit(&ctx.request, type_, object_id, object, ctx.now)
    }
}

pub(crate) struct Shared {
    pub settings: Settings,
    pub http: reqwest::Client,
    state: Mutex<State>,
    /// The server and every delivery, aborted together when the stand-in is dropped (and the
    /// set with them); `None` once stopped, so that a request still finishing on an open
    /// connection starts no new delivery.
    tasks: Mutex<Option<JoinSet<()>>>,
}

impl Shared {
    pub fn new(settings: Settings, base_url: String) -> anyhow::Result<Shared> {
        let http = reqwest::Client::builder()
            // Receivers are local; a proxy from the environment must not carry the webhooks.
            .no_proxy()
            .timeout(std::time::Duration::from_secs(10))
            .user_agent("Stripe/1.0 (+https://stripe.com/docs/webhooks)")
            .build()?;
        let outbox = Outbox::new(settings.webhook_url.clone());
        Ok(Shared {
            settings,
            http,
            state: Mutex::new(State {
                intents: HashMap::new(),
                charges: HashMap::new(),
                refunds: HashMap::new(),
                transfers: HashMap::new(),
                transfer_order: Vec::new(),
                accounts: HashMap::new(),
                transfer_failures: HashMap::new(),
                base_url,
                idempotency: Idempotency::default(),
                outbox,
            }),
            tasks: Mutex::new(Some(JoinSet::new())),
        })
    }

    /// The state for a short synchronous look; a panic elsewhere leaves it usable (every
    /// change is made in one step under the lock).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `change` under the lock, then starts delivering to every object whose queue it
    /// opened. Queues are filled under the lock, so events of one object keep their order.
    pub fn with_state<R>(self: &Arc<Self>, change: impl FnOnce(&mut State) -> R) -> R {
        let (result, lanes) = {
            let mut state = self.lock();
            let result = change(&mut state);
            (result, state.outbox.take_new_lanes())
        };
        for object in lanes {
            self.spawn(crate::delivery::run_lane(Arc::clone(self), object));
        }
        result
    }

    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tasks) = tasks.as_mut() {
            // Finished tasks stay in the set until joined; drop them so a long run does not grow.
            while tasks.try_join_next().is_some() {}
            tasks.spawn(task);
        }
    }

    pub fn stop(&self) {
        let tasks = self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // Dropping a set aborts its tasks.
        drop(tasks);
    }
}
