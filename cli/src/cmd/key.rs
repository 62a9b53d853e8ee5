//! `vault key list|add|remove|passwd`: the repository's key files, one per
//! password, each sealing the same master key.

use super::Access;
use crate::args::{Global, KeyAddArgs, KeyArgs, KeyCommand};
use crate::exit;
use crate::output;
use crate::password;
use anyhow::Result;
use engine::repo_format::key::{KdfParams, KeyFile, KeyKind};
use engine::repo_format::tree::Timestamp;
use engine::repository::lock::LockKind;
use serde_json::{Value, json};

/// Run `key`.
pub fn run(g: &Global, a: &KeyArgs) -> Result<u8> {
    match &a.command {
        KeyCommand::List => list(g),
        KeyCommand::Heartbeat => {
            let repo = super::open(g, Access::Read, "key heartbeat")?;
            let key = engine::repository::heartbeat::verifying_key(&repo).to_hex();
            if g.json {
                output::print_json(&json!({ "heartbeat_key": key }))?;
            } else {
                out!("{key}");
            }
            Ok(exit::OK)
        }
        KeyCommand::Add(n) => add(g, n),
        KeyCommand::Remove(r) => {
            let repo = super::open(g, Access::Write(LockKind::Exclusive), "key remove")?;
            let id = repo.find_key(&r.id)?;
            repo.remove_key(id)?;
            report(
                g,
                json!({"removed": id.to_hex()}),
                &format!("removed key {}", id.short()),
            )
        }
        KeyCommand::Passwd(n) => {
            let new_password = password::new_password(n.new_password_file.as_deref())?;
            let mut session = super::open(g, Access::Write(LockKind::Exclusive), "key passwd")?;
            let repo = std::sync::Arc::get_mut(&mut session.repo)
                .ok_or_else(|| anyhow::anyhow!("internal error: the repository is shared"))?;
            let old = repo.key_id();
            let new = repo.change_password(new_password.as_bytes(), KdfParams::DEFAULT)?;
            report(
                g,
                json!({"added": new.to_hex(), "removed": old.to_hex()}),
                &format!(
                    "saved new key {}, removed key {}: the password is changed",
                    new.short(),
                    old.short()
                ),
            )
        }
    }
}

fn report(g: &Global, value: Value, line: &str) -> Result<u8> {
    if g.json {
        output::print_json(&value)?;
    } else if !g.quiet {
        out!("{line}");
    }
    Ok(exit::OK)
}

fn add(g: &Global, a: &KeyAddArgs) -> Result<u8> {
    let new_password = password::new_password(a.password.new_password_file.as_deref())?;
    let repo = super::open(g, Access::Write(LockKind::Shared), "key add")?;
    let (id, kind) = if a.put_only {
        let id = repo.add_put_only_key(new_password.as_bytes(), KdfParams::DEFAULT)?;
        (id, KeyKind::PutOnly)
    } else {
        (
            repo.add_key(new_password.as_bytes(), KdfParams::DEFAULT)?,
            KeyKind::Full,
        )
    };
    report(
        g,
        json!({"added": id.to_hex(), "kind": kind.name()}),
        &format!("saved new {} key {}", kind.name(), id.short()),
    )
}

fn list(g: &Global) -> Result<u8> {
    let repo = super::open(g, Access::Read, "key list")?;
    let current = repo.key_id();
    let (keys, damaged) = repo.keys()?;
    for (id, e) in &damaged {
        eprintln!(
            "warning: key file {} is not a key file ({}); 'vault key remove {}' removes it",
            id.short(),
            e.detail(),
            id.short()
        );
    }
    if g.json {
        let list: Vec<Value> = keys
            .iter()
            .map(|(id, k)| {
                json!({
                    "id": id.to_hex(),
                    "short_id": id.short(),
                    "current": *id == current,
                    "kind": k.kind.name(),
                    "created": output::file_time(&Timestamp { secs: k.created, nanos: 0 }),
                    "hostname": k.hostname,
                    "username": k.username,
                })
            })
            .collect();
        output::print_json(&Value::Array(list))?;
        return Ok(exit::OK);
    }
    let width = |field: fn(&KeyFile) -> &str| {
        keys.iter()
            .map(|(_, k)| output::name(field(k)).len())
            .max()
            .unwrap_or(0)
            .max(4)
    };
    let (user_w, host_w) = (width(|k| &k.username), width(|k| &k.hostname));
    let header = format!(
        " {:<8}  {:<8}  {:<user_w$}  {:<host_w$}  Created (UTC)",
        "ID", "Kind", "User", "Host"
    );
    out!("{header}");
    out!("{}", "-".repeat(header.len() + 6));
    for (id, k) in &keys {
        let mark = if *id == current { '*' } else { ' ' };
        out!(
            "{mark}{:<8}  {:<8}  {:<user_w$}  {:<host_w$}  {}",
            id.short(),
            k.kind.name(),
            output::name(&k.username),
            output::name(&k.hostname),
            output::table_time(
                &Timestamp {
                    secs: k.created,
                    nanos: 0
                },
                0
            )
        );
    }
    out!("{}", "-".repeat(header.len() + 6));
    out!("{} keys; * marks the key in use", keys.len());
    Ok(exit::OK)
}
