//! Who a request is: HTTP basic authentication against the users file
//! ([`crate::users`]), priced so that guessing cannot starve the server.
//!
//! Argon2 is slow on purpose, so a wrong password costs the server far
//! more than the client. Three rules keep that cost off everyone else:
//!
//! 1. A password that verified once is remembered (a keyed hash): a
//!    client's later requests cost one BLAKE3, never Argon2, and nothing
//!    below delays them.
//! 2. Failures are counted per client address and per user name: after
//!    [`ADDRESS_FREE`] failures from an address (or [`USER_FREE`] for one
//!    known user, from addresses where that user never logged in), further
//!    attempts are refused at once (429, `Retry-After`) for a time that
//!    doubles with each further failure, up to [`MAX_WAIT`]. A success
//!    clears the address's count.
//! 3. At most one Argon2 verification per core runs at once, outside the
//!    request limit: guesses queue among themselves (503 after
//!    [`QUEUE_WAIT`]) while authenticated requests go on.

use crate::users::{User, Verifier};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures from one address before it must wait.
pub const ADDRESS_FREE: u32 = 5;
/// Failures for one user name, from anywhere, before new addresses must
/// wait to log in as that user.
pub const USER_FREE: u32 = 20;
/// The longest wait a run of failures earns.
pub const MAX_WAIT: Duration = Duration::from_secs(300);
/// How long a guess waits for an Argon2 slot before 503.
pub const QUEUE_WAIT: Duration = Duration::from_secs(10);
/// Failure counts are forgotten this long after the last failure.
const FORGET_AFTER: Duration = Duration::from_secs(900);
/// Bound on the entries kept (addresses, names, trusted pairs each).
const MAX_ENTRIES: usize = 65_536;

/// Why a request is not let in.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No credentials, or wrong ones (the name tried, if any).
    Unauthorized(Option<String>),
    /// Too many failures: try again after this long.
    Throttled(Option<String>, Duration),
    /// Every Argon2 slot stayed busy: try again.
    Busy(Option<String>),
}

/// A run of failures.
#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    /// How long from `now` a key with these failures must wait, when it
    /// is past its `free` failures.
    fn wait(&self, free: u32, now: Instant) -> Option<Duration> {
        let over = self.count.checked_sub(free)?;
        let wait = Duration::from_secs(1u64 << over.min(16)).min(MAX_WAIT);
        (self.last + wait).checked_duration_since(now)
    }
}

#[derive(Debug, Default)]
struct Counts {
    addresses: HashMap<IpAddr, Failures>,
    users: HashMap<String, Failures>,
    /// Address and user pairs that logged in: the user's count does not
    /// hold them back.
    trusted: HashSet<(IpAddr, String)>,
}

fn note_failure<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Failures>, key: K, now: Instant) {
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
        if map.len() >= MAX_ENTRIES {
            // Failures from more places than that at once: memory stays
            // bounded, and Argon2's slots still bound the cost.
            map.clear();
        }
    }
    let entry = map.entry(key).or_insert(Failures {
        count: 0,
        last: now,
    });
    if now.duration_since(entry.last) >= FORGET_AFTER {
        entry.count = 0;
    }
    entry.count = entry.count.saturating_add(1);
    entry.last = now;
}

/// The users, the failure counts and the Argon2 slots.
pub struct Auth {
    verifier: Verifier,
    counts: Mutex<Counts>,
    slots: tokio::sync::Semaphore,
}

impl Auth {
    /// Authentication against `verifier`'s users.
    pub fn new(verifier: Verifier) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Auth {
            verifier,
            counts: Mutex::new(Counts::default()),
            slots: tokio::sync::Semaphore::new(cores),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long `address` must wait before trying `name`, if it must.
    fn wait(&self, address: IpAddr, name: &str, now: Instant) -> Option<Duration> {
        let counts = self.counts();
        let by_address = counts
            .addresses
            .get(&address)
            .and_then(|f| f.wait(ADDRESS_FREE, now));
        let by_user = if counts.trusted.contains(&(address, name.to_owned())) {
            None
        } else {
            counts.users.get(name).and_then(|f| f.wait(USER_FREE, now))
        };
        by_address.max(by_user)
    }

    fn failed(&self, address: IpAddr, name: &str) {
        let now = Instant::now();
        let known = self.verifier.knows(name);
        let mut counts = self.counts();
        note_failure(&mut counts.addresses, address, now);
        if known {
            note_failure(&mut counts.users, name.to_owned(), now);
        }
    }

    fn succeeded(&self, address: IpAddr, name: &str) {
        let mut counts = self.counts();
        counts.addresses.remove(&address);
        if counts.trusted.len() >= MAX_ENTRIES {
            counts.trusted.clear();
        }
        counts.trusted.insert((address, name.to_owned()));
    }

    /// The user the `Authorization` header value `header` names, from
    /// `address`; see the module docs.
    pub async fn authenticate(
        &self,
        address: IpAddr,
        header: Option<&[u8]>,
    ) -> Result<User, Refused> {
        let Some((name, password)) = header.and_then(crate::users::decode_basic) else {
            return Err(Refused::Unauthorized(None));
        };
        if let Some(user) = self.verifier.remembered(&name, &password) {
            return Ok(user);
        }
        if let Some(wait) = self.wait(address, &name, Instant::now()) {
            return Err(Refused::Throttled(Some(name), wait));
        }
        let Ok(Ok(_slot)) = tokio::time::timeout(QUEUE_WAIT, self.slots.acquire()).await else {
            return Err(Refused::Busy(Some(name)));
        };
        let verifier = self.verifier.clone();
        let tried = name.clone();
        // Argon2 takes tens of milliseconds: off the async threads.
        let verified =
            tokio::task::spawn_blocking(move || verifier.verify(&tried, &password)).await;
        match verified {
            Ok(Some(user)) => {
                self.succeeded(address, &name);
                Ok(user)
            }
            _ => {
                self.failed(address, &name);
                Err(Refused::Unauthorized(Some(name)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::{User, hash_password};
    use base64::Engine as _;

    fn auth() -> Auth {
        let hash = hash_password(b"right").unwrap();
        Auth::new(Verifier::new(vec![User {
            name: "alice".into(),
            hash,
            admin: false,
        }]))
    }

    fn basic(name: &str, password: &str) -> Vec<u8> {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"));
        format!("Basic {token}").into_bytes()
    }

    #[tokio::test]
    async fn guesses_from_an_address_are_refused_cheaply_after_a_few_and_a_login_stays_fast() {
        let auth = auth();
        let guesser: IpAddr = "192.0.2.9".parse().unwrap();
        let owner: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(
            auth.authenticate(owner, Some(&basic("alice", "right")))
                .await
                .is_ok()
        );
        for _ in 0..ADDRESS_FREE {
            let r = auth
                .authenticate(guesser, Some(&basic("alice", "wrong")))
                .await;
            assert!(matches!(r, Err(Refused::Unauthorized(_))), "{r:?}");
        }
        let started = Instant::now();
        let r = auth
            .authenticate(guesser, Some(&basic("alice", "wrong")))
            .await;
        assert!(matches!(r, Err(Refused::Throttled(_, _))), "{r:?}");
        // Another guess waits out the address's penalty, without Argon2 ...
        let r = auth
            .authenticate(guesser, Some(&basic("alice", "other")))
            .await;
        assert!(matches!(r, Err(Refused::Throttled(_, _))), "{r:?}");
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "no Argon2 ran"
        );
        // ... while the owner's remembered password is let in at once.
        assert!(
            auth.authenticate(owner, Some(&basic("alice", "right")))
                .await
                .is_ok()
        );
        assert_eq!(
            auth.authenticate(owner, Some(b"Bearer x")).await,
            Err(Refused::Unauthorized(None))
        );
    }

    #[tokio::test]
    async fn guesses_at_one_user_from_many_addresses_hold_back_new_addresses_only() {
        let auth = auth();
        let home: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(
            auth.authenticate(home, Some(&basic("alice", "right")))
                .await
                .is_ok()
        );
        for i in 0..USER_FREE {
            let address = IpAddr::from([203, 0, 113, i as u8]);
            let _ = auth.authenticate(address, Some(&basic("alice", "x"))).await;
        }
        let stranger = IpAddr::from([203, 0, 113, 250]);
        let r = auth
            .authenticate(stranger, Some(&basic("alice", "y")))
            .await;
        assert!(matches!(r, Err(Refused::Throttled(_, _))), "{r:?}");
        // Unknown names are not counted per name (only per address).
        let r = auth
            .authenticate(stranger, Some(&basic("mallory", "y")))
            .await;
        assert!(matches!(r, Err(Refused::Unauthorized(_))), "{r:?}");
        // Where alice logged in before, her count does not hold her back.
        assert!(auth.wait(home, "alice", Instant::now()).is_none());
    }
}
