//! The engine's error type: one variant per failure domain, each naming the
//! object concerned.

use repo_format::FormatError;
use std::path::PathBuf;

/// Everything that can make an engine operation fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed an operation.
    #[error("storage {op} of {path} failed: {source}")]
    Backend {
        /// Operation (`get`, `put`, `list`, ...).
        op: &'static str,
        /// Object path.
        path: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// An object the repository needs is not in the store.
    #[error("{path} is missing from the repository")]
    NotFound {
        /// Object path.
        path: String,
    },
    /// There is no repository at the URL.
    #[error("no repository at {url}")]
    RepositoryNotFound {
        /// The URL.
        url: String,
    },
    /// `init` found a repository already there.
    #[error("a repository already exists at {url}; nothing was changed")]
    RepositoryExists {
        /// The URL.
        url: String,
    },
    /// The store refused a request for a reason retrying cannot fix (no
    /// such bucket, access denied).
    #[error("storage at {url} refused: {reason}")]
    StoreRefused {
        /// The repository URL.
        url: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A `vault serve` server in append-only mode refused to delete: the
    /// command must run on the server or with an administrator credential.
    #[error("the server at {url} is append-only and refused to delete; nothing was deleted")]
    AppendOnly {
        /// The repository URL.
        url: String,
    },
    /// The URL could not be understood.
    #[error("invalid repository URL {url:?}: {detail}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// No key file opens with the password.
    #[error("wrong password: no key in the repository opens with it")]
    WrongPassword,
    /// The password opened a put-only key, which can add backups and
    /// nothing else (SPEC.md §5.5).
    #[error(
        "this password opens a put-only key, which can only add backups; \
         use the password of a full key to read or change the repository"
    )]
    PutOnly,
    /// No key file opened with the password, and one was not tried because
    /// its KDF asks for more than a reader spends (SPEC.md §5).
    #[error("no key opened with this password; key file {key} was not tried: {detail}")]
    KeyCostRefused {
        /// The refused key file, shortened.
        key: String,
        /// Its parameters and the maxima.
        detail: String,
    },
    /// An object's bytes are malformed or fail authentication.
    #[error("{object}: {source}")]
    Format {
        /// Which object.
        object: String,
        /// What is wrong with it.
        #[source]
        source: FormatError,
    },
    /// Local file-system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The local path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A path given to back up does not exist or cannot be examined.
    #[error("cannot back up {}: {source}; check the path (nothing was backed up)", path.display())]
    SourceUnreadable {
        /// The path as given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A snapshot argument matches no snapshot.
    #[error("no snapshot matches {0:?}")]
    SnapshotNotFound(String),
    /// A snapshot prefix matches several snapshots.
    #[error("snapshot prefix {prefix:?} is ambiguous ({count} snapshots match): give more digits")]
    AmbiguousSnapshot {
        /// The prefix given.
        prefix: String,
        /// How many matched.
        count: usize,
    },
    /// A key argument matches no key file.
    #[error("no key matches {0:?}")]
    KeyNotFound(String),
    /// A key prefix matches several key files.
    #[error("key prefix {prefix:?} is ambiguous ({count} keys match): give more digits")]
    AmbiguousKey {
        /// The prefix given.
        prefix: String,
        /// How many matched.
        count: usize,
    },
    /// Removing this key would lock everyone out, or the caller.
    #[error("refusing to remove key {key}: {reason}; nothing was changed")]
    KeyRefused {
        /// Short id of the key.
        key: String,
        /// Why, and what to do instead.
        reason: &'static str,
    },
    /// A path does not exist inside a snapshot.
    #[error("{path} does not exist in snapshot {snapshot}")]
    PathNotInSnapshot {
        /// The path.
        path: String,
        /// Short id of the snapshot.
        snapshot: String,
    },
    /// A blob the index should hold is not there.
    #[error("blob {0} is not in the index: the repository is damaged")]
    BlobNotIndexed(String),
    /// One or more commands whose output was being backed up failed (exit
    /// status not 0, killed by a signal, or could not start); no snapshot
    /// was saved.
    #[error("{}", describe_failures(.failures))]
    CommandFailed {
        /// Each command that failed, in the order they were given.
        failures: Vec<CommandFailure>,
    },
    /// An option or argument is invalid.
    #[error("invalid {what}: {detail}")]
    InvalidArgument {
        /// Which option.
        what: &'static str,
        /// What is wrong and what to do.
        detail: String,
    },
    /// Restore found damaged data; the named files were not restored.
    #[error("{count} file(s) could not be restored intact (first: {first})")]
    RestoreIncomplete {
        /// How many files.
        count: usize,
        /// The first failure.
        first: String,
    },
    /// A walk by path would visit more entries than its limit allows
    /// (a tree can name one subtree many times; see SPEC.md §10).
    #[error(
        "the snapshot describes {entries} entries below that path, more than the limit of {limit} (raise it with --max-entries N or VAULT_MAX_ENTRIES=N)"
    )]
    TooManyEntries {
        /// Entries below the walk's start, a shared subtree once per place.
        entries: u64,
        /// The limit.
        limit: u64,
    },
    /// A snapshot nests directories deeper than any path reaches.
    #[error(
        "the snapshot nests directories more than {limit} deep, deeper than any Linux path reaches: it was not made by a backup, and vault does not follow it"
    )]
    TooDeep {
        /// The deepest nesting followed.
        limit: usize,
    },
    /// The repository is damaged in a way that stops the operation.
    #[error("the repository is damaged: {0}")]
    RepositoryDamaged(String),
    /// A pack could not be read (its blobs are lost to this command).
    #[error("pack {pack} unreadable: {reason}")]
    PackUnreadable {
        /// The pack, shortened.
        pack: String,
        /// Why.
        reason: String,
    },
    /// The index cannot be relied on for this command (a damaged index
    /// file, or one that names a missing pack).
    #[error("the index is damaged: {0}")]
    IndexDamaged(String),
    /// What the index files claim a pack holds is not what its header
    /// says (a damaged or forged index); nothing was changed.
    #[error("the index contradicts {packs} pack header(s) (first: {first}); nothing was deleted")]
    IndexContradicted {
        /// How many packs.
        packs: usize,
        /// The first, and how.
        first: String,
    },
    /// The index names a pack the store does not have.
    #[error("pack {0} is in the index but missing from the store")]
    PackMissing(String),
    /// A snapshot reaches a blob no index names.
    #[error("{} blob {blob} is referenced by a snapshot but in no index", match .kind { repo_format::crypto::BlobKind::Data => "data", repo_format::crypto::BlobKind::Tree => "tree" })]
    BlobUnreachable {
        /// Data or tree.
        kind: repo_format::crypto::BlobKind,
        /// The blob, in hex.
        blob: String,
    },
    /// Another process holds a lock that conflicts with the one wanted.
    #[error("repository is locked by {holder}{}", waited_suffix(.waited))]
    Locked {
        /// The lock in the way.
        holder: Box<repo_format::lock::LockHolder>,
        /// How long acquiring waited for it (`--retry-lock`).
        waited: std::time::Duration,
    },
    /// The lock this process held was removed or could not be refreshed.
    #[error("the repository lock {} was lost ({reason}); the command stopped before committing its work: run it again", .lock.short())]
    LockLost {
        /// The lock object last written.
        lock: repo_format::LockId,
        /// Why it counts as lost.
        reason: String,
    },
    /// A worker thread died.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// A command of a backup that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandFailure {
    /// Path of the file its output was to become, inside the snapshot.
    pub path: String,
    /// The command line.
    pub command: String,
    /// How it ended: `exit status 2`, `killed by signal 9 (SIGKILL)`, `could not start: …`.
    pub status: String,
    /// The end of what it wrote to stderr: at most its last 10 lines and 2 KiB.
    pub stderr_tail: String,
}

impl std::fmt::Display for CommandFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command {:?} for {} failed ({})",
            self.command, self.path, self.status
        )?;
        let lines: Vec<&str> = self
            .stderr_tail
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if !lines.is_empty() {
            write!(f, ": {}", lines.join(" | "))?;
        }
        Ok(())
    }
}

fn describe_failures(failures: &[CommandFailure]) -> String {
    match failures {
        [one] => format!("{one}; no snapshot was saved"),
        _ => {
            let each: Vec<String> = failures.iter().map(ToString::to_string).collect();
            format!(
                "{} commands failed, no snapshot was saved: {}",
                failures.len(),
                each.join("; ")
            )
        }
    }
}

fn waited_suffix(waited: &std::time::Duration) -> String {
    if waited.as_secs() == 0 {
        String::new()
    } else {
        format!(" (waited {}s)", waited.as_secs())
    }
}

impl Error {
    /// Wrap a format error with the name of the object it came from.
    pub fn format(object: impl Into<String>, source: FormatError) -> Self {
        if let FormatError::NeedsFullKey { .. } = source {
            return Error::PutOnly;
        }
        Error::Format {
            object: object.into(),
            source,
        }
    }

    /// Wrap an I/O error with the local path concerned.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// The message without the object it names, for reports that name
    /// the object themselves (`check`, `repair`).
    pub fn detail(&self) -> String {
        match self {
            Error::Format { source, .. } => source.to_string(),
            other => other.to_string(),
        }
    }

    /// Whether retrying the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Backend {
                source: object_store::Error::Generic { .. },
                ..
            }
        )
    }
}

/// Shorthand for results in this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// The first error reported by worker threads, kept for the thread that
/// waits on them (later errors are usually consequences of the first).
/// Once failed, it stays failed: the error itself is handed out once, later
/// checks fail with a pointer to it.
#[derive(Default)]
pub(crate) struct FirstError {
    error: std::sync::Mutex<Option<Error>>,
    failed: std::sync::atomic::AtomicBool,
}

impl FirstError {
    /// Keep `e` unless an earlier error is kept already.
    pub(crate) fn record(&self, e: Error) {
        self.failed.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(e);
        }
    }

    /// Fail if any error was recorded.
    pub(crate) fn check(&self) -> Result<()> {
        if !self.failed.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        match self
            .error
            .lock()
            .map_err(|_| Error::Internal("failure lock"))?
            .take()
        {
            Some(e) => Err(e),
            None => Err(Error::Internal(
                "stopped by an earlier error (reported above)",
            )),
        }
    }
}
