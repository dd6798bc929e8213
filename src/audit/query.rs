//! The one way a person narrows the audit trail: the filter fields (`--by`, `--agent`, ... on the
//! command line; `by`, `agent`, ... in MCP) and the console's query text (`user:bob
//! status:failed since:1h payment`), with one time syntax and one comparison for both.

use jiff::Timestamp;

use super::AuditFilter;
use crate::error::{Error, Result};
use crate::time::Clock;

/// What the time fields accept, said in every error.
const TIME_FORMS: &str = "2026-11-24, 2026-11-24T10:00:00Z or a look-back like 15m, 24h, 7d";

/// A bound from a date, a time or a look-back (`24h` is 24 hours before now).
pub fn time_bound(field: &str, text: &str, clock: &dyn Clock) -> Result<Timestamp> {
    crate::time::parse_since(text, clock)
        .ok_or_else(|| Error::input(format!("{field} '{text}' is not a time: use {TIME_FORMS}")))
}

/// The fields of a filter as a person gives them, before the times are read.
#[derive(Debug, Clone, Default)]
pub struct FilterFields {
    pub user: Option<String>,
    pub agent: Option<String>,
    pub status: Option<String>,
    pub event: Option<String>,
    /// Plan id, request id or event id (a prefix).
    pub subject: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<usize>,
}

impl FilterFields {
    pub fn into_filter(self, clock: &dyn Clock) -> Result<AuditFilter> {
        let bound =
            |field: &str, t: Option<String>| t.map(|t| time_bound(field, &t, clock)).transpose();
        Ok(AuditFilter {
            since: bound("since", self.since)?,
            until: bound("until", self.until)?,
            user: self.user,
            agent: self.agent,
            status: self.status,
            event: self.event,
            subject: self.subject,
            limit: self.limit,
        })
    }
}

/// The console's query text: `key:value` fields and free words matched in the message.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub filter: AuditFilter,
    pub words: Vec<String>,
}

/// An event's fields as a filter compares them (full records and the console's light rows).
pub struct Fields<'a> {
    pub user: &'a str,
    pub agent: Option<&'a str>,
    pub status: &'a str,
    pub event: &'a str,
    pub plan_id: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub event_id: Option<&'a str>,
    pub timestamp: Timestamp,
    pub message: &'a str,
}

impl AuditFilter {
    /// Whether an event's fields pass the filter (fields compare case-insensitively; the
    /// subject is a prefix of the plan, request or event id; times are inclusive bounds).
    pub fn admits(&self, f: &Fields<'_>) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref()
                .is_none_or(|w| have.is_some_and(|h| h.eq_ignore_ascii_case(w)))
        };
        eq(&self.user, Some(f.user))
            && eq(&self.agent, f.agent)
            && eq(&self.status, Some(f.status))
            && eq(&self.event, Some(f.event))
            && self.subject.as_deref().is_none_or(|s| {
                [f.plan_id, f.request_id, f.event_id]
                    .into_iter()
                    .flatten()
                    .any(|id| id.starts_with(s))
            })
            && self.since.is_none_or(|s| f.timestamp >= s)
            && self.until.is_none_or(|u| f.timestamp <= u)
    }
}

impl AuditQuery {
    /// Reads `user:bob status:failed agent:infra event:approved plan:p-x since:1h until:...`
    /// and free words.
    pub fn parse(s: &str, clock: &dyn Clock) -> Result<AuditQuery> {
        let mut fields = FilterFields::default();
        let mut words = Vec::new();
        for tok in s.split_whitespace() {
            let Some((k, v)) = tok.split_once(':').filter(|(k, _)| !k.is_empty()) else {
                words.push(tok.to_lowercase());
                continue;
            };
            let v = Some(v.to_string());
            match k {
                "user" | "u" | "by" => fields.user = v,
                "agent" | "a" => fields.agent = v,
                "status" | "s" => fields.status = v,
                "event" | "e" => fields.event = v,
                "plan" | "id" => fields.subject = v,
                "since" => fields.since = v,
                "until" => fields.until = v,
                _ => {
                    return Err(Error::input(format!(
                        "unknown filter '{k}:' (use user: agent: status: event: plan: since: until:)"
                    )));
                }
            }
        }
        Ok(AuditQuery {
            filter: fields.into_filter(clock)?,
            words,
        })
    }

    pub fn matches(&self, f: &Fields<'_>) -> bool {
        self.filter.admits(f)
            && self.words.iter().all(|w| {
                f.message.to_lowercase().contains(w)
                    || f.user.to_lowercase().contains(w)
                    || f.event.contains(w.as_str())
                    || f.plan_id.is_some_and(|p| p.contains(w.as_str()))
            })
    }
}
