//! The runner's claims and run logs on the shared backend, both in the locks table:
//!
//! ```text
//! pk                      sk                 what
//! <t>                     run#<plan id>      the plan's claim: owner (claim id), heartbeat_at
//! <t>#runlog#<plan id>    <seq, 20 digits>   a chunk of the run's log, keyed by its last seq;
//!                                            expires_at (TTL) after 30 days: the whole log is
//!                                            also kept as the run's artifact in audit-logs
//! ```

use super::fault::Fault;
use super::layout::Table;
use super::remote::{self, Cond, key, n, s};
use super::{AwsStore, from_item, to_json};
use crate::error::Result;
use crate::store::runqueue::{RunClaim, RunLogEntry};
use crate::store::{StoreError, valid_id};

/// How long a run's live log stays in the locks table (DynamoDB TTL).
const RUN_LOG_TTL_SECS: i64 = 30 * 24 * 3600;

fn claim_sk(plan_id: &str) -> String {
    format!("run#{plan_id}")
}

fn log_pk(tenant: &str, plan_id: &str) -> String {
    format!("{tenant}#runlog#{plan_id}")
}

fn seq_sk(seq: u64) -> String {
    format!("{seq:020}")
}

fn check_id(plan_id: &str) -> Result<()> {
    if valid_id(plan_id) {
        Ok(())
    } else {
        Err(StoreError::InvalidName {
            what: "plan id",
            name: plan_id.to_string(),
        }
        .into())
    }
}

impl AwsStore {
    fn put_claim(&self, claim: &RunClaim, cond: Cond, what: &str) -> Result<bool> {
        self.scope(&claim.tenant)?;
        check_id(&claim.plan_id)?;
        let json = to_json(claim).map_err(Fault::into_error)?;
        let mut item = key(&claim.tenant, claim_sk(&claim.plan_id));
        item.insert("owner".into(), s(&claim.claim_id));
        item.insert("rec".into(), s(json));
        item.insert("heartbeat_at".into(), s(claim.heartbeat_at.to_string()));
        match self.put(Table::Locks, item, Some(cond)) {
            Ok(()) => Ok(true),
            Err(Fault::Condition(_)) => Ok(false),
            Err(f) => self.write(
                &format!("{what} the claim on plan {}", claim.plan_id),
                Err(f),
            ),
        }
    }

    pub(super) fn claim_run(&self, claim: &RunClaim) -> Result<Option<RunClaim>> {
        // A holder that lets go between our refused put and our read: try again.
        for _ in 0..3 {
            let cond = Cond {
                expr: "attribute_not_exists(pk)".into(),
                ..Cond::default()
            };
            if self.put_claim(claim, cond, "take")? {
                return Ok(None);
            }
            if let Some(holder) = self.read_claim(&claim.tenant, &claim.plan_id)? {
                return Ok(Some(holder));
            }
        }
        Err(crate::error::Error::refused(format!(
            "plan {} is being claimed and released by others as we try; try again",
            claim.plan_id
        )))
    }

    pub(super) fn read_claim(&self, tenant: &str, plan_id: &str) -> Result<Option<RunClaim>> {
        self.scope(tenant)?;
        check_id(plan_id)?;
        let item = self.write(
            "read a run claim",
            self.get(Table::Locks, tenant.into(), claim_sk(plan_id)),
        )?;
        Ok(item
            .map(|i| from_item::<RunClaim>(&i, "run claim").map_err(Fault::into_error))
            .transpose()?)
    }

    pub(super) fn claims(&self, tenant: &str) -> Result<Vec<RunClaim>> {
        self.scope(tenant)?;
        let items = self.write(
            "list the run claims",
            self.query(Table::Locks, tenant.to_string(), Some("run#")),
        )?;
        Ok(items
            .iter()
            .map(|i| from_item::<RunClaim>(i, "run claim").map_err(Fault::into_error))
            .collect::<std::result::Result<Vec<_>, _>>()?)
    }

    pub(super) fn renew_claim(&self, claim: &RunClaim) -> Result<bool> {
        let cond = Cond {
            expr: "#o = :me".into(),
            names: vec![("#o".into(), "owner".into())],
            values: vec![(":me".into(), s(&claim.claim_id))],
        };
        self.put_claim(claim, cond, "renew")
    }

    pub(super) fn take_over_claim(&self, stale: &RunClaim, claim: &RunClaim) -> Result<bool> {
        // Still the stale holder, not renewed since it was judged stale.
        let cond = Cond {
            expr: "#o = :old AND #h = :hb".into(),
            names: vec![
                ("#o".into(), "owner".into()),
                ("#h".into(), "heartbeat_at".into()),
            ],
            values: vec![
                (":old".into(), s(&stale.claim_id)),
                (":hb".into(), s(stale.heartbeat_at.to_string())),
            ],
        };
        self.put_claim(claim, cond, "take over")
    }

    pub(super) fn release_claim(
        &self,
        tenant: &str,
        plan_id: &str,
        claim_id: &str,
    ) -> Result<bool> {
        check_id(plan_id)?;
        self.unlock(tenant, &claim_sk(plan_id), claim_id)
    }

    pub(super) fn write_run_log(
        &self,
        tenant: &str,
        plan_id: &str,
        entries: &[RunLogEntry],
    ) -> Result<()> {
        self.scope(tenant)?;
        check_id(plan_id)?;
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(());
        };
        // One item per chunk, keyed by its last seq: a follower asking for what came after
        // seq N reads the chunks keyed above N. A chunk overlapping one already written is
        // refused by the same rule the local store keeps.
        if let Some(prev) = self
            .read_run_log_items(tenant, plan_id, first.seq.saturating_sub(1))?
            .first()
        {
            return Err(crate::error::Error::refused(format!(
                "run log of plan {plan_id}: entries up to {} are already written",
                prev.seq
            )));
        }
        let json = serde_json::to_string(entries)
            .map_err(|e| StoreError::io("encoding run log", std::io::Error::other(e)))?;
        let mut item = key(log_pk(tenant, plan_id), seq_sk(last.seq));
        item.insert("entries".into(), s(json));
        item.insert(
            "expires_at".into(),
            n(jiff::Timestamp::now().as_second() + RUN_LOG_TTL_SECS),
        );
        match self.put(Table::Locks, item, Cond::absent()) {
            Ok(()) => Ok(()),
            Err(Fault::Condition(_)) => Err(crate::error::Error::refused(format!(
                "run log of plan {plan_id}: entry {} is already written",
                last.seq
            ))),
            Err(f) => self.write(&format!("write the run log of plan {plan_id}"), Err(f)),
        }
    }

    /// Entries with `seq > after`, from the chunks keyed above `after`.
    fn read_run_log_items(
        &self,
        tenant: &str,
        plan_id: &str,
        after: u64,
    ) -> Result<Vec<RunLogEntry>> {
        let table = self.table(Table::Locks);
        let pk = log_pk(tenant, plan_id);
        let items = self.write(
            "read a run log",
            self.call(move |c| remote::query_after(c, table, pk, seq_sk(after))),
        )?;
        let mut out = Vec::new();
        for i in &items {
            let text = remote::get_s(i, "entries").unwrap_or("[]");
            let chunk: Vec<RunLogEntry> =
                serde_json::from_str(text).map_err(|e| StoreError::Backend {
                    detail: format!("a run log chunk of plan {plan_id} cannot be read: {e}"),
                })?;
            out.extend(chunk.into_iter().filter(|e| e.seq > after));
        }
        Ok(out)
    }

    pub(super) fn read_run_log(
        &self,
        tenant: &str,
        plan_id: &str,
        after: u64,
    ) -> Result<Vec<RunLogEntry>> {
        self.scope(tenant)?;
        check_id(plan_id)?;
        self.read_run_log_items(tenant, plan_id, after)
    }
}
