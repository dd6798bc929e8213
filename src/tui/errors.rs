//! How the console shows an error from the core, written once. Errors travel as errors
//! ([`SharedError`]: the crate [`Error`], shared because messages and state are cloned) from the
//! background job to the place that shows them, and become text only there, through [`line`]:
//! the message with its code, and a colour by kind. A refusal or a mistake in what was typed
//! shows in the warning colour (the message says the next step); anything else (not found, an
//! unreachable backend, a failed run) as an error.

use std::sync::Arc;

use super::theme::Meaning;
use crate::error::Error;

/// An error on its way to the screen.
pub type SharedError = Arc<Error>;

/// Wraps a crate error for the console's messages and state.
pub fn shared(e: Error) -> SharedError {
    Arc::new(e)
}

/// The colour of an error, by its kind.
pub fn meaning(e: &Error) -> Meaning {
    match e.code() {
        "refused" | "invalid_input" => Meaning::GateWarn,
        _ => Meaning::Error,
    }
}

/// An error as one line: `✗ {context}: {message} ({code})`, the code left out where the
/// message already starts with it ("refused: …", "cancelled: …"), and its colour.
pub fn line(context: &str, e: &Error) -> (Meaning, String) {
    let message = e.to_string();
    let code = e.code();
    let says_code = message.starts_with(&code.replace('_', " "));
    let mut out = String::from("✗ ");
    if !context.is_empty() {
        out.push_str(context);
        out.push_str(": ");
    }
    out.push_str(&message);
    if !says_code {
        out.push_str(&format!(" ({code})"));
    }
    (meaning(e), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_differ_in_colour_and_code() {
        let (m, text) = line("approve p-1", &Error::refused("plan p-1 is read-only"));
        assert_eq!(m, Meaning::GateWarn);
        assert_eq!(text, "✗ approve p-1: refused: plan p-1 is read-only");
        let (m, text) = line(
            "",
            &Error::not_found("plan", "p-2", "`opsdeck plans` lists them"),
        );
        assert_eq!(m, Meaning::Error);
        assert_eq!(
            text,
            "✗ plan not found: p-2 (`opsdeck plans` lists them) (not_found)"
        );
        let (m, text) = line(
            "",
            &Error::Unavailable("the shared backend is unreachable".into()),
        );
        assert_eq!(m, Meaning::Error);
        assert!(text.ends_with("(unavailable)"), "{text}");
        assert_eq!(line("", &Error::input("x")).0, Meaning::GateWarn);
    }
}
