//! Values given on the command line that are not tied to one command:
//! durations such as `30s` or `2h30m`, sizes such as `100M`. Pure
//! functions over strings, so the fuzzer reaches them; the CLI adds the
//! flag's name to the error.

use std::time::Duration;

/// Most digits a size may have. parse-size 1.1.0 rounds a mantissa that
/// overflows `u64` by adding one to it, which panics (debug) or wraps to
/// a wrong size (release) for `0.00184467440737095516156` (found by the
/// `size` fuzz target); no real size needs more than 20 digits.
const MAX_SIZE_DIGITS: usize = 20;

/// Parse a size (`100M`, `2GiB`, `1.5 KB`, `4096`) with the parse-size
/// crate, refusing more than 20 digits before it sees them.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    if digits > MAX_SIZE_DIGITS {
        return Err(format!("more than {MAX_SIZE_DIGITS} digits"));
    }
    parse_size::parse_size(text).map_err(|e| e.to_string())
}

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
    fn regression_6_size_with_an_overflowing_mantissa_is_an_error_not_a_panic() {
        // The `size` fuzz target's input: parse-size 1.1.0 alone panics on
        // it with "attempt to add with overflow" (debug builds).
        let found = "00.00184467440737095516156\u{be}";
        assert!(parse_size(found).is_err());
        assert!(parse_size("0.00184467440737095516156 KiB").is_err());
        assert!(parse_size("184467440737095516156").is_err());
        for (text, bytes) in [("100M", 100_000_000), ("2GiB", 2 << 30), ("4096", 4096)] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_size("lots").is_err());
    }

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
