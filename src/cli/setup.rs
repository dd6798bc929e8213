//! Getting started: `init` (a tenant's first admin, or where you stand) and `totp` (your
//! current code, for people without an authenticator app). `demo` lives in [`crate::demo`].

use serde_json::json;

use super::print::{print_block, print_json};
use crate::error::{Error, Result};
use crate::pipeline::Deck;

pub fn init(deck: &Deck, json_out: bool) -> Result<u8> {
    let setup = deck.init()?;
    if json_out {
        let mut v = serde_json::to_value(&setup)
            .map_err(|e| Error::input(format!("cannot encode the set-up: {e}")))?;
        if let Some(e) = &setup.enrolment {
            v["totp_secret"] = json!(e.secret);
            v["otpauth_uri"] = json!(e.otpauth_uri);
        }
        print_json(&v)?;
    } else {
        print_block(&format!("{}\n", setup.lines().join("\n")));
    }
    Ok(0)
}

pub fn totp(deck: &Deck, code_only: bool, json_out: bool) -> Result<u8> {
    let shown = deck.totp_code()?;
    if json_out {
        print_json(&shown)?;
    } else if code_only {
        errln!("{}", shown.risk);
        outln!("{}", shown.code);
    } else {
        outln!(
            "{}  ({} in tenant {}, valid for {} s more)",
            shown.code,
            shown.user,
            shown.tenant,
            shown.valid_for_seconds
        );
        errln!("{}", shown.risk);
    }
    Ok(0)
}
