//! The one error type of the format crate.

/// Everything that can be wrong with bytes read from a repository.
///
/// Decoding never panics: every malformed input ends in one of these.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// The input ended before a structure was complete.
    #[error("truncated {what}: needed {needed} bytes, got {got}")]
    Truncated {
        /// Which structure was being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// A magic number did not match.
    #[error("bad magic in {what}")]
    BadMagic {
        /// Which structure was being read.
        what: &'static str,
    },
    /// A version this build does not understand.
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion {
        /// Which structure.
        what: &'static str,
        /// The version found.
        version: u32,
    },
    /// Authenticated decryption failed: wrong key, or the bytes were changed.
    #[error("authentication failed for {what} (wrong key or damaged data)")]
    AuthenticationFailed {
        /// What was being opened.
        what: &'static str,
    },
    /// An enum tag that is not defined.
    #[error("unknown {what} {value}")]
    UnknownKind {
        /// Which enum.
        what: &'static str,
        /// The value found.
        value: u32,
    },
    /// A length field disagrees with the data.
    #[error("length mismatch in {what}: expected {expected}, got {got}")]
    LengthMismatch {
        /// Which structure.
        what: &'static str,
        /// Expected length.
        expected: u64,
        /// Actual length.
        got: u64,
    },
    /// Decrypted content does not hash to the id it is stored under.
    #[error("{what} content does not match its id {expected}")]
    IdMismatch {
        /// Which object.
        what: &'static str,
        /// The id the data should have.
        expected: String,
    },
    /// The serialised payload could not be decoded.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which structure.
        what: &'static str,
        /// The decoder's description.
        detail: String,
    },
    /// The key-derivation parameters are out of range.
    #[error("invalid key-derivation parameters: {0}")]
    Kdf(String),
    /// Compression or decompression failed.
    #[error("compression error in {what}: {detail}")]
    Compression {
        /// Which object.
        what: &'static str,
        /// What zstd said.
        detail: String,
    },
    /// Opening this needs the repository's private key, which a put-only
    /// key does not hold (SPEC.md §5.5).
    #[error("a put-only key cannot open a {what}: it can only add backups")]
    NeedsFullKey {
        /// What was to be opened.
        what: &'static str,
    },
    /// An id in hex was malformed.
    #[error("invalid id {0:?}: expected 64 hex digits")]
    InvalidId(String),
}

/// Shorthand for results in this crate.
pub type Result<T> = std::result::Result<T, FormatError>;
