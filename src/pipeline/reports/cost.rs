//! The cost report: reads Cost Explorer (daily spend since the first of last month, this month
//! by service and by region, the forecast to month end), AWS Budgets and the cost agent's
//! savings checks in the tenant's default region, through the cost agent's own SDK code. A
//! source that does not answer becomes a note of the report.

use aws_sdk_costexplorer::types::{DateInterval, GroupDefinition, GroupDefinitionType};
use jiff::civil::Date;

use super::super::Reports;
use super::report_data;
use crate::agents::cost::explorer::window::{Grain, Window};
use crate::agents::cost::explorer::{cost_forecast, forecast_totals, spend};
use crate::agents::cost::{BILLING_REGION, budgets, optimize};
use crate::error::Result;
use crate::reports::cost::{AwsBudget, CostInputs, DaySpend, SavingsHint, build};
use crate::reports::{ReportDoc, ReportName, ReportOptions};

impl Reports<'_> {
    pub(super) fn cost(&self, _opts: &ReportOptions) -> Result<ReportDoc> {
        self.require_reader("read the cost report")?;
        let now = self.clock.now();
        let today: Date = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        let region = self.tenant.default_region.clone();
        let aws = &self.aws;
        let billing = aws.config_blocking(BILLING_REGION);
        let ce = billing.as_ref().ok().map(aws_sdk_costexplorer::Client::new);
        let unreachable = |e: &crate::error::Error| e.to_string();
        let month_start = today.first_of_month();
        let last_start = month_start
            .yesterday()
            .map(|d| d.first_of_month())
            .unwrap_or(month_start);
        let tomorrow = today.tomorrow().unwrap_or(today);
        let next_month = month_start
            .checked_add(jiff::Span::new().months(1))
            .unwrap_or(tomorrow);
        let window = |start: Date, label: &str| Window {
            start,
            end: tomorrow,
            grain: Grain::Daily,
            label: label.into(),
        };
        let grouped = |key: &str| {
            GroupDefinition::builder()
                .r#type(GroupDefinitionType::Dimension)
                .key(key)
                .build()
        };
        // One call after the other: a service that answers queued results (moto) answers
        // distinct requests in the order they come.
        let read = |w: Window, group: Option<GroupDefinition>| match (&ce, &billing) {
            (Some(ce), _) => aws
                .block_on(spend(ce.clone(), w, None, group))
                .map_err(|e| e.to_string())
                .and_then(|r| r),
            (None, Err(e)) => Err(unreachable(e)),
            (None, Ok(_)) => Err("no Cost Explorer client".into()),
        };
        let daily = read(window(last_start, "since last month"), None).map(|s| {
            (
                s.periods
                    .iter()
                    .map(|p| DaySpend {
                        day: p.start.clone(),
                        amount: (p.amount * 100.0).round() / 100.0,
                        estimated: p.estimated,
                    })
                    .collect(),
                s.unit,
            )
        });
        let by = |key: &str| {
            read(window(month_start, "month to date"), Some(grouped(key)))
                .map(|s| s.groups.into_iter().collect::<Vec<_>>())
        };
        let by_service = by("SERVICE");
        let by_region = by("REGION");
        let forecast = match (
            &ce,
            DateInterval::builder()
                .start(today.to_string())
                .end(next_month.to_string())
                .build(),
        ) {
            (Some(ce), Ok(interval)) => aws
                .block_on(cost_forecast(ce.clone(), interval, Grain::Monthly, None))
                .map_err(|e| e.to_string())
                .and_then(|r| r)
                .map(|f| forecast_totals(&f)),
            (None, _) => Err(billing.as_ref().err().map(unreachable).unwrap_or_default()),
            (_, Err(e)) => Err(e.to_string()),
        };
        let aws_budgets = match &billing {
            Ok(conf) => aws
                .block_on(budgets::read(conf.clone()))
                .map_err(|e| e.to_string())
                .and_then(|r| r)
                .map(|rows| {
                    rows.iter()
                        .map(|b| AwsBudget {
                            name: b.name.clone(),
                            period: b.period.clone(),
                            limit: b.limit,
                            actual: b.actual,
                            forecast: b.forecast,
                            used_percent: b.used().map(|u| (u * 10.0).round() / 10.0),
                            alarms: b
                                .alerts
                                .iter()
                                .filter(|a| a.state == "ALARM")
                                .map(|a| format!("{} {}", a.kind.to_lowercase(), a.when))
                                .collect(),
                        })
                        .collect()
                }),
            Err(e) => Err(unreachable(e)),
        };
        let hints = optimize::find_hints(aws, &region, optimize::ALL_KINDS, &|_| {})
            .map_err(|e| e.to_string())
            .map(|h| {
                let hints = h
                    .hints
                    .into_iter()
                    .map(|h| SavingsHint {
                        kind: h.kind.to_string(),
                        resource: h.resource,
                        detail: h.detail,
                        monthly_savings: h.monthly_savings,
                        action: h.action,
                    })
                    .collect();
                (hints, h.notes)
            });
        let report = build(CostInputs {
            tenant: self.tenant.name.clone(),
            region,
            today,
            daily,
            by_service,
            by_region,
            forecast,
            budget_usd: self.tenant.budget.monthly_usd,
            aws_budgets,
            hints,
        });
        Ok(ReportDoc {
            name: ReportName::Cost,
            tenant: report.tenant.clone(),
            title: format!(
                "Cost of tenant {}, month to {}",
                report.tenant, report.today
            ),
            generated_at: crate::time::iso(now),
            summary: report.summary(),
            outputs: report.outputs(),
            notes: report.notes.clone(),
            data: report_data(&report)?,
        })
    }
}
