//! A tree blob's plaintext (SPEC.md §7.2): what decodes has valid, sorted,
//! unique names (restore writes them under its target) and round-trips.
#![no_main]
use libfuzzer_sys::fuzz_target;
use repo_format::tree::{Tree, is_valid_name};
use vault_fuzz::assert_round_trip;

fuzz_target!(|data: &[u8]| {
    if let Ok(tree) = Tree::decode(data) {
        for pair in tree.nodes.windows(2) {
            assert!(pair[0].name < pair[1].name);
        }
        for node in &tree.nodes {
            assert!(is_valid_name(&node.name));
        }
        assert_round_trip(&tree, Tree::encode, Tree::decode);
    }
});
