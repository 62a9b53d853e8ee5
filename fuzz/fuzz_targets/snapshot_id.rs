//! Snapshot arguments (`latest`, a full id or a prefix of at least four hex
//! digits) resolved against a fixed list, with host, tag and path filters.
//! Input: NUL-separated fields: the argument, then a host, a tag list and a
//! path for the filter, then more arguments for `select_many`.
#![no_main]
use engine::read::snapshots::{SnapshotFilter, has_tags, select, select_many};
use libfuzzer_sys::fuzz_target;
use repo_format::snapshot::Snapshot;
use repo_format::tree::Timestamp;
use repo_format::{Id, SnapshotId};

fn list() -> Vec<(SnapshotId, Snapshot)> {
    ["aaaa01", "aaaa02", "abcd", "bbbb01", "f00d"]
        .iter()
        .enumerate()
        .map(|(i, prefix)| {
            let mut id = [0u8; 32];
            let hex = format!("{prefix:0<64}");
            for (byte, pair) in id.iter_mut().zip(hex.as_bytes().chunks(2)) {
                *byte = u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap();
            }
            let snapshot = Snapshot {
                time: Timestamp {
                    secs: i as i64,
                    nanos: 0,
                },
                paths: vec![format!("/src/{i}"), "/".to_owned()],
                hostname: ["a", "b"][i % 2].to_owned(),
                tags: ["x", "y", "z"]
                    .iter()
                    .take(i % 3)
                    .map(|t| t.to_string())
                    .collect(),
                ..Snapshot::default()
            };
            (SnapshotId(Id(id)), snapshot)
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut fields = text.split('\0');
    let arg = fields.next().unwrap_or_default();
    let field = |f: Option<&str>| f.filter(|s| !s.is_empty()).map(|s| vec![s.to_owned()]);
    let filter = SnapshotFilter {
        hosts: field(fields.next()).unwrap_or_default(),
        tags: field(fields.next()).unwrap_or_default(),
        paths: field(fields.next()).unwrap_or_default(),
    };
    let all = list();
    if let Ok((id, snapshot)) = select(all.clone(), arg, &filter) {
        assert!(filter.matches(&snapshot));
        assert!(arg == "latest" || id.to_hex().starts_with(&arg.to_ascii_lowercase()));
    }
    let args: Vec<String> = std::iter::once(arg)
        .chain(fields)
        .map(str::to_owned)
        .collect();
    if let Ok(chosen) = select_many(all.clone(), &args, &filter) {
        assert!(chosen.len() <= all.len());
    }
    let _ = has_tags(&["x".to_owned()], arg);
    let _ = SnapshotId::from_hex(arg);
});
