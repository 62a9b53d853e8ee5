//! Exclude and include patterns (`--exclude`, `--iexclude`, exclude files,
//! restore's `--include`): compiled, then matched against a path. Input:
//! a case flag (1 byte), then lines; the last line is the path matched.
#![no_main]
use engine::exclude::Patterns;
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use vault_fuzz::take;

fuzz_target!(|data: &[u8]| {
    let (flag, rest) = take::<1>(data);
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let path = lines.pop().unwrap_or_default();
    if let Ok(patterns) = Patterns::new(&lines, flag[0] & 1 == 1) {
        let matched = patterns.matches(Path::new(&path));
        assert!(!matched || !patterns.is_empty());
        assert!(patterns.sources().len() <= lines.len());
    }
});
