//! `vault cat`: decrypted objects as JSON, or a blob's raw bytes.

use crate::args::{CatArgs, CatKind, Global};
use crate::exit;
use crate::output;
use anyhow::{Context, Result, bail};
use engine::read::snapshots::{SnapshotFilter, find_snapshot};
use engine::repo_format::crypto::{BlobKind, ObjectKind};
use engine::repo_format::index::IndexFile;
use engine::repo_format::key::KeyFile;
use engine::repo_format::layout::{FileKind, ObjectName};
use engine::repo_format::{BlobId, Id, PackId};
use serde_json::json;
use std::io::Write;

fn id_arg(a: &CatArgs) -> Result<Id> {
    let Some(s) = a.id.as_deref() else {
        bail!("give the object's id: vault cat {:?} ID", a.kind);
    };
    Id::from_hex(s).with_context(|| format!("invalid id {s:?}: give all 64 hex digits"))
}

/// Run `cat`.
pub fn run(g: &Global, a: &CatArgs) -> Result<u8> {
    let repo = super::open(g, super::Access::Read, "cat")?;
    let value = match a.kind {
        CatKind::Config => {
            let c = repo.config();
            json!({
                "version": c.version,
                "id": Id(c.repository_id).to_hex(),
                "chunker": {
                    "min_size": c.chunker.min_size,
                    "avg_size": c.chunker.avg_size,
                    "max_size": c.chunker.max_size,
                    "normalization": c.chunker.normalization,
                },
                "compression_level": c.compression_level,
                "pack_size": c.pack_size,
            })
        }
        CatKind::Snapshot => {
            let arg = a.id.as_deref().unwrap_or("latest");
            let (id, s) = find_snapshot(&repo, arg, &SnapshotFilter::default())?;
            output::snapshot_json(&id, &s)
        }
        CatKind::Tree => {
            repo.load_index(engine::repository::index::LoadMode::Tolerant)?;
            let tree = repo.load_tree(&BlobId(id_arg(a)?))?;
            json!({"nodes": tree.nodes.iter().map(|n| output::node_json(None, n)).collect::<Vec<_>>()})
        }
        CatKind::Blob => {
            repo.load_index(engine::repository::index::LoadMode::Tolerant)?;
            let data = repo.read_blob(BlobKind::Data, &BlobId(id_arg(a)?))?;
            std::io::stdout()
                .write_all(&data)
                .map_err(|e| engine::Error::io("write", "standard output", e))?;
            return Ok(exit::OK);
        }
        CatKind::Index => {
            let payload = repo.load_object(FileKind::Index, ObjectKind::Index, &id_arg(a)?)?;
            let file = IndexFile::decode(repo.config().version, &payload)
                .map_err(|e| engine::Error::format("index", e))?;
            serde_json::to_value(&file)?
        }
        CatKind::Pack => {
            let id = PackId(id_arg(a)?);
            let size = repo
                .backend()
                .size(&ObjectName::new(FileKind::Pack, id.0))?;
            let entries = repo.read_pack_header(&id, size)?;
            json!({"id": id.to_hex(), "size": size, "blobs": serde_json::to_value(&entries)?})
        }
        CatKind::Key => {
            let id = id_arg(a)?;
            let bytes = repo.backend().get(&ObjectName::new(FileKind::Key, id))?;
            let k = KeyFile::decode(&bytes).map_err(|e| engine::Error::format("key", e))?;
            json!({
                "id": id.to_hex(),
                "created": k.created,
                "hostname": k.hostname,
                "username": k.username,
                "kdf": {"algorithm": "argon2id", "memory_kib": k.kdf.memory_kib, "iterations": k.kdf.iterations, "parallelism": k.kdf.parallelism},
            })
        }
    };
    out!("{}", serde_json::to_string_pretty(&value)?);
    Ok(exit::OK)
}
