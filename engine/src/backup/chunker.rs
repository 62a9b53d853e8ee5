//! Content-defined chunking of a byte stream: FastCDC 2020 (the `fastcdc`
//! crate's cut-point function) with a gear table from the keys (format 1:
//! the crate's table seeded; format 2: derived from the key, SPEC.md §5.4),
//! parameters from the config.
//!
//! The crate's own `StreamCDC` zero-fills a `max_size` buffer for every
//! stream and moves the rest of that buffer down after every chunk: with
//! 8 MiB chunks and tens of thousands of small files that was most of a
//! backup's CPU time. This reader sizes its buffer to the stream (up to
//! twice the largest chunk) and moves data only when the buffer wraps.
//! Cut points are the crate's, so boundaries are identical.

use fastcdc::v2020::{Normalization, cut_gear, get_gear_with_seed, select_masks};
use repo_format::config::ChunkerParams;
use repo_format::keyring::{GearTables, Keyring};
use std::io::Read;
use std::sync::Arc;

/// Format 1's gear tables: the `fastcdc` crate's, with `seed` XORed in.
pub fn seeded_gear(seed: u64) -> Arc<GearTables> {
    let (gear, gear_ls) = get_gear_with_seed(seed);
    let mut tables = GearTables {
        gear: [0; 256],
        gear_ls: [0; 256],
    };
    tables
        .gear
        .iter_mut()
        .zip(gear.iter())
        .for_each(|(t, g)| *t = *g);
    tables
        .gear_ls
        .iter_mut()
        .zip(gear_ls.iter())
        .for_each(|(t, g)| *t = *g);
    Arc::new(tables)
}

/// The gear tables of the repository these keys are for.
pub fn gear_of(keys: &Keyring) -> Arc<GearTables> {
    keys.gear()
        .map(Arc::from)
        .unwrap_or_else(|| seeded_gear(keys.chunker_seed()))
}

/// An iterator of chunks over a reader.
pub struct Chunker<R: Read> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    min: usize,
    avg: usize,
    max: usize,
    masks: (u64, u64),
    gear: Arc<GearTables>,
}

fn level(n: u8) -> Normalization {
    match n {
        0 => Normalization::Level0,
        1 => Normalization::Level1,
        2 => Normalization::Level2,
        _ => Normalization::Level3,
    }
}

/// Smallest buffer a chunker starts with.
const MIN_BUFFER: usize = 64 * 1024;

impl<R: Read> Chunker<R> {
    /// Chunk `reader` with validated `params` and the repository's `seed`.
    pub fn new(reader: R, params: &ChunkerParams, seed: u64) -> Self {
        Self::with_size_hint(reader, params, seed, 1 << 20)
    }

    /// Like [`Chunker::new`], sizing the first buffer for a stream of about
    /// `hint` bytes.
    pub fn with_size_hint(reader: R, params: &ChunkerParams, seed: u64, hint: u64) -> Self {
        Self::with_gear(reader, params, seeded_gear(seed), hint)
    }

    /// Chunk `reader` with `gear` (see [`gear_of`]), sizing the first
    /// buffer for a stream of about `hint` bytes.
    pub fn with_gear(reader: R, params: &ChunkerParams, gear: Arc<GearTables>, hint: u64) -> Self {
        let max = params.max_size as usize;
        // Never more than the buffer ever needs (twice the largest chunk),
        // which is below MIN_BUFFER when chunks are small (`clamp` would
        // panic then).
        let first = usize::try_from(hint.saturating_add(1))
            .unwrap_or(usize::MAX)
            .max(MIN_BUFFER)
            .min(2 * max);
        Chunker {
            reader,
            buf: vec![0; first],
            start: 0,
            end: 0,
            eof: false,
            min: params.min_size as usize,
            avg: params.avg_size as usize,
            max,
            masks: select_masks(params.avg_size as usize, level(params.normalization)),
            gear,
        }
    }

    /// Read until a whole largest chunk is buffered, or the end.
    fn fill(&mut self) -> std::io::Result<()> {
        while !self.eof && self.end - self.start < self.max {
            if self.end == self.buf.len() {
                if self.buf.len() < 2 * self.max {
                    let grown = (self.buf.len() * 2).min(2 * self.max);
                    self.buf.resize(grown, 0);
                } else {
                    self.buf.copy_within(self.start..self.end, 0);
                    self.end -= self.start;
                    self.start = 0;
                }
            }
            let Some(space) = self.buf.get_mut(self.end..) else {
                break;
            };
            match self.reader.read(space) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<R: Read> Iterator for Chunker<R> {
    type Item = std::io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Err(e) = self.fill() {
            return Some(Err(e));
        }
        let data = self.buf.get(self.start..self.end)?;
        if data.is_empty() {
            return None;
        }
        let (mask_s, mask_l) = self.masks;
        let (_, count) = cut_gear(
            data,
            self.min,
            self.avg,
            self.max,
            mask_s,
            mask_l,
            mask_s << 1,
            mask_l << 1,
            &self.gear.gear,
            &self.gear.gear_ls,
        );
        let chunk = data.get(..count.max(1).min(data.len()))?.to_vec();
        self.start += chunk.len();
        Some(Ok(chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<u8> {
        let mut x = 0x1234_5678_9abc_def0u64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    const SMALL: ChunkerParams = ChunkerParams {
        min_size: 2048,
        avg_size: 8192,
        max_size: 32768,
        normalization: 1,
    };

    #[test]
    fn chunker_chunks_cover_input_exactly() {
        let d = data(300_000);
        let chunks: Vec<Vec<u8>> = Chunker::new(&d[..], &SMALL, 42)
            .map(|c| c.unwrap())
            .collect();
        assert!(chunks.len() > 10);
        assert_eq!(chunks.concat(), d);
        assert!(chunks.iter().all(|c| c.len() <= 32768));
    }

    /// The buffer handling is ours, the cut points the crate's: the chunks
    /// must be exactly those of the crate's own streaming chunker.
    #[test]
    fn chunker_matches_fastcdc_stream_cdc() {
        let d = data(1_000_000);
        for (seed, read_size) in [(0u64, 1usize), (7, 777), (99, 1 << 20)] {
            let reader = Slow(&d[..], read_size);
            let ours: Vec<Vec<u8>> = Chunker::with_size_hint(reader, &SMALL, seed, 10)
                .map(|c| c.unwrap())
                .collect();
            let theirs: Vec<Vec<u8>> = fastcdc::v2020::StreamCDC::with_level_and_seed(
                &d[..],
                2048,
                8192,
                32768,
                fastcdc::v2020::Normalization::Level1,
                seed,
            )
            .map(|c| c.unwrap().data)
            .collect();
            assert_eq!(ours, theirs, "seed {seed}");
        }
    }

    /// A reader that returns at most `n` bytes per call.
    struct Slow<'a>(&'a [u8], usize);

    impl std::io::Read for Slow<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// Fuzz finding (target `config`): a config whose largest chunk is
    /// under 32 KiB, which `validate` accepts and `init --chunk-size 1KiB`
    /// writes, made the chunker panic (`clamp` with min > max).
    #[test]
    fn regression_6_config_with_small_chunks_chunks_without_panic() {
        let config = repo_format::config::Config::decode(&[
            0x01, 0xa0, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xfc, 0x00, 0xae, 0xaf, 0xb0,
            0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0x13, 0x00, 0x00, 0x00, 0xba, 0xbb, 0xbc, 0xbd, 0xbe,
            0xbe, 0xfc, 0x00, 0x00, 0x08, 0x90, 0xfc, 0x00, 0x10, 0x00, 0x00, 0xfc, 0x80, 0x13,
            0x00, 0x00, 0x00, 0x00, 0x01,
        ])
        .unwrap();
        assert!(config.chunker.max_size < 16 * 1024);
        let input = data(100_000);
        for hint in [0, 100_000, u64::MAX] {
            let chunks: Vec<Vec<u8>> =
                Chunker::with_size_hint(&input[..], &config.chunker, 1, hint)
                    .collect::<std::io::Result<_>>()
                    .unwrap();
            assert!(
                chunks
                    .iter()
                    .all(|c| c.len() <= config.chunker.max_size as usize)
            );
            assert_eq!(chunks.concat(), input);
        }
    }

    #[test]
    fn chunker_empty_input_has_no_chunks() {
        assert_eq!(Chunker::new(&b""[..], &SMALL, 1).count(), 0);
    }

    #[test]
    fn chunker_seed_changes_boundaries_and_edit_is_local() {
        let d = data(300_000);
        let a: Vec<usize> = Chunker::new(&d[..], &SMALL, 1)
            .map(|c| c.unwrap().len())
            .collect();
        let b: Vec<usize> = Chunker::new(&d[..], &SMALL, 2)
            .map(|c| c.unwrap().len())
            .collect();
        assert_ne!(a, b);
        let mut e = d.clone();
        e[150_000] ^= 0xff;
        let c: Vec<usize> = Chunker::new(&e[..], &SMALL, 1)
            .map(|c| c.unwrap().len())
            .collect();
        let same_prefix = a.iter().zip(&c).take_while(|(x, y)| x == y).count();
        let same_suffix = a
            .iter()
            .rev()
            .zip(c.iter().rev())
            .take_while(|(x, y)| x == y)
            .count();
        assert!(
            same_prefix + same_suffix + 3 >= a.len(),
            "{same_prefix} {same_suffix} {}",
            a.len()
        );
    }
}
