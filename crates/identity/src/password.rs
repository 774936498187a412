//! Passwords: the policy, and argon2id hashing with OWASP's recommended
//! parameters (19 MiB memory, 2 iterations, 1 lane). Hashing runs on the
//! blocking pool so it never stalls the request workers.
//!
//! Each hash or check allocates 19 MiB, and the blocking pool has 512
//! threads: unbounded, a burst of requests grows the process by gigabytes.
//! So every hash and check passes through one [`HashingGate`] per server
//! (held by `IdentityState`, built from `password_hashing_concurrency` and
//! `password_hashing_queue`): at most `concurrency` run at once, at most
//! `queue` more wait, and anything beyond is refused at once with 503
//! `SERVICE_UNAVAILABLE` and `Retry-After`. Argon2's memory in flight is
//! therefore at most `concurrency × 19 MiB`.

use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use landlord_core::ApiError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub const MIN_LENGTH: usize = 8;
/// Long enough for any passphrase, short enough that hashing stays cheap.
pub const MAX_LENGTH: usize = 128;

fn argon2() -> Argon2<'static> {
    // 19 MiB, t=2, p=1: OWASP Password Storage Cheat Sheet, argon2id.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks the policy; `field` names the field in the error.
pub fn validate(field: &str, password: &str, email: &str) -> Result<(), ApiError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(ApiError::invalid_field(
            field,
            format!("must be at least {MIN_LENGTH} characters long"),
        ));
    }
    if length > MAX_LENGTH {
        return Err(ApiError::invalid_field(
            field,
            format!("must be at most {MAX_LENGTH} characters long"),
        ));
    }
    if password.trim().eq_ignore_ascii_case(email.trim()) {
        return Err(ApiError::invalid_field(
            field,
            "must not be the email address",
        ));
    }
    Ok(())
}

/// The server-wide bound on argon2 work. Cheap to share (`Arc` it).
///
/// The work runs on `concurrency` threads of its own rather than on tokio's
/// blocking pool: the allocator keeps a freed 19 MiB block for reuse by the
/// thread (arena) that freed it, so argon2 spread over dozens of pool
/// threads keeps dozens of blocks resident; on a few fixed threads it keeps
/// a few. (A hand-written pool of a few lines: a channel and `concurrency`
/// threads; no crate needed for that.)
#[derive(Debug)]
pub struct HashingGate {
    /// Running plus waiting: `concurrency + queue` permits, never awaited.
    admitted: Arc<Semaphore>,
    /// Running: `concurrency` permits.
    running: Arc<Semaphore>,
    /// Jobs for the hashing threads; `None` if no thread could be started
    /// (then tokio's blocking pool runs the work, still under the bound).
    jobs: Option<std::sync::mpsc::Sender<Job>>,
}

type Job = Box<dyn FnOnce() + Send>;

/// Both permits of one piece of argon2 work, released when it ends (even
/// when the request that asked for it has gone away).
struct Slot {
    _admitted: OwnedSemaphorePermit,
    _running: OwnedSemaphorePermit,
}

impl HashingGate {
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let concurrency = concurrency.max(1);
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let mut started = 0;
        for n in 0..concurrency {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || loop {
                    // The lock is held only while taking a job. The loop
                    // ends when the gate (the sender) is dropped.
                    let job = receiver.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match job {
                        // A panic ends the job (its caller gets a 500), not
                        // the thread.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => break,
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(error) => tracing::warn!(%error, "cannot start a password hashing thread"),
            }
        }
        Self {
            admitted: Arc::new(Semaphore::new(concurrency + queue)),
            running: Arc::new(Semaphore::new(concurrency)),
            jobs: (started > 0).then_some(sender),
        }
    }

    /// Waits for a slot when one is free or the queue has room; refuses at
    /// once (503 with `Retry-After`) when the queue is full.
    async fn enter(&self) -> Result<Slot, ApiError> {
        let admitted = self.admitted.clone().try_acquire_owned().map_err(|_| {
            metrics::counter!("password_hashing_refused_total").increment(1);
            ApiError::Overloaded {
                message: "the server is busy checking passwords; try again shortly".into(),
                retry_after_secs: 1,
            }
        })?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(ApiError::internal)?;
        Ok(Slot {
            _admitted: admitted,
            _running: running,
        })
    }

    /// Runs `work` on a hashing thread inside a slot.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let slot = self.enter().await?;
        let Some(jobs) = &self.jobs else {
            return tokio::task::spawn_blocking(move || {
                let _slot = slot;
                work()
            })
            .await
            .map_err(ApiError::internal);
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let result = work();
            // The slot is free once the memory is.
            drop(slot);
            let _ = reply.send(result);
        });
        jobs.send(job)
            .map_err(|_| ApiError::internal(anyhow::anyhow!("the hashing threads have stopped")))?;
        answer
            .await
            .map_err(|_| ApiError::internal(anyhow::anyhow!("a hashing thread dropped its job")))
    }
}

/// Hashes `password` into a PHC string, inside `gate`.
pub async fn hash(gate: &HashingGate, password: String) -> Result<String, ApiError> {
    gate.run(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal(anyhow::anyhow!("hashing a password: {e}")))
    })
    .await?
}

/// Checks `password` against `stored`. With `None` (no such account) it
/// checks against a dummy hash, so an unknown email costs the same time as
/// a wrong password. Inside `gate`.
pub async fn verify(
    gate: &HashingGate,
    password: String,
    stored: Option<String>,
) -> Result<bool, ApiError> {
    let known = stored.is_some();
    let matches = gate
        .run(move || {
            let stored = stored.as_deref().unwrap_or_else(|| dummy_hash());
            PasswordHash::new(stored)
                .map(|parsed| {
                    argon2()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await?;
    Ok(known && matches)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(b"landlord-dummy-password", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_its_reason() {
        assert!(validate("password", "short", "a@b.c").is_err());
        assert!(validate("password", &"x".repeat(129), "a@b.c").is_err());
        assert!(validate("password", "Ada@Example.com", "ada@example.com").is_err());
        assert!(validate("password", "correct horse", "ada@example.com").is_ok());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let gate = HashingGate::new(2, 4);
        let hash = hash(&gate, "correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(&gate, "correct horse".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!verify(&gate, "wrong horse".into(), Some(hash))
            .await
            .unwrap());
        assert!(!verify(&gate, "correct horse".into(), None).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_gate_runs_its_concurrency_queues_a_few_and_refuses_the_rest() {
        let gate = Arc::new(HashingGate::new(1, 2));
        let running = gate.enter().await.unwrap();
        // Two more wait for the running slot…
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move { gate.enter().await.map(|_| ()) })
            })
            .collect();
        while gate.admitted.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        // …and the next is refused at once, with 503 and Retry-After.
        let refused = gate.enter().await.err().expect("refused");
        assert_eq!(refused.status().as_u16(), 503);
        assert_eq!(refused.code().as_str(), "SERVICE_UNAVAILABLE");
        // When the running one ends, the queue drains and work is admitted.
        drop(running);
        for task in waiting {
            assert!(task.await.unwrap().is_ok());
        }
        assert!(hash(&gate, "correct horse".into()).await.is_ok());
    }
}
