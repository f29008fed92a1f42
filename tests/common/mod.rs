//! Helpers shared by the configuration tests.

use std::path::Path;

use anycast_warden::config::load_str;

/// The errors of a file (named `w.toml`) as "file:line:col: message" plus hints.
pub fn errors(text: &str) -> Vec<String> {
    match load_str(Path::new("w.toml"), text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

/// The one error of a file.
pub fn one_error(text: &str) -> String {
    let mut all = errors(text);
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}
