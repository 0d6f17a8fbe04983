//! Retries and parking against the real RabbitMQ, in a namespace of their own.

use std::time::{Duration, Instant};

use noillin_domain::event::Event;
use noillin_messaging::{Broker, Concern, Envelope, Failed, RetryPolicy};

fn rabbitmq_url() -> String {
    std::env::var("RABBITMQ_URL").unwrap_or_else(|_| noillin_messaging::DEFAULT_URL.to_owned())
}

fn event(n: usize) -> Envelope {
    Envelope::new(
        Event::InstanceStarted {
            service: "test".into(),
            instance: n.to_string(),
        },
        Some(format!("req-{n}")),
    )
}

async fn broker() -> Broker {
    let namespace = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let broker = Broker::connect(&rabbitmq_url(), &namespace, "retry-test")
        .await
        .expect("rabbitmq");
    broker.declare_topology().await.expect("topology");
    broker
}

#[tokio::test]
async fn a_failing_message_is_retried_with_growing_delays_then_parked_while_others_flow() {
    let policy = RetryPolicy::new(vec![Duration::from_millis(200), Duration::from_millis(400)]);
    let broker = broker().await;
    let poison = event(0);
    broker.publish(&poison).await.unwrap();
    for n in 1..=20 {
        broker.publish(&event(n)).await.unwrap();
    }

    let mut subscription = broker
        .consume(Concern::System, 10, "retry-test", policy.clone())
        .await
        .unwrap();
    let mut healthy = 0;
    let mut poison_attempts = Vec::new();
    let started = Instant::now();
    while healthy < 20 || poison_attempts.len() < 3 {
        let delivery = tokio::time::timeout(Duration::from_secs(10), subscription.next())
            .await
            .expect("a delivery in time")
            .unwrap()
            .unwrap();
        let envelope = delivery.envelope().unwrap();
        if envelope.id == poison.id {
            poison_attempts.push((delivery.attempt(), started.elapsed()));
            let outcome = delivery.fail("handler exploded", true).await.unwrap();
            let expected = match delivery.attempt() {
                0 => Failed::Retried(Duration::from_millis(200)),
                1 => Failed::Retried(Duration::from_millis(400)),
                _ => Failed::Parked,
            };
            assert_eq!(outcome, expected);
        } else {
            delivery.ack().await.unwrap();
            healthy += 1;
        }
    }

    let attempts: Vec<u32> = poison_attempts.iter().map(|(a, _)| *a).collect();
    assert_eq!(attempts, vec![0, 1, 2]);
    let gap1 = poison_attempts[1].1 - poison_attempts[0].1;
    let gap2 = poison_attempts[2].1 - poison_attempts[1].1;
    assert!(
        gap1 >= Duration::from_millis(200),
        "first retry waited {gap1:?}"
    );
    assert!(
        gap2 >= Duration::from_millis(400),
        "second retry waited {gap2:?}"
    );
    let parked = broker.drain_parked(Concern::System).await.unwrap();
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(
        parked[0].message_id.as_deref(),
        Some(poison.id.to_string().as_str())
    );
    assert_eq!(parked[0].attempts, 3);
    assert_eq!(parked[0].error.as_deref(), Some("handler exploded"));
    assert_eq!(
        parked[0].envelope.as_ref().unwrap(),
        &poison,
        "the body is kept as it was"
    );
    println!("retry test: 20 healthy messages processed, poison tried 3 times, parked 1");

    broker.delete_topology(&policy).await.unwrap();
}

#[tokio::test]
async fn a_message_that_can_never_succeed_is_parked_at_once_with_its_reason() {
    let policy = RetryPolicy::new(vec![Duration::from_millis(100)]);
    let broker = broker().await;
    broker.publish(&event(7)).await.unwrap();
    let mut subscription = broker
        .consume(Concern::System, 1, "retry-test", policy.clone())
        .await
        .unwrap();

    let delivery = subscription.next().await.unwrap().unwrap();
    assert_eq!(
        delivery
            .fail("malformed message: nope", false)
            .await
            .unwrap(),
        Failed::Parked
    );
    drop(delivery);

    let parked = broker.drain_parked(Concern::System).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].attempts, 1);
    assert_eq!(parked[0].error.as_deref(), Some("malformed message: nope"));
    let nothing_more = tokio::time::timeout(Duration::from_millis(500), subscription.next()).await;
    assert!(nothing_more.is_err(), "a parked message is not redelivered");

    broker.delete_topology(&policy).await.unwrap();
}

#[tokio::test]
async fn a_batch_is_confirmed_message_by_message_and_an_unroutable_one_fails_alone() {
    let policy = RetryPolicy::new(vec![Duration::from_millis(100)]);
    let broker = broker().await;
    let mut batch: Vec<_> = (0..50).map(|n| event(n).outgoing().unwrap()).collect();
    batch[17].routing_key = "nobody.listens".into();

    let results = broker.publish_batch(&batch).await;

    assert_eq!(results.len(), 50);
    for (i, result) in results.iter().enumerate() {
        if i == 17 {
            assert!(
                matches!(result, Err(noillin_messaging::PublishError::Unroutable(k)) if k == "nobody.listens"),
                "{result:?}"
            );
        } else {
            assert!(result.is_ok(), "message {i}: {result:?}");
        }
    }
    let mut subscription = broker
        .consume(Concern::System, 50, "batch-test", policy.clone())
        .await
        .unwrap();
    let mut received = std::collections::HashSet::new();
    while received.len() < 49 {
        let delivery = tokio::time::timeout(Duration::from_secs(10), subscription.next())
            .await
            .expect("a delivery in time")
            .unwrap()
            .unwrap();
        received.insert(delivery.envelope().unwrap().id.to_string());
        delivery.ack().await.unwrap();
    }
    let expected: std::collections::HashSet<_> = batch
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 17)
        .map(|(_, m)| m.message_id.clone())
        .collect();
    assert_eq!(received, expected);

    broker.delete_topology(&policy).await.unwrap();
}

/// Positions of `count` distinct unroutable messages in a batch of `len`, drawn from `seed`
/// (a xorshift: the seed is printed, so a failing round can be replayed).
fn unroutable_positions(seed: &mut u64, len: usize, count: usize) -> Vec<usize> {
    let mut positions = Vec::new();
    while positions.len() < count {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let position = usize::try_from(*seed % len as u64).expect("below len");
        if !positions.contains(&position) {
            positions.push(position);
        }
    }
    positions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_report_exactly_their_own_unroutable_messages_round_after_round() {
    const ROUNDS: usize = 100;
    const BATCH: usize = 100;
    const UNROUTABLE: usize = 5;
    let policy = RetryPolicy::new(vec![Duration::from_millis(100)]);
    let broker = broker().await;
    let mut seed = u64::from(uuid::Uuid::new_v4().as_fields().0) | 1;
    println!("unroutable positions seeded with {seed}");
    let mut delivered = std::collections::HashSet::new();

    for round in 0..ROUNDS {
        // Two batches at once on the one connection, each with unroutable messages of its own.
        let batches: Vec<Vec<_>> = (0..2)
            .map(|side| {
                let mut batch: Vec<_> = (0..BATCH).map(|n| event(n).outgoing().unwrap()).collect();
                for position in unroutable_positions(&mut seed, BATCH, UNROUTABLE) {
                    batch[position].routing_key = format!("nobody.listens.{side}.{position}");
                }
                batch
            })
            .collect();
        let (left, right) = tokio::join!(
            broker.publish_batch(&batches[0]),
            broker.publish_batch(&batches[1])
        );

        for (batch, results) in batches.iter().zip([left, right]) {
            assert_eq!(results.len(), BATCH);
            for (i, (message, result)) in batch.iter().zip(&results).enumerate() {
                if message.routing_key.starts_with("nobody.listens") {
                    assert!(
                        matches!(result, Err(noillin_messaging::PublishError::Unroutable(k)) if *k == message.routing_key),
                        "round {round}, message {i} ({}): {result:?}",
                        message.routing_key
                    );
                } else {
                    assert!(result.is_ok(), "round {round}, message {i}: {result:?}");
                    delivered.insert(message.message_id.clone());
                }
            }
        }
    }

    let mut subscription = broker
        .consume(Concern::System, 200, "batch-rounds-test", policy.clone())
        .await
        .unwrap();
    let mut received = std::collections::HashSet::new();
    while received.len() < delivered.len() {
        let delivery = tokio::time::timeout(Duration::from_secs(10), subscription.next())
            .await
            .expect("a delivery in time")
            .unwrap()
            .unwrap();
        received.insert(delivery.envelope().unwrap().id.to_string());
        delivery.ack().await.unwrap();
    }
    assert_eq!(received, delivered, "exactly the confirmed messages arrive");

    broker.delete_topology(&policy).await.unwrap();
}

#[tokio::test]
async fn a_delayed_message_arrives_after_its_delay_under_its_own_routing_key() {
    let policy = RetryPolicy::new(vec![Duration::from_millis(100)]);
    let broker = broker().await;
    let delay = Duration::from_millis(700);
    let delayed = event(1);
    let now = event(2);
    let started = Instant::now();
    broker
        .publish_delayed(&delayed.outgoing().unwrap(), delay)
        .await
        .unwrap();
    broker.publish(&now).await.unwrap();

    let mut subscription = broker
        .consume(Concern::System, 10, "delay-test", policy.clone())
        .await
        .unwrap();
    let mut arrivals = Vec::new();
    while arrivals.len() < 2 {
        let delivery = tokio::time::timeout(Duration::from_secs(10), subscription.next())
            .await
            .expect("a delivery in time")
            .unwrap()
            .unwrap();
        arrivals.push((delivery.envelope().unwrap(), started.elapsed()));
        delivery.ack().await.unwrap();
    }

    assert_eq!(
        arrivals[0].0.id, now.id,
        "the undelayed message comes first"
    );
    assert_eq!(arrivals[1].0, delayed, "the delayed one arrives whole");
    assert!(
        arrivals[1].1 >= delay,
        "delivered after {:?}, before its delay",
        arrivals[1].1
    );
    broker.delete_delay_tier(delay).await.unwrap();
    broker.delete_topology(&policy).await.unwrap();
}
