//! A local directory whose files and directories only their owner can
//! read (SPEC.md §10): an object is created 0400 (0600 if it is ever
//! replaced: heartbeats), a directory 0700, whatever the umask, so that no
//! other local user can copy a key file out to guess its password
//! offline. `vault serve` writes its directory through this store too.
//!
//! object_store's `LocalFileSystem` creates with the process's umask
//! (0644 and 0755, usually) and has no setting for modes; a chmod after
//! the fact leaves a window. So writes are done here, the way it does them
//! but with the modes given at creation: a staging file `<name>#<n>`
//! (`O_EXCL`), fsync, a hard link for a create (which fails if the name
//! is taken) or a rename for a replace, then an fsync of the directory.
//! Reads, listings and deletes are its own. Copies, renames and multipart
//! uploads, which vault never asks of a local store, are refused rather
//! than done with the umask's modes.

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Mode of an object written once (never replaced).
pub const OBJECT_MODE: u32 = 0o400;
/// Mode of an object that is replaced (heartbeats).
pub const REPLACED_MODE: u32 = 0o600;
/// Mode of every directory.
pub const DIRECTORY_MODE: u32 = 0o700;

/// What [`ObjectStore`] calls this store.
const NAME: &str = "LocalFileSystem";

/// The directory `root`, written owner-only.
#[derive(Debug)]
pub struct OwnerOnly {
    inner: LocalFileSystem,
    root: PathBuf,
}

impl OwnerOnly {
    /// The store of the (existing) directory `root`.
    pub fn new(root: &Path) -> object_store::Result<Self> {
        let inner = LocalFileSystem::new_with_prefix(root)?
            .with_fsync(true)
            .with_automatic_cleanup(true);
        Ok(OwnerOnly {
            inner,
            root: root.to_path_buf(),
        })
    }
}

/// Make `dir` and any missing parent below `root` (which exists), each
/// [`DIRECTORY_MODE`], and fsync the ones whose entries changed.
pub fn create_dirs(root: &Path, dir: &Path) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut at = dir;
    while at != root && !at.is_dir() {
        missing.push(at);
        at = match at.parent() {
            Some(parent) => parent,
            None => break,
        };
    }
    if missing.is_empty() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(DIRECTORY_MODE)
        .create(dir)?;
    // The new directories, and the existing one that holds the first.
    for d in missing.into_iter().chain(std::iter::once(at)) {
        File::open(d)?.sync_all()?;
    }
    Ok(())
}

/// How a write ended.
enum Outcome {
    Written,
    Exists,
}

/// Write `payload` to `path` as the module docs say; `replace` for a
/// replaceable object.
fn write(
    root: &Path,
    path: &Path,
    payload: &PutPayload,
    replace: bool,
) -> std::io::Result<Outcome> {
    let parent = path
        .parent()
        .ok_or_else(|| std::io::Error::new(ErrorKind::InvalidInput, "no parent directory"))?;
    let mode = if replace { REPLACED_MODE } else { OBJECT_MODE };
    let (mut file, staging) = {
        let mut n = 1u32;
        // A concurrent prune removes directories it emptied: make ours
        // again, a few times, before giving up.
        let mut remade = 0;
        loop {
            let mut name = path.as_os_str().to_owned();
            name.push(format!("#{n}"));
            let staging = PathBuf::from(name);
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&staging)
            {
                Ok(file) => break (file, staging),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => n += 1,
                Err(e) if e.kind() == ErrorKind::NotFound && remade < 3 => {
                    remade += 1;
                    create_dirs(root, parent)?;
                }
                Err(e) => return Err(e),
            }
        }
    };
    let published = (|| {
        for part in payload.iter() {
            file.write_all(part)?;
        }
        file.sync_all()?;
        // Close errors are write errors on some file systems (NFS).
        nix::unistd::close(file).map_err(std::io::Error::from)?;
        let outcome = if replace {
            std::fs::rename(&staging, path)?;
            Outcome::Written
        } else {
            match std::fs::hard_link(&staging, path) {
                Ok(()) => Outcome::Written,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => Outcome::Exists,
                Err(e) => return Err(e),
            }
        };
        File::open(parent)?.sync_all()?;
        Ok(outcome)
    })();
    if !matches!(published, Ok(Outcome::Written)) || !replace {
        let _ = std::fs::remove_file(&staging);
    }
    published
}

fn refused(operation: &str) -> object_store::Error {
    object_store::Error::NotImplemented {
        operation: format!("{operation} (vault writes a local directory only by put)"),
        implementer: NAME.to_owned(),
    }
}

impl std::fmt::Display for OwnerOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OwnerOnly({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for OwnerOnly {
    async fn put_opts(
        &self,
        location: &StorePath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let replace = match opts.mode {
            PutMode::Create => false,
            PutMode::Overwrite => true,
            PutMode::Update(_) => return Err(refused("put with PutMode::Update")),
        };
        if !opts.attributes.is_empty() {
            return Err(refused("put with attributes"));
        }
        let path = self.inner.path_to_filesystem(location)?;
        let root = self.root.clone();
        let shown = path.display().to_string();
        let outcome = tokio::task::spawn_blocking(move || write(&root, &path, &payload, replace))
            .await
            .map_err(|source| object_store::Error::JoinError { source })?;
        match outcome {
            Ok(Outcome::Written) => Ok(PutResult {
                e_tag: None,
                version: None,
                extensions: Default::default(),
            }),
            Ok(Outcome::Exists) => Err(object_store::Error::AlreadyExists {
                path: shown,
                source: "an object has this name".into(),
            }),
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                Err(object_store::Error::PermissionDenied {
                    path: shown,
                    source: e.into(),
                })
            }
            Err(e) => Err(object_store::Error::Generic {
                store: NAME,
                source: format!("cannot write {shown}: {e}").into(),
            }),
        }
    }

    async fn put_multipart_opts(
        &self,
        _location: &StorePath,
        _opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(refused("a multipart upload"))
    }

    async fn get_opts(
        &self,
        location: &StorePath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &StorePath,
        ranges: &[std::ops::Range<u64>],
    ) -> object_store::Result<Vec<bytes::Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<StorePath>>,
    ) -> BoxStream<'static, object_store::Result<StorePath>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&StorePath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&StorePath>,
        offset: &StorePath,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&StorePath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        _from: &StorePath,
        _to: &StorePath,
        _options: CopyOptions,
    ) -> object_store::Result<()> {
        Err(refused("a copy"))
    }

    async fn rename_opts(
        &self,
        _from: &StorePath,
        _to: &StorePath,
        _options: RenameOptions,
    ) -> object_store::Result<()> {
        Err(refused("a rename"))
    }
}
