//! Hash chain and signatures.
//!
//! Each stored line is `{"seq","prev","hash","key","sig","event"}`. `hash` is SHA-256 over a
//! domain tag, the tenant, the sequence number, the previous hash and the event's exact JSON
//! bytes; `sig` is an ed25519 signature of `hash` by the key named in `key`. Editing an event
//! breaks its hash, deleting or reordering one breaks the sequence and the `prev` link, and
//! rewriting the chain from some point on needs a signing key.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::error::KeyHalf;
use super::witness::{self, ChainView, Checkpoint, WitnessReport};
use super::{AuditError, AuditEvent, AuditRecord, Tamper};
use crate::error::Result;
use crate::store::StoreError;

/// `prev` of the first record of a tenant.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const SIGNING_KEY_FILE: &str = "audit-signing.key";

pub fn digest(tenant: &str, seq: u64, prev: &str, event_json: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"opsdeck-audit-v1\n");
    h.update(tenant.as_bytes());
    h.update(b"\n");
    h.update(seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(event_json);
    h.finalize().into()
}

fn key_id(vk: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(vk.as_bytes())[..8])
}

/// The id of the audit-signing key whose public half is `public_hex`, when it is one.
pub fn key_id_of(public_hex: &str) -> Option<String> {
    let bytes = hex::decode(public_hex).ok()?;
    let vk = VerifyingKey::from_bytes(&<[u8; 32]>::try_from(bytes.as_slice()).ok()?).ok()?;
    Some(key_id(&vk))
}

/// The local signing key. Created on first use with owner-only permissions.
pub struct Signer {
    key: SigningKey,
    key_id: String,
}

impl Signer {
    pub fn load_or_create(dir: &Path) -> Result<Signer> {
        fs::create_dir_all(dir)
            .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))?;
        crate::store::fsutil::restrict_dir(dir)?;
        let path = dir.join(SIGNING_KEY_FILE);
        let seed = match fs::read_to_string(&path) {
            Ok(text) => {
                let damaged = |problem: AuditError| StoreError::Corrupt {
                    path: path.clone(),
                    detail: problem.to_string(),
                };
                let bytes = hex::decode(text.trim()).map_err(|e| {
                    damaged(AuditError::KeyNotHex {
                        which: KeyHalf::Signing,
                        detail: e.to_string(),
                    })
                })?;
                <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                    damaged(AuditError::KeyLength {
                        which: KeyHalf::Signing,
                    })
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| {
                    StoreError::io(
                        "reading randomness for the signing key",
                        std::io::Error::other(e.to_string()),
                    )
                })?;
                // Publish the key complete or not at all: write a private temp file, then link
                // it into place. Another process starting at the same moment either wins the
                // link (and we use its key) or loses; nobody ever reads a half-written key.
                let tmp = dir.join(format!(
                    ".{SIGNING_KEY_FILE}.{}",
                    uuid::Uuid::new_v4().simple()
                ));
                let written = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)
                    .and_then(|mut f| {
                        f.write_all(hex::encode(seed).as_bytes())?;
                        f.sync_all()
                    });
                let linked = written.and_then(|_| fs::hard_link(&tmp, &path));
                let _ = fs::remove_file(&tmp);
                match linked {
                    Ok(()) => seed,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return Signer::load_or_create(dir);
                    }
                    Err(e) => {
                        return Err(
                            StoreError::io(format!("creating {}", path.display()), e).into()
                        );
                    }
                }
            }
            Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e).into()),
        };
        let key = SigningKey::from_bytes(&seed);
        let key_id = key_id(&key.verifying_key());
        let signer = Signer { key, key_id };
        signer.publish(dir)?;
        Ok(signer)
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Writes the public half where verifiers look for it (`<key id>.pub`).
    fn publish(&self, dir: &Path) -> Result<()> {
        let path = dir.join(format!("{}.pub", self.key_id));
        if !path.exists() {
            crate::store::fsutil::write_atomic(
                &path,
                hex::encode(self.verifying_key().as_bytes()).as_bytes(),
            )?;
        }
        Ok(())
    }

    /// Seals one event after `prev`, returning the record and its stored line (with newline).
    pub fn seal(
        &self,
        tenant: &str,
        seq: u64,
        prev: &str,
        event: &AuditEvent,
    ) -> Result<(AuditRecord, String)> {
        let event_json = serde_json::to_string(event).map_err(|e| AuditError::Encode {
            detail: e.to_string(),
        })?;
        let hash = digest(tenant, seq, prev, event_json.as_bytes());
        let sig = B64.encode(self.key.sign(&hash).to_bytes());
        let hash = hex::encode(hash);
        let line = format!(
            "{{\"seq\":{seq},\"prev\":\"{prev}\",\"hash\":\"{hash}\",\"key\":\"{}\",\"sig\":\"{sig}\",\"event\":{event_json}}}\n",
            self.key_id
        );
        let record = AuditRecord {
            seq,
            prev: prev.to_string(),
            hash,
            key: self.key_id.clone(),
            sig,
            event: event.clone(),
        };
        Ok((record, line))
    }
}

/// Public keys trusted to have signed audit records, by key id.
#[derive(Default, Clone)]
pub struct KeyRing {
    keys: HashMap<String, VerifyingKey>,
}

impl KeyRing {
    pub fn load(dir: &Path) -> Result<KeyRing> {
        let mut ring = KeyRing::default();
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ring),
            Err(e) => return Err(StoreError::io(format!("reading {}", dir.display()), e).into()),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("pub") {
                continue;
            }
            let text = fs::read_to_string(&path)
                .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
            ring.add_hex(text.trim())
                .map_err(|problem| StoreError::Corrupt {
                    path: path.clone(),
                    detail: problem.to_string(),
                })?;
        }
        Ok(ring)
    }

    pub fn add_hex(&mut self, hex_key: &str) -> std::result::Result<String, AuditError> {
        let bytes = hex::decode(hex_key).map_err(|e| AuditError::KeyNotHex {
            which: KeyHalf::Public,
            detail: e.to_string(),
        })?;
        let arr = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| AuditError::KeyLength {
            which: KeyHalf::Public,
        })?;
        let vk = VerifyingKey::from_bytes(&arr).map_err(|e| AuditError::BadPublicKey {
            detail: e.to_string(),
        })?;
        let id = key_id(&vk);
        self.keys.insert(id.clone(), vk);
        Ok(id)
    }

    pub fn add(&mut self, vk: VerifyingKey) {
        self.keys.insert(key_id(&vk), vk);
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The borrowed shape of a stored line: the event stays raw so its bytes hash exactly.
#[derive(Deserialize)]
struct RawLine<'a> {
    seq: u64,
    prev: &'a str,
    hash: &'a str,
    key: &'a str,
    sig: &'a str,
    #[serde(borrow)]
    event: &'a RawValue,
}

/// The sequence number of one stored line, without reading its event (for skipping what a
/// reader has already seen).
pub fn line_seq(line: &[u8]) -> std::result::Result<u64, AuditError> {
    // Lines this code writes start `{"seq":N,`: read N without parsing the rest.
    if let Some(rest) = line.strip_prefix(br#"{"seq":"#) {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if (1..=19).contains(&digits)
            && (digits == 1 || rest[0] != b'0')
            && rest.get(digits) == Some(&b',')
            && let Ok(seq) = std::str::from_utf8(&rest[..digits])
                .unwrap_or_default()
                .parse::<u64>()
        {
            return Ok(seq);
        }
    }
    #[derive(Deserialize)]
    struct SeqOnly {
        seq: u64,
    }
    serde_json::from_slice::<SeqOnly>(line)
        .map(|l| l.seq)
        .map_err(|e| AuditError::Unreadable {
            detail: e.to_string(),
        })
}

/// Parses one stored line into a record. An event that cannot be read (a malformed timestamp,
/// say) is named by its sequence number and event id.
pub fn parse_line(line: &[u8]) -> std::result::Result<AuditRecord, AuditError> {
    let raw: RawLine<'_> = serde_json::from_slice(line).map_err(|e| AuditError::Unreadable {
        detail: e.to_string(),
    })?;
    let event: AuditEvent =
        serde_json::from_str(raw.event.get()).map_err(|e| AuditError::UnreadableEvent {
            seq: raw.seq,
            event_id: serde_json::from_str::<serde_json::Value>(raw.event.get())
                .ok()
                .and_then(|v| v.get("eventId")?.as_str().map(str::to_string)),
            detail: e.to_string(),
        })?;
    Ok(AuditRecord {
        seq: raw.seq,
        prev: raw.prev.to_string(),
        hash: raw.hash.to_string(),
        key: raw.key.to_string(),
        sig: raw.sig.to_string(),
        event,
    })
}

/// Where the chain first stops being trustworthy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Break {
    /// 1-based line in the stored log.
    pub line: usize,
    /// Sequence number the record claims, when it could be read.
    pub seq: Option<u64>,
    pub event_id: Option<String>,
    pub problem: String,
    /// What happened (edited, reordered, removed, truncated, re-sealed, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what: Option<Tamper>,
}

/// One audit-signing key that signed records of the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyUse {
    pub id: String,
    /// Its public half (hex), when the store has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<String>,
    pub first_seq: u64,
    pub records: usize,
    /// Whether this member pinned it for the tenant.
    pub pinned: bool,
    /// Why it is trusted (`certified by alice at …`, `pinned`, `this machine's key`), when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<String>,
}

/// What a chain is checked against besides itself: checkpoints from witnesses and the keys
/// this member pinned.
#[derive(Default)]
pub struct Anchors<'a> {
    /// Sorted by seq (see [`witness::merge`]).
    pub checkpoints: &'a [Checkpoint],
    /// Pinned keys (id → public hex); None before first use, when any key in the ring counts.
    pub pinned: Option<&'a BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyReport {
    pub tenant: String,
    pub records: usize,
    pub ok: bool,
    /// Hash of the last record, to compare with a copy kept elsewhere.
    pub head: Option<String>,
    pub first_break: Option<Break>,
    pub keys: usize,
    /// Signatures actually checked (every one with `full`, else checkpoints).
    pub signatures_checked: usize,
    pub full: bool,
    /// Whether the trail exists at all (its file, its head item).
    #[serde(default = "yes")]
    pub present: bool,
    /// The keys that signed the intact part of the chain.
    #[serde(default)]
    pub signing_keys: Vec<KeyUse>,
    /// The comparison with checkpoints, when witnesses were consulted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<Box<WitnessReport>>,
}

fn yes() -> bool {
    true
}

impl VerifyReport {
    /// What happened, in one word, when something did: the chain's own break first, else what
    /// the checkpoints show.
    pub fn what(&self) -> Option<Tamper> {
        self.first_break
            .as_ref()
            .and_then(|b| b.what)
            .or_else(|| self.witness_problem().and_then(|b| b.what))
    }

    pub fn witness_problem(&self) -> Option<&Break> {
        self.witness.as_ref().and_then(|w| w.problem.as_ref())
    }
}

/// Every how many records a signature is checked in the default (checkpoint) mode.
pub const CHECKPOINT_EVERY: usize = 8;

struct Checked<'a> {
    seq: u64,
    prev: &'a str,
    hash: &'a str,
    key: &'a str,
    sig: &'a str,
    computed: [u8; 32],
    problem: Option<AuditError>,
}

fn check_line<'a>(tenant: &str, line: &'a [u8]) -> std::result::Result<Checked<'a>, AuditError> {
    let raw: RawLine<'a> =
        serde_json::from_slice(line).map_err(|e| AuditError::UnreadableRecord {
            detail: e.to_string(),
        })?;
    let computed = digest(tenant, raw.seq, raw.prev, raw.event.get().as_bytes());
    let problem = (hex::encode(computed) != raw.hash).then_some(AuditError::Edited);
    Ok(Checked {
        seq: raw.seq,
        prev: raw.prev,
        hash: raw.hash,
        key: raw.key,
        sig: raw.sig,
        computed,
        problem,
    })
}

fn event_id_of(line: &[u8]) -> Option<String> {
    let raw: RawLine<'_> = serde_json::from_slice(line).ok()?;
    let v: serde_json::Value = serde_json::from_str(raw.event.get()).ok()?;
    v.get("eventId")?.as_str().map(str::to_string)
}

/// Verifies a tenant's whole stored log: every record's hash and its link to the one before,
/// then signatures. A valid signature on record k authenticates records 1..=k (each hash
/// commits to its predecessor), so by default every [`CHECKPOINT_EVERY`]th signature and the
/// last are checked, and a failing checkpoint is narrowed to the first bad record inside its
/// window. `full` checks every signature. Hashing and signature checks run on every core.
pub fn verify(tenant: &str, data: &[u8], ring: &KeyRing, full: bool) -> VerifyReport {
    verify_anchored(tenant, data, ring, full, true, &Anchors::default())
}

/// [`verify`], then the chain against `anchors`: each record's key must be pinned (when a pin
/// set is given), and each checkpoint must agree with the chain. `present` says whether the
/// trail exists at all, so that a deleted trail is told from an emptied one.
pub fn verify_anchored(
    tenant: &str,
    data: &[u8],
    ring: &KeyRing,
    full: bool,
    present: bool,
    anchors: &Anchors<'_>,
) -> VerifyReport {
    let lines: Vec<&[u8]> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect();
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = lines.len().div_ceil(workers).max(1);
    let checked: Vec<std::result::Result<Checked<'_>, AuditError>> = std::thread::scope(|s| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|l| check_line(tenant, l))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });

    let mut report = VerifyReport {
        tenant: tenant.to_string(),
        records: lines.len(),
        ok: true,
        head: None,
        first_break: None,
        keys: ring.len(),
        signatures_checked: 0,
        full,
        present,
        signing_keys: Vec::new(),
        witness: None,
    };
    // Links, in order: the first structural break ends the trustworthy prefix.
    let mut expected_seq = 1u64;
    let mut prev_hash = GENESIS;
    let mut structural: Option<(usize, AuditError)> = None;
    let mut key_uses: HashMap<&str, KeyUse> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for (i, c) in checked.iter().enumerate() {
        let c = match c {
            Err(problem) => {
                structural = Some((i, problem.clone()));
                break;
            }
            Ok(c) => c,
        };
        let problem = if let Some(p) = &c.problem {
            Some(p.clone())
        } else if c.seq != expected_seq {
            // The record that belongs here further on means records were moved, not deleted.
            let expected_at = checked[i + 1..]
                .iter()
                .position(|o| o.as_ref().is_ok_and(|o| o.seq == expected_seq))
                .map(|k| i + 1 + k + 1);
            Some(if c.seq > expected_seq && expected_at.is_none() {
                AuditError::Deleted {
                    expected: expected_seq,
                    found: c.seq,
                }
            } else {
                AuditError::Reordered {
                    expected: expected_seq,
                    found: c.seq,
                    expected_at,
                }
            })
        } else if c.prev != prev_hash {
            Some(AuditError::Unlinked)
        } else {
            None
        };
        if let Some(p) = problem {
            structural = Some((i, p));
            break;
        }
        match key_uses.get_mut(c.key) {
            Some(u) => u.records += 1,
            None => {
                key_uses.insert(
                    c.key,
                    KeyUse {
                        id: c.key.to_string(),
                        public: ring.keys.get(c.key).map(|k| hex::encode(k.as_bytes())),
                        first_seq: c.seq,
                        records: 1,
                        pinned: false,
                        trust: None,
                    },
                );
                order.push(c.key);
            }
        }
        prev_hash = c.hash;
        expected_seq = c.seq + 1;
    }
    let linked = structural.as_ref().map_or(checked.len(), |(i, _)| *i);

    // Signatures over the linked prefix.
    let sig_check = |i: usize| -> Option<AuditError> {
        let c = match &checked[i] {
            Ok(c) => c,
            Err(unreadable) => return Some(unreadable.clone()),
        };
        let Some(vk) = ring.keys.get(c.key) else {
            return Some(AuditError::UnknownKey {
                key: c.key.to_string(),
            });
        };
        let Some(sig) = B64
            .decode(c.sig)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
            .map(|b| Signature::from_bytes(&b))
        else {
            return Some(AuditError::MalformedSignature);
        };
        vk.verify_strict(&c.computed, &sig)
            .err()
            .map(|_| AuditError::BadSignature)
    };
    let picks: Vec<usize> = (0..linked)
        .filter(|i| full || (i + 1) % CHECKPOINT_EVERY == 0 || i + 1 == linked)
        .collect();
    report.signatures_checked = picks.len();
    let sig_chunk = picks.len().div_ceil(workers).max(1);
    let failed: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = picks
            .chunks(sig_chunk)
            .map(|part| {
                let checked = &checked;
                let sig_check = &sig_check;
                s.spawn(move || batch_failures(part, checked, ring, sig_check))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let first_sig_break = failed.into_iter().min().map(|f| {
        // Narrow a failing checkpoint to the first bad record in its window.
        let from = if full { f } else { f - f % CHECKPOINT_EVERY };
        let at = (from..=f).find(|i| sig_check(*i).is_some()).unwrap_or(f);
        (at, sig_check(at).unwrap_or(AuditError::BadSignature))
    });

    // A key this member did not pin: named at the first record it signed.
    let mut untrusted: Option<(usize, AuditError)> = None;
    for id in &order {
        let Some(u) = key_uses.get_mut(id) else {
            continue;
        };
        u.pinned = anchors
            .pinned
            .and_then(|p| p.get(u.id.as_str()))
            .is_some_and(|public| u.public.as_deref() == Some(public.as_str()));
        if anchors.pinned.is_some() && !u.pinned && untrusted.is_none() {
            untrusted = Some((
                (u.first_seq - 1) as usize,
                AuditError::UntrustedKey { key: u.id.clone() },
            ));
        }
    }
    report.signing_keys = order.iter().map(|id| key_uses[id].clone()).collect();

    let structural_break = structural.is_some();
    // Signatures are only checked before the structural break, so a signature break wins.
    let brk = match (first_sig_break, untrusted) {
        (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
    .or(structural);
    match brk {
        Some((i, problem)) => {
            report.ok = false;
            report.first_break = Some(Break {
                line: i + 1,
                seq: checked[i].as_ref().ok().map(|c| c.seq),
                event_id: event_id_of(lines[i]),
                what: problem.tamper(),
                problem: problem.to_string(),
            });
        }
        None => report.head = (!lines.is_empty()).then(|| prev_hash.to_string()),
    }

    if !anchors.checkpoints.is_empty() {
        let hashes: Vec<&str> = checked[..linked]
            .iter()
            .filter_map(|c| c.as_ref().ok().map(|c| c.hash))
            .collect();
        let last_seq = checked
            .iter()
            .rev()
            .find_map(|c| c.as_ref().ok().map(|c| c.seq))
            .unwrap_or(0);
        let name = |i: usize| lines.get(i).and_then(|l| event_id_of(l));
        let view = ChainView {
            hashes,
            records: lines.len(),
            last_seq,
            present,
            broken: structural_break,
            event_id: &name,
        };
        let (matched, problem) = witness::compare(anchors.checkpoints, &view);
        if problem.is_some() {
            report.ok = false;
        }
        report.witness = Some(Box::new(WitnessReport {
            checkpoints: anchors.checkpoints.len(),
            matched,
            newest: anchors.checkpoints.last().cloned(),
            problem,
            ..WitnessReport::default()
        }));
    }
    report
}

/// Batch-verifies the given records' signatures; on failure, returns which ones fail.
fn batch_failures(
    idx: &[usize],
    checked: &[std::result::Result<Checked<'_>, AuditError>],
    ring: &KeyRing,
    single: &(dyn Fn(usize) -> Option<AuditError> + Sync),
) -> Vec<usize> {
    let mut msgs = Vec::with_capacity(idx.len());
    let mut sigs = Vec::with_capacity(idx.len());
    let mut keys = Vec::with_capacity(idx.len());
    let mut failed = Vec::new();
    for &i in idx {
        let parsed = checked[i].as_ref().ok().and_then(|c| {
            let vk = ring.keys.get(c.key)?;
            let bytes = B64.decode(c.sig).ok()?;
            let sig = Signature::from_bytes(&<[u8; 64]>::try_from(bytes.as_slice()).ok()?);
            Some((c.computed, sig, *vk))
        });
        match parsed {
            Some((m, s, k)) => {
                msgs.push(m);
                sigs.push(s);
                keys.push(k);
            }
            None => failed.push(i),
        }
    }
    let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    if ed25519_dalek::verify_batch(&refs, &sigs, &keys).is_err() {
        failed.extend(idx.iter().copied().filter(|i| single(*i).is_some()));
    }
    failed
}
