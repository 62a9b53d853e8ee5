//! Durations from the command line: `--retry-lock`/`--retry-timeout`
//! (`2h30m`) and forget's `--keep-within` spans (`2y5m7d3h`), with keep
//! counts. What parses prints back as whole seconds that parse the same.
#![no_main]
use engine::maintenance::forget::{Keep, Span};
use engine::units::parse_duration;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(d) = parse_duration(text) {
        assert_eq!(d.subsec_nanos(), 0);
        assert_eq!(parse_duration(&format!("{}s", d.as_secs())), Some(d));
    }
    if let Ok(span) = Span::parse(text) {
        let again = format!(
            "{}y{}m{}d{}h",
            span.years, span.months, span.days, span.hours
        );
        assert_eq!(Span::parse(&again).ok(), Some(span));
    }
    if let Ok(Keep::Count(n)) = Keep::parse(text) {
        assert!(n > 0);
    }
});
