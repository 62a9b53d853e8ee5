//! Password sources, in the contract's order: --password-file,
//! --password-command, VAULT_PASSWORD_FILE, VAULT_PASSWORD_COMMAND,
//! VAULT_PASSWORD, then a no-echo prompt when there is a terminal.

use anyhow::{Context, Result, bail};
use std::io::IsTerminal;
use std::path::Path;
use zeroize::Zeroizing;

/// Where a password comes from.
pub struct Sources<'a> {
    /// `--password-file` (or `--to-password-file`).
    pub file: Option<&'a Path>,
    /// `--password-command`.
    pub command: Option<&'a str>,
    /// Prefix of the environment variables (`VAULT_`, `VAULT_TO_`, `VAULT_FROM_`).
    pub env_prefix: &'static str,
    /// Prefix of the flags, for messages (`--`, `--to-`, `--from-`).
    pub flag_prefix: &'static str,
    /// Which repository, for the prompt and messages (`repository`,
    /// `destination repository`, ...).
    pub what: &'static str,
}

fn first_line(bytes: Vec<u8>) -> Zeroizing<String> {
    let bytes = Zeroizing::new(bytes);
    let text = String::from_utf8_lossy(&bytes);
    Zeroizing::new(text.lines().next().unwrap_or("").to_owned())
}

pub(crate) fn from_file(path: &Path) -> Result<Zeroizing<String>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read password file {}", path.display()))?;
    Ok(first_line(bytes))
}

fn from_command(cmd: &str) -> Result<Zeroizing<String>> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run password command {cmd:?}"))?;
    if !out.status.success() {
        bail!("password command {cmd:?} failed ({})", out.status);
    }
    Ok(first_line(out.stdout))
}

/// The variables through which vault is given passwords. No command
/// vault starts (a source's command, a hook, a drill command) gets them:
/// a password handed to vault stays with vault.
pub const VARIABLES: [&str; 11] = [
    "VAULT_PASSWORD",
    "VAULT_PASSWORD_FILE",
    "VAULT_PASSWORD_COMMAND",
    "VAULT_TO_PASSWORD",
    "VAULT_TO_PASSWORD_FILE",
    "VAULT_TO_PASSWORD_COMMAND",
    "VAULT_FROM_PASSWORD",
    "VAULT_FROM_PASSWORD_FILE",
    "VAULT_FROM_PASSWORD_COMMAND",
    "VAULT_SERVER_PASSWORD",
    "VAULT_SERVER_PASSWORD_FILE",
];

/// The environment of a command vault starts: this process's without the
/// password variables, with `set` on top.
pub fn child_env(set: &std::collections::BTreeMap<String, String>) -> engine::backup::CommandEnv {
    engine::backup::CommandEnv {
        remove: VARIABLES.iter().map(|v| (*v).to_owned()).collect(),
        set: set.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    }
}

/// Find the password. `confirm` asks twice at a prompt (for new keys).
pub fn get(sources: &Sources<'_>, confirm: bool) -> Result<Zeroizing<String>> {
    let p = sources.env_prefix;
    let f = sources.flag_prefix;
    let env = |name: &str| std::env::var_os(format!("{p}{name}")).filter(|v| !v.is_empty());
    let password = if let Some(f) = sources.file {
        from_file(f)?
    } else if let Some(c) = sources.command {
        from_command(c)?
    } else if let Some(f) = env("PASSWORD_FILE") {
        from_file(Path::new(&f))?
    } else if let Some(c) = env("PASSWORD_COMMAND") {
        from_command(&c.to_string_lossy())?
    } else if let Some(pw) = env("PASSWORD") {
        Zeroizing::new(pw.to_string_lossy().into_owned())
    } else if std::io::stdin().is_terminal() {
        prompt(&format!("enter password for {}: ", sources.what), confirm)?
    } else {
        bail!(
            "no password given for the {}: use {f}password-file, {f}password-command, or set {p}PASSWORD / {p}PASSWORD_FILE / {p}PASSWORD_COMMAND",
            sources.what
        );
    };
    non_empty(password)
}

/// A new password (`key add`, `key passwd`): the first line of `file`, or
/// a prompt that asks twice. The repository's own password sources are not
/// consulted: they name the password in use.
pub fn new_password(file: Option<&Path>) -> Result<Zeroizing<String>> {
    let password = match file {
        Some(f) => from_file(f)?,
        None if std::io::stdin().is_terminal() => prompt("enter new password: ", true)?,
        None => bail!("no new password given: use --new-password-file FILE"),
    };
    non_empty(password)
}

pub(crate) fn prompt(label: &str, confirm: bool) -> Result<Zeroizing<String>> {
    let pw = Zeroizing::new(rpassword::prompt_password(label).context("cannot read password")?);
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password("enter password again: ").context("cannot read password")?,
        );
        if *pw != *again {
            bail!("the passwords do not match; nothing was changed");
        }
    }
    Ok(pw)
}

fn non_empty(password: Zeroizing<String>) -> Result<Zeroizing<String>> {
    if password.is_empty() {
        bail!("the password is empty; give a non-empty password");
    }
    Ok(password)
}
