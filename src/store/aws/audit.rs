//! The audit chain on DynamoDB: one valid hash chain per tenant under any number of writers on
//! any number of machines.
//!
//! An append reads the chain head, seals its events after it and writes, in one transaction,
//! each record (`attribute_not_exists`), one marker per event id (`attribute_not_exists`: an
//! event is never stored twice) and the new head (conditioned on the head it read). A writer
//! that lost the race re-reads the head and seals again; a writer whose events are already
//! there (a retry after a reply was lost, a journal flushed twice) gets the stored records back.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::fault::Fault;
use super::layout::{HEAD_SK, Table, event_pk, head_pk, seq_key};
use super::remote::{self, Cond, Item, get_n, get_s, key, n, s};
use super::{AwsStore, backoff};
use crate::audit::chain::{self, GENESIS, KeyRing};
use crate::audit::{Anchors, AuditEvent, AuditRecord, Signer, Tamper, VerifyReport};
use crate::error::Result;
use crate::store::{LineReader, StoreError};

/// Two items per event plus the head: TransactWriteItems takes at most 100.
pub const EVENTS_PER_TRANSACTION: usize = 49;
/// Records per page when streaming the trail.
pub const PAGE: i32 = 500;
/// A sealed line bigger than this does not fit a DynamoDB item with its attributes.
const MAX_LINE: usize = 350 * 1024;
/// How long an append keeps trying against other writers before giving up.
const APPEND_PATIENCE: Duration = Duration::from_secs(120);

impl AwsStore {
    fn appender(&self, tenant: &str) -> std::sync::Arc<std::sync::Mutex<()>> {
        self.appenders
            .lock()
            .unwrap()
            .entry(tenant.to_string())
            .or_default()
            .clone()
    }

    /// The head as stored: (seq, hash) of the last record, or (0, genesis).
    pub(super) fn read_head(&self, tenant: &str) -> std::result::Result<(u64, String), Fault> {
        let item = self.get(Table::AuditRuns, head_pk(tenant), HEAD_SK.to_string())?;
        Ok(match item {
            Some(i) => (
                get_n(&i, "seq").unwrap_or(0),
                get_s(&i, "hash").unwrap_or(GENESIS).to_string(),
            ),
            None => (0, GENESIS.to_string()),
        })
    }

    /// Makes this machine's public key available to every verifier of the tenant's chain.
    fn publish_key(&self, tenant: &str, signer: &Signer) -> std::result::Result<(), Fault> {
        let id = (tenant.to_string(), signer.key_id().to_string());
        if self.published_keys.lock().unwrap().contains(&id) {
            return Ok(());
        }
        let mut item = key(tenant, format!("key#{}", signer.key_id()));
        item.insert(
            "public".into(),
            s(hex::encode(signer.verifying_key().as_bytes())),
        );
        item.insert("added_at".into(), s(super::now_iso()));
        match self.put(Table::Tenants, item, Cond::absent()) {
            Ok(()) | Err(Fault::Condition(_)) => {}
            Err(f) => return Err(f),
        }
        self.published_keys.lock().unwrap().insert(id);
        Ok(())
    }

    /// Public keys (hex) published for the tenant.
    pub fn published_keys(&self, tenant: &str) -> Result<Vec<String>> {
        self.scope(tenant)?;
        let items = self
            .query(Table::Tenants, tenant.to_string(), Some("key#"))
            .map_err(Fault::into_error)?;
        Ok(items
            .iter()
            .filter_map(|i| get_s(i, "public").map(str::to_string))
            .collect())
    }

    /// Publishes public keys (hex) for the tenant (migration brings the local ones along).
    pub fn publish_public_keys(&self, tenant: &str, keys: &[String]) -> Result<()> {
        self.scope(tenant)?;
        for hex_key in keys {
            let mut ring = KeyRing::default();
            let id = ring.add_hex(hex_key)?;
            let mut item = key(tenant, format!("key#{id}"));
            item.insert("public".into(), s(hex_key.clone()));
            item.insert("added_at".into(), s(super::now_iso()));
            match self.put(Table::Tenants, item, Cond::absent()) {
                Ok(()) | Err(Fault::Condition(_)) => {}
                Err(f) => return Err(f.into_error().into()),
            }
        }
        Ok(())
    }

    /// Appends events in order; returns their records and how many were already stored.
    pub(super) fn append_remote(
        &self,
        tenant: &str,
        events: &[AuditEvent],
        signer: &Signer,
    ) -> std::result::Result<(Vec<AuditRecord>, usize), Fault> {
        self.publish_key(tenant, signer)?;
        let lock = self.appender(tenant);
        let _one_writer_here = lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut records = Vec::with_capacity(events.len());
        let mut already = 0;
        for chunk in events.chunks(EVENTS_PER_TRANSACTION) {
            let (r, d) = self.append_chunk(tenant, chunk, signer)?;
            records.extend(r);
            already += d;
        }
        Ok((records, already))
    }

    fn append_chunk(
        &self,
        tenant: &str,
        chunk: &[AuditEvent],
        signer: &Signer,
    ) -> std::result::Result<(Vec<AuditRecord>, usize), Fault> {
        let mut stored: HashMap<String, AuditRecord> = HashMap::new();
        let mut pending: Vec<&AuditEvent> = chunk.iter().collect();
        let cached = self.heads.lock().unwrap().get(tenant).cloned();
        let mut head = match cached {
            Some(h) => h,
            None => self.read_head(tenant)?,
        };
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut sealed: Vec<AuditRecord> = Vec::new();
        while !pending.is_empty() {
            let (mut seq, mut prev) = head.clone();
            sealed.clear();
            // The head goes first: a writer that lost the race learns it from the head's
            // condition even where only the first failing condition is reported.
            let mut items = vec![remote::tx_put(
                &self.table(Table::AuditRuns),
                key(head_pk(tenant), HEAD_SK),
                None,
            )?];
            for event in &pending {
                seq += 1;
                let (rec, line) = signer
                    .seal(tenant, seq, &prev, event)
                    .map_err(|e| Fault::Fatal(e.to_string()))?;
                let line = line.trim_end_matches('\n');
                if line.len() > MAX_LINE {
                    return Err(Fault::Fatal(format!(
                        "audit event {} is {} KiB sealed, more than the {} KiB a record may hold; shorten its message or metadata",
                        event.event_id,
                        line.len() / 1024,
                        MAX_LINE / 1024
                    )));
                }
                items.push(remote::tx_put(
                    &self.table(Table::AuditRuns),
                    record_item(tenant, &rec, line),
                    Cond::absent(),
                )?);
                let mut marker = key(event_pk(tenant), &event.event_id);
                marker.insert("seq".into(), n(seq));
                items.push(remote::tx_put(
                    &self.table(Table::AuditRuns),
                    marker,
                    Cond::absent(),
                )?);
                prev = rec.hash.clone();
                sealed.push(rec);
            }
            let mut head_item = key(head_pk(tenant), HEAD_SK);
            head_item.insert("seq".into(), n(seq));
            head_item.insert("hash".into(), s(prev.clone()));
            head_item.insert("updated_at".into(), s(super::now_iso()));
            let head_cond = if head.0 == 0 {
                Cond::absent()
            } else {
                Some(Cond {
                    expr: "#s = :old".into(),
                    names: vec![("#s".into(), "seq".into())],
                    values: vec![(":old".into(), n(head.0))],
                })
            };
            items[0] = remote::tx_put_returning(
                &self.table(Table::AuditRuns),
                head_item,
                head_cond,
                true,
            )?;
            match self.call(move |c| remote::transact(c, items)) {
                Ok(()) => {
                    head = (seq, prev);
                    self.heads
                        .lock()
                        .unwrap()
                        .insert(tenant.to_string(), head.clone());
                    break;
                }
                Err(Fault::Cancelled {
                    reasons,
                    items: returned,
                    message,
                }) => {
                    let failed = |i: usize| {
                        reasons
                            .get(i)
                            .is_some_and(|r| r == "ConditionalCheckFailed")
                    };
                    // Items: head, then record and marker for each event.
                    let head_failed = failed(0);
                    let record_failed = (0..pending.len()).any(|k| failed(1 + 2 * k));
                    let marker_failed = (0..pending.len()).any(|k| failed(2 + 2 * k));
                    let conflict = reasons.iter().any(|r| r == "TransactionConflict");
                    if marker_failed {
                        // Some of these events are stored already: take their records as they
                        // are and seal only the rest.
                        for rec in self.stored_events(tenant, &pending)? {
                            stored.insert(rec.event.event_id.clone(), rec);
                        }
                        pending.retain(|e| !stored.contains_key(&e.event_id));
                    } else if record_failed && !head_failed && !conflict {
                        return Err(Fault::Fatal(format!(
                            "the audit trail of tenant {tenant} has records beyond its head (seq {}); run `opsdeck audit verify`",
                            head.0
                        )));
                    } else if !head_failed && !conflict {
                        return Err(Fault::Fatal(message));
                    }
                    // The head that won comes back with the cancellation; else read it.
                    let winner =
                        returned.first().cloned().flatten().and_then(|i| {
                            Some((get_n(&i, "seq")?, get_s(&i, "hash")?.to_string()))
                        });
                    head = match winner {
                        Some(h) if head_failed && !marker_failed => h,
                        _ => self.read_head(tenant)?,
                    };
                    attempt += 1;
                    if started.elapsed() > APPEND_PATIENCE {
                        return Err(Fault::Transient(format!(
                            "the audit trail of tenant {tenant} stayed busy for {}s ({attempt} attempts)",
                            APPEND_PATIENCE.as_secs()
                        )));
                    }
                    if !marker_failed {
                        backoff(attempt);
                    }
                }
                Err(f) => {
                    // The head may have moved, or this very write may have landed: start over
                    // from what is stored next time.
                    self.heads.lock().unwrap().remove(tenant);
                    return Err(f);
                }
            }
        }
        let mut fresh = sealed.into_iter();
        let mut out = Vec::with_capacity(chunk.len());
        let mut dup = 0;
        for e in chunk {
            match stored.remove(&e.event_id) {
                Some(r) => {
                    dup += 1;
                    out.push(r);
                }
                None => match fresh.next() {
                    Some(r) => out.push(r),
                    None => return Err(Fault::Fatal("audit append lost track of a record".into())),
                },
            }
        }
        Ok((out, dup))
    }

    /// The stored records of those of `events` that are already on the chain. A stored event
    /// with the same id but different content is a collision, never silently merged.
    fn stored_events(
        &self,
        tenant: &str,
        events: &[&AuditEvent],
    ) -> std::result::Result<Vec<AuditRecord>, Fault> {
        let table = self.table(Table::AuditRuns);
        let keys: Vec<Item> = events
            .iter()
            .map(|e| key(event_pk(tenant), &e.event_id))
            .collect();
        let t = table.clone();
        let markers = self.call(move |c| remote::batch_get(c, t, keys))?;
        let seqs: Vec<u64> = markers.iter().filter_map(|m| get_n(m, "seq")).collect();
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Item> = seqs.iter().map(|q| key(tenant, seq_key(*q))).collect();
        let items = self.call(move |c| remote::batch_get(c, table, keys))?;
        let mut out = Vec::new();
        for i in &items {
            let rec = parse_item(i)?;
            let ours = events.iter().find(|e| e.event_id == rec.event.event_id);
            if let Some(ours) = ours
                && **ours != rec.event
            {
                return Err(Fault::Fatal(format!(
                    "event id {} is already used by a different audit event",
                    rec.event.event_id
                )));
            }
            out.push(rec);
        }
        Ok(out)
    }

    /// Streams the tenant's records oldest first, a page at a time.
    pub(super) fn scan_audit_remote(
        &self,
        tenant: &str,
        f: &mut dyn FnMut(AuditRecord) -> bool,
    ) -> Result<()> {
        self.scan_lines_remote(tenant, &mut |line| {
            let r = chain::parse_line(line)?;
            Ok((r.seq, f(r)))
        })
    }

    /// The tenant's records after `seq`, oldest first (see [`Self::scan_lines_after_remote`]).
    pub(super) fn scan_audit_after_remote(
        &self,
        tenant: &str,
        seq: u64,
        f: &mut dyn FnMut(AuditRecord) -> bool,
    ) -> Result<()> {
        self.scan_lines_after_remote(tenant, seq, &mut |line| {
            let r = chain::parse_line(line)?;
            Ok((r.seq, f(r)))
        })
    }

    /// Streams the tenant's stored lines oldest first, a page at a time, each to `f`.
    /// Unreachable before anything was read, it reads the trail as this machine last read it.
    pub(super) fn scan_lines_remote(&self, tenant: &str, f: &mut LineReader<'_>) -> Result<()> {
        let mut start: Option<Item> = None;
        let mut lines: Vec<u8> = Vec::new();
        let mut first = true;
        loop {
            let (table, pk, st) = (self.table(Table::AuditRuns), tenant.to_string(), start);
            let page = self.call(move |c| remote::query_page(c, table, pk, None, st, Some(PAGE)));
            let (items, next) = match page {
                Ok(p) => p,
                Err(fault) if fault.is_transient() && first => {
                    let Some(data) = self.cache.audit(tenant) else {
                        return Err(StoreError::NoLocalCopy {
                            what: format!("the audit trail of tenant {tenant}"),
                            reason: fault.message().to_string(),
                        }
                        .into());
                    };
                    for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                        let (_, go_on) = f(line).map_err(|d| StoreError::Corrupt {
                            path: "local audit cache".into(),
                            detail: d.to_string(),
                        })?;
                        if !go_on {
                            break;
                        }
                    }
                    return Ok(());
                }
                Err(fault) => return Err(fault.into_error().into()),
            };
            first = false;
            for item in &items {
                let Some(line) = get_s(item, "line") else {
                    continue;
                };
                let (_, go_on) = f(line.as_bytes()).map_err(|d| self.corrupt_item(item, d))?;
                lines.extend_from_slice(line.as_bytes());
                lines.push(b'\n');
                if !go_on {
                    return Ok(());
                }
            }
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        self.cache.put_audit(tenant, &lines);
        Ok(())
    }

    /// The tenant's stored lines after `seq`, oldest first, a page at a time: a key condition
    /// on the sort key, so the records before it are never read. Unreachable, it falls back to
    /// the trail as this machine last read it (like [`Self::scan_lines_remote`]).
    pub(super) fn scan_lines_after_remote(
        &self,
        tenant: &str,
        seq: u64,
        f: &mut LineReader<'_>,
    ) -> Result<()> {
        let mut start: Option<Item> = None;
        let mut first = true;
        loop {
            let (table, pk, st) = (self.table(Table::AuditRuns), tenant.to_string(), start);
            let after = remote::SortKey::After(seq_key(seq));
            let page =
                self.call(move |c| remote::query_page_where(c, table, pk, after, st, Some(PAGE)));
            let (items, next) = match page {
                Ok(p) => p,
                Err(fault) if fault.is_transient() && first => {
                    return self.scan_lines_remote(tenant, &mut |line| {
                        let at = chain::line_seq(line)?;
                        if at <= seq {
                            return Ok((at, true));
                        }
                        f(line)
                    });
                }
                Err(fault) => return Err(fault.into_error().into()),
            };
            first = false;
            for item in &items {
                let Some(line) = get_s(item, "line") else {
                    continue;
                };
                let (_, go_on) = f(line.as_bytes()).map_err(|d| self.corrupt_item(item, d))?;
                if !go_on {
                    return Ok(());
                }
            }
            match next {
                Some(k) => start = Some(k),
                None => return Ok(()),
            }
        }
    }

    /// An item of the audit partition whose line cannot be read.
    fn corrupt_item(&self, item: &Item, detail: crate::audit::AuditError) -> StoreError {
        StoreError::Corrupt {
            path: format!("dynamodb:{}", self.table(Table::AuditRuns)).into(),
            detail: format!("record {}: {detail}", get_s(item, "sk").unwrap_or("?")),
        }
    }

    /// Every stored line, oldest first.
    pub fn audit_lines(&self, tenant: &str) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let (table, pk, st) = (self.table(Table::AuditRuns), tenant.to_string(), start);
            let (items, next) = self
                .call(move |c| remote::query_page(c, table, pk, None, st, Some(1000)))
                .map_err(|f| {
                    if f.is_transient() {
                        StoreError::CannotRead {
                            what: format!("the audit trail of tenant {tenant}"),
                            reason: f.message().to_string(),
                        }
                    } else {
                        f.into_error()
                    }
                })?;
            for item in &items {
                if let Some(line) = get_s(item, "line") {
                    data.extend_from_slice(line.as_bytes());
                    data.push(b'\n');
                }
            }
            match next {
                Some(k) => start = Some(k),
                None => return Ok(data),
            }
        }
    }

    /// Verifies the stored chain with the keys published for the tenant (and this machine's),
    /// then that the head agrees with the last record: records cut off the end are found too.
    pub(super) fn verify_remote(
        &self,
        tenant: &str,
        full: bool,
        anchors: &Anchors<'_>,
    ) -> Result<VerifyReport> {
        let data = self.audit_lines(tenant)?;
        let mut ring = KeyRing::load(&self.keys_dir)?;
        for k in self.published_keys(tenant)? {
            if let Err(e) = ring.add_hex(&k) {
                tracing::warn!(tenant, error = %e, "ignoring an unreadable published key");
            }
        }
        let head_item = self
            .get(Table::AuditRuns, head_pk(tenant), HEAD_SK.to_string())
            .map_err(Fault::into_error)?;
        let head = match &head_item {
            Some(i) => (
                get_n(i, "seq").unwrap_or(0),
                get_s(i, "hash").unwrap_or(GENESIS).to_string(),
            ),
            None => (0, GENESIS.to_string()),
        };
        let present = head_item.is_some() || !data.is_empty();
        let mut report = chain::verify_anchored(tenant, &data, &ring, full, present, anchors);
        if report.first_break.is_none() {
            let last_seq = report.records as u64;
            let last_hash = report.head.clone().unwrap_or_else(|| GENESIS.to_string());
            if head.0 != last_seq || head.1 != last_hash {
                report.ok = false;
                report.first_break = Some(chain::Break {
                    line: report.records + 1,
                    seq: Some(last_seq + 1),
                    event_id: None,
                    what: Some(if last_seq == 0 {
                        Tamper::Emptied
                    } else if head.0 > last_seq {
                        Tamper::Truncated
                    } else {
                        Tamper::Unlinked
                    }),
                    problem: if last_seq == 0 {
                        format!(
                            "emptied: the chain head says {} records but none are stored",
                            head.0
                        )
                    } else if head.0 > last_seq {
                        format!(
                            "truncated: the chain head says {} records but {} are stored: record(s) {}..{} were deleted from the end",
                            head.0,
                            last_seq,
                            last_seq + 1,
                            head.0
                        )
                    } else {
                        format!(
                            "the chain head (record {}, hash {}) does not match the last record (record {last_seq})",
                            head.0,
                            &head.1[..12.min(head.1.len())]
                        )
                    },
                });
                report.head = None;
            }
        }
        Ok(report)
    }

    /// Copies sealed records (exact lines, from another store) onto the tenant's chain: each
    /// must continue it (seq and prev). Records already there with the same hash are skipped,
    /// so an interrupted import can run again. Returns how many were written.
    pub fn import_audit(&self, tenant: &str, lines: &[&[u8]]) -> Result<usize> {
        self.scope(tenant)?;
        let lock = self.appender(tenant);
        let _g = lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut head = self.read_head(tenant).map_err(Fault::into_error)?;
        let mut written = 0;
        let mut batch: Vec<(AuditRecord, String)> = Vec::new();
        let flush = |batch: &mut Vec<(AuditRecord, String)>,
                     head: &mut (u64, String)|
         -> Result<()> {
            if batch.is_empty() {
                return Ok(());
            }
            let table = self.table(Table::AuditRuns);
            let mut items = Vec::new();
            for (rec, line) in batch.iter() {
                items.push(
                    remote::tx_put(&table, record_item(tenant, rec, line), Cond::absent())
                        .map_err(Fault::into_error)?,
                );
                let mut marker = key(event_pk(tenant), &rec.event.event_id);
                marker.insert("seq".into(), n(rec.seq));
                items.push(
                    remote::tx_put(&table, marker, Cond::absent()).map_err(Fault::into_error)?,
                );
            }
            let (last, _) = batch.last().cloned().unwrap_or_else(|| unreachable!());
            let mut head_item = key(head_pk(tenant), HEAD_SK);
            head_item.insert("seq".into(), n(last.seq));
            head_item.insert("hash".into(), s(&last.hash));
            head_item.insert("updated_at".into(), s(super::now_iso()));
            let cond = if head.0 == 0 {
                Cond::absent()
            } else {
                Some(Cond {
                    expr: "#s = :old".into(),
                    names: vec![("#s".into(), "seq".into())],
                    values: vec![(":old".into(), n(head.0))],
                })
            };
            items.push(remote::tx_put(&table, head_item, cond).map_err(Fault::into_error)?);
            self.call(move |c| remote::transact(c, items))
                .map_err(|f| match f {
                    Fault::Cancelled { .. } => StoreError::ImportRaced {
                        tenant: tenant.to_string(),
                    },
                    f => f.into_error(),
                })?;
            *head = (last.seq, last.hash.clone());
            batch.clear();
            Ok(())
        };
        for raw in lines {
            let rec = chain::parse_line(raw).map_err(|d| StoreError::ImportUnreadable {
                detail: d.to_string(),
            })?;
            if rec.seq <= head.0 {
                // Already there: it must be the very same record.
                let item = self
                    .get(Table::AuditRuns, tenant.to_string(), seq_key(rec.seq))
                    .map_err(Fault::into_error)?;
                let same = item
                    .as_ref()
                    .and_then(|i| get_s(i, "hash"))
                    .is_some_and(|h| h == rec.hash);
                if !same {
                    return Err(StoreError::ImportDiffers {
                        tenant: tenant.to_string(),
                        seq: rec.seq,
                    }
                    .into());
                }
                continue;
            }
            let expect_prev = batch
                .last()
                .map(|(r, _)| r.hash.clone())
                .unwrap_or_else(|| head.1.clone());
            let expect_seq = batch.last().map(|(r, _)| r.seq).unwrap_or(head.0) + 1;
            if rec.seq != expect_seq || rec.prev != expect_prev {
                return Err(StoreError::ImportGap {
                    tenant: tenant.to_string(),
                    seq: rec.seq,
                    expected: expect_seq,
                    after: expect_prev[..12].to_string(),
                }
                .into());
            }
            let line = String::from_utf8_lossy(raw).trim_end().to_string();
            batch.push((rec, line));
            written += 1;
            if batch.len() == EVENTS_PER_TRANSACTION {
                flush(&mut batch, &mut head)?;
            }
        }
        flush(&mut batch, &mut head)?;
        self.heads.lock().unwrap().remove(tenant);
        Ok(written)
    }
}

/// A record item: the exact sealed line (what the hash covers) plus fields to look it up by.
fn record_item(tenant: &str, rec: &AuditRecord, line: &str) -> Item {
    let e = &rec.event;
    let mut item = key(tenant, seq_key(rec.seq));
    item.insert("seq".into(), n(rec.seq));
    item.insert("line".into(), s(line));
    item.insert("hash".into(), s(&rec.hash));
    item.insert("event_id".into(), s(&e.event_id));
    item.insert("request_id".into(), s(&e.request_id));
    item.insert("ts".into(), s(e.timestamp.to_string()));
    item.insert("kind".into(), s(e.event.as_str()));
    item.insert("user".into(), s(&e.user_id));
    if let Some(p) = &e.plan_id {
        item.insert("plan_id".into(), s(p));
    }
    item
}

fn parse_item(item: &Item) -> std::result::Result<AuditRecord, Fault> {
    let line =
        get_s(item, "line").ok_or_else(|| Fault::Fatal("an audit record has no line".into()))?;
    chain::parse_line(line.as_bytes()).map_err(|d| Fault::Fatal(format!("an audit record is {d}")))
}
