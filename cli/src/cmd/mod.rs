//! One module per repository command: arguments → engine options →
//! output. The commands driven by vault.toml (`run`, `health`, `drill`,
//! `schedule`) are in [`crate::ops`]; opening repositories is
//! [`crate::session`].

pub mod backup;
mod cat;
pub mod check;
pub mod copy;
mod diff;
mod docs;
mod find;
pub mod forget;
mod init;
mod key;
mod list;
mod mount;
pub mod prune;
mod read;
mod repair;
mod restore;
mod serve;
mod stats;
mod tag;
mod unlock;

use crate::args::{Cli, Command, Global};
use crate::ops;
use anyhow::Result;

pub use crate::session::*;

/// Run the parsed command line; returns the exit code.
pub fn run(cli: Cli) -> Result<u8> {
    let g = &cli.global;
    let outcome = run_command(g, cli.command);
    crate::session::report(g);
    outcome
}

fn run_command(g: &Global, command: Command) -> Result<u8> {
    match command {
        Command::Init(a) => init::run(g, &a),
        Command::Backup(a) => backup::run(g, &a),
        Command::Snapshots(a) => read::snapshots(g, &a),
        Command::Ls(a) => read::ls(g, &a),
        Command::Dump(a) => read::dump(g, &a),
        Command::Restore(a) => restore::run(g, &a),
        Command::Cat(a) => cat::run(g, &a),
        Command::Prune(a) => prune::run(g, &a),
        Command::Stats(a) => stats::run(g, &a),
        Command::Find(a) => find::run(g, &a),
        Command::Diff(a) => diff::run(g, &a),
        Command::Forget(a) => forget::run(g, &a),
        Command::Tag(a) => tag::run(g, &a),
        Command::Key(a) => key::run(g, &a),
        Command::Unlock(a) => unlock::run(g, &a),
        Command::List(a) => list::run(g, &a),
        Command::Check(a) => check::run(g, &a),
        Command::Repair(a) => repair::run(g, &a),
        Command::Copy(a) => copy::run(g, &a),
        Command::Mount(a) => mount::run(g, &a),
        Command::Run(a) => ops::run::run(g, &a),
        Command::Health(a) => ops::health::run(g, &a),
        Command::Drill(a) => ops::drill::run(g, &a),
        Command::Schedule(a) => ops::schedule::run(g, &a),
        Command::Serve(a) => serve::run(g, &a),
        Command::Completions(a) => docs::completions(&a),
        Command::Man(a) => docs::man(&a),
    }
}
