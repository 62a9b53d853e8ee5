//! `vault init`.

use crate::args::{Global, InitArgs};
use crate::exit;
use crate::output;
use anyhow::{Result, bail};
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
    let options = InitOptions {
        compression_level: compression_level(&a.compression)?,
        pack_size: pack_size as u32,
        ..InitOptions::default()
    };
    // Refuse before asking for a password or creating a directory.
    if let Ok(b) = super::open_backend(g, url)
        && b.exists("config")?
    {
        return Err(engine::Error::RepositoryExists {
            url: url.to_owned(),
        }
        .into());
    }
    let pw = super::password(g, true)?;
    let backend = Backend::create_with(url, &super::backend_options(g)?)?;
    let repo = Repository::init(backend, pw.as_bytes(), &options)?;
    let id = engine::repo_format::Id(repo.config().repository_id);
    if g.json {
        output::print_json(&serde_json::json!({
            "message_type": "initialized",
            "id": id.to_hex(),
            "repository": url,
        }))?;
    } else if !g.quiet {
        out!("created vault repository {} at {url}", id.short());
        out!();
        out!("Keep the password safe: without it the data in this repository cannot be read.");
    }
    Ok(exit::OK)
}
