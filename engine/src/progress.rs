//! Progress reporting. The engine never prints; callers implement this.

use std::path::Path;

/// Receives progress and problems during a backup or restore.
pub trait Progress: Sync {
    /// `bytes` more of the input were processed.
    fn bytes_processed(&self, _bytes: u64) {}
    /// One more file was processed.
    fn file_processed(&self, _path: &Path) {}
    /// Something that does not stop the operation but should be said
    /// (for example a file that changed while it was read).
    fn warning(&self, _message: &str) {}
    /// A new stage of a long operation begins (`check`: "load indexes", ...).
    fn stage(&self, _name: &str) {}
    /// One line (without its newline) that a command a backup runs wrote
    /// to its stderr: raw bytes from another program, which the caller
    /// must make safe before showing them (they may hold terminal escape
    /// sequences). A line longer than [`MAX_LINE`] comes in pieces.
    fn command_output(&self, _line: &[u8]) {}
}

/// The longest piece of a line [`for_each_line`] hands on.
pub const MAX_LINE: usize = 4096;

/// Read `reader` to its end (or its first error), handing each line
/// without its newline to `line`, and a line longer than [`MAX_LINE`] in
/// pieces, so that memory stays bounded whatever the writer sends.
pub fn for_each_line(mut reader: impl std::io::Read, mut line: impl FnMut(&[u8])) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = reader.read(&mut buf) {
        if n == 0 {
            break;
        }
        for &b in buf.get(..n).unwrap_or_default() {
            if b == b'\n' {
                line(&pending);
                pending.clear();
            } else {
                pending.push(b);
                if pending.len() >= MAX_LINE {
                    line(&pending);
                    pending.clear();
                }
            }
        }
    }
    if !pending.is_empty() {
        line(&pending);
    }
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_each_line_splits_at_newlines_and_cuts_long_lines() {
        let mut input = b"one\n\ntwo".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 1));
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for_each_line(&input[..], |l| lines.push(l.to_vec()));
        let lengths: Vec<usize> = lines.iter().map(Vec::len).collect();
        assert_eq!(lengths, [3, 0, MAX_LINE, 4]);
        assert_eq!(lines[0], b"one");
        assert!(lines[2].starts_with(b"twox"));
    }
}
