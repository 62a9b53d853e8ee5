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

    /// The command a schedule runs, word by word: exactly these reach
    /// `vault`, whatever they hold, or the schedule is refused.
    fn words(&self) -> Result<Vec<String>> {
        Ok(vec![
            text("vault's own path", &self.exe)?,
            "--config".to_owned(),
            text("the vault.toml path", &self.config)?,
            "run".to_owned(),
            one_line("the profile name", &self.profile)?.to_owned(),
        ])
    }

    /// The command for a message (`remove`, `status`), as sh reads it.
    fn command_line(&self) -> String {
        let exe = self.exe.display().to_string();
        let config = self.config.display().to_string();
        [
            exe.as_str(),
            "--config",
            config.as_str(),
            "run",
            &self.profile,
        ]
        .map(quote)
        .join(" ")
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

/// `value`, unless it holds a control character (a newline, a carriage
/// return, any byte below 0x20, DEL): no unit file or crontab line keeps
/// one as it is, and a newline would start a line of the attacker's.
fn one_line<'a>(what: &str, value: &'a str) -> Result<&'a str> {
    if let Some(c) = value.chars().find(char::is_ascii_control) {
        bail!(
            "{what} {value:?} holds the control character {c:?}: refused, a unit file or crontab line cannot hold it"
        );
    }
    Ok(value)
}

/// `path` as text for a unit file or crontab line: UTF-8 and one line.
fn text(what: &str, path: &Path) -> Result<String> {
    let Some(t) = path.to_str() else {
        bail!("{what} {} is not UTF-8: refused", path.display());
    };
    Ok(one_line(what, t)?.to_owned())
}

/// Whether `word` needs no quoting for sh or systemd.
fn plain(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
}

/// Quote for sh: single quotes unless plain.
fn quote(word: &str) -> String {
    if plain(word) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// `%` doubled: systemd expands specifiers in unit file values.
fn specifiers_escaped(value: &str) -> String {
    value.replace('%', "%%")
}

/// An ExecStart= line's value for `words` (systemd.service(5), "Command
/// lines"): each word that is not plain in double quotes with `\` and `"`
/// escaped, `%` doubled, and `$` doubled in the arguments (systemd expands
/// variables there; the program's path it takes as written).
fn exec_start(words: &[String]) -> String {
    words
        .iter()
        .enumerate()
        .map(|(i, word)| {
            let mut escaped = String::new();
            for c in word.chars() {
                match c {
                    '\\' | '"' => {
                        escaped.push('\\');
                        escaped.push(c);
                    }
                    '$' if i > 0 => escaped.push_str("$$"),
                    c => escaped.push(c),
                }
            }
            let escaped = specifiers_escaped(&escaped);
            if plain(word) {
                escaped
            } else {
                format!("\"{escaped}\"")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The path of `StandardOutput=append:PATH`, which systemd takes as written
/// (no quotes, no escapes) but for specifiers and the blanks and line
/// continuation at the end of a line.
fn unit_path(log: &str) -> Result<String> {
    if log.ends_with(|c: char| c.is_whitespace() || c == '\\') {
        bail!(
            "--log-file {log:?} ends with a blank or a backslash: refused, a unit file cannot hold it"
        );
    }
    Ok(specifiers_escaped(log))
}

/// A crontab command: cron ends the command at an unescaped `%` (the rest
/// becomes its input), so each is written `\%`; cron keeps a backslash
/// before anything else, so a `\` before a `%` cannot be written at all.
fn cron_escaped(command: &str) -> Result<String> {
    if command.contains("\\%") {
        bail!("a backslash before a '%' cannot be written in a crontab line: refused ({command})");
    }
    Ok(command.replace('%', "\\%"))
}

fn service_text(plan: &Plan, log: Option<&str>) -> Result<String> {
    let output = match log {
        Some(f) => format!(
            "StandardOutput=append:{f}\nStandardError=append:{f}\n",
            f = unit_path(f)?
        ),
        None => "StandardOutput=journal\nStandardError=journal\n".to_owned(),
    };
    Ok(format!(
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
        profile = specifiers_escaped(&plan.profile),
        command = exec_start(&plan.words()?),
    ))
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
        profile = specifiers_escaped(&plan.profile),
        on_calendar = specifiers_escaped(on_calendar),
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
    one_line("--on-calendar", &a.on_calendar)?;
    let log = a
        .log_file
        .as_deref()
        .map(std::path::absolute)
        .transpose()
        .context("--log-file")?
        .map(|f| text("--log-file", &f))
        .transpose()?;
    let Some(dir) = &plan.dir else {
        // No systemd: the crontab line.
        let Some(fields) = cron_fields(&a.on_calendar) else {
            bail!(
                "systemd is not running here and cron cannot express --on-calendar {:?}: use hourly, daily, weekly, monthly or \"*-*-* HH:MM\"",
                a.on_calendar
            );
        };
        let sink = match &log {
            Some(f) => format!(">> {} 2>&1", quote(f)),
            None => format!("2>&1 | logger -t {}", quote(&plan.unit())),
        };
        let words = plan.words()?;
        let command = words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
        let line = cron_escaped(&format!("{command} {sink}"))?;
        out!(
            "# systemd is not running: add this line with `crontab -e` (as the user whose backups these are)"
        );
        out!("{fields} {line}");
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
    // Made in full before anything is written: a refused value leaves nothing.
    let service_text = service_text(&plan, log.as_deref())?;
    let timer_text = timer_text(&plan, &a.on_calendar, delay.as_secs());
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let service = dir.join(format!("{}.service", plan.unit()));
    let timer = dir.join(format!("{}.timer", plan.unit()));
    write(&service, &service_text)?;
    write(&timer, &timer_text)?;
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
    fn exec_start_quotes_escapes_and_doubles_what_systemd_would_expand() {
        let words = [
            "/opt/my $bin/vault",
            "--config",
            "/a \"b\" 100% $HOME\\x",
            "run",
            "p",
        ];
        let words = words.map(str::to_owned);
        assert_eq!(
            exec_start(&words),
            r#""/opt/my $bin/vault" --config "/a \"b\" 100%% $$HOME\\x" run p"#
        );
        assert_eq!(cron_escaped("'/a 100%'").unwrap(), r"'/a 100\%'");
        assert!(cron_escaped(r"'/a\%'").is_err());
        assert!(one_line("x", "a\rb").is_err());
        assert!(one_line("x", "a\u{7f}").is_err());
        assert!(unit_path("/var/log/x ").is_err());
        assert_eq!(unit_path("/var/log/100%").unwrap(), "/var/log/100%%");
    }

    #[test]
    fn quoting_leaves_plain_paths_alone() {
        assert_eq!(quote("/usr/bin/vault"), "/usr/bin/vault");
        assert_eq!(quote("/a b/it's"), "'/a b/it'\\''s'");
    }
}
