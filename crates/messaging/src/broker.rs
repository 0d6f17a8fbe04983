//! The RabbitMQ connection: declaring the topology, publishing with confirms, consuming with
//! manual acknowledgements.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
    PublisherConfirm,
    options::{
        BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
        ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
        QueueDeleteOptions, QueuePurgeOptions,
    },
    types::{AMQPValue, FieldTable, ShortString},
    uri::AMQPUri,
};

use crate::{Concern, Envelope, OutgoingMessage, RetryPolicy, Subscription, Topology};

/// Errors talking to RabbitMQ.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("rabbitmq: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("the broker did not accept a message for {0}")]
    NotAccepted(String),
    /// Deliberately without the URL or the parser's words, which can quote it: it may hold a
    /// password.
    #[error("not a usable amqp:// or amqps:// URL")]
    Url,
}

/// Why a publish did not reach a queue.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("no queue is bound for routing key {0}")]
    Unroutable(String),
    #[error("the broker refused the message")]
    Nacked,
    #[error("message encoding: {0}")]
    Encode(#[from] serde_json::Error),
    #[error(transparent)]
    Broker(#[from] Error),
}

impl From<lapin::Error> for PublishError {
    fn from(e: lapin::Error) -> Self {
        PublishError::Broker(Error::Amqp(e))
    }
}

/// One connection to RabbitMQ, scoped to a deployment's topology.
pub struct Broker {
    connection: Connection,
    topology: Topology,
    /// One confirm-mode channel for every publish of this connection, opened on first use and
    /// reopened if it closed or failed: opening a channel per event would double the round
    /// trips. One batch at a time holds it (see [`Broker::publish_to`]).
    publisher: tokio::sync::Mutex<Option<Publisher>>,
    /// Delays whose holding exchange and queue this connection has declared.
    delay_tiers: tokio::sync::Mutex<HashSet<Duration>>,
}

impl Broker {
    /// Connects; `client` names the connection in the broker's management view.
    pub async fn connect(url: &str, namespace: &str, client: &str) -> Result<Self, Error> {
        let uri = url.parse::<AMQPUri>().map_err(|_| Error::Url)?;
        let properties =
            ConnectionProperties::default().with_connection_name(client.to_owned().into());
        let connection = Connection::connect_uri(uri, properties).await?;
        Ok(Self {
            connection,
            topology: Topology::new(namespace),
            publisher: tokio::sync::Mutex::new(None),
            delay_tiers: tokio::sync::Mutex::new(HashSet::new()),
        })
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Whether the connection is open.
    pub fn is_connected(&self) -> bool {
        self.connection.status().connected()
    }

    /// Declares the whole topology. Idempotent; every process calls it at start.
    pub async fn declare_topology(&self) -> Result<(), Error> {
        let channel = self.connection.create_channel().await?;
        let durable_exchange = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .exchange_declare(
                self.topology.events_exchange().into(),
                ExchangeKind::Topic,
                durable_exchange,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(
                self.topology.dead_letter_exchange().into(),
                ExchangeKind::Direct,
                durable_exchange,
                FieldTable::default(),
            )
            .await?;
        for concern in Concern::ALL {
            self.declare_concern(&channel, concern).await?;
        }
        channel.close(200, "declared".into()).await?;
        Ok(())
    }

    async fn declare_concern(&self, channel: &Channel, concern: Concern) -> Result<(), Error> {
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let parking = self.topology.parking_queue(concern);
        channel
            .queue_declare(parking.clone().into(), durable, quorum_arguments())
            .await?;
        channel
            .queue_bind(
                parking.into(),
                self.topology.dead_letter_exchange().into(),
                concern.name().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;

        let queue = self.topology.queue(concern);
        let mut arguments = quorum_arguments();
        // A message the worker rejects is parked, never dropped.
        arguments.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(self.topology.dead_letter_exchange().into()),
        );
        arguments.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(concern.name().into()),
        );
        channel
            .queue_declare(queue.clone().into(), durable, arguments)
            .await?;
        for key in concern.bindings() {
            channel
                .queue_bind(
                    queue.clone().into(),
                    self.topology.events_exchange().into(),
                    (*key).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// How many messages wait in `concern`'s queue (not counting those being handled).
    pub async fn queued(&self, concern: Concern) -> Result<u32, Error> {
        let channel = self.connection.create_channel().await?;
        let queue = channel
            .queue_declare(
                self.topology.queue(concern).into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        Ok(queue.message_count())
    }

    /// Drops every message waiting in `concern`'s queue and says how many: for an operator
    /// recovering from a flood of unwanted jobs, and for tests that lose a message on purpose.
    pub async fn purge(&self, concern: Concern) -> Result<u32, Error> {
        let channel = self.connection.create_channel().await?;
        Ok(channel
            .queue_purge(
                self.topology.queue(concern).into(),
                QueuePurgeOptions::default(),
            )
            .await?)
    }

    /// Deletes every queue and exchange of this deployment, with the retry queues of `retry`.
    /// For tests and throwaway deployments only.
    pub async fn delete_topology(&self, retry: &RetryPolicy) -> Result<(), Error> {
        let channel = self.connection.create_channel().await?;
        for concern in Concern::ALL {
            let retry_queues = retry
                .delays()
                .iter()
                .map(|delay| self.topology.retry_queue(concern, *delay));
            let queues = [
                self.topology.queue(concern),
                self.topology.parking_queue(concern),
            ];
            for queue in queues.into_iter().chain(retry_queues) {
                channel
                    .queue_delete(queue.into(), QueueDeleteOptions::default())
                    .await?;
            }
        }
        for exchange in [
            self.topology.events_exchange(),
            self.topology.dead_letter_exchange(),
        ] {
            channel
                .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }

    /// Publishes one event on the events exchange and waits for the broker's confirm (see
    /// [`Broker::publish_batch`]).
    pub async fn publish(&self, envelope: &Envelope) -> Result<(), PublishError> {
        let message = envelope.outgoing()?;
        self.publish_batch(std::slice::from_ref(&message))
            .await
            .pop()
            .unwrap_or(Err(PublishError::Nacked))
    }

    /// Publishes messages persistently with the `mandatory` flag and waits for the broker's
    /// confirms; the result of each message is at its index. All are sent before any confirm
    /// is awaited, so a batch costs about one round trip, not one per message. A message no
    /// queue is bound for is an error, not a silent success: it is told apart by the message id
    /// of what the broker returned. Concurrent batches take turns on the connection's channel.
    pub async fn publish_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> Vec<Result<(), PublishError>> {
        self.publish_to(&self.topology.events_exchange(), messages)
            .await
    }

    /// Publishes a message to be delivered `delay` from now. It waits in a queue of that delay
    /// (a queue-level TTL, so messages expire in order) and is then dead-lettered into the
    /// events exchange under its own routing key, as if published then. No broker plugin is
    /// needed. The delay is a lower bound: a consumer must not rely on the moment it fires.
    pub async fn publish_delayed(
        &self,
        message: &OutgoingMessage,
        delay: Duration,
    ) -> Result<(), PublishError> {
        // Declared once per delay and connection, not on every publish.
        if !self.delay_tiers.lock().await.contains(&delay) {
            self.declare_delay_tier(delay).await?;
            self.delay_tiers.lock().await.insert(delay);
        }
        self.publish_to(
            &self.topology.delay_exchange(delay),
            std::slice::from_ref(message),
        )
        .await
        .pop()
        .unwrap_or(Err(PublishError::Nacked))
    }

    /// Declares the exchange and queue that hold messages for `delay`. Idempotent.
    async fn declare_delay_tier(&self, delay: Duration) -> Result<(), Error> {
        let channel = self.connection.create_channel().await?;
        let exchange = self.topology.delay_exchange(delay);
        let queue = self.topology.delay_queue(delay);
        channel
            .exchange_declare(
                exchange.clone().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        // No dead-letter routing key: the message keeps the one it was published with.
        let arguments = holding_arguments(delay, &self.topology.events_exchange());
        channel
            .queue_declare(
                queue.clone().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                arguments,
            )
            .await?;
        channel
            .queue_bind(
                queue.into(),
                exchange.into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        channel.close(200, "declared".into()).await?;
        Ok(())
    }

    /// Deletes the exchange and queue of one delay (messages waiting in it are lost). For tests
    /// and throwaway deployments only.
    pub async fn delete_delay_tier(&self, delay: Duration) -> Result<(), Error> {
        self.delay_tiers.lock().await.remove(&delay);
        let channel = self.connection.create_channel().await?;
        channel
            .queue_delete(
                self.topology.delay_queue(delay).into(),
                QueueDeleteOptions::default(),
            )
            .await?;
        channel
            .exchange_delete(
                self.topology.delay_exchange(delay).into(),
                ExchangeDeleteOptions::default(),
            )
            .await?;
        Ok(())
    }

    async fn publish_to(
        &self,
        exchange: &str,
        messages: &[OutgoingMessage],
    ) -> Vec<Result<(), PublishError>> {
        // The batch owns the channel from its first send to its last confirm. lapin hands each
        // returned message to whichever confirm completes next, not to the one it belongs to,
        // so returns can only be told apart while no other publish shares the window.
        let mut slot = self.publisher.lock().await;
        // Taken out of the slot for the batch: if this future is dropped halfway, the next
        // batch opens a fresh channel rather than inherit confirms and returns it cannot place.
        let publisher = match slot.take() {
            Some(publisher) if publisher.channel.status().connected() => publisher,
            _ => match self.open_publisher().await {
                Ok(publisher) => publisher,
                Err(e) => return messages.iter().map(|_| Err(e.clone().into())).collect(),
            },
        };
        let mut channel_failed = None;
        let mut pending = Vec::with_capacity(messages.len());
        for message in messages {
            let sent = match &channel_failed {
                Some(e) => Err(lapin::Error::clone(e)),
                None => publisher.send(exchange, message).await,
            };
            if let Err(e) = &sent {
                channel_failed.get_or_insert_with(|| e.clone());
            }
            pending.push(sent);
        }
        let mut confirmations = Vec::with_capacity(messages.len());
        let mut returned = HashMap::new();
        for sent in pending {
            let confirmation = match sent {
                Ok(confirm) => confirm.await,
                Err(e) => Err(e),
            };
            confirmations.push(match confirmation {
                Ok(confirmation) => {
                    let acked = confirmation.is_ack();
                    let requested = !matches!(confirmation, Confirmation::NotRequested);
                    // Whichever confirm carries a return, it names its message by id.
                    if let Some(message) = confirmation.take_message()
                        && let Some(id) = message.properties.message_id()
                    {
                        returned.insert(id.to_string(), message.delivery.routing_key.to_string());
                    }
                    Ok(acked && requested)
                }
                Err(e) => {
                    channel_failed.get_or_insert_with(|| e.clone());
                    Err(e)
                }
            });
        }
        if channel_failed.is_none() {
            *slot = Some(publisher);
        }
        messages
            .iter()
            .zip(confirmations)
            .map(|(message, confirmation)| {
                match (returned.get(&message.message_id), confirmation) {
                    (Some(routing_key), _) => Err(PublishError::Unroutable(routing_key.clone())),
                    (None, Ok(true)) => Ok(()),
                    (None, Ok(false)) => Err(PublishError::Nacked),
                    (None, Err(e)) => Err(e.into()),
                }
            })
            .collect()
    }

    /// Opens a confirm-mode publishing channel.
    async fn open_publisher(&self) -> Result<Publisher, lapin::Error> {
        let channel = self.connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher { channel })
    }

    /// Declares the retry queues of a concern: one per delay, each holding messages for its
    /// delay (a queue-level TTL: a per-message TTL only expires at the head of a queue) and then
    /// dead-lettering them back into the concern's queue. Idempotent. [`Broker::consume`] does it
    /// itself; this is for tools that need the queues without consuming.
    pub async fn declare_retry_tiers(
        &self,
        concern: Concern,
        policy: &RetryPolicy,
    ) -> Result<(), Error> {
        let channel = self.connection.create_channel().await?;
        self.declare_retry_queues(&channel, concern, policy).await?;
        channel.close(200, "declared".into()).await?;
        Ok(())
    }

    async fn declare_retry_queues(
        &self,
        channel: &Channel,
        concern: Concern,
        policy: &RetryPolicy,
    ) -> Result<(), Error> {
        for delay in policy.delays() {
            // The default exchange routes by queue name: back into the concern's queue.
            let mut arguments = holding_arguments(*delay, "");
            arguments.insert(
                "x-dead-letter-routing-key".into(),
                AMQPValue::LongString(self.topology.queue(concern).into()),
            );
            channel
                .queue_declare(
                    self.topology.retry_queue(concern, *delay).into(),
                    QueueDeclareOptions {
                        durable: true,
                        ..Default::default()
                    },
                    arguments,
                )
                .await?;
        }
        Ok(())
    }

    /// Starts consuming a concern's queue with at most `prefetch` unacknowledged messages.
    /// Failed messages are retried after `policy`'s delays, then parked.
    pub async fn consume(
        &self,
        concern: Concern,
        prefetch: u16,
        consumer_tag: &str,
        policy: RetryPolicy,
    ) -> Result<Subscription, Error> {
        let channel = self.connection.create_channel().await?;
        // A failed delivery is published to its retry queue (mandatory): the queues must exist
        // before the first delivery can fail.
        self.declare_retry_queues(&channel, concern, &policy)
            .await?;
        // Retries and parking are publishes from this channel, confirmed before the original
        // is acknowledged.
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                self.topology.queue(concern).into(),
                consumer_tag.to_owned().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(Subscription::new(
            channel,
            consumer,
            self.topology.clone(),
            concern,
            policy,
        ))
    }

    /// Takes every message out of a concern's parking queue.
    pub async fn drain_parked(&self, concern: Concern) -> Result<Vec<crate::ParkedMessage>, Error> {
        let channel = self.connection.create_channel().await?;
        let parked =
            crate::delivery::drain(&channel, &self.topology.parking_queue(concern)).await?;
        channel.close(200, "drained".into()).await?;
        Ok(parked)
    }

    /// Closes the connection cleanly (unacknowledged deliveries return to their queues).
    pub async fn close(&self) {
        let _ = self.connection.close(200, "shutdown".into()).await;
    }
}

/// Arguments of a queue that holds each message for `delay` and then dead-letters it into
/// `exchange`.
fn holding_arguments(delay: Duration, exchange: &str) -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-message-ttl".into(),
        AMQPValue::LongLongInt(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
    );
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(exchange.into()),
    );
    arguments
}

fn quorum_arguments() -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    arguments
}

/// Publishes from one confirm-mode channel.
struct Publisher {
    channel: Channel,
}

impl Publisher {
    /// Sends one message to `exchange`; the returned future resolves with the broker's confirm.
    async fn send(
        &self,
        exchange: &str,
        message: &OutgoingMessage,
    ) -> Result<PublisherConfirm, lapin::Error> {
        let mut properties = BasicProperties::default()
            .with_message_id(message.message_id.clone().into())
            .with_type(ShortString::from(message.routing_key.clone()))
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_timestamp(message.occurred_at.as_second().max(0).unsigned_abs());
        if let Some(correlation_id) = &message.correlation_id {
            properties = properties.with_correlation_id(correlation_id.clone().into());
        }
        self.channel
            .basic_publish(
                exchange.into(),
                message.routing_key.clone().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &message.payload,
                properties,
            )
            .await
    }
}
