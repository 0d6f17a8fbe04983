//! Retries and parking against the real RabbitMQ, in a namespace of their own.

use std::time::{Duration, Instant};

use noillin_messaging::{Broker, Concern, Envelope, Event, Failed, RetryPolicy};

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
