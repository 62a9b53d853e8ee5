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

mod args;
mod cmd;
mod duration;
mod output;
mod password;

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
                engine::Error::WrongPassword => exit::WRONG_PASSWORD,
                engine::Error::Locked { .. } => exit::LOCKED,
                _ => exit::FATAL,
            };
        }
    }
    exit::FATAL
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

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) if is_broken_pipe(&err) => ExitCode::from(exit::OK),
        Err(err) => {
            // One line: what went wrong, with each cause that its message
            // does not already say (engine errors name their source).
            let mut message = String::new();
            for cause in err.chain() {
                let text = cause.to_string();
                if !message.contains(&text) {
                    if !message.is_empty() {
                        message.push_str(": ");
                    }
                    message.push_str(&text);
                }
            }
            let message = message.replace('\n', " ");
            eprintln!("vault: {message}");
            ExitCode::from(exit_code_of(&err))
        }
    }
}
