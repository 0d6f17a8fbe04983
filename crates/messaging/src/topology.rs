//! Names and shape of the RabbitMQ topology. Every process declares the whole topology at start
//! (declarations are idempotent), so start order never matters and a publish is never
//! unroutable because a consumer has not started yet.

/// One worker concern: a durable queue bound to the routing keys it handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concern {
    /// Platform lifecycle events (`system.*`).
    System,
    /// Mails to send (`email.*`).
    Email,
}

impl Concern {
    pub const ALL: [Concern; 2] = [Concern::System, Concern::Email];

    pub fn name(self) -> &'static str {
        match self {
            Concern::System => "system",
            Concern::Email => "email",
        }
    }

    /// Routing-key patterns this concern's queue is bound to.
    pub fn bindings(self) -> &'static [&'static str] {
        match self {
            Concern::System => &["system.#"],
            Concern::Email => &["email.#"],
        }
    }
}

/// The names of one deployment's exchanges and queues, all under its namespace.
#[derive(Debug, Clone)]
pub struct Topology {
    namespace: String,
}

impl Topology {
    pub fn new(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
        }
    }

    /// The durable topic exchange every domain event is published to.
    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.namespace)
    }

    /// Where rejected messages go, keyed by their original queue.
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dead-letter", self.namespace)
    }

    /// The queue of one worker concern.
    pub fn queue(&self, concern: Concern) -> String {
        format!("{}.worker.{}", self.namespace, concern.name())
    }

    /// Where a concern's messages are parked when they cannot be processed.
    pub fn parking_queue(&self, concern: Concern) -> String {
        format!("{}.parked", self.queue(concern))
    }

    /// The queue a concern's failed messages wait `delay` in before they return.
    pub fn retry_queue(&self, concern: Concern, delay: std::time::Duration) -> String {
        format!("{}.retry.{}ms", self.queue(concern), delay.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_lives_under_the_namespace() {
        let t = Topology::new("test-1");
        let names = [
            t.events_exchange(),
            t.dead_letter_exchange(),
            t.queue(Concern::System),
            t.parking_queue(Concern::System),
        ];
        for name in &names {
            assert!(name.starts_with("test-1."), "{name}");
        }
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }
}
