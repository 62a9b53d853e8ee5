//! What a backup reads: the sources (paths, standard input, commands),
//! and the tree of the snapshot they make, with the virtual directories
//! that lead from the root to each path and each stream's file.

use super::streams::{Stream, StreamInput};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// What to back up.
pub enum Source {
    /// Files and directories.
    Paths(Vec<PathBuf>),
    /// A stream stored as one file named `filename`.
    Stdin {
        /// Path of the file inside the snapshot (relative to the root).
        filename: String,
        /// The stream.
        reader: Box<dyn Read + Send>,
    },
    /// The standard output of a command stored as one file.
    Command {
        /// Path of the file inside the snapshot.
        filename: String,
        /// Program and arguments.
        argv: Vec<String>,
    },
    /// Files and directories (possibly none) and, beside them, the
    /// standard output of each command stored as its own file
    /// (`vault backup --command NAME=CMD`). The commands run concurrently,
    /// each streamed through the chunker; if any fails, no snapshot is saved.
    PathsAndCommands {
        /// Files and directories.
        paths: Vec<PathBuf>,
        /// The commands.
        commands: Vec<NamedCommand>,
    },
}

/// A command whose standard output becomes one file of the snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedCommand {
    /// Path of the file inside the snapshot (relative to the root).
    pub filename: String,
    /// The command line, run with `sh -c`.
    pub shell: String,
}

/// Make `path` absolute and lexically clean (no `.`, no `..`), as restic does.
pub fn absolute_clean(path: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(path).map_err(|e| Error::io("resolve", path, e))?;
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The snapshot's source tree: real paths and streams under virtual
/// directories that lead to them from the root. A virtual directory has a
/// path on disk when a real path lies below it; one that leads only to
/// streams is made up.
pub(super) enum Virtual {
    Real(PathBuf),
    Stream(usize),
    Dir(Option<PathBuf>, BTreeMap<Vec<u8>, Virtual>),
}

fn normal_parts(path: &Path) -> Vec<&std::ffi::OsStr> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// Place each stream's file among the real paths; a stream may not land
/// inside a backed-up directory or on another stream.
fn add_streams(root: &mut Virtual, streams: &[Stream]) -> Result<()> {
    for (index, stream) in streams.iter().enumerate() {
        let clash = |with: String| Error::InvalidArgument {
            what: "stream file name",
            detail: format!(
                "{} would be {with}; choose another name",
                stream.path.display()
            ),
        };
        let parts = normal_parts(&stream.path);
        let mut cur = &mut *root;
        for (i, part) in parts.iter().enumerate() {
            let children = match cur {
                Virtual::Dir(_, children) => children,
                Virtual::Real(p) => {
                    return Err(clash(format!("inside the backed-up path {}", p.display())));
                }
                Virtual::Stream(other) => {
                    let other = streams.get(*other).map(|s| s.path.display().to_string());
                    return Err(clash(format!(
                        "inside the stream file {}",
                        other.unwrap_or_default()
                    )));
                }
            };
            let name = part.as_bytes().to_vec();
            if i + 1 == parts.len() {
                match children.get(&name) {
                    None => {}
                    Some(Virtual::Stream(_)) => return Err(clash("stored twice".to_owned())),
                    Some(Virtual::Real(p)) => {
                        return Err(clash(format!("the backed-up path {}", p.display())));
                    }
                    Some(Virtual::Dir(..)) => {
                        return Err(clash("a directory that holds backed-up paths".to_owned()));
                    }
                }
                children.insert(name, Virtual::Stream(index));
                break;
            }
            cur = children
                .entry(name)
                .or_insert_with(|| Virtual::Dir(None, BTreeMap::new()));
        }
    }
    Ok(())
}

fn build_virtual(paths: &[PathBuf]) -> Virtual {
    let mut root = Virtual::Dir(Some(PathBuf::from("/")), BTreeMap::new());
    for path in paths {
        let parts = normal_parts(path);
        if parts.is_empty() {
            root = Virtual::Real(PathBuf::from("/"));
            continue;
        }
        let mut cur = &mut root;
        let mut at = PathBuf::from("/");
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            let Virtual::Dir(_, children) = cur else {
                break; // an ancestor is backed up whole already
            };
            let last = i + 1 == parts.len();
            let entry = children
                .entry(part.as_bytes().to_vec())
                .or_insert_with(|| Virtual::Dir(Some(at.clone()), BTreeMap::new()));
            if last {
                *entry = Virtual::Real(at.clone());
            }
            cur = entry;
        }
    }
    root
}

/// The sources of one backup, ready to walk.
pub(super) struct Prepared {
    /// The snapshot's tree of real paths and streams.
    pub tree: Virtual,
    /// The streams, in the order given.
    pub streams: Vec<Stream>,
    /// Every path the snapshot records, sorted.
    pub paths: Vec<String>,
    /// The command line recorded in the snapshot (SPEC.md §7.3).
    pub command: Option<Vec<String>>,
}

/// Check `source` and lay it out: every path must exist (the backup stops
/// before reading anything when one does not), every stream's file must
/// land beside the paths, not in them.
pub(super) fn prepare(source: Source) -> Result<Prepared> {
    let (sources, streams, command) = match source {
        Source::Paths(paths) => (paths, Vec::new(), None),
        Source::PathsAndCommands { paths, commands } => {
            // Recorded as the options that made the snapshot (SPEC.md §7.3).
            let record: Vec<String> = commands
                .iter()
                .flat_map(|c| {
                    [
                        "--command".to_owned(),
                        format!("{}={}", c.filename, c.shell),
                    ]
                })
                .collect();
            let streams = commands
                .into_iter()
                .map(|c| Stream::new("--command", &c.filename, StreamInput::Shell(c.shell)))
                .collect::<Result<Vec<_>>>()?;
            (paths, streams, (!record.is_empty()).then_some(record))
        }
        Source::Stdin { filename, reader } => (
            Vec::new(),
            vec![Stream::new(
                "--stdin-filename",
                &filename,
                StreamInput::Reader(reader),
            )?],
            None,
        ),
        Source::Command { filename, argv } => {
            if argv.is_empty() {
                return Err(Error::InvalidArgument {
                    what: "--stdin-from-command",
                    detail: "give the command after --, for example -- pg_dump mydb".to_owned(),
                });
            }
            let stream = Stream::new(
                "--stdin-filename",
                &filename,
                StreamInput::Program(argv.clone()),
            )?;
            (Vec::new(), vec![stream], Some(argv))
        }
    };
    let mut paths = Vec::new();
    for path in &sources {
        let a = absolute_clean(path)?;
        std::fs::symlink_metadata(&a).map_err(|source| Error::SourceUnreadable {
            path: path.clone(),
            source,
        })?;
        paths.push(a);
    }
    paths.sort();
    paths.dedup();
    let mut tree = build_virtual(&paths);
    add_streams(&mut tree, &streams)?;
    let mut all_paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    all_paths.extend(streams.iter().map(|s| s.path.as_path()));
    all_paths.sort();
    let paths = all_paths.iter().map(|p| p.display().to_string()).collect();
    Ok(Prepared {
        tree,
        streams,
        paths,
        command,
    })
}

/// The snapshot path of a stream's file: `/` + the cleaned name.
pub(super) fn stream_path(what: &'static str, filename: &str) -> Result<PathBuf> {
    let mut out = PathBuf::from("/");
    for c in Path::new(filename).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            _ => {
                return Err(Error::InvalidArgument {
                    what,
                    detail: format!("{filename:?} must not contain '..'"),
                });
            }
        }
    }
    if out == Path::new("/") {
        return Err(Error::InvalidArgument {
            what,
            detail: "give a file name, for example mydb.sql".to_owned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_streams_refuses_a_stream_inside_a_backed_up_path() {
        let mut tree = build_virtual(&[PathBuf::from("/srv/app")]);
        let inside = Stream::new(
            "--command",
            "srv/app/db.sql",
            StreamInput::Shell("true".into()),
        );
        let err = add_streams(&mut tree, &[inside.unwrap()]).unwrap_err();
        assert!(
            err.to_string()
                .contains("inside the backed-up path /srv/app"),
            "{err}"
        );
    }

    #[test]
    fn add_streams_refuses_the_same_name_twice_and_a_backed_up_ancestor() {
        let mut tree = build_virtual(&[PathBuf::from("/srv/app")]);
        let twice = ["db.sql", "./db.sql"]
            .map(|n| Stream::new("--command", n, StreamInput::Shell("true".into())).unwrap());
        let err = add_streams(&mut tree, &twice).unwrap_err();
        assert!(err.to_string().contains("stored twice"), "{err}");
        let srv = Stream::new("--command", "srv", StreamInput::Shell("true".into())).unwrap();
        let err = add_streams(&mut tree, &[srv]).unwrap_err();
        assert!(err.to_string().contains("holds backed-up paths"), "{err}");
    }

    #[test]
    fn add_streams_puts_streams_beside_real_paths() {
        let mut tree = build_virtual(&[PathBuf::from("/srv/app")]);
        let streams = ["srv/db.sql", "dumps/a.sql", "dumps/b.sql"]
            .map(|n| Stream::new("--command", n, StreamInput::Shell("true".into())).unwrap());
        add_streams(&mut tree, &streams).unwrap();
        let Virtual::Dir(_, root) = &tree else {
            panic!("root")
        };
        let Some(Virtual::Dir(Some(srv), srv_children)) = root.get(&b"srv"[..]) else {
            panic!("srv")
        };
        assert_eq!(srv, Path::new("/srv"));
        assert!(matches!(
            srv_children.get(&b"db.sql"[..]),
            Some(Virtual::Stream(0))
        ));
        let Some(Virtual::Dir(None, dumps)) = root.get(&b"dumps"[..]) else {
            panic!("dumps")
        };
        assert_eq!(dumps.len(), 2);
    }
}
