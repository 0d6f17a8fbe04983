//! Everything Noillin does with RabbitMQ goes through this crate: the typed messages
//! ([`Envelope`], [`Event`]), the topology every process declares the same way, publishing with
//! confirms and the `mandatory` flag, and consuming with manual acknowledgements.

/// Where RabbitMQ is unless `RABBITMQ_URL` says otherwise: the local server.
pub const DEFAULT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

mod broker;
mod delivery;
mod envelope;
mod link;
mod topology;

pub use broker::{Broker, Error, PublishError};
pub use delivery::{Delivery, Failed, ParkedMessage, RetryPolicy, Subscription};
pub use envelope::{Envelope, Event, OutgoingMessage, SCHEMA_VERSION};
pub use link::BrokerLink;
pub use topology::{Concern, Topology};
