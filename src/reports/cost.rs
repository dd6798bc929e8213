//! The cost report: month to date against last month, the forecast to month end against the
//! tenant's budget, top services and regions, the daily trend and the biggest savings hints.
//! Built from what the pipeline read from Cost Explorer, AWS Budgets and the cost agent's
//! savings checks (`pipeline/reports/cost.rs`); a source that did not answer is a note, and the
//! rest of the report still stands.

use jiff::civil::Date;
use serde::Serialize;

use crate::agents::cost::usd;
use crate::events::{Output, headings};

/// Services and regions listed; the rest are summed into one row.
pub const TOP: usize = 10;
/// Savings hints listed, biggest first.
pub const HINTS: usize = 10;

/// One day's spend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DaySpend {
    /// `2026-12-06`
    pub day: String,
    pub amount: f64,
    /// Cost Explorer has not finalised the day yet.
    pub estimated: bool,
}

/// A service's or region's spend this month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Share {
    pub name: String,
    pub amount: f64,
    /// Percent of month-to-date spend.
    pub percent: f64,
}

/// What the month is expected to cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    /// Month to date plus the forecast for the rest of the month.
    pub month_total: f64,
    /// The forecast for today to month end alone.
    pub rest_of_month: f64,
    /// 80% prediction interval of the rest of the month (Cost Explorer's forecast only).
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// `cost_explorer` or `run_rate` (month-to-date average per day × days left).
    pub source: String,
}

/// The forecast against the tenant's own monthly budget (`[budget] monthly_usd`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetCheck {
    pub monthly_usd: f64,
    /// Forecast month total over the budget, percent.
    pub forecast_percent: Option<f64>,
    /// Month to date over the budget, percent.
    pub spent_percent: Option<f64>,
    /// `over`, `at_risk` (forecast above 90%) or `within`; `unknown` without a forecast.
    pub verdict: String,
}

/// One AWS Budgets budget as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AwsBudget {
    pub name: String,
    pub period: String,
    pub limit: Option<f64>,
    pub actual: Option<f64>,
    pub forecast: Option<f64>,
    pub used_percent: Option<f64>,
    /// Its alerts in ALARM (`actual > 80%`).
    pub alarms: Vec<String>,
}

/// One savings hint of the cost agent's checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SavingsHint {
    pub kind: String,
    pub resource: String,
    pub detail: String,
    pub monthly_savings: f64,
    pub action: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostReport {
    pub tenant: String,
    /// The region the savings checks looked at (the tenant's default).
    pub region: String,
    pub unit: String,
    /// The day the report counts up to (UTC), included.
    pub today: String,
    pub month_to_date: Option<f64>,
    /// Last month up to the same day of the month (the fair comparison).
    pub last_month_same_days: Option<f64>,
    pub last_month_total: Option<f64>,
    /// Month to date against the same days of last month, percent (+ is more).
    pub change_percent: Option<f64>,
    pub forecast: Option<Forecast>,
    pub budget: Option<BudgetCheck>,
    pub aws_budgets: Vec<AwsBudget>,
    pub top_services: Vec<Share>,
    pub top_regions: Vec<Share>,
    /// Every day from the first of last month to today.
    pub daily: Vec<DaySpend>,
    /// Biggest first, at most [`HINTS`].
    pub savings: Vec<SavingsHint>,
    /// Monthly savings of every hint found (also those not listed).
    pub savings_total: f64,
    pub notes: Vec<String>,
}

/// What the pipeline read; each source may have failed (its error is kept for the notes).
pub struct CostInputs {
    pub tenant: String,
    pub region: String,
    pub today: Date,
    /// Daily spend from the first of last month to today.
    pub daily: std::result::Result<(Vec<DaySpend>, String), String>,
    pub by_service: std::result::Result<Vec<(String, f64)>, String>,
    pub by_region: std::result::Result<Vec<(String, f64)>, String>,
    /// Cost Explorer's forecast for today to month end: (mean, lower, upper).
    pub forecast: std::result::Result<(f64, Option<f64>, Option<f64>), String>,
    pub budget_usd: f64,
    pub aws_budgets: std::result::Result<Vec<AwsBudget>, String>,
    /// Hints (any order) and the savings checks' own notes.
    pub hints: std::result::Result<(Vec<SavingsHint>, Vec<String>), String>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0 + 0.0
}

fn percent(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| (1000.0 * part / whole).round() / 10.0)
}

/// Ranks amounts, largest first (ties by name); past [`TOP`] they are summed into `(N more)`.
fn ranked(mut amounts: Vec<(String, f64)>, total: f64) -> Vec<Share> {
    amounts.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let share = |name: String, amount: f64| Share {
        name,
        amount: round2(amount),
        percent: percent(amount, total).unwrap_or(0.0),
    };
    let rest: f64 = amounts.iter().skip(TOP).map(|a| a.1).sum();
    let more = amounts.len().saturating_sub(TOP);
    let mut out: Vec<Share> = amounts
        .into_iter()
        .take(TOP)
        .map(|(n, a)| share(n, a))
        .collect();
    if more > 0 {
        out.push(share(format!("({more} more)"), rest));
    }
    out
}

pub fn build(inputs: CostInputs) -> CostReport {
    let today = inputs.today;
    let month_start = today.first_of_month();
    let last_start = month_start
        .yesterday()
        .map(|d| d.first_of_month())
        .unwrap_or(month_start);
    let mut notes = Vec::new();
    let (daily, unit) = match inputs.daily {
        Ok((d, unit)) => (d, unit),
        Err(why) => {
            notes.push(format!("daily spend unavailable: {why}"));
            (Vec::new(), "USD".to_string())
        }
    };
    let have_daily = !daily.is_empty();
    let day_of = |d: &DaySpend| d.day.parse::<Date>().ok();
    let sum = |from: Date, to: Date| -> f64 {
        daily
            .iter()
            .filter(|d| day_of(d).is_some_and(|x| from <= x && x < to))
            .map(|d| d.amount)
            .sum()
    };
    let tomorrow = today.tomorrow().unwrap_or(today);
    let month_to_date = have_daily.then(|| round2(sum(month_start, tomorrow)));
    // The same days of last month: up to the same day number, or its last day if shorter.
    let same_day = last_start
        .checked_add(jiff::Span::new().days(i64::from(today.day())))
        .unwrap_or(month_start)
        .min(month_start);
    let last_month_same_days = have_daily.then(|| round2(sum(last_start, same_day)));
    let last_month_total = have_daily.then(|| round2(sum(last_start, month_start)));
    let change_percent = match (month_to_date, last_month_same_days) {
        (Some(now), Some(then)) if then > 0.0 => {
            Some(((now - then) / then * 1000.0).round() / 10.0)
        }
        _ => None,
    };
    if daily.iter().any(|d| d.estimated) {
        notes.push(
            "days marked estimated are not final yet (Cost Explorer data lags by up to a day)"
                .into(),
        );
    }

    let days_left = (month_start
        .checked_add(jiff::Span::new().months(1))
        .unwrap_or(tomorrow)
        - today)
        .get_days()
        .max(1);
    let forecast = match inputs.forecast {
        Ok((mean, lower, upper)) => month_to_date.map(|mtd| Forecast {
            month_total: round2(mtd + mean),
            rest_of_month: round2(mean),
            lower: lower.map(round2),
            upper: upper.map(round2),
            source: "cost_explorer".into(),
        }),
        Err(why) => {
            let days_so_far = (today - month_start).get_days() + 1;
            match month_to_date {
                Some(mtd) => {
                    let per_day = mtd / days_so_far as f64;
                    notes.push(format!(
                        "the Cost Explorer forecast was unavailable ({why}): projected from the month-to-date average of {} per day instead",
                        usd(per_day)
                    ));
                    Some(Forecast {
                        month_total: round2(mtd + per_day * (days_left - 1) as f64),
                        rest_of_month: round2(per_day * (days_left - 1) as f64),
                        lower: None,
                        upper: None,
                        source: "run_rate".into(),
                    })
                }
                None => {
                    notes.push(format!("no forecast: Cost Explorer's forecast was unavailable ({why}) and there is no month-to-date spend to project from"));
                    None
                }
            }
        }
    };
    let budget = (inputs.budget_usd > 0.0).then(|| {
        let forecast_percent = forecast
            .as_ref()
            .and_then(|f| percent(f.month_total, inputs.budget_usd));
        BudgetCheck {
            monthly_usd: inputs.budget_usd,
            forecast_percent,
            spent_percent: month_to_date.and_then(|m| percent(m, inputs.budget_usd)),
            verdict: match forecast_percent {
                None => "unknown",
                Some(p) if p > 100.0 => "over",
                Some(p) if p > 90.0 => "at_risk",
                Some(_) => "within",
            }
            .into(),
        }
    });
    if budget.is_none() {
        notes.push(format!(
            "tenant {} has no monthly budget ([budget] monthly_usd); the forecast is not judged against one",
            inputs.tenant
        ));
    }
    let aws_budgets = inputs.aws_budgets.unwrap_or_else(|why| {
        notes.push(format!("AWS Budgets unavailable: {why}"));
        Vec::new()
    });
    let mtd = month_to_date.unwrap_or(0.0);
    let mut top = |r: std::result::Result<Vec<(String, f64)>, String>, what: &str| match r {
        Ok(v) => {
            let total = if mtd > 0.0 {
                mtd
            } else {
                v.iter().map(|a| a.1).sum()
            };
            ranked(v, total)
        }
        Err(why) => {
            notes.push(format!("spend by {what} unavailable: {why}"));
            Vec::new()
        }
    };
    let top_services = top(inputs.by_service, "service");
    let top_regions = top(inputs.by_region, "region");
    let (mut savings, savings_total) = match inputs.hints {
        Ok((hints, hint_notes)) => {
            notes.extend(hint_notes);
            let total = round2(hints.iter().map(|h| h.monthly_savings).sum());
            (hints, total)
        }
        Err(why) => {
            notes.push(format!("savings checks unavailable: {why}"));
            (Vec::new(), 0.0)
        }
    };
    savings.sort_by(|a, b| {
        b.monthly_savings
            .total_cmp(&a.monthly_savings)
            .then(a.resource.cmp(&b.resource))
    });
    if savings.len() > HINTS {
        notes.push(format!(
            "{} smaller savings hints not listed (`ask \"how can we cut costs in {}\"` lists them all)",
            savings.len() - HINTS,
            inputs.region
        ));
        savings.truncate(HINTS);
    }
    notes.push("UnblendedCost from Cost Explorer (global, answered from us-east-1)".into());
    CostReport {
        tenant: inputs.tenant,
        region: inputs.region,
        unit,
        today: today.to_string(),
        month_to_date,
        last_month_same_days,
        last_month_total,
        change_percent,
        forecast,
        budget,
        aws_budgets,
        top_services,
        top_regions,
        daily,
        savings,
        savings_total,
        notes,
    }
}

fn money(x: Option<f64>) -> String {
    x.map(usd).unwrap_or_else(|| "-".into())
}

impl CostReport {
    /// One line: month to date, its change, the forecast and the budget's verdict.
    pub fn summary(&self) -> String {
        let Some(mtd) = self.month_to_date else {
            return "no spend data: Cost Explorer did not answer (see the notes)".into();
        };
        let mut s = format!("{} month to date", usd(mtd));
        if let Some(c) = self.change_percent {
            s.push_str(&format!(" ({c:+.1}% on the same days of last month)"));
        }
        if let Some(f) = &self.forecast {
            s.push_str(&format!("; about {} by month end", usd(f.month_total)));
        }
        if let Some(b) = &self.budget {
            match (b.verdict.as_str(), b.forecast_percent) {
                ("over", Some(p)) => s.push_str(&format!(
                    ", over the {} budget ({p:.0}%)",
                    usd(b.monthly_usd)
                )),
                (_, Some(p)) => {
                    s.push_str(&format!(" ({p:.0}% of the {} budget)", usd(b.monthly_usd)))
                }
                _ => {}
            }
        }
        if !self.savings.is_empty() {
            s.push_str(&format!(
                "; savings hints worth {}/month",
                usd(self.savings_total)
            ));
        }
        s
    }

    pub fn outputs(&self) -> Vec<Output> {
        let mut overview = vec![
            vec!["month to date".to_string(), money(self.month_to_date)],
            vec![
                "last month, same days".into(),
                money(self.last_month_same_days),
            ],
            vec![
                "change".into(),
                self.change_percent
                    .map(|c| format!("{c:+.1}%"))
                    .unwrap_or_else(|| "-".into()),
            ],
            vec!["last month, whole".into(), money(self.last_month_total)],
        ];
        if let Some(f) = &self.forecast {
            let range = match (f.lower, f.upper) {
                (Some(l), Some(u)) => format!(" (rest of month 80%: {} to {})", usd(l), usd(u)),
                _ => String::new(),
            };
            overview.push(vec![
                "forecast, month end".into(),
                format!(
                    "{}{range} [{}]",
                    usd(f.month_total),
                    f.source.replace('_', " ")
                ),
            ]);
        }
        if let Some(b) = &self.budget {
            overview.push(vec![
                "tenant budget".into(),
                format!(
                    "{}/month: forecast {}, spent {} — {}",
                    usd(b.monthly_usd),
                    b.forecast_percent
                        .map(|p| format!("{p:.0}%"))
                        .unwrap_or_else(|| "-".into()),
                    b.spent_percent
                        .map(|p| format!("{p:.0}%"))
                        .unwrap_or_else(|| "-".into()),
                    b.verdict.replace('_', " ")
                ),
            ]);
        }
        let mut out = vec![Output::Table {
            title: format!("spend of tenant {} (to {})", self.tenant, self.today),
            columns: headings(&["FIGURE", "VALUE"]),
            rows: overview,
        }];
        if !self.daily.is_empty() {
            out.push(Output::Series {
                title: "daily spend, last month and this".into(),
                unit: self.unit.clone(),
                points: self
                    .daily
                    .iter()
                    .map(|d| (d.day.get(5..).unwrap_or(&d.day).to_string(), d.amount))
                    .collect(),
            });
        }
        let shares = |title: &str, col: &str, v: &[Share]| Output::Table {
            title: title.into(),
            columns: vec![col.into(), self.unit.clone(), "SHARE".into()],
            rows: v
                .iter()
                .map(|s| vec![s.name.clone(), usd(s.amount), format!("{:.1}%", s.percent)])
                .collect(),
        };
        if !self.top_services.is_empty() {
            out.push(shares(
                "top services, month to date",
                "SERVICE",
                &self.top_services,
            ));
        }
        if !self.top_regions.is_empty() {
            out.push(shares(
                "top regions, month to date",
                "REGION",
                &self.top_regions,
            ));
        }
        if !self.aws_budgets.is_empty() {
            out.push(Output::Table {
                title: "AWS Budgets".into(),
                columns: headings(&[
                    "BUDGET", "PERIOD", "LIMIT", "ACTUAL", "FORECAST", "USED", "IN ALARM",
                ]),
                rows: self
                    .aws_budgets
                    .iter()
                    .map(|b| {
                        vec![
                            b.name.clone(),
                            b.period.clone(),
                            money(b.limit),
                            money(b.actual),
                            money(b.forecast),
                            b.used_percent
                                .map(|u| format!("{u:.0}%"))
                                .unwrap_or_default(),
                            b.alarms.join("; "),
                        ]
                    })
                    .collect(),
            });
        }
        if !self.savings.is_empty() {
            out.push(Output::Table {
                title: format!(
                    "biggest savings hints in {} ({}/month in all)",
                    self.region,
                    usd(self.savings_total)
                ),
                columns: headings(&["HINT", "RESOURCE", "DETAIL", "SAVES/MONTH", "ACTION"]),
                rows: self
                    .savings
                    .iter()
                    .map(|h| {
                        vec![
                            h.kind.clone(),
                            h.resource.clone(),
                            h.detail.clone(),
                            usd(h.monthly_savings),
                            h.action.clone(),
                        ]
                    })
                    .collect(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn days(from: &str, amounts: &[f64]) -> Vec<DaySpend> {
        let start = d(from);
        amounts
            .iter()
            .enumerate()
            .map(|(i, a)| DaySpend {
                day: start
                    .checked_add(jiff::Span::new().days(i as i64))
                    .unwrap()
                    .to_string(),
                amount: *a,
                estimated: false,
            })
            .collect()
    }

    fn inputs(today: &str, daily: Vec<DaySpend>) -> CostInputs {
        CostInputs {
            tenant: "shop".into(),
            region: "eu-west-1".into(),
            today: d(today),
            daily: Ok((daily, "USD".into())),
            by_service: Ok(vec![("EC2".into(), 30.0), ("S3".into(), 10.0)]),
            by_region: Err("HTTP 500".into()),
            forecast: Err("UnknownOperation".into()),
            budget_usd: 100.0,
            aws_budgets: Ok(Vec::new()),
            hints: Ok((Vec::new(), Vec::new())),
        }
    }

    #[test]
    fn month_to_date_against_the_same_days_and_a_run_rate_forecast() {
        // November: 30 days at 1.0; December 1–4 at 10.0 (today is the 4th).
        let mut daily = days("2026-11-01", &[1.0; 30]);
        daily.extend(days("2026-12-01", &[10.0; 4]));
        let r = build(inputs("2026-12-04", daily));
        assert_eq!(r.month_to_date, Some(40.0));
        assert_eq!(r.last_month_same_days, Some(4.0));
        assert_eq!(r.last_month_total, Some(30.0));
        assert_eq!(r.change_percent, Some(900.0));
        let f = r.forecast.clone().unwrap();
        // 10/day for the 27 days after today.
        assert_eq!((f.month_total, f.source.as_str()), (310.0, "run_rate"));
        let b = r.budget.clone().unwrap();
        assert_eq!(
            (b.verdict.as_str(), b.forecast_percent),
            ("over", Some(310.0))
        );
        assert_eq!(r.top_services[0].percent, 75.0);
        assert!(
            r.notes
                .iter()
                .any(|n| n.starts_with("spend by region unavailable: HTTP 500"))
        );
        assert!(
            r.summary()
                .starts_with("$40.00 month to date (+900.0% on the same days")
        );
    }

    #[test]
    fn a_short_last_month_compares_up_to_its_end() {
        // Today is 31 March; February has 28 days.
        let mut daily = days("2027-02-01", &[2.0; 28]);
        daily.extend(days("2027-03-01", &[1.0; 31]));
        let r = build(inputs("2027-03-31", daily));
        assert_eq!(r.last_month_same_days, Some(56.0));
        assert_eq!(r.month_to_date, Some(31.0));
    }

    #[test]
    fn nothing_answered_is_said_not_invented() {
        let mut i = inputs("2026-12-04", Vec::new());
        i.daily = Err("connection refused".into());
        i.by_service = Err("connection refused".into());
        let r = build(i);
        assert_eq!(r.month_to_date, None);
        assert_eq!(r.forecast, None);
        assert!(
            r.notes
                .iter()
                .any(|n| n == "daily spend unavailable: connection refused")
        );
        assert!(r.summary().starts_with("no spend data"));
    }
}
