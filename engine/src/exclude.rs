//! Glob patterns for `--exclude`, `--iexclude` and restore's
//! `--include`/`--exclude`, with restic's meaning: a pattern that starts
//! with `/` is matched against the whole absolute path; any other pattern
//! may match the path's trailing components (`*.log`, `cache/tmp`). `*`
//! does not cross `/`; `**` does.

use crate::error::{Error, Result};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use std::path::Path;

/// A compiled set of patterns.
#[derive(Clone, Debug)]
pub struct Patterns {
    set: GlobSet,
    sources: Vec<String>,
}

impl Patterns {
    /// Compile `patterns`, case-insensitively if asked. Empty lines and lines
    /// starting with `#` are ignored.
    pub fn new(patterns: &[String], case_insensitive: bool) -> Result<Self> {
        let mut builder = GlobSetBuilder::new();
        let mut sources = Vec::new();
        for raw in patterns {
            let p = raw.trim();
            if p.is_empty() || p.starts_with('#') {
                continue;
            }
            let p = p.trim_end_matches('/');
            let glob = if p.starts_with('/') {
                p.to_owned()
            } else {
                format!("**/{p}")
            };
            let compiled = GlobBuilder::new(&glob)
                .literal_separator(true)
                .case_insensitive(case_insensitive)
                .backslash_escape(true)
                .build()
                .map_err(|e| Error::InvalidArgument {
                    what: "pattern",
                    detail: format!("{raw:?}: {e}"),
                })?;
            builder.add(compiled);
            sources.push(raw.clone());
        }
        let set = builder.build().map_err(|e| Error::InvalidArgument {
            what: "pattern",
            detail: e.to_string(),
        })?;
        Ok(Patterns { set, sources })
    }

    /// Whether no pattern was given.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Whether `path` (absolute) matches a pattern.
    pub fn matches(&self, path: &Path) -> bool {
        !self.sources.is_empty() && self.set.is_match(path)
    }

    /// The patterns as given.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }
}

/// Read patterns from a file, one per line.
pub fn read_pattern_file(path: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io("read exclude file", path, e))?;
    Ok(text.lines().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pats: &[&str], ci: bool) -> Patterns {
        Patterns::new(&pats.iter().map(|s| s.to_string()).collect::<Vec<_>>(), ci).unwrap()
    }

    #[test]
    fn patterns_unanchored_match_any_depth_anchored_only_root() {
        let x = p(&["*.log", "/srv/cache", "tmp/x"], false);
        assert!(x.matches(Path::new("/a/b/c.log")));
        assert!(x.matches(Path::new("/c.log")));
        assert!(!x.matches(Path::new("/a/b/c.logs")));
        assert!(x.matches(Path::new("/srv/cache")));
        assert!(!x.matches(Path::new("/x/srv/cache")));
        assert!(x.matches(Path::new("/q/tmp/x")));
    }

    #[test]
    fn patterns_case_insensitive_and_comments() {
        let x = p(&["*.JPG", "# comment", ""], true);
        assert!(x.matches(Path::new("/a/b.jpg")));
        assert_eq!(x.sources().len(), 1);
        assert!(Patterns::new(&["a[".to_owned()], false).is_err());
    }
}
