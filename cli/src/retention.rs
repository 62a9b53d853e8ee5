//! Retention: the keep-* rules of `vault forget` and of a profile's
//! `retention` table in vault.toml. One struct serves both (clap reads
//! it from flags, serde from vault.toml) and turns into the engine's
//! [`Policy`] in one place, so a new rule is a field here and a rule in
//! `engine::maintenance::forget`.

use anyhow::{Context, Result};
use clap::Args;
use engine::maintenance::forget::{Keep, Policy, Span};
use serde::{Deserialize, Deserializer};

/// The keep-* rules, and whether to prune after forgetting.
#[derive(Args, Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Retention {
    /// Keep the N newest snapshots ('unlimited' for all)
    #[arg(short = 'l', long, value_name = "N")]
    #[serde(default, deserialize_with = "count")]
    pub keep_last: Option<String>,
    /// Keep the newest snapshot of each of the last N hours that have one
    #[arg(short = 'H', long, value_name = "N")]
    #[serde(default, deserialize_with = "count")]
    pub keep_hourly: Option<String>,
    /// Keep the newest snapshot of each of the last N days that have one
    #[arg(short = 'd', long, value_name = "N")]
    #[serde(default, deserialize_with = "count")]
    pub keep_daily: Option<String>,
    /// Keep the newest snapshot of each of the last N weeks that have one
    #[arg(short = 'w', long, value_name = "N")]
    #[serde(default, deserialize_with = "count")]
    pub keep_weekly: Option<String>,
    /// Keep the newest snapshot of each of the last N months that have one
    #[arg(short = 'm', long, value_name = "N")]
    #[serde(default, deserialize_with = "count")]
    pub keep_monthly: Option<String>,
    /// Keep the newest snapshot of each of the last N years that have one
    #[arg(short = 'y', long, value_name = "N")]
    #[serde(default, deserialize_with = "count")]
    pub keep_yearly: Option<String>,
    /// Keep snapshots newer than DURATION before the newest one (e.g. 1y5m7d2h)
    #[arg(long, value_name = "DURATION")]
    pub keep_within: Option<String>,
    /// Keep the newest snapshot of each hour within DURATION of the newest one
    #[arg(long, value_name = "DURATION")]
    pub keep_within_hourly: Option<String>,
    /// Keep the newest snapshot of each day within DURATION of the newest one
    #[arg(long, value_name = "DURATION")]
    pub keep_within_daily: Option<String>,
    /// Keep the newest snapshot of each week within DURATION of the newest one
    #[arg(long, value_name = "DURATION")]
    pub keep_within_weekly: Option<String>,
    /// Keep the newest snapshot of each month within DURATION of the newest one
    #[arg(long, value_name = "DURATION")]
    pub keep_within_monthly: Option<String>,
    /// Keep the newest snapshot of each year within DURATION of the newest one
    #[arg(long, value_name = "DURATION")]
    pub keep_within_yearly: Option<String>,
    /// A floor, not a rule: never remove a snapshot the store received
    /// less than DURATION ago, whatever the rules say (e.g. 7d)
    #[arg(long, value_name = "DURATION")]
    pub keep_newer_than: Option<String>,
    /// Keep snapshots with these tags (repeatable; a,b needs both; '' untagged)
    #[arg(long = "keep-tag", value_name = "TAGS")]
    #[serde(default)]
    pub keep_tag: Vec<String>,
    /// Run prune after removing snapshots (vault.toml: default true)
    #[arg(long)]
    #[serde(default = "yes")]
    pub prune: bool,
}

fn yes() -> bool {
    true
}

/// A count in vault.toml: a number, or text such as `"unlimited"`.
fn count<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Count {
        Number(i64),
        Text(String),
    }
    Ok(Option::<Count>::deserialize(d)?.map(|c| match c {
        Count::Number(n) => n.to_string(),
        Count::Text(t) => t,
    }))
}

impl Retention {
    /// The engine's policy, which must keep something: with vault.toml a
    /// table without any rule is a mistake, not "forget everything".
    pub fn checked_policy(&self) -> Result<Policy> {
        let policy = self.policy()?;
        if policy.is_empty() {
            anyhow::bail!(
                "no keep-* rule given; give one such as keep-daily = 7, or remove the retention table"
            );
        }
        Ok(policy)
    }

    /// The engine's policy; a value that does not parse is an error that
    /// names its rule (`keep-daily: ...`).
    pub fn policy(&self) -> Result<Policy> {
        let keep = |name: &str, value: &Option<String>| -> Result<Keep> {
            value.as_deref().map_or(Ok(Keep::Off), |v| {
                Keep::parse(v).with_context(|| format!("keep-{name}"))
            })
        };
        let span = |name: &str, value: &Option<String>| -> Result<Option<Span>> {
            value
                .as_deref()
                .map(|v| Span::parse(v).with_context(|| format!("keep-within{name}")))
                .transpose()
        };
        Ok(Policy {
            last: keep("last", &self.keep_last)?,
            periods: [
                keep("hourly", &self.keep_hourly)?,
                keep("daily", &self.keep_daily)?,
                keep("weekly", &self.keep_weekly)?,
                keep("monthly", &self.keep_monthly)?,
                keep("yearly", &self.keep_yearly)?,
            ],
            within: span("", &self.keep_within)?,
            within_periods: [
                span("-hourly", &self.keep_within_hourly)?,
                span("-daily", &self.keep_within_daily)?,
                span("-weekly", &self.keep_within_weekly)?,
                span("-monthly", &self.keep_within_monthly)?,
                span("-yearly", &self.keep_within_yearly)?,
            ],
            tags: self.keep_tag.clone(),
            newer_than: self
                .keep_newer_than
                .as_deref()
                .map(|v| Span::parse(v).context("keep-newer-than"))
                .transpose()?,
        })
    }
}
