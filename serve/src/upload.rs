//! Upload bodies: held in memory until stored, within bounds no client can
//! use to starve the others.
//!
//! - **Memory is taken as bytes arrive**, not for the declared length
//!   before a byte has come: an upload that sends nothing holds nothing.
//!   Each user (each top-level directory without users) may hold at most
//!   its share (`--max-memory-per-user`) of the server's upload memory
//!   (`--max-memory`); an upload that finds no room within
//!   [`ROOM_WAIT`] is answered 503 and lets go of what it held, so uploads
//!   that each hold part of the budget cannot wait on each other for
//!   ever.
//! - **A minimum rate**: after [`GRACE`], a body must have arrived at
//!   `--min-upload-rate` on average, else 408.
//! - **Quotas** (optional): the bytes and objects stored under each
//!   top-level directory (with `--private-repos`, each user's
//!   repositories). Counted from a listing the first time a directory
//!   receives an upload, then kept up to date; a PUT that would pass them
//!   is answered 507.

use bytes::Bytes;
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path as StorePath;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The unit of the memory budgets.
const UNIT: u64 = 1024;
/// How long an upload waits for room in the memory budget before 503.
pub const ROOM_WAIT: Duration = Duration::from_secs(30);
/// How long a body may take before the minimum rate applies.
pub const GRACE: Duration = Duration::from_secs(10);

/// The upload bounds.
#[derive(Clone, Copy, Debug)]
pub struct UploadLimits {
    /// Largest body, bytes.
    pub max_body: u64,
    /// Upload bytes in memory at once, all uploads together.
    pub memory: u64,
    /// The most of `memory` one user's uploads may hold.
    pub memory_per_user: u64,
    /// Bytes a second a body must average after [`GRACE`].
    pub min_rate: u64,
    /// Bytes stored under one top-level directory, at most.
    pub quota_bytes: Option<u64>,
    /// Objects stored under one top-level directory, at most.
    pub quota_objects: Option<u64>,
}

/// Why a body was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Longer than `--max-body`.
    TooLarge,
    /// Longer than its Content-Length.
    LongerThanDeclared,
    /// The connection failed while the body came.
    Unreadable,
    /// Slower than `--min-upload-rate`.
    TooSlow,
    /// No room in the memory budget within [`ROOM_WAIT`].
    NoRoom,
    /// The server is stopping.
    Stopping,
}

/// The memory budgets and quotas, shared by every upload.
pub struct Uploads {
    limits: UploadLimits,
    memory: Arc<Semaphore>,
    users: Mutex<HashMap<String, Arc<Semaphore>>>,
    usage: tokio::sync::Mutex<HashMap<String, Usage>>,
}

/// A body that arrived whole, and the memory it holds until dropped.
pub struct Body {
    /// The chunks.
    pub chunks: Vec<Bytes>,
    /// Its BLAKE3.
    pub hash: blake3::Hash,
    /// Its length.
    pub len: u64,
    _room: Vec<OwnedSemaphorePermit>,
}

/// What a top-level directory stores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes.
    pub bytes: u64,
    /// Objects.
    pub objects: u64,
}

fn units(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX)
}

fn semaphore(bytes: u64) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(
        usize::try_from(units(bytes))
            .map_or(Semaphore::MAX_PERMITS, |n| n.min(Semaphore::MAX_PERMITS)),
    ))
}

impl Uploads {
    /// Budgets and quotas as `limits` say.
    pub fn new(limits: UploadLimits) -> Self {
        Uploads {
            limits,
            memory: semaphore(limits.memory),
            users: Mutex::new(HashMap::new()),
            usage: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The bounds.
    pub fn limits(&self) -> &UploadLimits {
        &self.limits
    }

    fn user_budget(&self, user: &str) -> Arc<Semaphore> {
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        users
            .entry(user.to_owned())
            .or_insert_with(|| semaphore(self.limits.memory_per_user))
            .clone()
    }

    /// Read `stream`, a body declared `declared` bytes long (None: not
    /// declared), for `user`, within the bounds; see the module docs.
    pub async fn receive<S, E>(
        &self,
        user: &str,
        declared: Option<u64>,
        mut stream: S,
    ) -> Result<Body, Refused>
    where
        S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
    {
        let limit = declared.unwrap_or(self.limits.max_body);
        if limit > self.limits.max_body {
            return Err(Refused::TooLarge);
        }
        let budget = self.user_budget(user);
        let start = Instant::now();
        let rate = self.limits.min_rate.max(1) as f64;
        let mut chunks = Vec::new();
        let mut len: u64 = 0;
        let mut hasher = blake3::Hasher::new();
        let mut room: Vec<OwnedSemaphorePermit> = Vec::new();
        let mut held: u32 = 0;
        loop {
            let due = start + GRACE + Duration::from_secs_f64(len as f64 / rate);
            let chunk = match tokio::time::timeout_at(due, stream.next()).await {
                Err(_) => return Err(Refused::TooSlow),
                Ok(None) => break,
                Ok(Some(Err(_))) => return Err(Refused::Unreadable),
                Ok(Some(Ok(chunk))) => chunk,
            };
            len += chunk.len() as u64;
            if len > limit {
                return Err(if len > self.limits.max_body {
                    Refused::TooLarge
                } else {
                    Refused::LongerThanDeclared
                });
            }
            let needed = units(len);
            if needed > held {
                let more = needed - held;
                let wait = async {
                    let mine = budget.clone().acquire_many_owned(more).await;
                    let all = self.memory.clone().acquire_many_owned(more).await;
                    (mine, all)
                };
                match tokio::time::timeout(ROOM_WAIT, wait).await {
                    Err(_) => return Err(Refused::NoRoom),
                    Ok((Ok(mine), Ok(all))) => {
                        room.push(mine);
                        room.push(all);
                    }
                    Ok(_) => return Err(Refused::Stopping),
                }
                held = needed;
            }
            hasher.update(&chunk);
            chunks.push(chunk);
        }
        Ok(Body {
            chunks,
            hash: hasher.finalize(),
            len,
            _room: room,
        })
    }

    /// Count `bytes` more in one more object under `owner` (a top-level
    /// directory), if the quotas allow; the caller gives them back with
    /// [`Uploads::release`] if the object is not stored after all.
    pub async fn reserve(
        &self,
        store: &dyn ObjectStore,
        root: &StorePath,
        owner: &str,
        bytes: u64,
    ) -> Result<(), String> {
        if self.limits.quota_bytes.is_none() && self.limits.quota_objects.is_none() {
            return Ok(());
        }
        let mut usage = self.usage.lock().await;
        if !usage.contains_key(owner) {
            let counted = count(store, &root.clone().join(owner)).await?;
            usage.insert(owner.to_owned(), counted);
        }
        let used = usage.entry(owner.to_owned()).or_default();
        if let Some(max) = self.limits.quota_bytes
            && used.bytes.saturating_add(bytes) > max
        {
            return Err(format!(
                "/{owner}/ holds {} of its {max} bytes (--quota-bytes): this object ({bytes} bytes) would pass it",
                used.bytes
            ));
        }
        if let Some(max) = self.limits.quota_objects
            && used.objects >= max
        {
            return Err(format!(
                "/{owner}/ holds {} of its {max} objects (--quota-objects)",
                used.objects
            ));
        }
        used.bytes += bytes;
        used.objects += 1;
        Ok(())
    }

    /// Give back what [`Uploads::reserve`] counted, or count out an object
    /// deleted from under `owner`.
    pub async fn release(&self, owner: &str, bytes: u64) {
        if let Some(used) = self.usage.lock().await.get_mut(owner) {
            used.bytes = used.bytes.saturating_sub(bytes);
            used.objects = used.objects.saturating_sub(1);
        }
    }
}

/// What is stored under `prefix`.
async fn count(store: &dyn ObjectStore, prefix: &StorePath) -> Result<Usage, String> {
    let mut listing = store.list(Some(prefix));
    let mut usage = Usage::default();
    while let Some(meta) = listing.next().await {
        match meta {
            Ok(meta) => {
                usage.bytes += meta.size;
                usage.objects += 1;
            }
            Err(object_store::Error::NotFound { .. }) => break,
            Err(e) => return Err(format!("cannot count what the directory stores: {e}")),
        }
    }
    Ok(usage)
}
