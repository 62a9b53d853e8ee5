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
