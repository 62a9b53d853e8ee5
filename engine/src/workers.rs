//! A fixed set of worker threads fed through a bounded channel: the shape
//! of both the saver's sealing stage and the packer's upload stage. The
//! first error a worker meets is kept and fails every later `send` and the
//! final `finish`.

use crate::error::{Error, FirstError, Result};
use crossbeam_channel::{Sender, bounded};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Worker threads that each run `work` on the items sent to them.
pub(crate) struct Workers<T: Send + 'static> {
    tx: Mutex<Option<Sender<T>>>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    failure: Arc<FirstError>,
}

impl<T: Send + 'static> Workers<T> {
    /// Start `threads` workers named `name-N`; at most `queue` items wait
    /// beyond those being worked on (0: a sender waits for a free worker).
    pub(crate) fn start(
        name: &str,
        threads: usize,
        queue: usize,
        work: impl Fn(T) -> Result<()> + Send + Sync + 'static,
    ) -> Result<Self> {
        let (tx, rx) = bounded::<T>(queue);
        let failure = Arc::new(FirstError::default());
        let work = Arc::new(work);
        let mut handles = Vec::new();
        for n in 0..threads {
            let (rx, work, failure) = (rx.clone(), work.clone(), failure.clone());
            let handle = std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || {
                    for item in rx.iter() {
                        if let Err(e) = work(item) {
                            failure.record(e);
                        }
                    }
                })
                .map_err(|e| Error::io("start worker thread", "", e))?;
            handles.push(handle);
        }
        Ok(Workers {
            tx: Mutex::new(Some(tx)),
            handles: Mutex::new(handles),
            failure,
        })
    }

    /// Hand an item to a worker, waiting while the queue is full.
    pub(crate) fn send(&self, item: T) -> Result<()> {
        self.check()?;
        let tx = self
            .tx
            .lock()
            .map_err(|_| Error::Internal("worker queue lock"))?
            .clone()
            .ok_or(Error::Internal("workers already finished"))?;
        tx.send(item)
            .map_err(|_| Error::Internal("worker threads stopped"))
    }

    /// Fail if a worker has failed.
    pub(crate) fn check(&self) -> Result<()> {
        self.failure.check()
    }

    /// Close the queue, wait for every worker, and fail if one failed.
    pub(crate) fn finish(&self) -> Result<()> {
        drop(
            self.tx
                .lock()
                .map_err(|_| Error::Internal("worker queue lock"))?
                .take(),
        );
        let handles = std::mem::take(
            &mut *self
                .handles
                .lock()
                .map_err(|_| Error::Internal("worker lock"))?,
        );
        for h in handles {
            h.join()
                .map_err(|_| Error::Internal("worker thread panicked"))?;
        }
        self.check()
    }
}

/// The stack of every thread that may walk trees: the command's own and
/// rayon's. A walk by path recurses once per directory level, up to
/// [`crate::repository::reachable::MAX_DEPTH`] levels, and the same walk may continue
/// on a worker that stole part of it; 8 MiB (the main thread's) ran out
/// at 2000 levels in a debug build. Only what is touched is ever
/// committed: the rest is address space.
pub const STACK_SIZE: usize = 256 << 20;

/// Give rayon's global pool threads of [`STACK_SIZE`]; call once, before
/// any parallel work (the `vault` binary does, first thing).
pub fn configure_threads() {
    // Fails only when the pool exists already, which then keeps its own.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(STACK_SIZE)
        .build_global();
}

/// Run `f` on a thread of [`STACK_SIZE`] (the `vault` binary runs each
/// command so), or on this thread when no such thread can be started (an
/// address-space limit): what `f` returns, and a panic in it goes on here.
pub fn with_stack<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let once = std::sync::Mutex::new(Some(f));
    let run = || {
        let f = once
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .expect("the command is taken once");
        f()
    };
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("vault".to_owned())
            .stack_size(STACK_SIZE)
            .spawn_scoped(scope, run);
        match spawned {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => run(),
        }
    })
}
