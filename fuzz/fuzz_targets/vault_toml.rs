//! vault.toml (`vault run`, `health`, `drill`, `schedule`): the CLI's
//! `config::parse`, which reads the TOML and checks it (names, references
//! between sections, durations, shares, sizes, retention rules). It never
//! panics, and its errors are one line, those of the TOML parser naming a
//! line of the text. What parses keeps its promises to the commands that
//! use it: every profile's repository, copy-to and sources exist and it has
//! a source to back up; its retention builds a policy that keeps something;
//! every duration and share parses; profiles are found by name.
//!
//! The cli crate is a binary, so its config.rs, retention.rs and
//! duration.rs are compiled in as modules at this crate's root, where
//! `crate::retention` and `crate::duration` resolve as in the CLI.
#![no_main]
#[allow(dead_code)]
#[path = "../../cli/src/config.rs"]
mod config;
#[allow(dead_code)]
#[path = "../../cli/src/duration.rs"]
mod duration;
#[allow(dead_code)]
#[path = "../../cli/src/retention.rs"]
mod retention;

use libfuzzer_sys::fuzz_target;

/// What config.rs's check_name allows for repository, source and profile
/// names.
fn plain_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match config::parse(text) {
        Ok(config) => config,
        Err(e) => {
            let message = format!("{e:#}");
            assert!(!message.contains('\n'), "not one line: {message:?}");
            // A TOML error: `line L, column C: …` with L a line of the text.
            if let Some(rest) = message.strip_prefix("line ")
                && let Some((line, _)) = rest.split_once(", column ")
                && let Ok(line) = line.parse::<usize>()
            {
                assert!(
                    (1..=text.matches('\n').count() + 1).contains(&line),
                    "{message:?}"
                );
            }
            return;
        }
    };
    assert!(!config.profiles.is_empty());
    for name in config.repositories.keys() {
        assert!(plain_name(name), "repository {name:?}");
        assert!(config.repository(name).is_ok());
    }
    for (name, source) in &config.sources {
        assert!(plain_name(name), "source {name:?}");
        assert!(!source.paths.is_empty() || source.command.is_some());
        if let Some(t) = &source.max_age {
            assert!(config::duration("max-age", t).is_ok(), "{t:?}");
        }
        if let Some(t) = &source.size_drop {
            let share = config::share("size-drop", t);
            assert!(share.is_ok_and(|s| (0.0..=1.0).contains(&s)), "{t:?}");
        }
        assert_ne!(source.size_history, Some(0));
    }
    for (name, profile) in &config.profiles {
        assert!(plain_name(name), "profile {name:?}");
        assert!(config.repository(&profile.repository).is_ok());
        for copy in &profile.copy_to {
            assert!(config.repository(copy).is_ok() && *copy != profile.repository);
        }
        assert!(!config.profile_sources(profile).is_empty());
        if let Some(retention) = &profile.retention {
            let policy = retention.policy();
            let checked = retention.checked_policy();
            assert!(checked.is_ok(), "{name}: {retention:?}");
            assert!(policy.is_ok_and(|p| !p.is_empty()), "{name}: {retention:?}");
        }
        if let Some(t) = &profile.check.max_age {
            assert!(config::duration("check.max-age", t).is_ok(), "{t:?}");
        }
        let found = config.profile(Some(name));
        assert_eq!(found.ok().map(|(n, _)| n), Some(name.as_str()));
    }
    // With no name: the only profile, else `default`, else an error.
    let default = config.profile(None).ok().map(|(n, _)| n);
    let expected = match config.profiles.len() {
        1 => config.profiles.keys().next().map(String::as_str),
        _ => config.profiles.contains_key("default").then_some("default"),
    };
    assert_eq!(default, expected);
    assert_eq!(
        config::parse(text).map(|c| format!("{c:?}")).ok(),
        Some(format!("{config:?}")),
        "parse is deterministic"
    );
});
