//! AWS Budgets: the account's budgets, what they have used, and their alerts (notifications and
//! whether each is in ALARM).

use serde::Serialize;
use serde_json::json;

use super::{BILLING_REGION, progress, usd};
use crate::agents::{AgentRequest, Report};
use crate::error::{Error, Result};
use crate::events::{Output, Sink, headings};

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BudgetRow {
    pub name: String,
    pub kind: String,
    pub period: String,
    pub limit: Option<f64>,
    pub actual: Option<f64>,
    pub forecast: Option<f64>,
    pub unit: String,
    pub alerts: Vec<Alert>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Alert {
    /// ACTUAL or FORECASTED
    pub kind: String,
    /// "> 80%" or "> $500.00"
    pub when: String,
    /// ALARM or OK
    pub state: String,
}

impl BudgetRow {
    pub(crate) fn used(&self) -> Option<f64> {
        match (self.actual, self.limit) {
            (Some(a), Some(l)) if l > 0.0 => Some(100.0 * a / l),
            _ => None,
        }
    }
}

pub fn report(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Report> {
    let text = req.text.to_lowercase();
    if ["create", "set ", "set a", "cap ", "add "]
        .iter()
        .any(|w| text.contains(w))
    {
        return Err(Error::Unavailable(
            "creating or changing budgets is not available yet: the cost agent reads budgets and their alerts (\"show all budgets and their status\"); create budgets in AWS Budgets, or in Terraform through the infra agent".into(),
        ));
    }
    progress(
        sink,
        "AWS Budgets: reading the account's budgets and alerts",
    );
    let conf = req.aws.config_blocking(BILLING_REGION)?;
    let rows = req.aws.block_on(read(conf))?.map_err(Error::Unavailable)?;

    let over: Vec<&BudgetRow> = rows
        .iter()
        .filter(|r| r.used().is_some_and(|u| u >= 100.0))
        .collect();
    let alarms: Vec<(&BudgetRow, &Alert)> = rows
        .iter()
        .flat_map(|r| r.alerts.iter().map(move |a| (r, a)))
        .filter(|(_, a)| a.state == "ALARM")
        .collect();
    let money = |x: Option<f64>| x.map(usd).unwrap_or_else(|| "-".into());
    let table = Output::Table {
        title: "budgets".into(),
        columns: headings(&[
            "BUDGET", "TYPE", "PERIOD", "LIMIT", "ACTUAL", "FORECAST", "USED", "ALERTS",
        ]),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    r.kind.to_lowercase(),
                    r.period.clone(),
                    money(r.limit),
                    money(r.actual),
                    money(r.forecast),
                    r.used().map(|u| format!("{u:.0}%")).unwrap_or_default(),
                    r.alerts
                        .iter()
                        .map(|a| format!("{} {} {}", a.kind.to_lowercase(), a.when, a.state))
                        .collect::<Vec<_>>()
                        .join("; "),
                ]
            })
            .collect(),
    };
    let mut outputs = vec![table];
    let used: Vec<(String, f64)> = rows
        .iter()
        .filter_map(|r| {
            r.used()
                .map(|u| (r.name.clone(), (u * 10.0).round() / 10.0))
        })
        .collect();
    if !used.is_empty() {
        outputs.push(Output::Series {
            title: "budget used".into(),
            unit: "%".into(),
            points: used,
        });
    }
    let summary = if rows.is_empty() {
        "no budgets in this account: create one in AWS Budgets to get alerts before spend runs over"
            .to_string()
    } else {
        let mut s = format!(
            "{} budget{}",
            rows.len(),
            if rows.len() == 1 { "" } else { "s" }
        );
        if over.is_empty() {
            s.push_str(", none over its limit");
        } else {
            s.push_str(&format!(
                ", {} over the limit: {}",
                over.len(),
                over.iter()
                    .map(|r| format!("{} ({:.0}%)", r.name, r.used().unwrap_or(0.0)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !alarms.is_empty() {
            s.push_str(&format!(
                "; {} alert{} in ALARM: {}",
                alarms.len(),
                if alarms.len() == 1 { "" } else { "s" },
                alarms
                    .iter()
                    .map(|(r, a)| format!("{} {} {}", r.name, a.kind.to_lowercase(), a.when))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        s
    };
    let mut notes = Vec::new();
    if req.tenant.budget.monthly_usd > 0.0 {
        notes.push(format!(
            "opsdeck's own budget for tenant {} is {}/month (plans are gated against it)",
            req.tenant.name,
            usd(req.tenant.budget.monthly_usd)
        ));
    }
    Ok(Report {
        summary,
        outputs,
        notes,
        region: None,
        data: json!({"budgets": rows}),
        files: Vec::new(),
    })
}

/// The account's budgets with their alerts (STS for the account id, then DescribeBudgets and
/// DescribeNotificationsForBudget, every page): the cost agent's `budget` answer and the cost
/// report.
pub(crate) async fn read(
    conf: aws_config::SdkConfig,
) -> std::result::Result<Vec<BudgetRow>, String> {
    let sts = aws_sdk_sts::Client::new(&conf);
    let budgets = aws_sdk_budgets::Client::new(&conf);
    let account = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| crate::aws::describe_error("sts", "GetCallerIdentity", &e))?
        .account()
        .unwrap_or_default()
        .to_string();
    let mut rows = Vec::new();
    let mut pages = budgets
        .describe_budgets()
        .account_id(&account)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| crate::aws::describe_error("budgets", "DescribeBudgets", &e))?;
        for b in page.budgets() {
            let amount = |s: Option<&aws_sdk_budgets::types::Spend>| {
                s.and_then(|s| s.amount().parse::<f64>().ok())
            };
            let spend = b.calculated_spend();
            rows.push(BudgetRow {
                name: b.budget_name().to_string(),
                kind: b.budget_type().as_str().to_string(),
                period: b.time_unit().as_str().to_lowercase(),
                limit: amount(b.budget_limit()),
                actual: amount(spend.and_then(|s| s.actual_spend())),
                forecast: amount(spend.and_then(|s| s.forecasted_spend())),
                unit: b
                    .budget_limit()
                    .map(|s| s.unit().to_string())
                    .unwrap_or_else(|| "USD".into()),
                alerts: Vec::new(),
            });
        }
    }
    for row in &mut rows {
        let mut pages = budgets
            .describe_notifications_for_budget()
            .account_id(&account)
            .budget_name(&row.name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                crate::aws::describe_error("budgets", "DescribeNotificationsForBudget", &e)
            })?;
            for n in page.notifications() {
                let percent = n
                    .threshold_type()
                    .is_none_or(|t| t.as_str() == "PERCENTAGE");
                let op = match n.comparison_operator().as_str() {
                    "GREATER_THAN" => ">",
                    "LESS_THAN" => "<",
                    "EQUAL_TO" => "=",
                    other => other,
                };
                row.alerts.push(Alert {
                    kind: n.notification_type().as_str().to_string(),
                    when: if percent {
                        format!("{op} {}%", n.threshold())
                    } else {
                        format!("{op} {}", usd(n.threshold()))
                    },
                    state: n
                        .notification_state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "OK".into()),
                });
            }
        }
    }
    Ok(rows)
}
