//! `keys new` and `keys show`: the person's own signing key.

use super::args::KeysCommand;
use super::print::print_json;
use crate::error::Result;
use crate::pipeline::Deck;

pub fn run(deck: &Deck, cmd: KeysCommand, json_out: bool) -> Result<u8> {
    let me = deck.identity().user.clone();
    let tenant = deck.tenant().name.clone();
    match cmd {
        KeysCommand::New | KeysCommand::Agent { .. } => {
            let agent = matches!(cmd, KeysCommand::Agent { .. });
            let key = match &cmd {
                KeysCommand::Agent { fingerprint } => {
                    deck.admin().adopt_agent_key(fingerprint.as_deref())?
                }
                _ => deck.admin().new_key()?,
            };
            if json_out {
                print_json(&serde_json::json!({
                    "user": me,
                    "public_key": key.openssh(),
                    "fingerprint": key.fingerprint(),
                }))?;
                return Ok(0);
            }
            if agent {
                outln!(
                    "your signing key ({me}) is the one your SSH agent holds; opsdeck asks the agent for each signature."
                );
            } else {
                outln!(
                    "created your signing key ({me}); the private key never leaves this machine."
                );
            }
            outln!();
            outln!("{}", key.openssh());
            outln!("fingerprint: {}", key.fingerprint());
            outln!();
            outln!(
                "Send the line above to an admin of tenant {tenant}; they register it with\n  opsdeck users key {me} --key \"{}\" --totp CODE\nand read the fingerprint back to you over another channel.",
                key.openssh()
            );
        }
        KeysCommand::Show { public } => {
            let s = deck.admin().key_status()?;
            if json_out {
                print_json(&s)?;
                return Ok(0);
            }
            let Some(line) = &s.public_key else {
                outln!(
                    "{me} has no key in this identity directory yet: `opsdeck --user {me} keys new` creates one"
                );
                return Ok(1);
            };
            if public {
                outln!("{line}");
                return Ok(0);
            }
            outln!("{line}");
            outln!("fingerprint: {}", s.fingerprint.as_deref().unwrap_or("-"));
            outln!(
                "private key: {}",
                s.private_key
                    .as_deref()
                    .unwrap_or("missing (signing is not possible here)")
            );
            match &s.registered_fingerprint {
                Some(fp) if Some(fp) == s.fingerprint.as_ref() => {
                    outln!("registered in tenant {tenant}: yes")
                }
                Some(fp) => outln!(
                    "registered in tenant {tenant}: a DIFFERENT key ({fp}); approvals from here are refused"
                ),
                None => outln!(
                    "registered in tenant {tenant}: no; send the line above to an admin (`opsdeck users key {me} --key \"…\"`)"
                ),
            }
            if let Some(root) = &s.tenant_root {
                outln!("tenant root: {root}");
            }
        }
    }
    Ok(0)
}

/// A user's registered key and last signed membership record, in words.
pub fn print_membership(u: &crate::tenant::User) {
    if let Some(k) = u
        .key
        .as_deref()
        .and_then(|k| crate::identity::PublicKeyLine::parse(k).ok())
    {
        outln!("key:    {}", k.fingerprint());
    } else {
        outln!(
            "key:    none registered yet (they cannot approve until `opsdeck users key {} --key …`)",
            u.name
        );
    }
    if let Some(r) = u.membership.last() {
        outln!(
            "signed: membership record #{} ({}) by {} with {}",
            r.seq,
            r.action.as_str(),
            r.signer,
            r.signer_key
        );
    }
}
