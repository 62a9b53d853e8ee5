//! `vault run [PROFILE]`: a profile of vault.toml from start to end.
//!
//! 1. the `before` hooks (one failing skips everything but the hooks below);
//! 2. a backup of each source, tagged `source:NAME`, writing its heartbeat,
//!    between the source's own `before` and `after` hooks;
//! 3. with a retention policy: forget per source (not for a source whose
//!    backup failed: its older snapshots stay), then prune;
//! 4. for each `copy-to` repository: copy each source's snapshots (those
//!    already there are skipped), then the same forget and prune there;
//! 5. check each repository (`read-data-subset`), writing a check heartbeat;
//! 6. `on-success` or `on-failure`, then `after`, with the summary in their
//!    environment; one summary on stdout, human or `--json`.
//!
//! Every step runs in this process, on repositories opened once each (so
//! each password's key is derived once, not once per step); each step
//! takes the lock its command would take and releases it, and its failure
//! is a `Result`, so a step that fails (a database that is down, an
//! off-site store that is unreachable) cannot take the others with it: its
//! error is in the summary. No password is put in any environment: the
//! commands a run starts (sources' commands, hooks) get none. Exit 0 when
//! every step succeeded, 3 when the only trouble was files a backup could
//! not read, 1 otherwise.

use super::profile::{Target, shell, source_host};
use crate::args::{Global, RunArgs};
use crate::cmd::{backup as backup_cmd, check as check_cmd, copy as copy_cmd};
use crate::cmd::{forget as forget_cmd, prune as prune_cmd};
use crate::config::{self, Config, Profile, Source};
use crate::exit;
use crate::output::{self, CliProgress};
use crate::session::{Access, Session};
use anyhow::{Result, anyhow};
use engine::Repository;
use engine::backup::{BackupOptions, ExcludeOptions, NamedCommand, ParentChoice};
use engine::maintenance::check::{CheckOptions, ReadData};
use engine::maintenance::forget::GroupBy;
use engine::maintenance::prune::PruneOptions;
use engine::read::snapshots::SnapshotFilter;
use engine::repository::lock::LockKind;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Ok,
    /// Succeeded with a warning (a backup that could not read some files).
    Warning,
    Failed,
    Skipped,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

/// One step of the run.
struct Step {
    /// `backup`, `forget`, `prune`, `copy`, `check`, `hook`.
    kind: &'static str,
    /// The source, for backup, forget and copy; the hook's stage for hooks.
    source: Option<String>,
    /// The repository it ran on.
    repository: Option<String>,
    status: Status,
    seconds: f64,
    /// Why it failed or was skipped.
    message: Option<String>,
    /// The child's JSON summary.
    output: Value,
}

impl Step {
    fn label(&self) -> String {
        let mut label = self.kind.to_owned();
        if let Some(s) = &self.source {
            label.push(' ');
            label.push_str(s);
        }
        if let Some(r) = &self.repository {
            label.push_str(" @");
            label.push_str(r);
        }
        label
    }

    fn skipped(kind: &'static str, source: Option<&str>, repo: &str, why: &str) -> Step {
        Step {
            kind,
            source: source.map(str::to_owned),
            repository: Some(repo.to_owned()),
            status: Status::Skipped,
            seconds: 0.0,
            message: Some(why.to_owned()),
            output: Value::Null,
        }
    }

    fn json(&self) -> Value {
        json!({
            "step": self.kind,
            "source": self.source,
            "repository": self.repository,
            "status": self.status.name(),
            "seconds": self.seconds,
            "message": self.message,
            "output": self.output,
        })
    }
}

/// A repository of the run, opened once; or why it could not be.
struct Opened<'a> {
    target: Target<'a>,
    repo: std::result::Result<Arc<Repository>, String>,
}

impl<'a> Opened<'a> {
    fn new(g: &Global, target: Target<'a>) -> Self {
        let repo = target.open(g).map_err(|e| crate::advice::one_line(&e));
        Opened { target, repo }
    }

    fn name(&self) -> &str {
        self.target.name
    }

    /// The repository locked as `command` would lock it, with its index
    /// loaded (strictly to write, tolerantly to read).
    fn session(&self, g: &Global, access: Access, command: &str) -> Result<Session> {
        let repo = self.repo.as_ref().map_err(|e| anyhow!("{e}"))?;
        let lock = crate::session::lock(g, repo, access, command)?;
        let session = Session {
            repo: repo.clone(),
            lock,
        };
        crate::session::load_index(&session.repo, access)?;
        Ok(session)
    }
}

/// What a step produced: its status (ok, or a warning with why), and its
/// summary as the command's `--json` would print it.
struct Outcome {
    warning: Option<String>,
    output: Value,
}

impl Outcome {
    fn ok(output: Value) -> Result<Outcome> {
        Ok(Outcome {
            warning: None,
            output,
        })
    }
}

/// Run one step: time it, and turn its error into a failed step (its
/// message is the one line `vault` would print).
fn step(
    kind: &'static str,
    source: Option<&str>,
    repository: &str,
    quiet: bool,
    work: impl FnOnce(&str) -> Result<Outcome>,
) -> Step {
    let mut step = Step {
        kind,
        source: source.map(str::to_owned),
        repository: Some(repository.to_owned()),
        status: Status::Failed,
        seconds: 0.0,
        message: None,
        output: Value::Null,
    };
    let started = Instant::now();
    let result = work(&step.label());
    step.seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(Outcome { warning, output }) => {
            step.status = if warning.is_some() {
                Status::Warning
            } else {
                Status::Ok
            };
            step.message = warning;
            step.output = output;
        }
        Err(e) => {
            let message = crate::advice::one_line(&e);
            if !quiet {
                eprintln!("[{}] vault: {}", step.label(), output::message(&message));
            }
            if let Some(engine::Error::CommandFailed { failures }) = e.downcast_ref() {
                step.output = backup_cmd::failure_summary(failures);
            }
            step.message = Some(message);
        }
    }
    step
}

/// The global options of the steps: no progress bars, no JSON of their
/// own (the run prints one summary).
fn step_globals(g: &Global) -> Global {
    Global {
        json: true,
        no_progress: true,
        ..g.clone()
    }
}

/// Back up `source` into `primary`.
fn backup(g: &Global, primary: &Opened<'_>, name: &str, source: &Source) -> Step {
    step("backup", Some(name), primary.name(), g.quiet, |label| {
        let session = primary.session(g, Access::Write(LockKind::Shared), "backup")?;
        let mut tags = vec![config::source_tag(name)];
        tags.extend(source.tags.iter().cloned());
        let exclude_larger_than = source
            .exclude_larger_than
            .as_deref()
            .map(|s| crate::session::parse_size("exclude-larger-than", s))
            .transpose()?;
        let paths = source.paths.clone();
        let backup_source = match &source.command {
            Some(shell) => engine::backup::Source::PathsAndCommands {
                paths,
                commands: vec![NamedCommand {
                    filename: source.filename.clone().unwrap_or_else(|| name.to_owned()),
                    shell: shell.clone(),
                }],
            },
            None => engine::backup::Source::Paths(paths),
        };
        let job = backup_cmd::Job {
            source: backup_source,
            options: BackupOptions {
                excludes: ExcludeOptions {
                    exclude: source.exclude.clone(),
                    iexclude: source.iexclude.clone(),
                    exclude_files: source.exclude_file.clone(),
                    exclude_if_present: source.exclude_if_present.clone(),
                    exclude_larger_than,
                    one_file_system: source.one_file_system,
                },
                tags: backup_cmd::split_tags(&tags),
                host: Some(source_host(source)),
                parent: ParentChoice::Auto,
                command_env: crate::password::child_env(&primary.target.repo.env),
                ..BackupOptions::default()
            },
            heartbeat: Some(name.to_owned()),
        };
        let progress = CliProgress::new(&step_globals(g), None).labelled(label);
        let done = backup_cmd::execute(&session, job, &progress)?;
        for e in &done.report.errors {
            if !g.quiet {
                eprintln!(
                    "[{label}] error: {}: {}",
                    output::name(&e.path),
                    output::message(&e.message)
                );
            }
        }
        let warning =
            (!done.report.errors.is_empty()).then(|| backup_cmd::incomplete(&done.report));
        Ok(Outcome {
            warning,
            output: done.summary,
        })
    })
}

/// The filter of one source's snapshots.
fn source_filter(name: &str, source: &Source) -> SnapshotFilter {
    SnapshotFilter {
        hosts: vec![source_host(source)],
        tags: vec![config::source_tag(name)],
        paths: Vec::new(),
    }
}

/// Forget (per source that did not fail) and prune on `target`.
fn retention(
    g: &Global,
    target: &Opened<'_>,
    sources: &[(&str, &Source, bool)],
    profile: &Profile,
    steps: &mut Vec<Step>,
) {
    let Some(retention) = &profile.retention else {
        return;
    };
    let mut removed = 0usize;
    let mut forgot = false;
    for (name, source, backed_up) in sources {
        if !backed_up {
            steps.push(Step::skipped(
                "forget",
                Some(name),
                target.name(),
                "its backup failed: its snapshots are kept as they are",
            ));
            continue;
        }
        let step = step("forget", Some(name), target.name(), g.quiet, |_| {
            // Checked when vault.toml was loaded.
            let policy = retention.checked_policy()?;
            let session = target.session(g, Access::Write(LockKind::Maintenance), "forget")?;
            let forgot = forget_cmd::execute(
                &session,
                &source_filter(name, source),
                None,
                &policy,
                GroupBy::default(),
                false,
                false,
                false,
                crate::session::clock_skew(g)?,
            )?;
            removed += forgot.plan.removals().len();
            Outcome::ok(forgot.groups_json())
        });
        forgot |= step.status == Status::Ok;
        steps.push(step);
    }
    if !retention.prune {
        return;
    }
    if forgot && removed == 0 {
        steps.push(Step::skipped(
            "prune",
            None,
            target.name(),
            "forget removed no snapshot: nothing to prune",
        ));
    } else if forgot {
        steps.push(step("prune", None, target.name(), g.quiet, |_| {
            let session = target.session(g, Access::Write(LockKind::Maintenance), "prune")?;
            let report = prune_cmd::execute(&session, &PruneOptions::default())?;
            Outcome::ok(serde_json::to_value(&report)?)
        }));
    }
}

/// Copy one source's snapshots from `primary` to `target`.
fn copy(
    g: &Global,
    primary: &Opened<'_>,
    target: &Opened<'_>,
    name: &str,
    source: &Source,
) -> Step {
    let mut step = step("copy", Some(name), target.name(), g.quiet, |label| {
        let src = primary.session(g, Access::Read, "copy")?;
        let dst = target.session(g, Access::Write(LockKind::Shared), "copy")?;
        let filter = source_filter(name, source);
        let chosen: Vec<_> = src
            .snapshots()?
            .into_iter()
            .filter(|(_, s)| filter.matches(s))
            .collect();
        let progress = CliProgress::new(&step_globals(g), None).labelled(label);
        let done = copy_cmd::execute(&src, &dst, &chosen, &progress, |_, _| Ok(()))?;
        Outcome::ok(done.json())
    });
    step.repository = Some(format!("{} → {}", primary.name(), target.name()));
    step
}

/// Check `target`, writing a check heartbeat when it passes.
fn check(g: &Global, target: &Opened<'_>, profile: &Profile) -> Step {
    step("check", None, target.name(), g.quiet, |_| {
        let read_data = match &profile.check.read_data_subset {
            Some(subset) => ReadData::parse_subset(subset)?,
            None => ReadData::None,
        };
        // What the store holds, not what the cache remembers.
        let repo = target
            .repo
            .as_ref()
            .map_err(|e| anyhow!("{e}"))?
            .without_cache();
        let _lock = crate::session::lock(g, &repo, Access::Read, "check")?;
        let stages = check_cmd::Stages { quiet: true };
        let report = check_cmd::execute(
            &repo,
            &CheckOptions {
                read_data,
                clock_skew: crate::session::clock_skew(g)?,
            },
            true,
            &stages,
        )?;
        let output = check_cmd::report_json(&report);
        if report.ok() {
            Outcome::ok(output)
        } else {
            Err(anyhow!("{}", check_cmd::failure_line(&report)))
        }
    })
}

/// Run `run`.
pub fn run(g: &Global, a: &RunArgs) -> Result<u8> {
    let config = config::load(g.config.as_deref())?;
    let (profile_name, profile) = config.profile(a.profile.as_deref())?;
    run_profile(g, &config, profile_name, profile)
}

fn run_profile(g: &Global, config: &Config, name: &str, profile: &Profile) -> Result<u8> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let primary = Opened::new(g, Target::new(g, config, &profile.repository, true)?);
    let offsite: Vec<Opened<'_>> = profile
        .copy_to
        .iter()
        .map(|r| Ok(Opened::new(g, Target::new(g, config, r, false)?)))
        .collect::<Result<_>>()?;
    let sources = config.profile_sources(profile);
    let hook_env = |stage: &str| {
        vec![
            ("VAULT_PROFILE", name.to_owned()),
            ("VAULT_HOOK", stage.to_owned()),
        ]
    };
    let mut steps: Vec<Step> = Vec::new();

    let before_failed = run_hooks(
        &profile.hooks.before,
        "before",
        &hook_env("before"),
        &mut steps,
    );
    if before_failed {
        let why = "a before hook failed";
        for (source, _) in &sources {
            steps.push(Step::skipped("backup", Some(source), primary.name(), why));
        }
    } else {
        // 2. Back up every source.
        let mut done: Vec<(&str, &Source, bool)> = Vec::new();
        for (source_name, source) in &sources {
            let mut env = hook_env("before");
            env.push(("VAULT_SOURCE", (*source_name).to_owned()));
            let stage = format!("before {source_name}");
            let ok = if run_hooks(&source.before, &stage, &env, &mut steps) {
                steps.push(Step::skipped(
                    "backup",
                    Some(source_name),
                    primary.name(),
                    "a before hook of this source failed",
                ));
                false
            } else {
                let step = backup(g, &primary, source_name, source);
                let ok = matches!(step.status, Status::Ok | Status::Warning);
                steps.push(step);
                ok
            };
            if let Some(stage) = env.get_mut(1) {
                stage.1 = "after".to_owned();
            }
            env.push((
                "VAULT_BACKUP_STATUS",
                if ok { "success" } else { "failure" }.to_owned(),
            ));
            run_hooks(
                &source.after,
                &format!("after {source_name}"),
                &env,
                &mut steps,
            );
            done.push((source_name, source, ok));
        }
        // 3. Retention on the primary repository.
        retention(g, &primary, &done, profile, &mut steps);
        // 4. Off-site copies, and their retention.
        for target in &offsite {
            let mut copied: Vec<(&str, &Source, bool)> = Vec::new();
            for (source_name, source, _) in &done {
                let step = copy(g, &primary, target, source_name, source);
                let ok = step.status == Status::Ok;
                steps.push(step);
                copied.push((source_name, source, ok));
            }
            retention(g, target, &copied, profile, &mut steps);
        }
        // 5. Check every repository.
        if profile.check.enabled {
            for target in std::iter::once(&primary).chain(&offsite) {
                steps.push(check(g, target, profile));
            }
        }
    }

    // 6. Hooks and the summary.
    let summary = |steps: &[Step]| {
        let failed = steps.iter().filter(|s| s.status == Status::Failed).count();
        json!({
            "profile": name,
            "repository": primary.name(),
            "success": failed == 0,
            "started": started_at.to_rfc3339(),
            "seconds": started.elapsed().as_secs_f64(),
            "failed": failed,
            "steps": steps.iter().map(Step::json).collect::<Vec<_>>(),
        })
    };
    let failed = |steps: &[Step]| steps.iter().any(|s| s.status == Status::Failed);
    let success = !failed(&steps);
    let mut env = hook_env(if success { "on-success" } else { "on-failure" });
    env.push((
        "VAULT_RUN_STATUS",
        if success { "success" } else { "failure" }.to_owned(),
    ));
    env.push(("VAULT_RUN_SUMMARY", summary(&steps).to_string()));
    env.push(("VAULT_RUN_ERRORS", errors(&steps)));
    if success {
        run_hooks(&profile.hooks.on_success, "on-success", &env, &mut steps);
    } else {
        run_hooks(&profile.hooks.on_failure, "on-failure", &env, &mut steps);
    }
    if let Some(stage) = env.get_mut(1) {
        stage.1 = "after".to_owned();
    }
    run_hooks(&profile.hooks.after, "after", &env, &mut steps);

    let summary = summary(&steps);
    if g.json {
        output::print_json(&summary)?;
    } else if !g.quiet || failed(&steps) {
        print_human(name, &summary, &steps)?;
    }
    Ok(if failed(&steps) {
        eprintln!(
            "vault: run {name}: {}",
            output::message(&first_error(&steps))
        );
        exit::FATAL
    } else if steps.iter().any(|s| s.status == Status::Warning) {
        exit::INCOMPLETE
    } else {
        exit::OK
    })
}

/// Run each hook in order; a failure is a failed step, and stops the
/// hooks after it at this stage. Returns whether one failed.
fn run_hooks(hooks: &[String], stage: &str, env: &[(&str, String)], steps: &mut Vec<Step>) -> bool {
    for hook in hooks {
        let started = Instant::now();
        let result = shell(hook, env, None);
        steps.push(Step {
            kind: "hook",
            source: Some(stage.to_owned()),
            repository: None,
            status: if result.is_ok() {
                Status::Ok
            } else {
                Status::Failed
            },
            seconds: started.elapsed().as_secs_f64(),
            message: result.err().map(|e| format!("{e:#}")),
            output: json!({ "command": hook }),
        });
        if steps.last().is_some_and(|s| s.status == Status::Failed) {
            return true;
        }
    }
    false
}

/// One line per failed step: `LABEL: MESSAGE`.
fn errors(steps: &[Step]) -> String {
    steps
        .iter()
        .filter(|s| s.status == Status::Failed)
        .map(|s| {
            format!(
                "{}: {}",
                s.label(),
                s.message.as_deref().unwrap_or("failed")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn first_error(steps: &[Step]) -> String {
    let all = errors(steps);
    let count = all.lines().count();
    let first = all.lines().next().unwrap_or("").to_owned();
    if count > 1 {
        format!(
            "{first} (and {} more failed step(s), see the summary)",
            count - 1
        )
    } else {
        first
    }
}

fn print_human(name: &str, summary: &Value, steps: &[Step]) -> engine::Result<()> {
    let failed = steps.iter().filter(|s| s.status == Status::Failed).count();
    out!(
        "run {name}: {} step(s), {failed} failed, in {:.1}s",
        steps.len(),
        summary["seconds"].as_f64().unwrap_or(0.0)
    );
    for s in steps {
        let detail = match (s.kind, &s.message) {
            (_, Some(m)) => output::message(m).into_owned(),
            ("backup", None) => match s.output["snapshot_id"].as_str() {
                Some(id) => format!(
                    "snapshot {}, {} read, {} added",
                    id.get(..8).unwrap_or(id),
                    output::size(s.output["total_bytes_processed"].as_u64().unwrap_or(0)),
                    output::size(s.output["data_added"].as_u64().unwrap_or(0))
                ),
                None => String::new(),
            },
            _ => String::new(),
        };
        out!(
            "  {:<8} {:<28} {:>7.1}s  {detail}",
            s.status.name(),
            s.label(),
            s.seconds
        );
    }
    Ok(())
}
