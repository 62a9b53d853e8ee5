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
//! Each step is this same binary run as a child on one repository, so a
//! step that fails (a database that is down, an off-site store that is
//! unreachable) cannot take the others with it; its last error line is in
//! the summary. Exit 0 when every step succeeded, 3 when the only trouble
//! was files a backup could not read, 1 otherwise.

use super::profile::{Target, shell, source_host};
use crate::args::{Global, RunArgs};
use crate::config::{self, Config, Profile, Source};
use crate::exit;
use crate::output;
use anyhow::Result;
use serde_json::{Value, json};
use std::io::BufRead;
use std::process::Stdio;
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

/// Run `vault ARGS` on `target` as a child: its stderr is passed on, each
/// line prefixed with the step's label; its last line is the message of a
/// failure. The child's last JSON line on stdout is the step's output.
fn child(
    g: &Global,
    target: &Target<'_>,
    kind: &'static str,
    source: Option<&str>,
    args: &[String],
    env: &[(&str, String)],
) -> Step {
    let mut step = Step {
        kind,
        source: source.map(str::to_owned),
        repository: Some(target.name.to_owned()),
        status: Status::Failed,
        seconds: 0.0,
        message: None,
        output: Value::Null,
    };
    let started = Instant::now();
    let mut cmd = match target.vault(g) {
        Ok(cmd) => cmd,
        Err(e) => {
            step.message = Some(e);
            return step;
        }
    };
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let label = step.label();
    let quiet = g.quiet;
    let result = cmd.spawn().and_then(|mut proc| {
        let stderr = proc.stderr.take();
        let relay = std::thread::spawn(move || {
            let mut last = None;
            for line in std::io::BufReader::new(stderr?)
                .lines()
                .map_while(Result::ok)
            {
                if !quiet {
                    eprintln!("[{label}] {line}");
                }
                if !line.trim().is_empty() {
                    last = Some(line);
                }
            }
            last
        });
        let out = proc.wait_with_output()?;
        let last = relay.join().ok().flatten();
        Ok((out, last))
    });
    step.seconds = started.elapsed().as_secs_f64();
    match result {
        Err(e) => step.message = Some(format!("cannot run vault: {e}")),
        Ok((out, last)) => {
            step.output = String::from_utf8_lossy(&out.stdout)
                .lines()
                .rev()
                .find_map(|l| serde_json::from_str(l).ok())
                .unwrap_or(Value::Null);
            let message = last.map(|l| l.strip_prefix("vault: ").unwrap_or(&l).to_owned());
            match out.status.code() {
                Some(0) => step.status = Status::Ok,
                Some(3) if kind == "backup" => {
                    step.status = Status::Warning;
                    step.message = message;
                }
                code => {
                    step.message = Some(message.unwrap_or_else(|| match code {
                        Some(c) => format!("exit code {c}"),
                        None => "killed by a signal".to_owned(),
                    }));
                }
            }
        }
    }
    step
}

/// The backup arguments of a source.
fn backup_args(name: &str, source: &Source) -> Vec<String> {
    let mut args: Vec<String> = vec!["backup".into()];
    let mut flag = |f: &str, v: String| args.extend([f.to_owned(), v]);
    flag("--tag", config::source_tag(name));
    for t in &source.tags {
        flag("--tag", t.clone());
    }
    flag("--host", source_host(source));
    flag("--heartbeat", name.to_owned());
    for e in &source.exclude {
        flag("--exclude", e.clone());
    }
    for e in &source.iexclude {
        flag("--iexclude", e.clone());
    }
    for f in &source.exclude_file {
        flag("--exclude-file", f.display().to_string());
    }
    for n in &source.exclude_if_present {
        flag("--exclude-if-present", n.clone());
    }
    if let Some(s) = &source.exclude_larger_than {
        flag("--exclude-larger-than", s.clone());
    }
    if let Some(c) = &source.command {
        let file = source.filename.clone().unwrap_or_else(|| name.to_owned());
        flag("--command", format!("{file}={c}"));
    }
    if source.one_file_system {
        args.push("--one-file-system".into());
    }
    // Not after `--`, which backup keeps for --stdin-from-command.
    args.extend(source.paths.iter().map(|p| {
        let text = p.display().to_string();
        if text.starts_with('-') {
            format!("./{text}")
        } else {
            text
        }
    }));
    args
}

/// The filter of one source's snapshots.
fn source_filter(name: &str, source: &Source) -> Vec<String> {
    vec![
        "--tag".into(),
        config::source_tag(name),
        "--host".into(),
        source_host(source),
    ]
}

/// Forget (per source that did not fail) and prune on `target`.
fn retention(
    g: &Global,
    target: &Target<'_>,
    sources: &[(&str, &Source, bool)],
    profile: &Profile,
    steps: &mut Vec<Step>,
) {
    let Some(policy) = &profile.retention else {
        return;
    };
    // Checked when vault.toml was loaded.
    let flags = policy.forget_flags().unwrap_or_default();
    let mut removed = 0usize;
    let mut forgot = false;
    for (name, source, backed_up) in sources {
        if !backed_up {
            steps.push(Step::skipped(
                "forget",
                Some(name),
                target.name,
                "its backup failed: its snapshots are kept as they are",
            ));
            continue;
        }
        let mut args = vec!["forget".to_owned()];
        args.extend(source_filter(name, source));
        args.extend(flags.iter().cloned());
        let step = child(g, target, "forget", Some(name), &args, &[]);
        if step.status == Status::Ok {
            forgot = true;
            removed += step.output.as_array().map_or(0, |groups| {
                groups
                    .iter()
                    .filter_map(|gr| gr["remove"].as_array())
                    .map(Vec::len)
                    .sum()
            });
        }
        steps.push(step);
    }
    if !policy.prune {
        return;
    }
    if forgot && removed == 0 {
        steps.push(Step::skipped(
            "prune",
            None,
            target.name,
            "forget removed no snapshot: nothing to prune",
        ));
    } else if forgot {
        steps.push(child(g, target, "prune", None, &["prune".into()], &[]));
    }
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
    let primary = Target::new(g, config, &profile.repository, true)?;
    let offsite: Vec<Target<'_>> = profile
        .copy_to
        .iter()
        .map(|r| Target::new(g, config, r, false))
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
            steps.push(Step::skipped("backup", Some(source), primary.name, why));
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
                    primary.name,
                    "a before hook of this source failed",
                ));
                false
            } else {
                let step = child(
                    g,
                    &primary,
                    "backup",
                    Some(source_name),
                    &backup_args(source_name, source),
                    &[],
                );
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
                let mut args = vec!["copy".to_owned()];
                args.extend(source_filter(source_name, source));
                args.extend(["--to".to_owned(), target.repo.url.clone()]);
                let mut env: Vec<(&str, String)> = target
                    .repo
                    .env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                let step = match &target.password {
                    Ok(pw) => {
                        env.push(("VAULT_TO_PASSWORD", pw.to_string()));
                        env.push(("VAULT_TO_PASSWORD_FILE", String::new()));
                        env.push(("VAULT_TO_PASSWORD_COMMAND", String::new()));
                        let mut step = child(g, &primary, "copy", Some(source_name), &args, &env);
                        step.repository = Some(format!("{} → {}", primary.name, target.name));
                        step
                    }
                    Err(e) => Step::skipped("copy", Some(source_name), target.name, e),
                };
                let ok = step.status == Status::Ok;
                if step.status == Status::Skipped {
                    // No password is a failure of the run, not a choice.
                    steps.push(Step {
                        status: Status::Failed,
                        ..step
                    });
                } else {
                    steps.push(step);
                }
                copied.push((source_name, source, ok));
            }
            retention(g, target, &copied, profile, &mut steps);
        }
        // 5. Check every repository.
        if profile.check.enabled {
            let mut args = vec!["check".to_owned(), "--heartbeat".to_owned()];
            if let Some(subset) = &profile.check.read_data_subset {
                args.extend(["--read-data-subset".to_owned(), subset.clone()]);
            }
            for target in std::iter::once(&primary).chain(&offsite) {
                steps.push(child(g, target, "check", None, &args, &[]));
            }
        }
    }

    // 6. Hooks and the summary.
    let summary = |steps: &[Step]| {
        let failed = steps.iter().filter(|s| s.status == Status::Failed).count();
        json!({
            "profile": name,
            "repository": primary.name,
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
        eprintln!("vault: run {name}: {}", first_error(&steps));
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
            (_, Some(m)) => m.clone(),
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
