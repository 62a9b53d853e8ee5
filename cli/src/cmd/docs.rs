//! `completions` and `man`: generated from the clap definitions, so they
//! never disagree with the commands. Neither opens a repository.

use crate::args::{Cli, CompletionsArgs, ManArgs};
use crate::exit;
use anyhow::{Context, Result};
use clap::CommandFactory;
use std::io::Write;

/// Run `completions`: the script for the shell on stdout.
pub fn completions(a: &CompletionsArgs) -> Result<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "vault", &mut out);
    write_stdout(&out)?;
    Ok(exit::OK)
}

/// Run `man`: vault(1) on stdout, or with `--dir` a page for vault and one
/// for each command (vault-backup(1), ...).
pub fn man(a: &ManArgs) -> Result<u8> {
    let cmd = Cli::command();
    let Some(dir) = &a.dir else {
        write_stdout(&render(cmd, "vault")?)?;
        return Ok(exit::OK);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut pages = vec![("vault".to_owned(), cmd.clone())];
    for sub in cmd.get_subcommands() {
        // Named vault-COMMAND, as man pages of subcommands are; the
        // synopsis names the command as it is typed.
        let title = format!("vault-{}", sub.get_name());
        let page = sub
            .clone()
            .name(title.clone())
            .bin_name(format!("vault {}", sub.get_name()));
        pages.push((title, page));
    }
    for (title, page) in pages {
        let path = dir.join(format!("{title}.1"));
        std::fs::write(&path, render(page, &title)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(exit::OK)
}

fn render(cmd: clap::Command, title: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .title(title.to_owned())
        .render(&mut out)
        .context("cannot render the man page")?;
    Ok(out)
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| engine::Error::io("write", "standard output", e))?;
    Ok(())
}
