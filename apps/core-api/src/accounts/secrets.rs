//! Password hashing, bounded per process, and opaque tokens. Secrets in memory are
//! [`Secret`]s where they pass through the accounts flows, so they cannot be logged by accident.

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicUsize, Ordering},
};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
pub use noillin_auth::Secret;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::AccountsError;

/// Argon2id with OWASP's recommended parameters: 19 MiB of memory, 2 passes, 1 lane.
fn argon2() -> Result<Argon2<'static>, argon2::Error> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None)?,
    ))
}

/// How much password hashing a process does at once. Each job holds 19 MiB and a core for tens
/// of milliseconds, so unbounded hashing turns a burst of sign-ins into gigabytes of memory and
/// seconds of latency for everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingLimits {
    /// Jobs that run at once (`PASSWORD_HASH_CONCURRENCY`): one per core by default.
    pub concurrency: usize,
    /// Jobs that may wait for a place (`PASSWORD_HASH_QUEUE`); past that, 503.
    pub queue: usize,
}

impl HashingLimits {
    /// Most jobs that may run at once: each holds 19 MiB, and beyond the machine's cores more
    /// of them only share the same CPU.
    pub const MAX_CONCURRENCY: usize = 256;
    /// Most jobs that may wait.
    pub const MAX_QUEUE: usize = 65_536;
    pub const DEFAULT_QUEUE: usize = 64;

    /// One job per available core.
    pub fn default_concurrency() -> usize {
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    }
}

impl Default for HashingLimits {
    fn default() -> Self {
        Self {
            concurrency: Self::default_concurrency(),
            queue: Self::DEFAULT_QUEUE,
        }
    }
}

/// Admits hashing jobs: `concurrency` run on blocking threads, up to `queue` wait for a place,
/// and the rest are refused at once (503) rather than piling up.
#[derive(Debug)]
struct HashingGate {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
}

impl HashingGate {
    fn new(limits: HashingLimits) -> Self {
        Self {
            running: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            waiting: AtomicUsize::new(0),
            queue: limits.queue,
        }
    }

    /// Runs `job` on a blocking thread once a place is free, or refuses it when the queue is
    /// full.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AccountsError> {
        let permit = match Arc::clone(&self.running).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let joined =
                    self.waiting
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |waiting| {
                            (waiting < self.queue).then_some(waiting + 1)
                        });
                if joined.is_err() {
                    metrics::counter!("password_hash_refused_total").increment(1);
                    return Err(AccountsError::HashingBusy);
                }
                metrics::gauge!("password_hash_waiting").increment(1.0);
                let _waiting = Waiting(&self.waiting);
                Arc::clone(&self.running)
                    .acquire_owned()
                    .await
                    .map_err(|e| AccountsError::Internal(anyhow::anyhow!("hashing gate: {e}")))?
            }
        };
        metrics::gauge!("password_hash_running").increment(1.0);
        // The place is held by the thread, not by this future: a client that hangs up does not
        // stop the hash, so it must not free the place either.
        let running = Running { _permit: permit };
        tokio::task::spawn_blocking(move || {
            let _running = running;
            job()
        })
        .await
        .map_err(|e| AccountsError::Internal(anyhow::anyhow!("hashing task: {e}")))
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

/// A place in the queue, left when the wait ends — also when the request is dropped while
/// waiting.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
        metrics::gauge!("password_hash_waiting").decrement(1.0);
    }
}

/// A running job's place.
struct Running {
    _permit: OwnedSemaphorePermit,
}

impl Drop for Running {
    fn drop(&mut self) {
        metrics::gauge!("password_hash_running").decrement(1.0);
    }
}

/// Every hash of the process goes through one gate: the cores and memory it protects are the
/// process's.
static GATE: OnceLock<HashingGate> = OnceLock::new();

/// Sets the process's hashing limits; only the first call, before any hash, counts.
pub fn limit_hashing(limits: HashingLimits) {
    let _ = GATE.set(HashingGate::new(limits));
}

fn gate() -> &'static HashingGate {
    GATE.get_or_init(|| HashingGate::new(HashingLimits::default()))
}

/// Hashes a password to a PHC string, off the async runtime (it takes tens of milliseconds of
/// CPU by design). Refused at once when the hashing queue is full.
pub async fn hash_password(password: impl Into<Secret>) -> Result<String, AccountsError> {
    let password = password.into();
    let hash = gate()
        .run(move || {
            argon2()
                .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?
                .hash_password(password.expose().as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|e| anyhow::anyhow!("hashing: {e}"))
        })
        .await??;
    Ok(hash)
}

/// Whether `password` matches the PHC string `hash`, off the async runtime. A malformed hash
/// matches nothing. Refused at once when the hashing queue is full.
pub async fn verify_password(password: String, hash: String) -> Result<bool, AccountsError> {
    let matches = gate()
        .run(move || {
            let argon2 = argon2().map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
            anyhow::Ok(
                argon2
                    .verify_password(password.as_bytes(), hash.as_str())
                    .is_ok(),
            )
        })
        .await??;
    Ok(matches)
}

/// A fresh random token (256 bits, hex) for refresh and reset links.
pub fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
    Ok(hex::encode(bytes))
}

/// How tokens are stored: SHA-256, hex (the same hash the worker stores for the reset tokens
/// it mints). The token has 256 bits of entropy, so a fast hash is enough; what matters is
/// that a database dump holds nothing usable.
pub fn token_hash(token: &str) -> String {
    noillin_auth::secret::token_hash(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let hash = hash_password(Secret::new("correct horse battery"))
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            verify_password("correct horse battery".into(), hash.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify_password("correct horse batterY".into(), hash)
                .await
                .unwrap()
        );
        assert!(
            !verify_password("x".into(), "not a hash".into())
                .await
                .unwrap()
        );
    }

    #[test]
    fn tokens_are_random_and_hashes_are_stable() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), a);
    }

    /// A gate of one place and one waiter, with a job holding the place until `release` sends.
    async fn busy_gate() -> (
        Arc<HashingGate>,
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let gate = Arc::new(HashingGate::new(HashingLimits {
            concurrency: 1,
            queue: 1,
        }));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel();
        let holder = tokio::spawn({
            let gate = Arc::clone(&gate);
            async move {
                gate.run(move || {
                    let _ = started.send(());
                    let _ = released.recv();
                })
                .await
                .unwrap();
            }
        });
        running.await.unwrap();
        (gate, release, holder)
    }

    #[tokio::test]
    async fn past_the_running_jobs_and_the_queue_hashing_is_refused_at_once() {
        let (gate, release, holder) = busy_gate().await;
        let mut waiter = Box::pin(gate.run(|| "waited"));
        assert!(futures::poll!(&mut waiter).is_pending());
        assert_eq!(gate.waiting(), 1);

        let refused = gate.run(|| "refused").await;

        assert!(
            matches!(refused, Err(AccountsError::HashingBusy)),
            "{refused:?}"
        );
        release.send(()).unwrap();
        holder.await.unwrap();
        assert_eq!(waiter.await.unwrap(), "waited");
        assert_eq!(gate.waiting(), 0);
        assert_eq!(gate.run(|| "later").await.unwrap(), "later");
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaves_the_queue() {
        let (gate, release, holder) = busy_gate().await;
        let mut waiter = Box::pin(gate.run(|| ()));
        assert!(futures::poll!(&mut waiter).is_pending());

        drop(waiter);

        assert_eq!(gate.waiting(), 0);
        let mut next = Box::pin(gate.run(|| "queued"));
        assert!(
            futures::poll!(&mut next).is_pending(),
            "it takes the freed place in the queue"
        );
        release.send(()).unwrap();
        holder.await.unwrap();
        assert_eq!(next.await.unwrap(), "queued");
    }
}
