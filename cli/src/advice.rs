//! What to do about it: the commands and flags the engine's errors and
//! reports call for, named here because they are this program's names
//! (the engine says what is wrong; the CLI says which command puts it
//! right).

use engine::Error;
use engine::maintenance::check::Repair;
use engine::repo_format::lock::LockHolder;

/// The command that performs `repair`.
pub fn repair_command(repair: Repair) -> &'static str {
    match repair {
        Repair::Index => "vault repair index",
        Repair::Snapshots => "vault repair snapshots --forget",
        Repair::Prune => "vault prune",
    }
}

/// Several repairs as one command line, in order.
pub fn repair_commands(repairs: &[Repair]) -> String {
    repairs
        .iter()
        .map(|r| repair_command(*r))
        .collect::<Vec<_>>()
        .join(" && ")
}

/// What the user can do about a lock held by someone else.
fn lock_advice(holder: &LockHolder) -> String {
    let minutes = engine::repository::lock::STALE_AFTER.as_secs() / 60;
    match holder {
        LockHolder::Lock(_) => "wait for it to finish (--retry-lock waits), or, if that process \
             no longer runs, remove the lock with 'vault unlock --remove-all'"
            .to_owned(),
        LockHolder::Unreadable { .. } => format!(
            "it counts as stale {minutes} minutes after it was written; or remove it now \
             with 'vault unlock --remove-all'"
        ),
    }
}

/// The advice that completes `err`'s message, if it calls for any.
pub fn for_error(err: &Error) -> Option<String> {
    let text = match err {
        Error::RepositoryNotFound { .. } => "run 'vault init' first, or check the URL".to_owned(),
        Error::SnapshotNotFound(_) => "run 'vault snapshots' to list them".to_owned(),
        Error::KeyNotFound(_) => "run 'vault key list' to list them".to_owned(),
        Error::KeyCostRefused { key, .. } => format!(
            "check the password; vault never writes such a key file: once in, \
             'vault key remove {key}' removes it"
        ),
        Error::KeyRefused { .. } => "'vault key passwd' replaces the key in use".to_owned(),
        Error::BlobNotIndexed(_) | Error::BlobUnreachable { .. } => "run 'vault check'".to_owned(),
        Error::PackMissing(_) | Error::IndexContradicted { .. } => {
            "run 'vault check', then 'vault repair index'".to_owned()
        }
        Error::IndexDamaged(_) => "run 'vault repair index' first".to_owned(),
        Error::Locked { holder, .. } => lock_advice(holder),
        Error::AppendOnly { .. } => "forget, prune and other commands that delete must run on \
             the server (vault -r DIR ...) or with an administrator credential"
            .to_owned(),
        Error::InvalidUrl { url, .. } if url.starts_with("vault+") => {
            "the server password comes from VAULT_SERVER_PASSWORD_FILE or VAULT_SERVER_PASSWORD"
                .to_owned()
        }
        Error::StoreRefused { url, .. } if url.starts_with("vault+") => {
            "the server password comes from VAULT_SERVER_PASSWORD_FILE or VAULT_SERVER_PASSWORD"
                .to_owned()
        }
        _ => return None,
    };
    Some(text)
}

/// An error as `vault` prints it: one line, each cause its message does
/// not already say, then what to do about it.
pub fn one_line(err: &anyhow::Error) -> String {
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
    if let Some(advice) = err
        .chain()
        .find_map(|c| c.downcast_ref::<Error>())
        .and_then(for_error)
    {
        message.push_str("; ");
        message.push_str(&advice);
    }
    message.replace('\n', " ")
}
