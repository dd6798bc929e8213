//! Signing through an SSH agent (`SSH_AUTH_SOCK`): the private key stays in the agent — or in
//! the hardware token behind it (e.g. gpg-agent with an OpenPGP card) — and opsdeck only asks
//! for signatures. An `ssh-ed25519` agent signature is the plain Ed25519 signature over the
//! bytes, so statements signed here verify exactly like those signed with a key file.
//!
//! The few messages used (draft-miller-ssh-agent): REQUEST_IDENTITIES (11) → IDENTITIES_ANSWER
//! (12), SIGN_REQUEST (13) → SIGN_RESPONSE (14), FAILURE (5).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ssh_key::PublicKey;
use ssh_key::public::KeyData;

use super::keys::PublicKeyLine;
use crate::error::{Error, Result};

const FAILURE: u8 = 5;
const REQUEST_IDENTITIES: u8 = 11;
const IDENTITIES_ANSWER: u8 = 12;
const SIGN_REQUEST: u8 = 13;
const SIGN_RESPONSE: u8 = 14;
/// Agents answer in milliseconds; a hardware token may wait for a touch.
const TIMEOUT: Duration = Duration::from_secs(60);
/// No agent message opsdeck reads is anywhere near this.
const MAX_MESSAGE: usize = 256 * 1024;

/// The agent's socket, from `SSH_AUTH_SOCK`.
pub fn socket() -> Option<PathBuf> {
    std::env::var_os("SSH_AUTH_SOCK")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

/// One Ed25519 key the agent holds.
#[derive(Debug, Clone)]
pub struct AgentKey {
    socket: PathBuf,
    blob: Vec<u8>,
    pub public: PublicKeyLine,
    pub comment: String,
}

fn unreachable(socket: &Path, detail: impl std::fmt::Display) -> Error {
    Error::refused(format!(
        "the SSH agent at {} (SSH_AUTH_SOCK) did not answer: {detail}",
        socket.display()
    ))
}

/// One request, one answer.
fn exchange(socket: &Path, request: &[u8]) -> Result<Vec<u8>> {
    let mut stream = UnixStream::connect(socket).map_err(|e| unreachable(socket, e))?;
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let _ = stream.set_write_timeout(Some(TIMEOUT));
    let mut framed = (request.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(request);
    stream
        .write_all(&framed)
        .map_err(|e| unreachable(socket, e))?;
    let mut len = [0u8; 4];
    stream
        .read_exact(&mut len)
        .map_err(|e| unreachable(socket, e))?;
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > MAX_MESSAGE {
        return Err(unreachable(socket, format!("an answer of {len} bytes")));
    }
    let mut answer = vec![0u8; len];
    stream
        .read_exact(&mut answer)
        .map_err(|e| unreachable(socket, e))?;
    Ok(answer)
}

/// Reads SSH wire values off a message.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_be_bytes(*head))
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        if len > self.0.len() {
            return None;
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(s)
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

/// The Ed25519 keys the agent at `socket` holds (others are skipped: opsdeck keys are Ed25519).
pub fn list(socket: &Path) -> Result<Vec<AgentKey>> {
    let answer = exchange(socket, &[REQUEST_IDENTITIES])?;
    let bad = || unreachable(socket, "a malformed list of keys");
    let (&kind, rest) = answer.split_first().ok_or_else(bad)?;
    if kind != IDENTITIES_ANSWER {
        return Err(unreachable(
            socket,
            format!("message {kind} instead of a list of keys"),
        ));
    }
    let mut r = Reader(rest);
    let count = r.u32().ok_or_else(bad)?;
    let mut keys = Vec::new();
    for _ in 0..count {
        let blob = r.string().ok_or_else(bad)?;
        let comment = r.string().ok_or_else(bad)?;
        let Ok(key) = PublicKey::from_bytes(blob) else {
            continue;
        };
        if !matches!(key.key_data(), KeyData::Ed25519(_)) {
            continue;
        }
        let Ok(public) = PublicKeyLine::parse(&key.to_openssh().unwrap_or_default()) else {
            continue;
        };
        keys.push(AgentKey {
            socket: socket.to_path_buf(),
            blob: blob.to_vec(),
            public,
            comment: String::from_utf8_lossy(comment).into_owned(),
        });
    }
    Ok(keys)
}

/// The agent's key whose public half is `public`, if it holds it.
pub fn find(socket: &Path, public: &PublicKeyLine) -> Result<Option<AgentKey>> {
    Ok(list(socket)?.into_iter().find(|k| k.public == *public))
}

impl AgentKey {
    /// The agent's Ed25519 signature over `bytes` (64 bytes).
    pub fn sign(&self, bytes: &[u8]) -> Result<[u8; 64]> {
        let mut request = vec![SIGN_REQUEST];
        put_string(&mut request, &self.blob);
        put_string(&mut request, bytes);
        request.extend_from_slice(&0u32.to_be_bytes());
        let answer = exchange(&self.socket, &request)?;
        match answer.first() {
            Some(&SIGN_RESPONSE) => {}
            Some(&FAILURE) => {
                return Err(Error::refused(format!(
                    "the SSH agent refused to sign with {} (locked, or a confirmation or touch was declined)",
                    self.public.fingerprint()
                )));
            }
            other => {
                return Err(unreachable(
                    &self.socket,
                    format!("message {other:?} instead of a signature"),
                ));
            }
        }
        let mut r = Reader(&answer[1..]);
        let mut sig = r
            .string()
            .map(Reader)
            .ok_or_else(|| unreachable(&self.socket, "a malformed signature"))?;
        let (Some(b"ssh-ed25519"), Some(raw)) = (sig.string(), sig.string()) else {
            return Err(unreachable(
                &self.socket,
                "a signature that is not ssh-ed25519",
            ));
        };
        <[u8; 64]>::try_from(raw).map_err(|_| unreachable(&self.socket, "a short signature"))
    }
}
