//! The config payload (SPEC.md §5.2), and the chunker built from it: a
//! config that decodes must give parameters the chunker accepts.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::config::Config;
use vault_fuzz::assert_round_trip;

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = Config::decode(data) {
        assert_round_trip(&config, Config::encode, Config::decode);
        let chunker =
            engine::backup::chunker::Chunker::with_size_hint(data, &config.chunker, 7, data.len() as u64);
        let total: usize = chunker.map(|c| c.map_or(0, |c| c.len())).sum();
        assert_eq!(total, data.len());
    }
});
