//! `vault forget`: remove the snapshots named, or those a retention policy
//! does not keep, group by group (restic's semantics; the policy itself is
//! `engine::maintenance::forget`).

use crate::args::{ForgetArgs, Global};
use crate::exit;
use crate::output;
use anyhow::{Context, Result, bail};
use engine::maintenance::forget::{ForgetPlan, GroupBy, GroupKey, GroupPlan, Policy, Verdict};
use engine::read::snapshots::{SnapshotFilter, select_many};
use engine::repo_format::SnapshotId;
use engine::repo_format::snapshot::Snapshot;
use engine::repository::lock::LockKind;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Run `forget`.
pub fn run(g: &Global, a: &ForgetArgs) -> Result<u8> {
    let policy = a.retention.policy()?;
    let group_by = a
        .group_by
        .as_deref()
        .map_or(Ok(GroupBy::default()), GroupBy::parse)?;
    let by_id = !a.snapshots.is_empty();
    match (by_id, policy.is_empty()) {
        (false, true) => bail!(
            "no policy and no snapshots given, so nothing would be removed: name snapshots, or give a policy such as --keep-last 10"
        ),
        (true, false) => {
            bail!(
                "give either snapshots to remove or a --keep-* policy, not both; nothing was removed"
            )
        }
        (true, true) if a.group_by.is_some() || a.allow_remove_all => bail!(
            "--group-by and --allow-remove-all apply to a policy, not to snapshots named by id; nothing was removed"
        ),
        _ => {}
    }
    let repo = super::open(g, super::Access::Write(LockKind::Maintenance), "forget")?;
    let filter = super::filter(&a.filter);
    let by_id = if by_id {
        Some(a.snapshots.as_slice())
    } else {
        None
    };
    let forgot = execute(
        &repo,
        &filter,
        by_id,
        &policy,
        group_by,
        a.dry_run,
        a.allow_remove_all,
        !g.json && !g.quiet,
        crate::session::clock_skew(g)?,
    )?;
    let removals = forgot.plan.removals();
    if g.json {
        output::print_json(&forgot.groups_json())?;
    } else if !g.quiet {
        let verb = if a.dry_run { "would remove" } else { "removed" };
        if by_id.is_some() {
            for id in &removals {
                out!("{verb} snapshot {}", id.short());
            }
        }
        out!("{verb} {} snapshots", removals.len());
    }
    if a.retention.prune {
        // With --json, prune's report follows as a second JSON line.
        let options = engine::maintenance::prune::PruneOptions {
            dry_run: a.dry_run,
            ..engine::maintenance::prune::PruneOptions::default()
        };
        super::prune::prune_open(g, &repo, &options)?;
    }
    Ok(exit::OK)
}

/// What a forget decided and did.
pub struct Forgot {
    /// Each group's verdicts.
    pub plan: ForgetPlan,
    /// The snapshots the filter chose.
    pub selected: Vec<(SnapshotId, Snapshot)>,
}

impl Forgot {
    /// restic's `forget --json`: one entry per group.
    pub fn groups_json(&self) -> Value {
        let snapshots: HashMap<SnapshotId, &Snapshot> =
            self.selected.iter().map(|(id, s)| (*id, s)).collect();
        Value::Array(
            self.plan
                .groups
                .iter()
                .map(|group| group_json(group, &snapshots))
                .collect(),
        )
    }
}

/// Forget on an open session locked for maintenance: the snapshots the
/// filter passes, those named (`by_id`) or those `policy` does not keep,
/// group by group; a policy that would empty a group is refused unless
/// `allow_remove_all`. With `print_plan` the policy's table comes first.
/// Each snapshot counts as no newer than when the store received it, and
/// those dated more than `clock_skew` from that are named on stderr.
#[allow(clippy::too_many_arguments)]
pub fn execute(
    repo: &super::Session,
    filter: &SnapshotFilter,
    by_id: Option<&[String]>,
    policy: &Policy,
    group_by: GroupBy,
    dry_run: bool,
    allow_remove_all: bool,
    print_plan: bool,
    clock_skew: std::time::Duration,
) -> Result<Forgot> {
    if !dry_run {
        // An append-only server (vault serve --append-only) refuses before
        // anything is planned or printed.
        repo.backend().ensure_deletable()?;
    }
    let selected = select_many(repo.snapshots()?, by_id.unwrap_or_default(), filter)?;
    let plan = if by_id.is_some() {
        ForgetPlan {
            groups: vec![GroupPlan {
                key: GroupKey::default(),
                verdicts: selected
                    .iter()
                    .map(|(id, _)| Verdict {
                        id: *id,
                        reasons: Vec::new(),
                    })
                    .collect(),
            }],
        }
    } else {
        let witnessed = crate::session::witnessed(repo, &selected, clock_skew)?;
        let plan = engine::maintenance::forget::plan(
            policy,
            group_by,
            &selected,
            &witnessed,
            chrono::Utc::now(),
        );
        let emptied = plan.groups_removing_all();
        if !emptied.is_empty() && !allow_remove_all {
            let names: Vec<String> = emptied.iter().map(|k| k.to_string()).collect();
            bail!(
                "refusing to remove every snapshot of {} (the policy keeps none); nothing was removed: change the policy, or add --allow-remove-all",
                names.join("; ")
            );
        }
        plan
    };
    if print_plan && by_id.is_none() {
        let snapshots: HashMap<SnapshotId, &Snapshot> =
            selected.iter().map(|(id, s)| (*id, s)).collect();
        self::print_plan(policy, &plan, &snapshots)?;
    }
    if !dry_run {
        for id in &plan.removals() {
            repo.delete_snapshot(id)
                .with_context(|| format!("while removing snapshot {}", id.short()))?;
        }
    }
    Ok(Forgot { plan, selected })
}

fn snapshot_value(id: &SnapshotId, snapshots: &HashMap<SnapshotId, &Snapshot>) -> Value {
    snapshots
        .get(id)
        .map_or(Value::Null, |s| output::snapshot_json(id, s))
}

/// One group as restic's `forget --json` shows it: the group's key, the
/// snapshots kept and removed, and why each kept one is kept.
fn group_json(group: &GroupPlan, snapshots: &HashMap<SnapshotId, &Snapshot>) -> Value {
    let (kept, removed): (Vec<&Verdict>, Vec<&Verdict>) =
        group.verdicts.iter().partition(|v| v.keep());
    json!({
        "host": group.key.host,
        "paths": group.key.paths,
        "tags": group.key.tags,
        "keep": kept.iter().map(|v| snapshot_value(&v.id, snapshots)).collect::<Vec<_>>(),
        "remove": removed.iter().map(|v| snapshot_value(&v.id, snapshots)).collect::<Vec<_>>(),
        "reasons": kept
            .iter()
            .map(|v| json!({"snapshot": snapshot_value(&v.id, snapshots), "matches": v.reasons}))
            .collect::<Vec<_>>(),
    })
}

fn print_plan(
    policy: &Policy,
    plan: &ForgetPlan,
    snapshots: &HashMap<SnapshotId, &Snapshot>,
) -> engine::Result<()> {
    out!("Applying policy: {policy}");
    for group in &plan.groups {
        out!();
        out!("snapshots for {}:", output::message(&group.key.to_string()));
        let (kept, removed): (Vec<&Verdict>, Vec<&Verdict>) =
            group.verdicts.iter().partition(|v| v.keep());
        if !kept.is_empty() {
            out!();
            out!("keep {} snapshots:", kept.len());
            table(&kept, snapshots, true)?;
        }
        if !removed.is_empty() {
            out!();
            out!("remove {} snapshots:", removed.len());
            table(&removed, snapshots, false)?;
        }
    }
    out!();
    Ok(())
}

/// restic's table: one row per snapshot, its further reasons on rows of
/// their own below it.
fn table(
    verdicts: &[&Verdict],
    snapshots: &HashMap<SnapshotId, &Snapshot>,
    reasons: bool,
) -> engine::Result<()> {
    let rows: Vec<(&Verdict, &Snapshot)> = verdicts
        .iter()
        .filter_map(|v| snapshots.get(&v.id).map(|s| (*v, *s)))
        .collect();
    let width = |title: &str, f: &dyn Fn(&Verdict, &Snapshot) -> usize| {
        rows.iter()
            .map(|(v, s)| f(v, s))
            .max()
            .unwrap_or(0)
            .max(title.len())
    };
    let host_w = width("Host", &|_, s| output::name(&s.hostname).len());
    let tags_w = width("Tags", &|_, s| output::names(&s.tags, ",").len());
    let reasons_w = if reasons {
        width("Reasons", &|v, _| {
            v.reasons.iter().map(String::len).max().unwrap_or(0)
        })
    } else {
        0
    };
    let line = |id: &str, time: &str, host: &str, tags: &str, reason: &str, paths: &str| {
        let mut l = format!("{id:<8}  {time:<19}  {host:<host_w$}  {tags:<tags_w$}  ");
        if reasons {
            l.push_str(&format!("{reason:<reasons_w$}  "));
        }
        l.push_str(paths);
        l.trim_end().to_owned()
    };
    let header = line("ID", "Time", "Host", "Tags", "Reasons", "Paths");
    let rule = "-".repeat(header.len().max(40));
    out!("{header}");
    out!("{rule}");
    for (v, s) in &rows {
        let mut reason_lines = v.reasons.iter().map(String::as_str);
        out!(
            "{}",
            line(
                &v.id.short(),
                &output::table_time(&s.time, s.utc_offset),
                &output::name(&s.hostname),
                &output::names(&s.tags, ","),
                reason_lines.next().unwrap_or(""),
                &output::names(&s.paths, ", ")
            )
        );
        for reason in reason_lines {
            out!("{}", line("", "", "", "", reason, ""));
        }
    }
    out!("{rule}");
    out!("{} snapshots", rows.len());
    Ok(())
}
