//! The repository config object. See SPEC.md §5.2.

use crate::codec;
use crate::error::{FormatError, Result};
use serde::{Deserialize, Serialize};

/// The repository format version new repositories get. This build also
/// reads and writes format 1 (SPEC.md §11).
pub const FORMAT_VERSION: u32 = crate::keyring::FORMAT_2;

/// Whether this build reads and writes repositories of `version`.
pub fn supported(version: u32) -> bool {
    (crate::keyring::FORMAT_1..=crate::keyring::FORMAT_2).contains(&version)
}

/// FastCDC (2020) parameters. The gear-table seed is in the master key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    /// Smallest chunk, bytes.
    pub min_size: u32,
    /// Target average chunk, bytes.
    pub avg_size: u32,
    /// Largest chunk, bytes.
    pub max_size: u32,
    /// FastCDC normalisation level (0 to 3).
    pub normalization: u8,
}

impl ChunkerParams {
    /// Defaults for new repositories: 512 KiB / 1 MiB / 8 MiB, level 1.
    pub const DEFAULT: ChunkerParams = ChunkerParams {
        min_size: 512 * 1024,
        avg_size: 1024 * 1024,
        max_size: 8 * 1024 * 1024,
        normalization: 1,
    };

    /// The average chunk of streams (standard input, a command's output:
    /// database dumps) is at most this: see [`ChunkerParams::for_streams`].
    pub const STREAM_AVG_CAP: u32 = 64 * 1024;

    /// The parameters a writer uses for a stream: these, or, when their
    /// average is over [`Self::STREAM_AVG_CAP`], 32 KiB / 64 KiB / 512 KiB
    /// at the same normalisation. A dump changes in scattered places from
    /// one night to the next; with 1 MiB chunks nearly every chunk holds a
    /// change and the whole dump is stored again (benches/dump-dedup.md:
    /// 100% at 1 MiB, 79% at 64 KiB, with 0.1% of rows updated; 25% and 12%
    /// with appends only). Readers never need chunker parameters (SPEC.md §5.4).
    pub fn for_streams(&self) -> ChunkerParams {
        if self.avg_size <= Self::STREAM_AVG_CAP {
            return *self;
        }
        ChunkerParams {
            min_size: Self::STREAM_AVG_CAP / 2,
            avg_size: Self::STREAM_AVG_CAP,
            max_size: Self::STREAM_AVG_CAP * 8,
            normalization: self.normalization,
        }
    }

    /// Check the ranges fastcdc accepts.
    pub fn validate(&self) -> Result<()> {
        let ok = (64..=1 << 20).contains(&self.min_size)
            && (256..=4 << 20).contains(&self.avg_size)
            && (1024..=16 << 20).contains(&self.max_size)
            && self.min_size <= self.avg_size
            && self.avg_size <= self.max_size
            && self.min_size.is_multiple_of(2)
            && self.avg_size.is_multiple_of(2)
            && self.max_size.is_multiple_of(2)
            && self.normalization <= 3;
        if ok {
            Ok(())
        } else {
            Err(FormatError::Malformed {
                what: "config",
                detail: format!("chunker parameters out of range: {self:?}"),
            })
        }
    }
}

/// The decoded config object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Format version; readers refuse versions they do not know.
    pub version: u32,
    /// Random id of the repository.
    pub repository_id: [u8; 32],
    /// Chunker parameters.
    pub chunker: ChunkerParams,
    /// zstd level for new blobs; 0 stores blobs uncompressed.
    pub compression_level: i32,
    /// Target pack size in bytes.
    pub pack_size: u32,
}

impl Config {
    /// The payload bytes (sealed as an object of kind Config).
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Parse and validate a config payload.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let config: Config = codec::decode("config", bytes)?;
        if !supported(config.version) {
            return Err(FormatError::UnsupportedVersion {
                what: "repository format",
                version: config.version,
            });
        }
        config.chunker.validate()?;
        if !(0..=22).contains(&config.compression_level) {
            return Err(FormatError::Malformed {
                what: "config",
                detail: format!("compression level {}", config.compression_level),
            });
        }
        Ok(config)
    }
}
