//! Content-defined chunking of a byte stream: FastCDC 2020 with the gear
//! table seeded from the master key, parameters from the config.

use repo_format::config::ChunkerParams;
use std::io::Read;

/// An iterator of chunks over a reader.
pub struct Chunker<R: Read> {
    inner: fastcdc::v2020::StreamCDC<R>,
}

fn level(n: u8) -> fastcdc::v2020::Normalization {
    use fastcdc::v2020::Normalization::*;
    match n {
        0 => Level0,
        1 => Level1,
        2 => Level2,
        _ => Level3,
    }
}

impl<R: Read> Chunker<R> {
    /// Chunk `reader` with validated `params` and the repository's `seed`.
    pub fn new(reader: R, params: &ChunkerParams, seed: u64) -> Self {
        Chunker {
            inner: fastcdc::v2020::StreamCDC::with_level_and_seed(
                reader,
                params.min_size as usize,
                params.avg_size as usize,
                params.max_size as usize,
                level(params.normalization),
                seed,
            ),
        }
    }
}

impl<R: Read> Iterator for Chunker<R> {
    type Item = std::io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner
            .next()
            .map(|r| r.map(|c| c.data).map_err(std::io::Error::from))
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
