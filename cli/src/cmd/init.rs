//! `vault init`.

use crate::args::{Global, InitArgs};
use crate::exit;
use crate::output;
use crate::password::Sources;
use anyhow::{Context, Result, bail};
use engine::{Backend, InitOptions, Repository};

/// The compression option as a zstd level.
pub fn compression_level(value: &str) -> Result<i32> {
    Ok(match value {
        "auto" => engine::repo_format::compress::AUTO_LEVEL,
        "off" => 0,
        "max" => 19,
        n => match n.parse::<i32>() {
            Ok(l) if (1..=22).contains(&l) => l,
            _ => {
                bail!("invalid --compression {value:?}: use auto, off, max or a level from 1 to 22")
            }
        },
    })
}

/// The chunker parameters of `--chunk-size AVG`: chunks between half and
/// eight times the average, as the defaults (512 KiB / 1 MiB / 8 MiB).
fn chunker_params(text: &str) -> Result<engine::repo_format::config::ChunkerParams> {
    let avg = super::parse_size("--chunk-size", text)?;
    let params = u32::try_from(avg)
        .ok()
        .filter(|a| a.is_power_of_two())
        .map(|avg| engine::repo_format::config::ChunkerParams {
            min_size: avg / 2,
            avg_size: avg,
            max_size: avg.saturating_mul(8),
            ..engine::repo_format::config::ChunkerParams::DEFAULT
        })
        .filter(|p| p.validate().is_ok());
    params.with_context(|| {
        format!("invalid --chunk-size {text:?}: give a power of two from 256B to 2MiB, for example 256KiB")
    })
}

/// Run `init`.
pub fn run(g: &Global, a: &InitArgs) -> Result<u8> {
    let url = super::repo_url(g)?;
    let pack_size = super::parse_size("--pack-size", &a.pack_size)?;
    if !(1 << 20..=128 << 20).contains(&pack_size) {
        anyhow::bail!(
            "invalid --pack-size {:?}: give a size from 1MiB to 128MiB",
            a.pack_size
        );
    }
    let mut options = InitOptions {
        compression_level: compression_level(&a.compression)?,
        pack_size: pack_size as u32,
        ..InitOptions::default()
    };
    if let Some(text) = &a.chunk_size {
        options.chunker = chunker_params(text)?;
    }
    // Refuse before asking for a password or creating a directory.
    if let Ok(b) = super::open_backend(g, url)
        && b.exists(&engine::repo_format::layout::ObjectName::CONFIG)?
    {
        return Err(engine::Error::RepositoryExists {
            url: url.to_owned(),
        }
        .into());
    }
    // The source of --copy-chunker-params is opened (and its password
    // checked) before anything is created.
    let from_url = if a.copy_chunker_params {
        let url = a
            .from
            .clone()
            .or_else(|| std::env::var("VAULT_FROM_REPOSITORY").ok())
            .filter(|u| !u.is_empty());
        if url.is_none() {
            bail!(
                "--copy-chunker-params needs the repository to copy them from: use --from URL or set VAULT_FROM_REPOSITORY"
            );
        }
        url
    } else {
        None
    };
    let from = if let Some(from_url) = &from_url {
        let sources = Sources {
            file: a.from_password_file.as_deref(),
            command: a.from_password_command.as_deref(),
            env_prefix: "VAULT_FROM_",
            flag_prefix: "--from-",
            what: "--from repository",
        };
        let session = super::open_second(g, from_url, &sources, super::Access::Read, "init")
            .with_context(|| format!("--from repository {from_url}"))?;
        Some(session)
    } else {
        None
    };
    let options = match &from {
        Some(source) => options.copy_chunker_params(source)?,
        None => options,
    };
    let pw = super::password(g, true)?;
    let store_options = super::backend_options(g)?;
    crate::session::warn_transport(url, &store_options);
    let backend = Backend::create_with(url, &store_options)?;
    let repo = Repository::init(backend, pw.as_bytes(), &options)?;
    drop(from);
    let id = engine::repo_format::Id(repo.config().repository_id);
    if g.json {
        output::print_json(&serde_json::json!({
            "message_type": "initialized",
            "id": id.to_hex(),
            "repository": url,
            "chunker_params_from": from_url,
        }))?;
    } else if !g.quiet {
        out!("created vault repository {} at {url}", id.short());
        if let Some(from_url) = &from_url {
            out!("chunker parameters, chunker seed and id key copied from {from_url}");
        }
        out!();
        out!("Keep the password safe: without it the data in this repository cannot be read.");
    }
    Ok(exit::OK)
}
