//! `vault`: parse the command line, run the command, map the outcome to the
//! contract's exit codes. No repository logic lives here.

/// `println!` that returns the write error instead of panicking, so that a
/// closed pipe (`vault ls latest | head`) ends the command quietly.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
            .map_err(|e| engine::Error::io("write", "standard output", e))?
    }};
}

mod advice;
mod args;
mod cmd;
mod config;
mod duration;
mod ops;
mod output;
mod password;
mod retention;
mod session;

use clap::Parser;
use std::process::ExitCode;

/// Exit codes of ../shared/cli-contract.md.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Fatal error.
    pub const FATAL: u8 = 1;
    /// Backup saved a snapshot, but some sources could not be read.
    pub const INCOMPLETE: u8 = 3;
    /// `vault health`: the backups are not healthy (stale, shrunk, unchecked).
    pub const UNHEALTHY: u8 = 4;
    /// No repository at the URL.
    pub const NO_REPOSITORY: u8 = 10;
    /// Repository locked.
    pub const LOCKED: u8 = 11;
    /// Wrong password.
    pub const WRONG_PASSWORD: u8 = 12;
}

fn exit_code_of(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<engine::Error>() {
            return match e {
                engine::Error::RepositoryNotFound { .. } => exit::NO_REPOSITORY,
                engine::Error::WrongPassword | engine::Error::KeyCostRefused { .. } => {
                    exit::WRONG_PASSWORD
                }
                engine::Error::Locked { .. } => exit::LOCKED,
                _ => exit::FATAL,
            };
        }
    }
    exit::FATAL
}

/// The one line vault leaves when a signal stops it.
fn say_stopped(signal: nix::sys::signal::Signal) {
    eprintln!(
        "vault: stopped by {signal}; its lock was removed and the commands it started were \
         stopped; what was saved so far stays, run the command again to finish"
    );
}

/// A closed stdout (`vault dump ... | head`) is not a failure.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<engine::Error>().is_some_and(|e| {
                matches!(e, engine::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
            })
    })
}

/// The glibc tunable vault runs with: a fixed mmap threshold of 4 MiB.
/// By default glibc raises the threshold to the size of each large block
/// freed (up to 32 MiB); after the first 8 MiB pack buffer is freed, every
/// later one comes from a per-thread arena, which keeps it when freed. That
/// doubled vault's peak RSS: a backup of `/usr/share` 160 MB → 92 MB with
/// the fixed threshold, its restore 150 MB → 111 MB (benches/README.md).
const MALLOC_TUNABLES: &str = "glibc.malloc.mmap_threshold=4194304";

/// glibc reads its tunables only when a process starts, and setting them
/// from inside takes `mallopt` (unsafe, which this workspace forbids):
/// so vault executes itself once more with them, keeping its process id,
/// arguments and environment. Not when `GLIBC_TUNABLES` is already set
/// (the user's choice, or this is the second start), nor when the exec
/// fails (then vault simply runs as it is).
fn tune_malloc() {
    use std::os::unix::process::CommandExt;
    if !cfg!(all(target_os = "linux", target_env = "gnu"))
        || std::env::var_os("GLIBC_TUNABLES").is_some()
    {
        return;
    }
    let mut args = std::env::args_os();
    let Some(arg0) = args.next() else { return };
    let _exec_failed = std::process::Command::new("/proc/self/exe")
        .arg0(arg0)
        .args(args)
        .env("GLIBC_TUNABLES", MALLOC_TUNABLES)
        .exec();
}

fn main() -> ExitCode {
    tune_malloc();
    // Before any work: a signal then stops vault cleanly (engine::interrupt).
    if let Err(e) = engine::interrupt::install(say_stopped) {
        eprintln!("vault: cannot handle Ctrl-C and SIGTERM ({e}); stopped before doing anything");
        return ExitCode::from(exit::FATAL);
    }
    let cli = args::Cli::parse();
    engine::configure_threads();
    let result = engine::with_stack(move || cmd::run(cli));
    if engine::interrupt::stopping() {
        engine::interrupt::wait_to_be_stopped();
    }
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) if is_broken_pipe(&err) => ExitCode::from(exit::OK),
        Err(err) => {
            // One line: what went wrong, with each cause that its message
            // does not already say (engine errors name their source), and
            // what to do about it.
            let message = advice::one_line(&err);
            eprintln!("vault: {}", output::message(&message));
            ExitCode::from(exit_code_of(&err))
        }
    }
}
