//! Naming an object by a unique prefix of its id (at least 4 hex digits),
//! shared by snapshot and key arguments.

use repo_format::Id;

/// What a prefix matched.
pub(crate) enum Matches<T> {
    /// Exactly this one.
    One(T),
    /// Nothing.
    None,
    /// This many.
    Many(usize),
}

/// The items whose id starts with `arg`; `None` when `arg` is not 4 to 64
/// hex digits.
pub(crate) fn by_prefix<T>(
    arg: &str,
    items: impl IntoIterator<Item = T>,
    id: impl Fn(&T) -> &Id,
) -> Option<Matches<T>> {
    let prefix = arg.to_ascii_lowercase();
    if prefix.len() < 4 || prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut found: Vec<T> = items
        .into_iter()
        .filter(|item| id(item).to_hex().starts_with(&prefix))
        .collect();
    Some(match found.len() {
        0 => Matches::None,
        1 => found.pop().map_or(Matches::None, Matches::One),
        n => Matches::Many(n),
    })
}
