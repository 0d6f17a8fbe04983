//! Outbox throughput and latency against the broker's own ceiling, in one run on one RabbitMQ.
//!
//! - ceiling: bare lapin, one confirm-mode publisher (confirms awaited in windows) and one
//!   consumer acking each message: messages per second from the first publish to the last ack.
//! - outbox: events appended to the embedded store's outbox (one transaction each, from several
//!   tasks, as requests write them), relayed by core-api's relay with confirms, consumed with a
//!   no-op handler through the worker's consumer API: events per second from the first append to
//!   the last ack.
//!
//! Each is run saturated (throughput, and the latency that queueing then gives) and paced at a
//! steady rate (latency of one event: outbox append to handler, publish to handler).
//!
//! `cargo bench -p core-api --bench outbox` (RABBITMQ_URL, default the local server;
//! OUTBOX_BENCH_EVENTS, default 20000).

use std::time::{Duration, Instant};

use core_api::outbox::{self, Relay, RelaySettings, RelayWaker};
use futures::StreamExt;
use jiff::Timestamp;
use lapin::{
    BasicProperties, Connection, ConnectionProperties,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
        ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
    },
    types::FieldTable,
};
use noillin_domain::event::Event;
use noillin_messaging::{Broker, BrokerLink, Concern, RetryPolicy};
use noillin_service::shutdown::Shutdown;
use noillin_store::{Store, StoreConfig};

const PREFETCH: u16 = 256;
const CONFIRM_WINDOW: usize = 256;
const APPENDERS: usize = 8;
const PACED_RATE: u64 = 500;
const PACED_SECONDS: u64 = 4;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url =
        std::env::var("RABBITMQ_URL").unwrap_or_else(|_| noillin_messaging::DEFAULT_URL.to_owned());
    let events: usize = std::env::var("OUTBOX_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let paced = (PACED_RATE * PACED_SECONDS) as usize;
    println!(
        "outbox bench: {events} events saturated, then {paced} paced at {PACED_RATE}/s; \
         prefetch {PREFETCH}, relay batch {}",
        RelaySettings::default().batch
    );

    let ceiling = bare_lapin(&url, events, None).await?;
    report("bare lapin publish→consume (saturated)", &ceiling);
    let ceiling_paced = bare_lapin(&url, paced, Some(PACED_RATE)).await?;
    report("bare lapin publish→consume (paced)", &ceiling_paced);

    let through_outbox = outbox_pipeline(&url, events, None).await?;
    report("outbox append→worker ack (saturated)", &through_outbox);
    let outbox_paced = outbox_pipeline(&url, paced, Some(PACED_RATE)).await?;
    report("outbox append→worker ack (paced)", &outbox_paced);

    println!(
        "outbox / ceiling throughput: {:.0}%",
        100.0 * through_outbox.per_second() / ceiling.per_second()
    );
    Ok(())
}

struct Run {
    messages: usize,
    elapsed: Duration,
    /// Per-message latency, sorted.
    latencies: Vec<Duration>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(index).copied().unwrap_or_default()
    }
}

fn report(name: &str, run: &Run) {
    println!(
        "{name:<42} {:>8.0} msg/s   p50 {:>8.2} ms   p99 {:>8.2} ms   ({} messages in {:.2} s)",
        run.per_second(),
        run.percentile(0.50).as_secs_f64() * 1e3,
        run.percentile(0.99).as_secs_f64() * 1e3,
        run.messages,
        run.elapsed.as_secs_f64()
    );
}

/// Sleeps until message `n` of a run paced at `rate` per second is due.
async fn pace(started: Instant, rate: Option<u64>, n: usize) {
    if let Some(rate) = rate {
        let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
    }
}

/// The ceiling: lapin alone, publishing with confirms to a queue and consuming from it.
async fn bare_lapin(url: &str, messages: usize, rate: Option<u64>) -> anyhow::Result<Run> {
    let connection = Connection::connect(url, ConnectionProperties::default()).await?;
    let queue = format!("bench.{}.bare", uuid::Uuid::new_v4().simple());
    let publisher = connection.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    publisher
        .queue_declare(
            queue.clone().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let consumer_channel = connection.create_channel().await?;
    consumer_channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await?;
    let mut consumer = consumer_channel
        .basic_consume(
            queue.clone().into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let started = Instant::now();
    let receiver = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(messages);
        while latencies.len() < messages {
            let Some(Ok(delivery)) = consumer.next().await else {
                break;
            };
            let sent_at = u128::from_le_bytes(delivery.data[..16].try_into().unwrap_or([0; 16]));
            latencies.push(Duration::from_nanos(
                (started.elapsed().as_nanos().saturating_sub(sent_at)) as u64,
            ));
            delivery.acker.ack(BasicAckOptions::default()).await.ok();
        }
        latencies
    });
    let mut window = Vec::with_capacity(CONFIRM_WINDOW);
    for n in 0..messages {
        pace(started, rate, n).await;
        let mut payload = started.elapsed().as_nanos().to_le_bytes().to_vec();
        payload.extend_from_slice(&[b'x'; 240]);
        let confirm = publisher
            .basic_publish(
                "".into(),
                queue.clone().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &payload,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await?;
        window.push(confirm);
        if window.len() == CONFIRM_WINDOW || rate.is_some() {
            for confirm in window.drain(..) {
                confirm.await?;
            }
        }
    }
    for confirm in window.drain(..) {
        confirm.await?;
    }
    let mut latencies = receiver.await?;
    let elapsed = started.elapsed();
    latencies.sort();
    publisher
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await?;
    connection.close(200, "done".into()).await?;
    Ok(Run {
        messages,
        elapsed,
        latencies,
    })
}

/// The outbox path: append, relay, consume with a no-op handler.
async fn outbox_pipeline(url: &str, messages: usize, rate: Option<u64>) -> anyhow::Result<Run> {
    let namespace = format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let data_dir = tempfile::tempdir()?;
    let store: Store = noillin_store::open(&StoreConfig::Embedded {
        data_dir: data_dir.path().to_owned(),
    })
    .await?;
    let broker = Broker::connect(url, &namespace, "outbox-bench").await?;
    broker.declare_topology().await?;
    let policy = RetryPolicy::default();
    broker.declare_retry_tiers(Concern::System, &policy).await?;
    let mut subscription = broker
        .consume(Concern::System, PREFETCH, "outbox-bench", policy.clone())
        .await?;

    let link = BrokerLink::start(
        url.to_owned(),
        namespace.clone(),
        "outbox-bench-relay".into(),
    );
    link.connected().await;
    let waker = RelayWaker::default();
    let shutdown = Shutdown::default();
    let relay = tokio::spawn(
        Relay::new(
            store.outbox.clone(),
            link.clone(),
            waker.clone(),
            RelaySettings::default(),
        )
        .run(shutdown.clone()),
    );

    let receiver = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(messages);
        while latencies.len() < messages {
            let Some(Ok(delivery)) = subscription.next().await else {
                break;
            };
            // The no-op handler: decode, then acknowledge.
            if let Ok(envelope) = delivery.envelope() {
                let latency = Timestamp::now().duration_since(envelope.occurred_at);
                latencies.push(Duration::try_from(latency).unwrap_or_default());
            }
            delivery.ack().await.ok();
        }
        latencies
    });

    let started = Instant::now();
    let per_task = messages.div_ceil(APPENDERS);
    let appenders: Vec<_> = (0..APPENDERS)
        .map(|task| {
            let store = store.clone();
            let waker = waker.clone();
            tokio::spawn(async move {
                for i in 0..per_task {
                    let n = i * APPENDERS + task;
                    if n >= messages {
                        break;
                    }
                    pace(started, rate, n).await;
                    let event = Event::InstanceStarted {
                        service: "bench".into(),
                        instance: n.to_string(),
                    };
                    let batch = outbox::messages(vec![event], None)?;
                    store.outbox.append(&batch).await?;
                    waker.wake();
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for appender in appenders {
        appender.await??;
    }
    let mut latencies = receiver.await?;
    let elapsed = started.elapsed();
    latencies.sort();
    shutdown.trigger();
    relay.await?;
    link.close().await;
    broker.delete_topology(&policy).await?;
    broker.close().await;
    Ok(Run {
        messages,
        elapsed,
        latencies,
    })
}
