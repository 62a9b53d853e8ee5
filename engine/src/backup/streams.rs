//! Streams stored as files: standard input, and the standard output of
//! commands (`--stdin-from-command`, `--command NAME=CMD`), each chunked as
//! it comes, never held whole. Commands run at once, each leading its own
//! process group; when one fails the others are stopped and no snapshot is
//! saved. A command's stderr passes through, its tail kept for the error.

use super::Ctx;
use super::sources::stream_path;
use super::walk::{ChunkError, made_up_node, save_chunks};
use crate::error::{CommandFailure, Error, Result};
use repo_format::BlobId;
use repo_format::config::ChunkerParams;
use repo_format::tree::{Node, NodeKind};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where a stream's bytes come from.
pub(super) enum StreamInput {
    Reader(Box<dyn Read + Send>),
    Program(Vec<String>),
    Shell(String),
}

/// A stream stored as one file of the snapshot.
pub(super) struct Stream {
    /// Absolute path inside the snapshot.
    pub(super) path: PathBuf,
    /// The command line, for messages and the report; None for stdin.
    command: Option<String>,
    /// Taken when the stream is read.
    input: Mutex<Option<StreamInput>>,
}

impl Stream {
    pub(super) fn new(what: &'static str, filename: &str, input: StreamInput) -> Result<Self> {
        let command = match &input {
            StreamInput::Reader(_) => None,
            StreamInput::Program(argv) => Some(argv.join(" ")),
            StreamInput::Shell(line) => Some(line.clone()),
        };
        Ok(Stream {
            path: stream_path(what, filename)?,
            command,
            input: Mutex::new(Some(input)),
        })
    }
}

/// The streams of one backup and the commands running for them.
#[derive(Default)]
pub(super) struct Streams {
    streams: Vec<Stream>,
    reports: Mutex<Vec<(usize, super::StreamReport)>>,
    failures: Mutex<Vec<(usize, CommandFailure)>>,
    /// Set when a command failed: the snapshot will not be saved, so the
    /// other commands are stopped and the walk skips what is left.
    failed: AtomicBool,
    /// Process ids of the commands running now, to stop them when one fails.
    running: Mutex<Vec<(usize, u32)>>,
}

impl Streams {
    /// The streams to store.
    pub(super) fn new(streams: Vec<Stream>) -> Self {
        Streams {
            streams,
            ..Streams::default()
        }
    }

    /// Whether a command failed (nothing more is worth reading).
    pub(super) fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Record a failed command and stop the others.
    fn command_failed(&self, index: usize, failure: CommandFailure) {
        self.failed.store(true, Ordering::Relaxed);
        if let Ok(mut f) = self.failures.lock() {
            f.push((index, failure));
        }
        if let Ok(running) = self.running.lock() {
            for (i, pid) in running.iter() {
                if *i != index {
                    terminate(*pid);
                }
            }
        }
    }

    /// The failed commands in the order given, and each stream stored.
    pub(super) fn finish(self) -> (Vec<CommandFailure>, Vec<super::StreamReport>) {
        let mut failures = self.failures.into_inner().unwrap_or_default();
        failures.sort_by_key(|(i, _)| *i);
        let mut reports = self.reports.into_inner().unwrap_or_default();
        reports.sort_by_key(|(i, _)| *i);
        (
            failures.into_iter().map(|(_, f)| f).collect(),
            reports.into_iter().map(|(_, r)| r).collect(),
        )
    }
}

/// Store stream `index` as a file; `Ok(None)` when its command failed or was
/// stopped (the failure is recorded and the backup saves no snapshot).
pub(super) fn save_stream(
    ctx: &Ctx<'_>,
    index: usize,
    name: Vec<u8>,
    old: Option<&Node>,
) -> Result<Option<Node>> {
    let stream = ctx
        .streams
        .streams
        .get(index)
        .ok_or(Error::Internal("stream index"))?;
    let input = stream
        .input
        .lock()
        .ok()
        .and_then(|mut i| i.take())
        .ok_or(Error::Internal("stream read twice"))?;
    if ctx.failed() {
        return Ok(None);
    }
    let (content, size) = match input {
        StreamInput::Reader(reader) => {
            match save_chunks(ctx, reader, STREAM_SIZE_HINT, &stream_params(ctx)) {
                Ok(r) => r,
                Err(ChunkError::Read(e)) => return Err(Error::io("read", "standard input", e)),
                Err(ChunkError::Repo(e)) => return Err(e),
            }
        }
        StreamInput::Program(argv) => {
            let (program, args) = argv.split_first().ok_or(Error::Internal("empty argv"))?;
            let mut command = std::process::Command::new(program);
            command.args(args);
            match save_command(ctx, index, stream, command)? {
                Some(r) => r,
                None => return Ok(None),
            }
        }
        StreamInput::Shell(line) => {
            let mut command = std::process::Command::new("sh");
            command.arg("-c").arg(line);
            match save_command(ctx, index, stream, command)? {
                Some(r) => r,
                None => return Ok(None),
            }
        }
    };
    if let Ok(mut reports) = ctx.streams.reports.lock() {
        reports.push((
            index,
            super::StreamReport {
                path: stream.path.display().to_string(),
                command: stream.command.clone(),
                bytes: size,
            },
        ));
    }
    let c = &ctx.counters;
    match old {
        Some(_) => c.files_changed.fetch_add(1, Ordering::Relaxed),
        None => c.files_new.fetch_add(1, Ordering::Relaxed),
    };
    c.files.fetch_add(1, Ordering::Relaxed);
    let mut node = made_up_node(name, NodeKind::File);
    node.mode = 0o644;
    node.size = size;
    node.content = content;
    Ok(Some(node))
}

/// How streams are chunked (smaller chunks than files: see
/// [`ChunkerParams::for_streams`]).
fn stream_params(ctx: &Ctx<'_>) -> ChunkerParams {
    ctx.repo.config().chunker.for_streams()
}

/// Streams have no size to go by; this picks the chunker's read buffer.
const STREAM_SIZE_HINT: u64 = 1 << 20;

/// Stderr kept for the error: at most this many bytes, then lines.
const STDERR_TAIL_BYTES: usize = 2048;
const STDERR_TAIL_LINES: usize = 10;

/// The end of a command's stderr as kept for the error message.
fn stderr_tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let from = lines.len().saturating_sub(STDERR_TAIL_LINES);
    lines.get(from..).unwrap_or_default().join("\n")
}

/// How a process ended, in words.
fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => match nix::sys::signal::Signal::try_from(sig) {
            Ok(name) => format!("killed by signal {sig} ({name})"),
            Err(_) => format!("killed by signal {sig}"),
        },
        _ => status.to_string(),
    }
}

/// Ask a command, and every process it started, to stop (another command
/// failed, so its output is not needed). Each command leads its own process
/// group, so that a shell's children (`pg_dump … | gzip`) are reached too.
/// Errors are ignored: it may have ended already.
fn terminate(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(-pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
}

/// A reader that fails once another command has failed, so that a command
/// whose output is no longer wanted is not read to its end.
struct UnlessFailed<'a, R> {
    inner: R,
    failed: &'a AtomicBool,
}

impl<R: Read> Read for UnlessFailed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.failed.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("another command failed"));
        }
        self.inner.read(buf)
    }
}

/// Run a command and chunk its standard output as it comes (never holding
/// more than a chunk of it). Its stderr passes through to ours, keeping the
/// tail for the error. `Ok(None)` when it failed or was stopped; the
/// failure is recorded in `ctx`.
fn save_command(
    ctx: &Ctx<'_>,
    index: usize,
    stream: &Stream,
    mut command: std::process::Command,
) -> Result<Option<(Vec<BlobId>, u64)>> {
    let path = stream.path.display().to_string();
    let line = stream.command.clone().unwrap_or_default();
    let failure = |status: String, stderr_tail: String| CommandFailure {
        path: path.clone(),
        command: line.clone(),
        status,
        stderr_tail,
    };
    ctx.options.command_env.apply(&mut command);
    let spawned = std::os::unix::process::CommandExt::process_group(&mut command, 0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            ctx.streams.command_failed(
                index,
                failure(format!("could not start: {e}"), String::new()),
            );
            return Ok(None);
        }
    };
    if let Ok(mut running) = ctx.streams.running.lock() {
        running.push((index, child.id()));
    }
    // A signal that stops vault stops it too: it leads its own group, which
    // a terminal's Ctrl-C does not reach.
    let _stop_on_signal = crate::interrupt::stop_group_on_interrupt(child.id());
    if ctx.failed() {
        terminate(child.id());
    }
    let stdout = child.stdout.take().ok_or(Error::Internal("child stdout"))?;
    let stderr = child.stderr.take().ok_or(Error::Internal("child stderr"))?;
    let progress = ctx.progress;
    let (result, waited, tail) = std::thread::scope(|scope| {
        let tail_reader = scope.spawn(move || pass_stderr_through(stderr, progress));
        let result = save_chunks(
            ctx,
            UnlessFailed {
                inner: stdout,
                failed: &ctx.streams.failed,
            },
            STREAM_SIZE_HINT,
            &stream_params(ctx),
        );
        if result.is_err() {
            // Not read to the end: stop it rather than wait for it to finish.
            terminate(child.id());
        }
        let waited = child.wait();
        if let Ok(mut running) = ctx.streams.running.lock() {
            running.retain(|(i, _)| *i != index);
        }
        if !waited.as_ref().is_ok_and(|s| s.success()) {
            // What it left running would hold its stderr open.
            terminate(child.id());
        }
        (result, waited, tail_reader.join().unwrap_or_default())
    });
    let status = waited.map_err(|e| Error::io("wait for", &line, e))?;
    let result = match result {
        Err(ChunkError::Repo(e)) => return Err(e),
        Err(ChunkError::Read(e)) => Err(e),
        Ok(r) => Ok(r),
    };
    if ctx.failed() && (result.is_err() || !status.success()) {
        // Stopped because another command failed: that one is the error.
        return Ok(None);
    }
    if !status.success() {
        ctx.streams
            .command_failed(index, failure(describe_status(status), tail));
        return Ok(None);
    }
    match result {
        Ok(r) => Ok(Some(r)),
        Err(e) => {
            ctx.streams.command_failed(
                index,
                failure(format!("reading its output failed: {e}"), tail),
            );
            Ok(None)
        }
    }
}

/// Hand a command's stderr to `progress` line by line as it comes (the
/// engine never prints, and the lines are another program's bytes, for the
/// caller to make safe); return its tail.
fn pass_stderr_through(stderr: impl Read, progress: &dyn crate::Progress) -> String {
    let mut tail: Vec<u8> = Vec::new();
    crate::progress::for_each_line(stderr, |line| {
        progress.command_output(line);
        tail.extend_from_slice(line);
        tail.push(b'\n');
        if tail.len() > STDERR_TAIL_BYTES {
            tail.drain(..tail.len() - STDERR_TAIL_BYTES);
        }
    });
    stderr_tail(&tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_tail_keeps_the_last_ten_lines() {
        let text: String = (1..=15).map(|i| format!("line {i}\n")).collect();
        let tail = stderr_tail(text.as_bytes());
        assert_eq!(tail.lines().count(), 10);
        assert!(tail.starts_with("line 6\n"), "{tail}");
        assert!(tail.ends_with("line 15"), "{tail}");
    }
}
