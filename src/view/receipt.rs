//! The identity receipt as rows: the console's apply confirmation and `opsdeck apply` show the
//! same four lines (account, role, region, runner) in the same words.

use crate::pipeline::IdentityReceipt;

#[derive(Debug, Clone, PartialEq)]
pub struct ReceiptView {
    /// (label, value) rows: account, role, region, runner.
    pub rows: Vec<(&'static str, String)>,
    /// What could not be established, each with its reason.
    pub unknown: Vec<String>,
}

impl ReceiptView {
    pub fn of(r: &IdentityReceipt) -> ReceiptView {
        let account = match (&r.account_id, &r.account_alias) {
            (Some(id), Some(alias)) => format!("{id} ({alias})"),
            (Some(id), None) => format!("{id} (no alias)"),
            (None, _) => "UNKNOWN: AWS did not say (see below)".to_string(),
        };
        let role = match (&r.role, &r.configuration) {
            (Some(role), Some(config)) => format!("{role} (configuration {config})"),
            (Some(role), None) => role.clone(),
            (None, _) => "none assumed: the base credentials".to_string(),
        };
        let mut rows = vec![("account", account), ("role", role)];
        if let Some(caller) = &r.caller_arn {
            rows.push(("as", caller.clone()));
        }
        rows.push(("region", r.region.clone()));
        rows.push(("runner", r.runner.describe()));
        ReceiptView {
            rows,
            unknown: r.unknown.clone(),
        }
    }

    /// `account  123456789012 (prod-main)` lines, then what is unknown.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .rows
            .iter()
            .map(|(label, value)| format!("{label:<8} {value}"))
            .collect();
        out.extend(self.unknown.iter().map(|u| format!("unknown  {u}")));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Runner;

    fn receipt() -> IdentityReceipt {
        IdentityReceipt {
            plan_id: "p-test000001".into(),
            account_id: Some("123456789012".into()),
            account_alias: Some("acme-prod".into()),
            role: Some("arn:aws:iam::123456789012:role/opsdeck-deploy-acme".into()),
            configuration: Some("prod".into()),
            caller_arn: Some(
                "arn:aws:sts::123456789012:assumed-role/opsdeck-deploy-acme/opsdeck-olga".into(),
            ),
            region: "eu-west-1".into(),
            runner: Runner::InProcess {
                host: "bastion".into(),
                backend: "local".into(),
            },
            unknown: Vec::new(),
        }
    }

    #[test]
    fn four_facts_in_the_same_words_everywhere() {
        let v = ReceiptView::of(&receipt());
        assert_eq!(
            v.lines(),
            [
                "account  123456789012 (acme-prod)",
                "role     arn:aws:iam::123456789012:role/opsdeck-deploy-acme (configuration prod)",
                "as       arn:aws:sts::123456789012:assumed-role/opsdeck-deploy-acme/opsdeck-olga",
                "region   eu-west-1",
                "runner   this process on bastion (local store), with this session's credentials",
            ]
        );
    }

    #[test]
    fn what_aws_did_not_say_is_said_as_unknown() {
        let mut r = receipt();
        r.account_id = None;
        r.account_alias = None;
        r.caller_arn = None;
        r.role = None;
        r.unknown = vec!["account: STS GetCallerIdentity: connection refused".into()];
        let lines = ReceiptView::of(&r).lines();
        assert!(lines[0].starts_with("account  UNKNOWN"), "{lines:?}");
        assert_eq!(lines[1], "role     none assumed: the base credentials");
        assert_eq!(
            lines.last().unwrap(),
            "unknown  account: STS GetCallerIdentity: connection refused"
        );
    }
}
