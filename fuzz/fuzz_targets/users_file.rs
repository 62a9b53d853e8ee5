//! `vault serve --users FILE`: the users file parser, `serve::users::parse`.
//! What parses is one user per line that is not blank or a comment, in
//! order, each line exactly `NAME:HASH` or `NAME:HASH:admin` (trimmed), with
//! a valid user name, an Argon2 PHC string, and no name twice; written back
//! like that it parses to the same users. An error names a line that is an
//! entry of the text (`line N: …`), and the lines before it parse. No
//! password is verified here (Argon2 is slow on purpose).
//!
//! serve/src/users.rs is compiled in as a module, as in `serve_route`.
#![no_main]
#[allow(dead_code)]
#[path = "../../serve/src/users.rs"]
mod users;

use argon2::password_hash::phc::PasswordHash;
use engine::store::valid_user_name;
use libfuzzer_sys::fuzz_target;
use users::{User, parse};

fn line_of(user: &User) -> String {
    if user.admin {
        format!("{}:{}:admin", user.name, user.hash)
    } else {
        format!("{}:{}", user.name, user.hash)
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = text.lines().collect();
    // (1-based line number, trimmed line) of every entry.
    let entries: Vec<(usize, &str)> = lines
        .iter()
        .map(|line| line.trim())
        .enumerate()
        .map(|(i, line)| (i + 1, line))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .collect();
    match parse(text) {
        Ok(users) => {
            assert_eq!(users.len(), entries.len(), "one user per entry");
            for (user, (_, line)) in users.iter().zip(&entries) {
                assert!(valid_user_name(&user.name), "{:?}", user.name);
                assert!(user.hash.starts_with("$argon2"), "{:?}", user.hash);
                assert!(PasswordHash::new(&user.hash).is_ok(), "{:?}", user.hash);
                assert_eq!(line_of(user), *line);
            }
            let mut names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), users.len(), "a name is listed twice");
            let written: Vec<String> = users.iter().map(line_of).collect();
            assert_eq!(parse(&written.join("\n")).ok().as_ref(), Some(&users));
        }
        Err(e) => {
            let message = e.to_string();
            let n: usize = message
                .strip_prefix("line ")
                .and_then(|rest| rest.split_once(": "))
                .and_then(|(n, _)| n.parse().ok())
                .unwrap_or_else(|| panic!("the error names no line: {message:?}"));
            let entry = entries.iter().find(|(i, _)| *i == n);
            assert!(entry.is_some(), "line {n} is not an entry: {message:?}");
            let before = parse(&lines[..n - 1].join("\n"));
            let before = before.unwrap_or_else(|e| panic!("lines before {n}: {e}"));
            assert_eq!(before.len(), entries.iter().filter(|(i, _)| *i < n).count());
            if message.ends_with("the user is listed twice") {
                let name = entry.and_then(|(_, line)| line.split(':').next());
                assert!(before.iter().any(|u| Some(u.name.as_str()) == name));
            }
        }
    }
});
