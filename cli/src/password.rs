//! Password sources, in the contract's order: --password-file,
//! --password-command, VAULT_PASSWORD_FILE, VAULT_PASSWORD_COMMAND,
//! VAULT_PASSWORD, then a no-echo prompt when there is a terminal.
//!
//! A password is bytes, never decoded: a key file of random bytes keeps
//! all of its entropy (issue 20). Text passwords are their UTF-8 bytes, as
//! they always were.

use anyhow::{Context, Result, bail};
use engine::{Backend, Repository};
use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;
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

/// A password: its bytes, wiped when dropped.
pub struct Password(Zeroizing<Vec<u8>>);

impl Password {
    /// A password of these bytes (a variable's value, say).
    pub fn from_bytes(bytes: &[u8]) -> Password {
        Password(Zeroizing::new(bytes.to_vec()))
    }

    /// The bytes the key is derived from.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// What vault before issue 20 made of a password that is not UTF-8
    /// (each invalid sequence became U+FFFD), or None for one that is
    /// UTF-8 (the same bytes then and now).
    fn lossy(&self) -> Option<Password> {
        match String::from_utf8_lossy(&self.0) {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(text) => Some(Password(Zeroizing::new(text.into_bytes()))),
        }
    }
}

/// The first line of `bytes`, without its `\n` or `\r\n` (as text
/// passwords were always read).
fn first_line(bytes: Vec<u8>) -> Password {
    let bytes = Zeroizing::new(bytes);
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Password(Zeroizing::new(line.to_vec()))
}

pub(crate) fn from_file(path: &Path) -> Result<Password> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read password file {}", path.display()))?;
    Ok(first_line(bytes))
}

fn from_command(cmd: &str) -> Result<Password> {
    let out = command("sh")
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
/// vault starts (a source's command, a hook, a drill command, a password
/// command, systemctl) gets them, even where vault.toml's `env` sets
/// them: a password handed to vault stays with vault. (The paths in the
/// `_FILE` variables are no secret, but they point at one.) Other
/// variables pass, secrets of the user's own such as
/// `AWS_SECRET_ACCESS_KEY` included: a command may need them.
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

/// `program`, to be started without the password variables.
pub fn command(program: &str) -> Command {
    let mut command = Command::new(program);
    for name in VARIABLES {
        command.env_remove(name);
    }
    command
}

/// The environment of a command vault starts: this process's without the
/// password variables, with `set` on top (but for password variables).
pub fn child_env(set: &std::collections::BTreeMap<String, String>) -> engine::backup::CommandEnv {
    engine::backup::CommandEnv {
        remove: VARIABLES.iter().map(|v| (*v).to_owned()).collect(),
        set: set
            .iter()
            .filter(|(k, _)| !VARIABLES.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// Open the repository in `backend` with `password`. A repository made by
/// vault before issue 20 from a password that is not UTF-8 has a key
/// derived from its lossy decoding: that key still opens (it gives nothing
/// away: anyone holding the lossy text opens it with any vault), with a
/// warning to bind the key to the password's bytes.
pub fn open(backend: Backend, password: &Password) -> engine::Result<Repository> {
    match Repository::open(backend.clone(), password.as_bytes()) {
        Err(engine::Error::WrongPassword) => {
            let Some(lossy) = password.lossy() else {
                return Err(engine::Error::WrongPassword);
            };
            let repo = Repository::open(backend, lossy.as_bytes())?;
            eprintln!(
                "warning: this repository's key was made from the password with its non-UTF-8 bytes replaced (vault before issue 20), which other passwords share; run 'vault key passwd --new-password-file FILE' with the same password file to bind the key to its bytes"
            );
            Ok(repo)
        }
        opened => opened,
    }
}

/// Find the password. `confirm` asks twice at a prompt (for new keys).
pub fn get(sources: &Sources<'_>, confirm: bool) -> Result<Password> {
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
        Password::from_bytes(pw.as_bytes())
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
pub fn new_password(file: Option<&Path>) -> Result<Password> {
    let password = match file {
        Some(f) => from_file(f)?,
        None if std::io::stdin().is_terminal() => prompt("enter new password: ", true)?,
        None => bail!("no new password given: use --new-password-file FILE"),
    };
    non_empty(password)
}

pub(crate) fn prompt(label: &str, confirm: bool) -> Result<Password> {
    let pw = Zeroizing::new(rpassword::prompt_password(label).context("cannot read password")?);
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password("enter password again: ").context("cannot read password")?,
        );
        if *pw != *again {
            bail!("the passwords do not match; nothing was changed");
        }
    }
    Ok(Password::from_bytes(pw.as_bytes()))
}

fn non_empty(password: Password) -> Result<Password> {
    if password.as_bytes().is_empty() {
        bail!("the password is empty; give a non-empty password");
    }
    Ok(password)
}
