//! `vault schedule install|remove|status [PROFILE]`: a systemd timer and
//! service that run `vault run PROFILE`, logging to the journal (or a
//! file); where systemd is not running, the crontab line to add instead.

use crate::args::{Global, ScheduleArgs, ScheduleCommand, ScheduleInstallArgs, ScheduleTarget};
use crate::config;
use crate::exit;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// Run `schedule`.
pub fn run(g: &Global, a: &ScheduleArgs) -> Result<u8> {
    match &a.what {
        ScheduleCommand::Install(i) => install(g, i),
        ScheduleCommand::Remove(t) => remove(g, t),
        ScheduleCommand::Status(t) => status(g, t),
    }
}

/// What the schedule is of.
struct Plan {
    profile: String,
    config: PathBuf,
    exe: PathBuf,
    /// Where the units go; None: systemd is not running.
    dir: Option<PathBuf>,
    /// Whether to call systemctl.
    manage: bool,
    user: bool,
}

impl Plan {
    fn new(g: &Global, t: &ScheduleTarget) -> Result<Self> {
        let config = config::load(g.config.as_deref())?;
        let (profile, _) = config.profile(t.profile.as_deref())?;
        let config_path = std::path::absolute(&config.path)
            .with_context(|| format!("cannot resolve {}", config.path.display()))?;
        let exe = std::env::current_exe().context("cannot find vault itself")?;
        let systemd = Path::new("/run/systemd/system").is_dir();
        let dir = match &t.unit_dir {
            Some(d) => Some(d.clone()),
            None if !systemd => None,
            None if t.user => Some(user_unit_dir()?),
            None => Some(PathBuf::from("/etc/systemd/system")),
        };
        Ok(Plan {
            profile: profile.to_owned(),
            config: config_path,
            exe,
            dir,
            manage: t.unit_dir.is_none() && systemd,
            user: t.user,
        })
    }

    fn unit(&self) -> String {
        format!("vault-run-{}", self.profile)
    }

    fn command_line(&self) -> String {
        format!(
            "{} --config {} run {}",
            quote(&self.exe.display().to_string()),
            quote(&self.config.display().to_string()),
            self.profile
        )
    }

    fn systemctl(&self, args: &[&str]) -> Result<()> {
        let mut cmd = crate::password::command("systemctl");
        if self.user {
            cmd.arg("--user");
        }
        let status = cmd.args(args).status().context("cannot run systemctl")?;
        if !status.success() {
            bail!("systemctl {} failed ({status})", args.join(" "));
        }
        Ok(())
    }
}

fn user_unit_dir() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .context("neither XDG_CONFIG_HOME nor HOME is set")?;
    Ok(base.join("systemd").join("user"))
}

/// Quote for systemd's ExecStart and for sh: single quotes unless plain.
fn quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

fn service_text(plan: &Plan, log: Option<&Path>) -> String {
    let output = match log {
        Some(f) => format!(
            "StandardOutput=append:{f}\nStandardError=append:{f}\n",
            f = f.display()
        ),
        None => "StandardOutput=journal\nStandardError=journal\n".to_owned(),
    };
    format!(
        "# Written by `vault schedule install`; `vault schedule remove` removes it.\n\
         [Unit]\n\
         Description=vault run {profile}: back up, forget, copy off-site, check\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         ExecStart={command}\n\
         {output}\
         Nice=10\n\
         IOSchedulingClass=idle\n",
        profile = plan.profile,
        command = plan.command_line(),
    )
}

fn timer_text(plan: &Plan, on_calendar: &str, delay_secs: u64) -> String {
    format!(
        "# Written by `vault schedule install`; `vault schedule remove` removes it.\n\
         [Unit]\n\
         Description=Run vault run {profile} on schedule\n\
         \n\
         [Timer]\n\
         OnCalendar={on_calendar}\n\
         RandomizedDelaySec={delay_secs}\n\
         Persistent=true\n\
         \n\
         [Install]\n\
         WantedBy=timers.target\n",
        profile = plan.profile,
    )
}

/// The crontab time fields for the OnCalendar forms cron can express.
fn cron_fields(on_calendar: &str) -> Option<String> {
    match on_calendar.trim() {
        "hourly" => Some("0 * * * *".into()),
        "daily" => Some("0 0 * * *".into()),
        "weekly" => Some("0 0 * * 1".into()),
        "monthly" => Some("0 0 1 * *".into()),
        other => {
            let time = other.strip_prefix("*-*-* ")?;
            let mut parts = time.split(':');
            let hour: u32 = parts.next()?.parse().ok()?;
            let minute: u32 = parts.next()?.parse().ok()?;
            match parts.next() {
                None | Some("00") => {}
                Some(_) => return None,
            }
            (hour < 24 && minute < 60).then(|| format!("{minute} {hour} * * *"))
        }
    }
}

fn install(g: &Global, a: &ScheduleInstallArgs) -> Result<u8> {
    let plan = Plan::new(g, &a.target)?;
    let delay = crate::duration::parse("--randomized-delay", &a.randomized_delay)?;
    if a.on_calendar.contains('\n') {
        bail!("--on-calendar must be one line");
    }
    let log = a
        .log_file
        .as_deref()
        .map(std::path::absolute)
        .transpose()
        .context("--log-file")?;
    let Some(dir) = &plan.dir else {
        // No systemd: the crontab line.
        let Some(fields) = cron_fields(&a.on_calendar) else {
            bail!(
                "systemd is not running here and cron cannot express --on-calendar {:?}: use hourly, daily, weekly, monthly or \"*-*-* HH:MM\"",
                a.on_calendar
            );
        };
        let sink = match &log {
            Some(f) => format!(">> {} 2>&1", quote(&f.display().to_string())),
            None => format!("2>&1 | logger -t {}", plan.unit()),
        };
        out!(
            "# systemd is not running: add this line with `crontab -e` (as the user whose backups these are)"
        );
        out!("{fields} {} {sink}", plan.command_line());
        return Ok(exit::OK);
    };
    if which("systemd-analyze")
        && !crate::password::command("systemd-analyze")
            .args(["calendar", &a.on_calendar])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    {
        bail!(
            "--on-calendar {:?} is not a systemd calendar expression (try `systemd-analyze calendar '...'`)",
            a.on_calendar
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let service = dir.join(format!("{}.service", plan.unit()));
    let timer = dir.join(format!("{}.timer", plan.unit()));
    write(&service, &service_text(&plan, log.as_deref()))?;
    write(&timer, &timer_text(&plan, &a.on_calendar, delay.as_secs()))?;
    out!("wrote {}", service.display());
    out!("wrote {}", timer.display());
    let timer_name = format!("{}.timer", plan.unit());
    if plan.manage {
        plan.systemctl(&["daemon-reload"])?;
        plan.systemctl(&["enable", "--now", &timer_name])?;
        out!(
            "enabled {timer_name}: `vault schedule status {}` shows the next run",
            plan.profile
        );
    } else {
        out!(
            "not enabled (--unit-dir): install them and run `systemctl{} enable --now {timer_name}`",
            if plan.user { " --user" } else { "" }
        );
    }
    Ok(exit::OK)
}

fn remove(g: &Global, t: &ScheduleTarget) -> Result<u8> {
    let plan = Plan::new(g, t)?;
    let Some(dir) = &plan.dir else {
        out!(
            "systemd is not running: remove the line with `{}` from your crontab (`crontab -e`)",
            plan.command_line()
        );
        return Ok(exit::OK);
    };
    let timer_name = format!("{}.timer", plan.unit());
    let files = [
        dir.join(&timer_name),
        dir.join(format!("{}.service", plan.unit())),
    ];
    if !files.iter().any(|f| f.exists()) {
        bail!(
            "no schedule of profile {} in {}: nothing to remove",
            plan.profile,
            dir.display()
        );
    }
    if plan.manage {
        plan.systemctl(&["disable", "--now", &timer_name])?;
    }
    for f in &files {
        match std::fs::remove_file(f) {
            Ok(()) => out!("removed {}", f.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", f.display())),
        }
    }
    if plan.manage {
        plan.systemctl(&["daemon-reload"])?;
    }
    Ok(exit::OK)
}

fn status(g: &Global, t: &ScheduleTarget) -> Result<u8> {
    let plan = Plan::new(g, t)?;
    let Some(dir) = &plan.dir else {
        out!(
            "systemd is not running: a schedule would be a crontab line running `{}` (`crontab -l` lists yours)",
            plan.command_line()
        );
        return Ok(exit::OK);
    };
    let timer_name = format!("{}.timer", plan.unit());
    let timer = dir.join(&timer_name);
    if !timer.exists() {
        out!(
            "profile {} is not scheduled ({} does not exist): `vault schedule install {}`",
            plan.profile,
            timer.display(),
            plan.profile
        );
        return Ok(exit::FATAL);
    }
    out!("{} is installed", timer.display());
    if plan.manage {
        plan.systemctl(&["list-timers", "--all", "--no-pager", &timer_name])?;
        // The last run's outcome; a failed one exits non-zero, which is
        // the answer, not an error of this command.
        let mut cmd = crate::password::command("systemctl");
        if plan.user {
            cmd.arg("--user");
        }
        let _ = cmd
            .args(["status", "--no-pager", "--lines=5"])
            .arg(format!("{}.service", plan.unit()))
            .status();
    }
    Ok(exit::OK)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_expresses_the_simple_calendars_only() {
        assert_eq!(cron_fields("daily").unwrap(), "0 0 * * *");
        assert_eq!(cron_fields("*-*-* 03:30").unwrap(), "30 3 * * *");
        assert_eq!(cron_fields("*-*-* 03:30:00").unwrap(), "30 3 * * *");
        assert!(cron_fields("Mon *-*-* 03:30").is_none());
        assert!(cron_fields("*-*-* 25:00").is_none());
    }

    #[test]
    fn quoting_leaves_plain_paths_alone() {
        assert_eq!(quote("/usr/bin/vault"), "/usr/bin/vault");
        assert_eq!(quote("/a b/it's"), "'/a b/it'\\''s'");
    }
}
