//! Durations on the command line: `30s`, `5m`, `1h`, `2h30m`, `1d12h`, `0`.

use anyhow::Result;
use std::time::Duration;

/// Parse a duration made of `<number><unit>` parts, units `d`, `h`, `m`,
/// `s`; a bare `0` is zero. `flag` names the option in the error.
pub fn parse(flag: &str, text: &str) -> Result<Duration> {
    engine::units::parse_duration(text).ok_or_else(|| {
        anyhow::anyhow!("invalid {flag} {text:?}: use a duration like 30s, 5m, 1h or 2h30m")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The grammar is tested with `engine::units::parse_duration`; here only
    // what the CLI adds: the value, or an error naming the flag.
    #[test]
    fn parse_gives_the_duration_or_an_error_naming_the_flag() {
        assert_eq!(parse("--x", "2h30m").unwrap(), Duration::from_secs(9000));
        for text in ["", "5x", "99999999999999999999s"] {
            let e = parse("--retry-lock", text).unwrap_err().to_string();
            assert!(
                e.contains("--retry-lock") && e.contains("2h30m"),
                "{text}: {e}"
            );
        }
    }
}
