//! What prune checks before it condemns a pack, because the index files
//! are what a client wrote and a compromised client can write any (SPEC.md
//! §10): prune trusts what it can verify — pack headers and blobs that
//! open — over what it is told.
//!
//! 1. Every pack's header is read; every pack an index file names must
//!    list exactly what the index says it holds ([`cross_check`]). An index
//!    that contradicts a header is damage (`check` names it, `repair index`
//!    rebuilds the index from the headers), and prune stops, deleting
//!    nothing.
//! 2. For every pack it condemns, every blob its header lists that a
//!    snapshot reaches must survive elsewhere: copied by this prune (which
//!    opens it as it copies), or in a pack it keeps, where it is read and
//!    opened now ([`survivors`]). A kept copy that does not open stops
//!    prune.

use crate::error::{Error, Result};
use crate::repository::Repository;
use crate::repository::index::{Index, IndexedPack};
use crate::repository::pack_reader::BlobRef;
use crate::repository::reachable::Reached;
use rayon::prelude::*;
use repo_format::crypto::BlobKind;
use repo_format::pack::{PackEntry, compare_entries};
use repo_format::{BlobId, PackId};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Each stored pack's header, or why it could not be read.
pub(super) type Headers = BTreeMap<PackId, std::result::Result<Vec<PackEntry>, String>>;

/// Read the header of every pack in `stored`, as wide as the store allows.
pub(super) fn read_headers(repo: &Repository, stored: &BTreeMap<PackId, u64>) -> Headers {
    let packs: Vec<(&PackId, &u64)> = stored.iter().collect();
    let read: Vec<_> = repo.backend().parallel(|| {
        packs
            .par_iter()
            .map(|(id, size)| {
                let header = repo.read_pack_header(id, **size).map_err(|e| e.detail());
                (**id, header)
            })
            .collect()
    });
    read.into_iter().collect()
}

/// What the headers say of the index's claims.
#[derive(Debug, Default)]
pub(super) struct CrossCheck {
    /// Packs whose header does not back what the index claims, and how.
    pub(super) contradicted: Vec<(PackId, String)>,
    /// Packs whose header lists blobs the index leaves out: prune rewrites
    /// them (the left-out copies go).
    pub(super) not_all_indexed: BTreeSet<PackId>,
}

/// Every pack the index files name must exist with a header that lists
/// every entry they claim.
pub(super) fn cross_check(
    indexed: &BTreeMap<PackId, IndexedPack>,
    headers: &Headers,
) -> CrossCheck {
    let mut out = CrossCheck::default();
    for (pack, claims) in indexed {
        match headers.get(pack) {
            // A pack missing from the store is the plan's to refuse.
            None => {}
            Some(Err(e)) => out
                .contradicted
                .push((*pack, format!("its header cannot be read ({e})"))),
            Some(Ok(header)) => match compare_entries(header, &claims.entries) {
                (0, 0) => {}
                (_, 0) => {
                    out.not_all_indexed.insert(*pack);
                }
                (_, false_claims) => out.contradicted.push((
                    *pack,
                    format!("the index claims {false_claims} entr(ies) its header does not list"),
                )),
            },
        }
    }
    out
}

/// Stop when the index contradicts the packs.
pub(super) fn refuse_contradictions(wrong: &[(PackId, String)]) -> Result<()> {
    match wrong.first() {
        None => Ok(()),
        Some((pack, why)) => Err(Error::IndexContradicted {
            packs: wrong.len(),
            first: format!("pack {}: {why}", pack.short()),
        }),
    }
}

/// Whether a snapshot reaches this blob (`index`'s view, which the
/// cross-check made true for every pack it names).
fn reached_at(
    index: &Index,
    reached: &Reached,
    kind: BlobKind,
    id: &BlobId,
) -> Result<Option<crate::repository::index::BlobLocation>> {
    Ok(index
        .find_with_position(kind, id)?
        .filter(|(position, _)| reached.blobs.contains(*position))
        .map(|(_, at)| at))
}

/// Every blob a snapshot reaches that a pack of `condemned` holds survives
/// elsewhere: in a pack of `copied` at the copy the index names (prune
/// copies those, opening each), or in a kept pack, where it is read and
/// opened now. `condemned` and `copied` are pack ids; a condemned pack
/// whose header cannot be read holds nothing a snapshot needs (a reached
/// blob is either indexed, and then found in a pack the cross-check
/// verified, or missing, which stopped prune before).
pub(super) fn survivors(
    repo: &Repository,
    headers: &Headers,
    condemned: &BTreeSet<PackId>,
    copied: &BTreeSet<PackId>,
    reached: &Reached,
) -> Result<()> {
    let mut to_open: Vec<(BlobKind, BlobId, crate::repository::index::BlobLocation)> = Vec::new();
    let mut seen = HashSet::new();
    {
        let index = repo.index();
        for pack in condemned {
            let Some(Ok(entries)) = headers.get(pack) else {
                continue;
            };
            for e in entries {
                let Some(at) = reached_at(&index, reached, e.kind, &e.id)? else {
                    continue;
                };
                if copied.contains(&at.pack) || !seen.insert((e.kind, e.id)) {
                    continue;
                }
                if condemned.contains(&at.pack) {
                    return Err(Error::RepositoryDamaged(format!(
                        "blob {} that a snapshot reaches would be lost with pack {}",
                        e.id.short(),
                        at.pack.short()
                    )));
                }
                to_open.push((e.kind, e.id, at));
            }
        }
    }
    let reader = repo.pack_reader();
    repo.backend().parallel(|| {
        to_open.par_iter().try_for_each(|(kind, id, at)| {
            reader
                .read_blob(&at.pack, &BlobRef::located(*kind, *id, at))
                .map(drop)
                .map_err(|e| {
                    Error::RepositoryDamaged(format!(
                        "the copy kept of blob {} in pack {} cannot be read ({}), so its other copies stay",
                        id.short(),
                        at.pack.short(),
                        e.detail()
                    ))
                })
        })
    })
}
