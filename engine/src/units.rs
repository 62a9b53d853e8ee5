//! Values given on the command line that are not tied to one command:
//! durations such as `30s` or `2h30m`. Pure functions over strings, so the
//! fuzzer reaches them; the CLI adds the flag's name to the error.

use std::time::Duration;

/// Parse a duration made of `<number><unit>` parts, units `d`, `h`, `m`,
/// `s` (`2h30m`, `1d12h`); a bare `0` is zero. `None` when `text` is not
/// such a duration or does not fit in a `u64` of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        let n: u64 = number.parse().ok()?;
        total = n
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))?;
        number.clear();
    }
    if !number.is_empty() || text.is_empty() {
        return None;
    }
    Some(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_duration_accepts_units_and_combinations() {
        for (text, secs) in [
            ("0", 0),
            (" 0 ", 0),
            ("0s", 0),
            ("30s", 30),
            ("5m", 300),
            ("1h", 3600),
            ("2h30m", 9000),
            ("1d12h", 129_600),
            ("90s", 90),
        ] {
            assert_eq!(
                parse_duration(text),
                Some(Duration::from_secs(secs)),
                "{text}"
            );
        }
    }

    #[test]
    fn parse_duration_malformed_input_is_none() {
        for text in [
            "",
            "5",
            "m",
            "5x",
            "-5m",
            "1.5h",
            "5m3",
            "99999999999999999999s",
            "213503982334602d",
            "213503982334601d8h",
        ] {
            assert_eq!(parse_duration(text), None, "{text}");
        }
    }
}
