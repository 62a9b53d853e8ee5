//! Property tests of the engine's pure parts: the chunker, the retention
//! policy and the in-memory index. (The byte formats' encode/decode pairs
//! are in repo-format/tests/properties.rs.)

use chrono::{DateTime, Datelike, FixedOffset, TimeZone, Utc};
use engine::backup::chunker::Chunker;
use engine::maintenance::forget::{Candidate, Keep, Policy, Verdict, apply};
use engine::repository::index::{Index, Spill};
use proptest::prelude::*;
use repo_format::config::ChunkerParams;
use repo_format::crypto::BlobKind;
use repo_format::index::IndexPack;
use repo_format::pack::PackEntry;
use repo_format::{BlobId, Id, PackId, SnapshotId};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------------------------ chunker

/// Small chunker parameters (so that short inputs have many chunks), valid
/// for the format: even sizes, min ≤ avg ≤ max.
fn small_params() -> impl Strategy<Value = ChunkerParams> {
    (8u32..=10, 0u32..=2, 2u32..=3, 0u8..=3).prop_map(|(avg_log, down, up, normalization)| {
        let avg = 1u32 << avg_log;
        ChunkerParams {
            min_size: avg >> down,
            avg_size: avg,
            max_size: avg << up,
            normalization,
        }
    })
}

/// Random-looking bytes from a seed (incompressible, like real data for a
/// content-defined chunker); proptest shrinks the seed and the length.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A reader that hands out at most `step` bytes per read, as pipes do.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.step).min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        buf[..n].copy_from_slice(head);
        self.data = rest;
        Ok(n)
    }
}

fn chunks(data: &[u8], params: &ChunkerParams, seed: u64, step: usize) -> Vec<Vec<u8>> {
    Chunker::new(Trickle { data, step }, params, seed)
        .collect::<std::io::Result<Vec<_>>>()
        .expect("reading from memory cannot fail")
}

/// The end offsets of the chunks.
fn boundaries(chunks: &[Vec<u8>]) -> Vec<usize> {
    chunks
        .iter()
        .scan(0, |end, c| {
            *end += c.len();
            Some(*end)
        })
        .collect()
}

proptest! {
    #![proptest_config(cases(200))]

    /// Chunks cover the input exactly, in order, each within the size
    /// limits (the last one may be shorter than the minimum), whatever
    /// sizes the reads come in.
    #[test]
    fn chunks_cover_the_input_exactly_within_the_limits(
        params in small_params(),
        seed in any::<u64>(),
        data_seed in any::<u64>(),
        len in 0usize..40_000,
        step in prop_oneof![Just(usize::MAX), 1usize..5_000],
    ) {
        let data = bytes(data_seed, len);
        let got = chunks(&data, &params, seed, step);
        prop_assert_eq!(got.concat(), data);
        let (last, rest) = match got.split_last() {
            Some(split) => split,
            None => return Ok(()),
        };
        prop_assert!(!last.is_empty() && last.len() <= params.max_size as usize);
        for c in rest {
            prop_assert!(
                (params.min_size as usize..=params.max_size as usize).contains(&c.len()),
                "chunk of {} bytes outside {}..={}", c.len(), params.min_size, params.max_size
            );
        }
    }

    /// The read size never moves a boundary.
    #[test]
    fn boundaries_do_not_depend_on_how_the_input_is_read(
        params in small_params(),
        seed in any::<u64>(),
        data_seed in any::<u64>(),
        len in 0usize..40_000,
        step in 1usize..3_000,
    ) {
        let data = bytes(data_seed, len);
        prop_assert_eq!(
            boundaries(&chunks(&data, &params, seed, usize::MAX)),
            boundaries(&chunks(&data, &params, seed, step))
        );
    }

    /// An edit (bytes replaced, inserted or removed) changes no chunk that
    /// ends before it (before its first byte: the cut point reads one byte
    /// on), and the chunks after it fall back into step: once a
    /// boundary after the edit matches an old one, every later one does,
    /// and the input's end is reached in step (with random data and 100+
    /// chunks after the edit, not falling into step is practically
    /// impossible).
    #[test]
    fn an_edit_moves_only_the_boundaries_near_it(
        params in small_params(),
        seed in any::<u64>(),
        data_seed in any::<u64>(),
        at in 0.0f64..0.5,
        removed in 0usize..300,
        inserted in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let data = bytes(data_seed, 64 * params.max_size as usize);
        let pos = (data.len() as f64 * at) as usize;
        let mut edited = data[..pos].to_vec();
        edited.extend_from_slice(&inserted);
        edited.extend_from_slice(&data[pos + removed..]);
        let shift = inserted.len() as isize - removed as isize;

        let old = boundaries(&chunks(&data, &params, seed, usize::MAX));
        let new = boundaries(&chunks(&edited, &params, seed, usize::MAX));
        // FastCDC 2020 decides a cut before byte b having read byte b, so a
        // chunk ending right at the edit may move too.
        let before_old: Vec<usize> = old.iter().copied().filter(|b| *b < pos).collect();
        let before_new: Vec<usize> = new.iter().copied().filter(|b| *b < pos).collect();
        prop_assert_eq!(&before_old, &before_new, "a chunk before the edit at {} changed", pos);

        // The old boundaries after the edit, where they are in the edited input.
        let old_after: BTreeSet<usize> = old
            .iter()
            .filter(|b| **b > pos + removed)
            .map(|b| (*b as isize + shift) as usize)
            .collect();
        let new_after: Vec<usize> = new
            .iter()
            .copied()
            .filter(|b| *b > pos + inserted.len())
            .collect();
        let first_common = new_after.iter().position(|b| old_after.contains(b));
        prop_assert!(first_common.is_some(), "never fell back into step after the edit at {}", pos);
        let synced = &new_after[first_common.unwrap_or(0)..];
        let old_tail: Vec<usize> = old_after.range(synced[0]..).copied().collect();
        prop_assert_eq!(synced, old_tail.as_slice(), "out of step again after falling in");
    }
}

// ------------------------------------------------------------------ forget

fn sid(n: usize) -> SnapshotId {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&(n as u64).to_be_bytes());
    SnapshotId(Id(b))
}

const TAGS: [&str; 3] = ["a", "b", "c"];

/// A group of snapshots spread over about three years, in two time zones,
/// some at the same second, with random tags.
fn any_group() -> impl Strategy<Value = Vec<Candidate>> {
    prop::collection::vec(
        (
            0i64..100_000_000,
            prop::bool::ANY,
            prop::collection::vec(prop::sample::select(&TAGS[..]), 0..3),
        ),
        0..40,
    )
    .prop_map(|items| {
        items
            .into_iter()
            .enumerate()
            .map(|(i, (secs, east, tags))| {
                let offset = FixedOffset::east_opt(if east { 3600 * 5 } else { 0 }).unwrap();
                // Some snapshots share a time: ties are broken by id.
                let secs = 1_600_000_000 + secs - secs % 7;
                let mut tags: Vec<String> = tags.into_iter().map(str::to_owned).collect();
                tags.sort();
                tags.dedup();
                Candidate {
                    id: sid(i),
                    time: offset.timestamp_opt(secs, 0).unwrap(),
                    received: None,
                    claimed: None,
                    tags,
                }
            })
            .collect()
    })
}

fn any_keep() -> impl Strategy<Value = Keep> {
    prop_oneof![
        2 => Just(Keep::Off),
        3 => (1u32..6).prop_map(Keep::Count),
        1 => Just(Keep::Unlimited),
    ]
}

fn any_policy() -> impl Strategy<Value = Policy> {
    (
        any_keep(),
        prop::array::uniform5(any_keep()),
        prop::collection::vec(prop::sample::select(&TAGS[..]), 0..2),
    )
        .prop_map(|(last, periods, tags)| Policy {
            last,
            periods,
            tags: tags.into_iter().map(str::to_owned).collect(),
            ..Policy::default()
        })
}

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0).unwrap()
}

fn kept(verdicts: &[Verdict]) -> BTreeSet<SnapshotId> {
    verdicts.iter().filter(|v| v.keep()).map(|v| v.id).collect()
}

/// Newest first, as `apply` orders them.
fn newest_first(group: &[Candidate]) -> Vec<&Candidate> {
    let mut list: Vec<&Candidate> = group.iter().collect();
    list.sort_by(|a, b| b.time.cmp(&a.time).then(b.id.cmp(&a.id)));
    list
}

proptest! {
    #![proptest_config(cases(300))]

    /// One verdict per snapshot, and a snapshot is kept exactly when it
    /// has a reason.
    #[test]
    fn forget_judges_every_snapshot_once(group in any_group(), policy in any_policy()) {
        let verdicts = apply(&policy, &group, now());
        let judged: Vec<SnapshotId> = verdicts.iter().map(|v| v.id).collect();
        let want: Vec<SnapshotId> = newest_first(&group).iter().map(|c| c.id).collect();
        prop_assert_eq!(judged, want);
    }

    /// Adding a rule never removes a snapshot the policy kept without it.
    #[test]
    fn forget_more_rules_never_keep_less(
        group in any_group(),
        policy in any_policy(),
        extra in any_policy(),
    ) {
        let mut more = policy.clone();
        if more.last == Keep::Off {
            more.last = extra.last;
        }
        for (mine, theirs) in more.periods.iter_mut().zip(extra.periods) {
            if *mine == Keep::Off {
                *mine = theirs;
            }
        }
        more.tags.extend(extra.tags);
        let base = kept(&apply(&policy, &group, now()));
        let wider = kept(&apply(&more, &group, now()));
        prop_assert!(base.is_subset(&wider), "{:?} kept less than {:?}", more, policy);
    }

    /// --keep-last N keeps the N newest; --keep-daily N keeps the newest
    /// snapshot of each of the N newest days (in each snapshot's own time
    /// zone); --keep-tag keeps every snapshot with the tag; a counted rule
    /// keeps at least one snapshot of a non-empty group.
    #[test]
    fn forget_keeps_what_each_rule_promises(
        group in any_group(),
        n in 1u32..6,
        tag in prop::sample::select(&TAGS[..]),
    ) {
        let list = newest_first(&group);

        let last = Policy { last: Keep::Count(n), ..Policy::default() };
        let got = kept(&apply(&last, &group, now()));
        for c in list.iter().take(n as usize) {
            prop_assert!(got.contains(&c.id), "keep-last {} removed one of the newest", n);
        }
        prop_assert_eq!(list.is_empty(), got.is_empty());

        let mut daily = Policy::default();
        daily.periods[1] = Keep::Count(n);
        let got = kept(&apply(&daily, &group, now()));
        let mut days_seen = Vec::new();
        for c in &list {
            let day = (c.time.year(), c.time.ordinal());
            if !days_seen.contains(&day) {
                days_seen.push(day);
                if days_seen.len() <= n as usize {
                    prop_assert!(got.contains(&c.id), "keep-daily {} removed the newest of {:?}", n, day);
                }
            }
        }
        // Every kept snapshot is the newest of its day, or the group's oldest.
        let oldest = list.last().map(|c| c.id);
        let mut newest_of_day = BTreeMap::new();
        for c in &list {
            newest_of_day.entry((c.time.year(), c.time.ordinal())).or_insert(c.id);
        }
        for id in &got {
            prop_assert!(
                newest_of_day.values().any(|v| v == id) || Some(*id) == oldest,
                "keep-daily kept a snapshot that is neither the newest of its day nor the oldest"
            );
        }

        let tagged = Policy { tags: vec![tag.to_owned()], ..Policy::default() };
        let got = kept(&apply(&tagged, &group, now()));
        let want: BTreeSet<SnapshotId> = group
            .iter()
            .filter(|c| c.tags.iter().any(|t| t == tag))
            .map(|c| c.id)
            .collect();
        prop_assert_eq!(got, want);
    }
}

// ------------------------------------------------------------------ index

fn pack_id(n: u8) -> PackId {
    PackId(Id([n; 32]))
}

fn blob(n: u16) -> BlobId {
    let mut b = [0u8; 32];
    b[30..].copy_from_slice(&n.to_be_bytes());
    BlobId(Id(b))
}

/// A pack entry whose blob id is drawn from a small range, so that some
/// blobs are stored twice, in one pack or in several.
fn any_entry() -> impl Strategy<Value = PackEntry> {
    (0u16..200, prop::bool::ANY, 0u32..1 << 20, 1u32..1 << 16).prop_map(
        |(id, tree, offset, length)| PackEntry {
            kind: if tree { BlobKind::Tree } else { BlobKind::Data },
            id: blob(id),
            offset,
            length,
            raw_length: length / 2,
        },
    )
}

/// Batches of packs (see [`any_entry`]).
fn any_batches() -> impl Strategy<Value = Vec<Vec<IndexPack>>> {
    let entry = any_entry();
    let pack = (0u8..30, prop::collection::vec(entry, 0..20)).prop_map(|(n, blobs)| IndexPack {
        id: pack_id(n),
        size: 1 << 22,
        capsule: Some([n; 32]),
        blobs,
    });
    prop::collection::vec(prop::collection::vec(pack, 0..6), 0..5)
}

proptest! {
    #![proptest_config(cases(300))]

    /// Every indexed blob is found in the first pack that stored it (by the
    /// order packs were first added; within one pack, at its lowest
    /// offset); nothing else is found; positions are dense and lead back to
    /// the same location.
    #[test]
    fn index_finds_each_blob_where_it_was_first_stored(batches in any_batches()) {
        let mut index = Index::new();
        // The model: (kind, id) → the first location added, in add order
        // (a pack seen again keeps its first number, so "first" is by the
        // order packs were first seen).
        let mut pack_order: Vec<PackId> = Vec::new();
        let mut model: BTreeMap<(u8, BlobId), (usize, &PackEntry)> = BTreeMap::new();
        for batch in &batches {
            for pack in batch {
                let number = match pack_order.iter().position(|p| *p == pack.id) {
                    Some(n) => n,
                    None => {
                        pack_order.push(pack.id);
                        pack_order.len() - 1
                    }
                };
                for e in &pack.blobs {
                    let slot = model.entry((e.kind.as_u8(), e.id)).or_insert((number, e));
                    if (number, e.offset) < (slot.0, slot.1.offset) {
                        *slot = (number, e);
                    }
                }
                index.add_pack(pack);
            }
            index.finish().expect("an index in memory cannot fail to finish");
        }
        prop_assert_eq!(index.len(), model.len());
        prop_assert_eq!(index.pack_count(), pack_order.len());
        for ((kind, id), (number, e)) in &model {
            let kind = BlobKind::from_u8(*kind).unwrap();
            let got = index.get(kind, id).unwrap().expect("an indexed blob is found");
            prop_assert_eq!(got.pack, pack_order[*number]);
            // A blob stored twice in one pack: its lowest offset.
            prop_assert_eq!((got.offset, got.length, got.raw_length), (e.offset, e.length, e.raw_length));
            let position = index.position(kind, id).unwrap().expect("position");
            prop_assert!(position < index.len());
            prop_assert_eq!(index.at(position).unwrap(), Some((kind, got)));
        }
        for n in 200u16..210 {
            prop_assert!(!index.contains(BlobKind::Data, &blob(n)).unwrap());
        }
        // A blob is found only under its own kind.
        for (kind, id) in model.keys() {
            let other = if *kind == BlobKind::Tree.as_u8() { BlobKind::Data } else { BlobKind::Tree };
            prop_assert_eq!(
                index.contains(other, id).unwrap(),
                model.contains_key(&(other.as_u8(), *id))
            );
        }
    }
}

/// Packs whose contents are fixed by their number (an index file lists a
/// pack's whole header, SPEC §7.1), and index files naming some of them.
fn any_pack_files() -> impl Strategy<Value = (Vec<IndexPack>, Vec<Vec<usize>>)> {
    let entry = any_entry();
    let packs = prop::collection::vec(prop::collection::vec(entry, 0..20), 12).prop_map(|all| {
        all.into_iter()
            .enumerate()
            .map(|(n, blobs)| IndexPack {
                id: pack_id(n as u8),
                size: 1 << 22,
                capsule: Some([n as u8; 32]),
                blobs,
            })
            .collect::<Vec<_>>()
    });
    let files = prop::collection::vec(prop::collection::vec(0usize..12, 0..4), 0..8);
    (packs, files)
}

/// Load `files` into `index` as the repository does (a spill check after
/// each file), with `removed` taken out, between packs added before and
/// after (as a backup adds them).
fn load(index: &mut Index, packs: &[IndexPack], files: &[Vec<usize>], removed: &[bool]) {
    let pick = |numbers: &[usize]| -> Vec<IndexPack> {
        numbers.iter().map(|n| packs[*n].clone()).collect()
    };
    let (before, files) = files.split_at(files.len() / 3);
    for file in before {
        for pack in pick(file) {
            index.add_pack(&pack);
        }
        index.finish().expect("finish");
    }
    let mut gone = Vec::new();
    for (n, file) in files.iter().enumerate() {
        let added = index.add_file(&pick(file));
        if removed[n] {
            gone.push(added);
        }
        index.spill().expect("spill");
    }
    index.remove_files(&gone);
    index.finish().expect("finish");
    for pack in pick(&[0, 5, 11]) {
        index.add_pack(&pack);
    }
    index.finish().expect("finish");
}

proptest! {
    #![proptest_config(cases(300))]

    /// With any memory budget, down to none, the index answers every
    /// question as it does all in memory: what it holds, where, and at
    /// which position.
    #[test]
    fn index_on_disk_answers_as_in_memory(
        (packs, files) in any_pack_files(),
        removed in prop::collection::vec(prop::bool::ANY, 8),
        budget in 0usize..3000,
    ) {
        let scratch = tempfile::tempdir().unwrap();
        let mut memory = Index::new();
        load(&mut memory, &packs, &files, &removed);
        let mut disk = Index::new();
        disk.set_spill(Some(Spill::new(budget, scratch.path().to_owned())));
        load(&mut disk, &packs, &files, &removed);
        prop_assert_eq!(disk.len(), memory.len());
        prop_assert_eq!(disk.pack_ids().collect::<Vec<_>>(), memory.pack_ids().collect::<Vec<_>>());
        if budget < 52 && !memory.is_empty() {
            prop_assert!(disk.on_disk(), "past the budget the table is on disk");
        }
        // Positions differ (the table on disk comes first) but are as
        // good: one per blob, below the length, leading back to the blob.
        let mut positions = BTreeSet::new();
        for n in 0u16..210 {
            for kind in [BlobKind::Data, BlobKind::Tree] {
                let id = blob(n);
                // Every lookup in the table on disk reads it: none fails.
                let got = disk.get(kind, &id).unwrap();
                prop_assert_eq!(got, memory.get(kind, &id).unwrap());
                let position = disk.position(kind, &id).unwrap();
                prop_assert_eq!(position.is_some(), got.is_some());
                if let (Some(p), Some(got)) = (position, got) {
                    prop_assert!(p < disk.len());
                    prop_assert!(positions.insert(p), "one position per blob");
                    prop_assert_eq!(disk.at(p).unwrap(), Some((kind, got)));
                }
            }
        }
        prop_assert_eq!(positions.len(), disk.len());
        prop_assert_eq!(disk.at(disk.len()).unwrap(), None);
    }
}

proptest! {
    #![proptest_config(cases(300))]

    /// Index files added one by one, some taken out again before `finish`
    /// (as superseded ones are when the index loads): the index is exactly
    /// what the files kept name, blobs and packs.
    #[test]
    fn index_without_removed_files_is_what_the_kept_files_name(
        files in any_batches(),
        removed in prop::collection::vec(prop::bool::ANY, 5),
        before in any_batches(),
    ) {
        let mut index = Index::new();
        // Some packs finished earlier, as in a backup after the load.
        for pack in before.iter().flatten() {
            index.add_pack(pack);
        }
        index.finish().expect("an index in memory cannot fail to finish");
        let mut gone = Vec::new();
        for (n, file) in files.iter().enumerate() {
            let added = index.add_file(file);
            if removed[n] {
                gone.push(added);
            }
        }
        index.remove_files(&gone);
        index.finish().expect("an index in memory cannot fail to finish");
        let kept: Vec<&IndexPack> = before
            .iter()
            .flatten()
            .chain(files.iter().enumerate().filter(|(n, _)| !removed[*n]).flat_map(|(_, f)| f))
            .collect();
        let packs: BTreeSet<PackId> = kept.iter().map(|p| p.id).collect();
        prop_assert_eq!(index.pack_count(), packs.len());
        prop_assert_eq!(index.pack_ids().collect::<BTreeSet<_>>(), packs);
        let blobs: BTreeSet<(u8, BlobId)> = kept
            .iter()
            .flat_map(|p| p.blobs.iter().map(|e| (e.kind.as_u8(), e.id)))
            .collect();
        prop_assert_eq!(index.len(), blobs.len());
        for (kind, id) in &blobs {
            let kind = BlobKind::from_u8(*kind).unwrap();
            let got = index.get(kind, id).unwrap().expect("a blob a kept file names is found");
            prop_assert!(
                kept.iter().any(|p| p.id == got.pack
                    && p.blobs.iter().any(|e| e.kind == kind && e.id == *id && e.offset == got.offset)),
                "found in a pack that a kept file lists it in"
            );
        }
    }
}
