//! The shape of the code, held as tests: the engine's folders are layers
//! and each uses only the layers below it (README.md, "Layout of this
//! repository"); no module of any crate holds more than 800 lines of
//! non-test code.

use std::path::{Path, PathBuf};

/// The workspace's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the cli crate lies in the workspace")
        .to_path_buf()
}

/// Every `.rs` file below `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).expect("read source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A file's code before its unit tests (`#[cfg(test)]` then `mod tests`).
fn non_test_code(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    }
}

/// The engine's layers, lowest first: what each top-level module of
/// `engine/src` is. A module may use its own layer's shared vocabulary
/// (0), the layers below it, and within the top layer only itself.
const LAYERS: [(&str, u8); 19] = [
    ("beneath", 0),
    ("error", 0),
    ("exclude", 0),
    ("interrupt", 0),
    ("metadata", 0),
    ("prefix", 0),
    ("progress", 0),
    ("units", 0),
    ("workers", 0),
    ("random_nonce", 0),
    ("fresh", 0),
    ("store", 1),
    ("repository", 2),
    ("backup", 3),
    ("maintenance", 3),
    ("read", 3),
    ("health", 3),
    // The crate root's re-exports, by what they re-export.
    ("Backend", 1),
    ("Repository", 2),
];

fn layer_of(module: &str) -> Option<u8> {
    match module {
        "Error" | "Result" | "Progress" | "NoProgress" => Some(0),
        "Cache" => Some(1),
        "InitOptions" => Some(2),
        _ => LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l),
    }
}

/// The top-level module a file of `engine/src` belongs to.
fn module_of(file: &Path, src: &Path) -> String {
    let rel = file.strip_prefix(src).expect("below src");
    let first = rel
        .components()
        .next()
        .expect("a path")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// Every `crate::NAME` a file's code names (comments left out).
fn crate_uses(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() {
                // `use crate::{a, b}`: each name in the braces.
                if let Some(list) = rest.strip_prefix('{') {
                    let list = list.split('}').next().unwrap_or("");
                    out.extend(
                        list.split(',')
                            .map(|n| n.trim().split("::").next().unwrap_or("").to_owned())
                            .filter(|n| !n.is_empty()),
                    );
                }
            } else {
                out.push(name);
            }
        }
    }
    out
}

#[test]
fn engine_layers_use_only_the_layers_below() {
    let src = root().join("engine/src");
    let mut wrong = Vec::new();
    for file in sources(&src) {
        let module = module_of(&file, &src);
        if module == "lib" {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            wrong.push(format!(
                "{}: module {module} has no layer: add it to LAYERS",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("read source");
        for used in crate_uses(non_test_code(&text)) {
            let Some(theirs) = layer_of(&used) else {
                wrong.push(format!("{}: crate::{used} has no layer", file.display()));
                continue;
            };
            let peer = theirs == own && own == 3 && used != module;
            if theirs > own || peer {
                wrong.push(format!(
                    "{}: {module} (layer {own}) uses crate::{used} (layer {theirs})",
                    file.strip_prefix(root()).unwrap_or(&file).display()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn layer_check_sees_a_use_of_a_higher_layer() {
    // The check above must be able to fail: a store file naming the
    // repository, and one naming two modules in braces.
    assert_eq!(
        crate_uses("use crate::repository::Repository;\n// crate::backup in a comment"),
        ["repository"]
    );
    assert_eq!(
        crate_uses("use crate::{error::Result, read::tree_walk};"),
        ["error", "read"]
    );
    assert!(layer_of("repository") > layer_of("store"));
    assert_eq!(non_test_code("a\n#[cfg(test)]\nmod tests {\nb\n}"), "a\n");
}

#[test]
fn no_module_holds_more_than_800_lines_of_non_test_code() {
    let mut long = Vec::new();
    for krate in ["repo-format", "engine", "serve", "cli"] {
        for file in sources(&root().join(krate).join("src")) {
            let text = std::fs::read_to_string(&file).expect("read source");
            let lines = non_test_code(&text).lines().count();
            if lines > 800 {
                long.push(format!(
                    "{}: {lines} lines",
                    file.strip_prefix(root()).unwrap_or(&file).display()
                ));
            }
        }
    }
    assert!(long.is_empty(), "split these modules: {}", long.join(", "));
}
