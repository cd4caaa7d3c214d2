//! Output: text for people, JSON (`--json`) for programs.

use serde_json::Value;

use crate::context::Context;

/// Prints `json` with `--json`, else the text `human` builds.
pub fn emit(context: &Context, json: &Value, human: impl FnOnce() -> String) {
    if context.json {
        println!("{json}");
    } else {
        println!("{}", human());
    }
}
