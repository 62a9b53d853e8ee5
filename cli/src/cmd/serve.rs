//! `vault serve`: repositories over HTTP(S) (the `serve` crate), and
//! `--add-user` to write its users file.

use crate::args::{Global, ServeArgs};
use crate::exit;
use crate::password;
use anyhow::{Result, bail};
use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;

/// Upload bytes in memory at once without `--max-memory`.
const DEFAULT_BODY_MEMORY: u64 = 1 << 30;

/// Run `vault serve`.
pub fn run(g: &Global, a: &ServeArgs) -> Result<u8> {
    if let Some(name) = &a.add_user {
        return add_user(g, a, name);
    }
    let (root, create_root) = match (&a.path, g.repo.as_deref()) {
        (Some(_), Some(_)) => {
            bail!("give either --path DIR or -r URL (VAULT_REPOSITORY) as what to serve, not both")
        }
        (Some(dir), None) => (dir.to_string_lossy().into_owned(), true),
        (None, Some(url)) if !url.is_empty() => (url.to_owned(), false),
        _ => bail!("nothing to serve: give --path DIR (or -r URL)"),
    };
    let options = serve::ServeOptions {
        listen: a.listen.clone(),
        root,
        create_root,
        append_only: a.append_only,
        private_repos: a.private_repos,
        users: a.users.clone(),
        tls: a.tls_cert.clone().zip(a.tls_key.clone()),
        max_requests: usize::from(a.max_requests),
        connections: serve::ConnLimits {
            max: a.max_connections as usize,
            per_address: a.max_connections_per_address as usize,
            idle: positive("--idle-timeout", &a.idle_timeout)?,
        },
        uploads: upload_limits(g, a)?,
        timeout: crate::duration::parse("--timeout", &a.timeout)?,
        verbose: g.verbose > 0,
    };
    let mut modes = Vec::new();
    if options.append_only {
        modes.push("append-only");
    }
    if options.private_repos {
        modes.push("private repositories");
    }
    if options.users.is_none() {
        modes.push("NO AUTHENTICATION");
    }
    let root = options.root.clone();
    serve::run(&options, |addr, tls| {
        let scheme = if tls { "https" } else { "http" };
        let modes = if modes.is_empty() {
            String::new()
        } else {
            format!(" ({})", modes.join(", "))
        };
        // Tests and scripts read the address from this line.
        eprintln!("vault serve: serving {root} listening on {scheme}://{addr}{modes}");
    })?;
    if !g.quiet {
        eprintln!("vault serve: stopped");
    }
    Ok(exit::OK)
}

/// A duration that must not be zero.
fn positive(flag: &str, text: &str) -> Result<std::time::Duration> {
    let d = crate::duration::parse(flag, text)?;
    if d.is_zero() {
        bail!("{flag} must be more than 0");
    }
    Ok(d)
}

fn upload_limits(g: &Global, a: &ServeArgs) -> Result<serve::upload::UploadLimits> {
    let max_body = super::parse_size("--max-body", &a.max_body)?;
    let memory = match &g.max_memory {
        Some(m) => super::parse_size("--max-memory", m)?,
        None => DEFAULT_BODY_MEMORY,
    };
    let memory_per_user = match &a.max_memory_per_user {
        Some(m) => super::parse_size("--max-memory-per-user", m)?,
        None => (memory / 4).max(max_body).min(memory),
    };
    Ok(serve::upload::UploadLimits {
        max_body,
        memory,
        memory_per_user,
        min_rate: super::parse_size("--min-upload-rate", &a.min_upload_rate)?,
        quota_bytes: a
            .quota_bytes
            .as_deref()
            .map(|q| super::parse_size("--quota-bytes", q))
            .transpose()?,
        quota_objects: a.quota_objects,
    })
}

fn add_user(g: &Global, a: &ServeArgs, name: &str) -> Result<u8> {
    let Some(file) = &a.users else {
        bail!("--add-user needs --users FILE");
    };
    let env = |n: &str| std::env::var_os(n).filter(|v| !v.is_empty());
    let pw: password::Password = if let Some(f) = &a.new_password_file {
        password::from_file(f)?
    } else if let Some(f) = env("VAULT_SERVER_PASSWORD_FILE") {
        password::from_file(std::path::Path::new(&f))?
    } else if let Some(pw) = env("VAULT_SERVER_PASSWORD") {
        password::Password::from_bytes(pw.as_bytes())
    } else if std::io::stdin().is_terminal() {
        password::prompt(&format!("enter password for server user {name}: "), true)?
    } else {
        bail!(
            "no password given for the new user {name}: use --new-password-file FILE, or set VAULT_SERVER_PASSWORD_FILE or VAULT_SERVER_PASSWORD"
        );
    };
    let new = serve::users::add_user(file, name, pw.as_bytes(), a.admin)?;
    if !g.quiet {
        let what = match (new, a.admin) {
            (true, true) => "added administrator",
            (true, false) => "added user",
            (false, _) => "changed the password of user",
        };
        eprintln!("{what} {name} in {}", file.display());
    }
    Ok(exit::OK)
}
