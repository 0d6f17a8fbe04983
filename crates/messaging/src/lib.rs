//! Everything Noillin does with RabbitMQ goes through this crate: the typed messages
//! ([`Envelope`], carrying the domain's events), the topology every process declares the same way, publishing with
//! confirms and the `mandatory` flag, and consuming with manual acknowledgements.

/// Where RabbitMQ is unless `RABBITMQ_URL` says otherwise: the local server.
pub const DEFAULT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Checks `RABBITMQ_URL` at start, so that a URL the broker link could never use is a
/// configuration error rather than an endless reconnect loop. The error never quotes the URL.
pub fn check_url(url: &str) -> Result<(), Error> {
    url.parse::<lapin::uri::AMQPUri>()
        .map(drop)
        .map_err(|_| Error::Url)
}

mod broker;
mod delivery;
mod envelope;
mod link;
pub mod outbox;
mod topology;

pub use broker::{Broker, Error, PublishError};
pub use delivery::{Delivery, Failed, ParkedMessage, RetryPolicy, Subscription};
pub use envelope::{Envelope, OutgoingMessage, SCHEMA_VERSION};
pub use link::BrokerLink;
pub use topology::{Concern, Topology};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_the_link_cannot_use_is_refused_without_being_quoted() {
        assert!(check_url(DEFAULT_URL).is_ok());
        assert!(check_url("amqps://user:pw@broker.example:5671/prod").is_ok());
        for bad in [
            "amqp:guest:s3cret@host",
            "http://guest:s3cret@host",
            "s3cret",
        ] {
            let error = check_url(bad).expect_err(bad).to_string();
            assert!(!error.contains("s3cret"), "{error}");
        }
    }
}
