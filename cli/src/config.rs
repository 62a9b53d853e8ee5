//! `vault.toml`: named repositories, sources and profiles for `vault run`,
//! `health`, `drill` and `schedule`. Found by `--config`, `VAULT_CONFIG`,
//! `$XDG_CONFIG_HOME/vault/vault.toml` (else `~/.config/vault/vault.toml`),
//! then `/etc/vault/vault.toml`. README.md documents every field;
//! examples/vault.toml is a commented example.
//!
//! Unknown keys and wrong types are errors that give the line and column;
//! references between sections (a profile's repository, its sources) and
//! values with a grammar (durations, sizes, retention counts) are checked
//! when the file is loaded, before anything runs.

use crate::retention::Retention;
use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// `[repositories.NAME]`.
    #[serde(default)]
    pub repositories: BTreeMap<String, Repository>,
    /// `[sources.NAME]`.
    #[serde(default)]
    pub sources: BTreeMap<String, Source>,
    /// `[profiles.NAME]`.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
    /// Where it was read from (not a key).
    #[serde(skip)]
    pub path: PathBuf,
}

/// `[repositories.NAME]`: where a repository is and how to open it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Repository {
    /// The URL, as `-r` takes it.
    pub url: String,
    /// The password is the first line of this file.
    pub password_file: Option<PathBuf>,
    /// The password is the first line of this command's output (`sh -c`).
    pub password_command: Option<String>,
    /// Environment for every command on this repository (S3 credentials…).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The heartbeat verification key (`vault key heartbeat`), for
    /// `vault health --heartbeats` on a machine without the password.
    pub heartbeat_key: Option<String>,
}

/// `[sources.NAME]`: what one backup reads.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Source {
    /// Files and directories.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// A command (`sh -c`) whose standard output is backed up as `filename`.
    pub command: Option<String>,
    /// The file name the command's output is stored as (default: NAME).
    pub filename: Option<String>,
    /// `--exclude` globs.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `--iexclude` globs.
    #[serde(default)]
    pub iexclude: Vec<String>,
    /// `--exclude-file` files.
    #[serde(default)]
    pub exclude_file: Vec<PathBuf>,
    /// `--exclude-if-present` names.
    #[serde(default)]
    pub exclude_if_present: Vec<String>,
    /// `--exclude-larger-than` size.
    pub exclude_larger_than: Option<String>,
    /// `--one-file-system`.
    #[serde(default)]
    pub one_file_system: bool,
    /// Extra tags (the tag `source:NAME` is always added).
    #[serde(default)]
    pub tags: Vec<String>,
    /// The host name to record (default: this machine's).
    pub host: Option<String>,
    /// `health`: the newest snapshot may be at most this old.
    pub max_age: Option<String>,
    /// `health`: the newest snapshot's size may be at most this share
    /// (`50%`) below the median of the ones before it.
    pub size_drop: Option<String>,
    /// `health`: how many earlier snapshots the median is taken over.
    pub size_history: Option<usize>,
    /// `drill`: a command (`sh -c`) that checks the restored files.
    pub drill_command: Option<String>,
    /// `run`: commands (`sh -c`) before this source's backup; one failing
    /// fails the source, and its backup does not run.
    #[serde(default)]
    pub before: Vec<String>,
    /// `run`: commands after this source's backup, whatever happened.
    #[serde(default)]
    pub after: Vec<String>,
}

/// `[profiles.NAME]`: what `vault run NAME` does.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Profile {
    /// The repository the sources are backed up to.
    pub repository: String,
    /// Off-site repositories the snapshots are copied to.
    #[serde(default)]
    pub copy_to: Vec<String>,
    /// The sources (default: every source in the file).
    pub sources: Option<Vec<String>>,
    /// What `forget` keeps (none: nothing is forgotten), and whether to
    /// prune after (default: yes).
    pub retention: Option<Retention>,
    /// `check` after the run.
    #[serde(default)]
    pub check: Check,
    /// Commands around the run.
    #[serde(default)]
    pub hooks: Hooks,
}

/// `check`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Check {
    /// Run `check` at the end of `vault run` (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `--read-data-subset` of each run (`5%`, `1/7`).
    pub read_data_subset: Option<String>,
    /// `health`: the last successful check may be at most this old.
    pub max_age: Option<String>,
}

impl Default for Check {
    fn default() -> Self {
        Check {
            enabled: true,
            read_data_subset: None,
            max_age: None,
        }
    }
}

/// `hooks`: shell commands (`sh -c`) run by `vault run`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Hooks {
    /// Before anything; if one fails, nothing else runs but the failure
    /// and after hooks.
    #[serde(default)]
    pub before: Vec<String>,
    /// After everything, whatever happened.
    #[serde(default)]
    pub after: Vec<String>,
    /// When every step succeeded.
    #[serde(default)]
    pub on_success: Vec<String>,
    /// When a step failed.
    #[serde(default)]
    pub on_failure: Vec<String>,
}

fn yes() -> bool {
    true
}

/// The tag that marks a source's snapshots.
pub fn source_tag(name: &str) -> String {
    format!("source:{name}")
}

/// Where vault.toml is: the flag (or VAULT_CONFIG), else the first that
/// exists of the XDG file and /etc/vault/vault.toml.
pub fn locate(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = flag {
        return Ok(path.to_owned());
    }
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    let candidates: Vec<PathBuf> = xdg
        .map(|d| d.join("vault").join("vault.toml"))
        .into_iter()
        .chain([PathBuf::from("/etc/vault/vault.toml")])
        .collect();
    candidates.iter().find(|p| p.exists()).cloned().ok_or_else(|| {
        let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        anyhow!(
            "no vault.toml found (looked at {}): give --config FILE or set VAULT_CONFIG (README.md, \"vault.toml\", shows one)",
            tried.join(", ")
        )
    })
}

/// Read and check the file.
pub fn load(flag: Option<&Path>) -> Result<Config> {
    let path = locate(flag)?;
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut config = parse(&text).map_err(|e| anyhow!("{}: {e:#}", path.display()))?;
    config.path = path;
    Ok(config)
}

/// Parse and check `text`; errors are one line.
pub fn parse(text: &str) -> Result<Config> {
    let config: Config = toml::from_str(text).map_err(|e| {
        let message = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                anyhow!("line {line}, column {column}: {message}")
            }
            None => anyhow!("{message}"),
        }
    })?;
    config.validate()?;
    Ok(config)
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// Names become tags, unit names and file names: keep them plain.
fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !ok {
        bail!(
            "{what} name {name:?}: use letters, digits, '-', '_' and '.' (at most 64, not starting with '.')"
        );
    }
    Ok(())
}

/// A duration from vault.toml, with the key it came from in the error.
pub fn duration(key: &str, text: &str) -> Result<Duration> {
    crate::duration::parse(key, text)
}

/// A share like `50%` (or `0.5`) as a fraction in 0..=1.
pub fn share(key: &str, text: &str) -> Result<f64> {
    let t = text.trim();
    let value = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    };
    match value {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => bail!("invalid {key} {text:?}: use a share like 50% (0% to 100%)"),
    }
}

impl Config {
    fn validate(&self) -> Result<()> {
        for (name, repo) in &self.repositories {
            check_name("repository", name)?;
            let at = || format!("repositories.{name}");
            if repo.url.is_empty() {
                bail!("{}: url is empty", at());
            }
            if repo.password_file.is_some() && repo.password_command.is_some() {
                bail!("{}: give password-file or password-command, not both", at());
            }
            if let Some(key) = &repo.heartbeat_key {
                engine::repo_format::heartbeat::HeartbeatVerifyingKey::from_hex(key)
                    .with_context(|| format!("{}: heartbeat-key", at()))?;
            }
        }
        for (name, source) in &self.sources {
            check_name("source", name)?;
            let at = format!("sources.{name}");
            if source.paths.is_empty() && source.command.is_none() {
                bail!("{at}: give paths, or a command whose output to back up");
            }
            if source.filename.is_some() && source.command.is_none() {
                bail!("{at}: filename names a command's output; give command too");
            }
            if let Some(f) = &source.filename
                && (f.is_empty() || f.contains('/') || f == "." || f == "..")
            {
                bail!("{at}: filename {f:?} must be a plain file name");
            }
            if let Some(t) = &source.max_age {
                duration(&format!("{at}.max-age"), t)?;
            }
            if let Some(t) = &source.size_drop {
                share(&format!("{at}.size-drop"), t)?;
            }
            if let Some(t) = &source.exclude_larger_than {
                engine::units::parse_size(t)
                    .map_err(|e| anyhow!("{at}.exclude-larger-than: {e}"))?;
            }
            if source.size_history == Some(0) {
                bail!("{at}.size-history: must be at least 1");
            }
            for tag in &source.tags {
                if tag.is_empty() || tag.contains(',') {
                    bail!("{at}.tags: {tag:?} is empty or contains ','");
                }
            }
        }
        if self.profiles.is_empty() {
            bail!(
                "no [profiles.NAME] table: a profile names the repository and the sources `vault run` backs up"
            );
        }
        for (name, profile) in &self.profiles {
            check_name("profile", name)?;
            let at = format!("profiles.{name}");
            if !self.repositories.contains_key(&profile.repository) {
                bail!(
                    "{at}: repository {:?} is not defined under [repositories]",
                    profile.repository
                );
            }
            for copy in &profile.copy_to {
                if !self.repositories.contains_key(copy) {
                    bail!("{at}: copy-to {copy:?} is not defined under [repositories]");
                }
                if *copy == profile.repository {
                    bail!("{at}: copy-to names the profile's own repository {copy:?}");
                }
            }
            for source in profile.sources.iter().flatten() {
                if !self.sources.contains_key(source) {
                    bail!("{at}: source {source:?} is not defined under [sources]");
                }
            }
            if self.profile_sources(profile).is_empty() {
                bail!("{at}: no sources to back up: define [sources.NAME]");
            }
            if let Some(r) = &profile.retention {
                r.checked_policy()
                    .with_context(|| format!("{at}.retention"))?;
            }
            if let Some(t) = &profile.check.max_age {
                duration(&format!("{at}.check.max-age"), t)?;
            }
        }
        Ok(())
    }

    /// The profile `name`, or the only one, or `default`.
    pub fn profile(&self, name: Option<&str>) -> Result<(&str, &Profile)> {
        let names = || {
            self.profiles
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match name {
            Some(n) => self
                .profiles
                .get_key_value(n)
                .map(|(k, p)| (k.as_str(), p))
                .ok_or_else(|| {
                    anyhow!(
                        "no profile {n:?} in {}: the profiles are {}",
                        self.path.display(),
                        names()
                    )
                }),
            None if self.profiles.len() == 1 => self
                .profiles
                .iter()
                .next()
                .map(|(k, p)| (k.as_str(), p))
                .ok_or_else(|| anyhow!("no profile")),
            None => self
                .profiles
                .get_key_value("default")
                .map(|(k, p)| (k.as_str(), p))
                .ok_or_else(|| {
                    anyhow!(
                        "{} has several profiles and none is called \"default\": name one ({})",
                        self.path.display(),
                        names()
                    )
                }),
        }
    }

    /// The sources of `profile`, by name, in the order given (default:
    /// every source, by name).
    pub fn profile_sources<'a>(&'a self, profile: &'a Profile) -> Vec<(&'a str, &'a Source)> {
        match &profile.sources {
            Some(names) => names
                .iter()
                .filter_map(|n| self.sources.get_key_value(n))
                .map(|(k, s)| (k.as_str(), s))
                .collect(),
            None => self.sources.iter().map(|(k, s)| (k.as_str(), s)).collect(),
        }
    }

    /// The repository `name` (checked to exist when loaded).
    pub fn repository(&self, name: &str) -> Result<&Repository> {
        self.repositories
            .get(name)
            .ok_or_else(|| anyhow!("repository {name:?} is not defined under [repositories]"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[repositories.local]
url = "/srv/vault"
password-file = "/etc/vault/pw"

[sources.www]
paths = ["/var/www"]

[sources.db]
command = "pg_dump app"
filename = "app.sql"
max-age = "26h"
size-drop = "50%"

[profiles.nightly]
repository = "local"
retention = { keep-daily = 7, keep-weekly = 4, keep-newer-than = "3d" }
"#;

    #[test]
    fn a_good_file_loads_with_every_source_by_default() {
        let c = parse(GOOD).unwrap();
        let (name, p) = c.profile(None).unwrap();
        assert_eq!(name, "nightly");
        let names: Vec<_> = c.profile_sources(p).iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["db", "www"]);
        let policy = p.retention.as_ref().unwrap().checked_policy().unwrap();
        assert_eq!(
            policy.to_string(),
            "keep 7 daily, 4 weekly snapshots and all snapshots newer than 3d"
        );
        assert!(p.retention.as_ref().unwrap().prune, "prune is the default");
        assert!(p.check.enabled);
    }

    #[test]
    fn unknown_keys_and_wrong_types_give_line_and_column() {
        let e = parse(&GOOD.replace("filename =", "file-name =")).unwrap_err();
        assert_eq!(
            e.to_string().split(':').next().unwrap(),
            "line 11, column 1",
            "{e}"
        );
        assert!(e.to_string().contains("file-name"), "{e}");
        let e = parse(&GOOD.replace("[\"/var/www\"]", "\"/var/www\"")).unwrap_err();
        assert!(e.to_string().starts_with("line 7, column 9:"), "{e}");
        assert!(!e.to_string().contains('\n'), "{e}");
    }

    #[test]
    fn bad_references_and_values_are_named() {
        for (from, to, expect) in [
            (
                "repository = \"local\"",
                "repository = \"nas\"",
                "\"nas\" is not defined",
            ),
            (
                "max-age = \"26h\"",
                "max-age = \"26 hours\"",
                "sources.db.max-age",
            ),
            (
                "size-drop = \"50%\"",
                "size-drop = \"150%\"",
                "sources.db.size-drop",
            ),
            ("keep-daily = 7", "keep-daily = \"often\"", "keep-daily"),
            (
                "keep-newer-than = \"3d\"",
                "keep-newer-than = \"soon\"",
                "keep-newer-than",
            ),
            ("[sources.www]", "[sources.\"w w\"]", "source name"),
            (
                "paths = [\"/var/www\"]",
                "tags = [\"x\"]",
                "give paths, or a command",
            ),
        ] {
            let text = GOOD.replace(from, to);
            assert_ne!(text, GOOD, "{from}");
            let e = format!("{:#}", parse(&text).unwrap_err());
            assert!(e.contains(expect), "{from} → {e}");
        }
    }

    #[test]
    fn the_example_parses_and_the_readme_quotes_it_whole() {
        let example = include_str!("../../examples/vault.toml");
        let c = parse(example).unwrap();
        let (name, p) = c.profile(None).unwrap();
        assert_eq!(name, "nightly");
        assert_eq!(p.copy_to, ["s3"]);
        assert_eq!(c.profile_sources(p).len(), 2);
        let readme = include_str!("../../README.md");
        assert!(
            readme.contains(&format!("```toml\n{example}```")),
            "README.md must quote examples/vault.toml exactly"
        );
    }

    #[test]
    fn shares_parse_as_fractions() {
        assert_eq!(share("k", "50%").unwrap(), 0.5);
        assert_eq!(share("k", "0.25").unwrap(), 0.25);
        assert!(share("k", "101%").is_err());
        assert!(share("k", "x").is_err());
    }
}
