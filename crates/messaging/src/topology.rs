//! Names and shape of the RabbitMQ topology. Every process declares the whole topology at start
//! (declarations are idempotent), so start order never matters and a publish is never
//! unroutable because a consumer has not started yet.

/// One worker concern: a durable queue bound to the routing keys it handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concern {
    /// Platform lifecycle events (`system.*`) and account events other processes must hear of
    /// (`user.*`: ended sessions).
    System,
    /// Mails to send (`email.*`).
    Email,
    /// Events users are told about: stored, pushed live, and emailed for some kinds.
    Notifications,
    /// Bookings' own follow-ups (`booking.*` jobs): a hold that reached its expiry.
    Bookings,
    /// Money: verified provider events to apply, intents to cancel, refunds to ask for.
    Payments,
    /// Keeping the search index true (`search.*`): re-read a changed influencer or gig and
    /// upsert or delete its document.
    Search,
}

impl Concern {
    pub const ALL: [Concern; 6] = [
        Concern::System,
        Concern::Email,
        Concern::Notifications,
        Concern::Bookings,
        Concern::Payments,
        Concern::Search,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Concern::System => "system",
            Concern::Email => "email",
            Concern::Notifications => "notifications",
            Concern::Bookings => "bookings",
            Concern::Payments => "payments",
            Concern::Search => "search",
        }
    }

    /// Routing-key patterns this concern's queue is bound to.
    pub fn bindings(self) -> &'static [&'static str] {
        match self {
            Concern::System => &["system.#", "user.#"],
            Concern::Email => &["email.#"],
            Concern::Notifications => &[
                "gig.member_invited",
                "gig.member_answered",
                "gig.published",
                "gig.archived",
                "booking.confirmed",
                "booking.cancelled",
                "booking.refund_due",
                "booking.delivered",
                "booking.revision_requested",
                "booking.completed",
                "booking.payout_sent",
                "review.posted",
                "message.created",
                "chat.unread_mail_due",
            ],
            Concern::Bookings => &["booking.hold_expiry_due", "booking.auto_complete_due"],
            Concern::Payments => &[
                "payment.#",
                "booking.intent_cancel_due",
                "booking.refund_due",
                "booking.payout_due",
            ],
            Concern::Search => &["search.#"],
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

    /// Where messages to deliver after `delay` are published.
    pub fn delay_exchange(&self, delay: std::time::Duration) -> String {
        format!("{}.delay.{}ms", self.namespace, delay.as_millis())
    }

    /// Where messages published to [`Topology::delay_exchange`] wait: a queue of the same name.
    pub fn delay_queue(&self, delay: std::time::Duration) -> String {
        self.delay_exchange(delay)
    }

    /// The queue a concern's failed messages wait `delay` in before they return.
    pub fn retry_queue(&self, concern: Concern, delay: std::time::Duration) -> String {
        format!("{}.retry.{}ms", self.queue(concern), delay.as_millis())
    }
}

/// Whether a topic binding pattern matches a routing key (`#` matches zero or more words, `*`
/// exactly one).
#[cfg(test)]
fn topic_matches(pattern: &str, key: &str) -> bool {
    fn words(pattern: &[&str], key: &[&str]) -> bool {
        match (pattern.first(), key.first()) {
            (None, None) => true,
            (Some(&"#"), _) => {
                words(&pattern[1..], key) || (!key.is_empty() && words(pattern, &key[1..]))
            }
            (Some(&"*"), Some(_)) => words(&pattern[1..], &key[1..]),
            (Some(p), Some(k)) if p == k => words(&pattern[1..], &key[1..]),
            _ => false,
        }
    }
    let pattern: Vec<&str> = pattern.split('.').collect();
    let key: Vec<&str> = key.split('.').collect();
    words(&pattern, &key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use noillin_domain::event::Event;

    /// One event of every kind the platform publishes.
    fn every_event() -> Vec<Event> {
        let id = || "0191c1d2-0000-7000-8000-000000000000".to_owned();
        vec![
            Event::InstanceStarted {
                service: "core-api".into(),
                instance: "1".into(),
            },
            Event::PasswordResetMail {
                request_id: id(),
                user_id: id(),
            },
            Event::UserSessionsEnded {
                user_id: id(),
                token_version: 1,
            },
            Event::GigMemberInvited {
                gig_id: id(),
                title: "T".into(),
                owner_id: id(),
                member_id: id(),
            },
            Event::GigMemberAnswered {
                gig_id: id(),
                title: "T".into(),
                owner_id: id(),
                member_id: id(),
                accepted: true,
            },
            Event::GigPublished {
                gig_id: id(),
                title: "T".into(),
                owner_id: id(),
                member_ids: vec![],
            },
            Event::GigArchived {
                gig_id: id(),
                title: "T".into(),
                owner_id: id(),
                member_ids: vec![],
            },
            Event::BookingHoldExpiryDue { booking_id: id() },
            Event::SearchInfluencerChanged { user_id: id() },
            Event::SearchGigChanged { gig_id: id() },
            Event::SearchReindexRequested {
                index: "gigs".into(),
            },
        ]
    }

    #[test]
    fn every_event_is_routed_to_exactly_one_concern() {
        // Publishing is `mandatory`: an event no queue is bound for would fail to publish, and
        // one bound twice would be handled twice.
        for event in every_event() {
            let key = event.name();
            let concerns: Vec<_> = Concern::ALL
                .into_iter()
                .filter(|c| c.bindings().iter().any(|p| topic_matches(p, key)))
                .collect();
            assert_eq!(concerns.len(), 1, "{key} is routed to {concerns:?}");
        }
    }

    #[test]
    fn topic_patterns_match_like_the_broker() {
        assert!(topic_matches("email.#", "email.password_reset"));
        assert!(topic_matches("email.#", "email"));
        assert!(topic_matches("gig.*", "gig.published"));
        assert!(!topic_matches("gig.*", "gig.member.invited"));
        assert!(!topic_matches("gig.published", "gig.archived"));
        assert!(!topic_matches("system.#", "gig.published"));
    }

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
