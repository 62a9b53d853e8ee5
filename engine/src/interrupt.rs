//! Ctrl-C (SIGINT), SIGTERM and SIGHUP: stop cleanly.
//!
//! [`install`] sets handlers for the three signals (handlers, not a
//! blocked mask: children inherit a mask, and a source command with SIGTERM
//! blocked could not be stopped), and one thread waits for them. On a
//! signal it runs what was registered with [`on_interrupt`] (newest
//! first): the commands this process started are stopped, their process
//! groups and all (each leads its own group, so a terminal's Ctrl-C does
//! not reach them by itself), and this process's locks are removed; then
//! the process exits with 128 + the signal's number (130 for SIGINT, 143
//! for SIGTERM). What was written so far is what a crash leaves: packs no
//! index lists yet, which `check` passes and `prune` removes.
//!
//! A command that must do its own clean-up first (`mount` unmounts) asks
//! for the signals with [`forward_to`] instead.

use nix::sys::signal::Signal;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};

type Cleanup = Box<dyn Fn() + Send + Sync>;

/// Clean-ups by registration number.
struct Registry(Mutex<BTreeMap<u64, Cleanup>>);

impl Registry {
    const fn new() -> Registry {
        Registry(Mutex::new(BTreeMap::new()))
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Cleanup>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&'static self, cleanup: Cleanup) -> Registration {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        self.map().insert(n, cleanup);
        Registration(self, n)
    }

    /// Run every clean-up, newest first, and forget them.
    fn run(&self) {
        let cleanups = std::mem::take(&mut *self.map());
        for (_, cleanup) in cleanups.into_iter().rev() {
            cleanup();
        }
    }
}

/// What runs on a signal.
static CLEANUPS: Registry = Registry::new();
/// Set once a signal is being handled: the process ends with the signal's
/// code, whatever the command meanwhile makes of its locks vanishing.
static STOPPING: AtomicBool = AtomicBool::new(false);
static NEXT: AtomicU64 = AtomicU64::new(0);
/// Where signals go instead, while a command handles them itself.
static FORWARD: Mutex<Option<mpsc::Sender<Signal>>> = Mutex::new(None);

/// Handle SIGINT, SIGTERM and SIGHUP from now on. `say` prints the one
/// line that tells the user why the command stopped.
pub fn install(say: fn(Signal)) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new(
        [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP].map(|s| s as i32),
    )?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for number in signals.forever() {
                let Ok(signal) = Signal::try_from(number) else {
                    continue;
                };
                let forward = FORWARD.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let Some(tx) = forward
                    && tx.send(signal).is_ok()
                {
                    continue;
                }
                STOPPING.store(true, Ordering::SeqCst);
                CLEANUPS.run();
                say(signal);
                std::process::exit(128 + number);
            }
        })?;
    Ok(())
}

/// Whether a signal is stopping the process. The command's own end must
/// then wait ([`wait_to_be_stopped`]) rather than report what the
/// clean-up caused (a lock it removed) and exit with another code.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// Wait for the signal's handler to end the process.
pub fn wait_to_be_stopped() -> ! {
    loop {
        std::thread::park();
    }
}

/// A registered clean-up; dropping it unregisters it.
#[must_use = "the clean-up is unregistered when this is dropped"]
pub struct Registration(&'static Registry, u64);

impl Drop for Registration {
    fn drop(&mut self) {
        self.0.map().remove(&self.1);
    }
}

/// Run `cleanup` if a signal stops this process while the registration
/// lives. Without [`install`] (the library used on its own) it never runs.
pub fn on_interrupt(cleanup: impl Fn() + Send + Sync + 'static) -> Registration {
    CLEANUPS.add(Box::new(cleanup))
}

/// Stop the process group `pgid` (a command vault started as the leader of
/// its own group) if a signal stops this process.
pub fn stop_group_on_interrupt(pgid: u32) -> Option<Registration> {
    let pgid = i32::try_from(pgid).ok()?;
    Some(on_interrupt(move || {
        // It may have ended already.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(-pgid), Signal::SIGTERM);
    }))
}

/// Send the signals to `tx` instead of stopping, until the returned guard
/// is dropped (then a signal stops the process again).
pub fn forward_to(tx: mpsc::Sender<Signal>) -> Forwarding {
    *FORWARD.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
    Forwarding
}

/// See [`forward_to`].
pub struct Forwarding;

impl Drop for Forwarding {
    fn drop(&mut self) {
        *FORWARD.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn cleanups_run_newest_first_and_only_while_registered() {
        // A registry of its own: the process-wide one holds other tests'.
        let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
        let order = Arc::new(Mutex::new(Vec::new()));
        let ran = Arc::new(AtomicUsize::new(0));
        let a = {
            let order = order.clone();
            registry.add(Box::new(move || order.lock().unwrap().push("a")))
        };
        let b = {
            let order = order.clone();
            registry.add(Box::new(move || order.lock().unwrap().push("b")))
        };
        let gone = {
            let ran = ran.clone();
            registry.add(Box::new(move || {
                ran.fetch_add(1, Ordering::Relaxed);
            }))
        };
        drop(gone);
        registry.run();
        assert_eq!(*order.lock().unwrap(), ["b", "a"]);
        assert_eq!(ran.load(Ordering::Relaxed), 0);
        drop((a, b));
    }
}
