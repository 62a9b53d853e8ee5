//! Durations on the command line: `30s`, `5m`, `1h`, `2h30m`, `1d12h`, `0`.

use anyhow::{Result, bail};
use std::time::Duration;

/// Parse a duration made of `<number><unit>` parts, units `d`, `h`, `m`,
/// `s`; a bare `0` is zero. `flag` names the option in the error.
pub fn parse(flag: &str, text: &str) -> Result<Duration> {
    let invalid =
        || anyhow::anyhow!("invalid {flag} {text:?}: use a duration like 30s, 5m, 1h or 2h30m");
    if text.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(invalid()),
        };
        let n: u64 = number.parse().map_err(|_| invalid())?;
        total = n
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(invalid)?;
        number.clear();
    }
    if !number.is_empty() || text.trim().is_empty() {
        bail!(invalid());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_units_and_combinations() {
        for (text, secs) in [
            ("0", 0),
            ("0s", 0),
            ("30s", 30),
            ("5m", 300),
            ("1h", 3600),
            ("2h30m", 9000),
            ("1d12h", 129_600),
            ("90s", 90),
        ] {
            assert_eq!(
                parse("--x", text).unwrap(),
                Duration::from_secs(secs),
                "{text}"
            );
        }
    }

    #[test]
    fn parse_rejects_malformed_input_naming_the_flag() {
        for text in [
            "",
            "5",
            "m",
            "5x",
            "-5m",
            "1.5h",
            "5m3",
            "99999999999999999999s",
        ] {
            let e = parse("--retry-lock", text).unwrap_err().to_string();
            assert!(
                e.contains("--retry-lock") && e.contains("2h30m"),
                "{text}: {e}"
            );
        }
    }
}
