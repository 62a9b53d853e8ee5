//! Sizes and other values from the command line: `--pack-size`,
//! `--chunk-size`, `--exclude-larger-than`, `--max-repack-size` and
//! `--max-unused` go through `engine::units::parse_size` (the parse-size
//! crate behind a guard; the CLI adds only the flag's name to its error);
//! `--read-data-subset` and `--group-by` parse in the engine.
#![no_main]
use engine::maintenance::check::ReadData;
use engine::maintenance::forget::GroupBy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = engine::units::parse_size(text);
    match ReadData::parse_subset(text) {
        Ok(ReadData::Percent(p)) => assert!(p > 0.0 && p <= 100.0),
        Ok(ReadData::Bucket { n, m }) => assert!((1..=256).contains(&m) && (1..=m).contains(&n)),
        _ => {}
    }
    let _ = GroupBy::parse(text);
});
