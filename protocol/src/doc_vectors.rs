//! Reads the test vectors of `docs/protocol.md`, so the tests of every crate
//! check the specification's own figures. The document is only linked into
//! what calls [`vector`]: tests.

use std::collections::HashMap;

/// The `key value` lines of the text block after `<!-- vector: NAME -->`.
pub fn vector(name: &str) -> HashMap<String, String> {
    let text = include_str!("../../docs/protocol.md");
    let marker = format!("<!-- vector: {name} -->");
    let Some(start) = text.find(&marker) else {
        panic!("docs/protocol.md has no vector {name}");
    };
    text[start + marker.len()..]
        .lines()
        .map(str::trim)
        .skip_while(|line| !line.starts_with("```"))
        .skip(1)
        .take_while(|line| !line.starts_with("```"))
        .filter_map(|line| line.split_once(char::is_whitespace))
        .map(|(key, value)| (key.to_string(), value.trim().to_string()))
        .collect()
}
