//! The commands driven by vault.toml: [`run`] a profile (backups,
//! retention, off-site copies and checks, in this process, each
//! repository's key derived once), [`health`], [`drill`] (the restore
//! test) and [`schedule`] (systemd timers). [`profile`] is what they share:
//! a repository of vault.toml opened with its password and environment.

pub mod drill;
pub mod health;
pub mod profile;
pub mod run;
pub mod schedule;
