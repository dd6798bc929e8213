//! The dates Cost Explorer answers for: the window a request means in whole days (`7d`,
//! `mtd`, a granularity alone), the forecast's horizon, and how a period is labelled.

use aws_sdk_costexplorer::types::{DateInterval, Granularity};
use jiff::ToSpan;
use jiff::civil::Date;

use crate::error::{Error, Result};
use crate::intent;

/// Cost Explorer keeps 14 months of daily data, and hourly data for 14 days.
const MAX_DAYS: i64 = 365;
const MAX_HOURLY_DAYS: i64 = 14;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grain {
    Hourly,
    Daily,
    Monthly,
}

impl Grain {
    pub(super) fn sdk(self) -> Granularity {
        match self {
            Grain::Hourly => Granularity::Hourly,
            Grain::Daily => Granularity::Daily,
            Grain::Monthly => Granularity::Monthly,
        }
    }
    pub(super) fn word(self) -> &'static str {
        match self {
            Grain::Hourly => "hourly",
            Grain::Daily => "daily",
            Grain::Monthly => "monthly",
        }
    }
}

/// A time period Cost Explorer answers for: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    pub start: Date,
    pub end: Date,
    pub grain: Grain,
    pub label: String,
}

impl Window {
    pub(super) fn interval(&self) -> std::result::Result<DateInterval, String> {
        let fmt = |d: Date| {
            if self.grain == Grain::Hourly {
                format!("{d}T00:00:00Z")
            } else {
                d.to_string()
            }
        };
        DateInterval::builder()
            .start(fmt(self.start))
            .end(fmt(self.end))
            .build()
            .map_err(|e| e.to_string())
    }
}

/// The window a request means. Whole days: `Nd` is the last N complete days (today's data is
/// never complete), `mtd` runs to the end of today, hours and minutes round up to days.
pub(crate) fn window(
    w: Option<&str>,
    granularity: Option<intent::Granularity>,
    today: Date,
) -> Result<Window> {
    let grain_asked = granularity.map(|g| match g {
        intent::Granularity::Hourly => Grain::Hourly,
        intent::Granularity::Daily => Grain::Daily,
        intent::Granularity::Monthly => Grain::Monthly,
    });
    let tomorrow = today.tomorrow().map_err(|e| Error::input(e.to_string()))?;
    let days_back = |n: i64| -> Result<Date> {
        today
            .checked_sub(n.days())
            .map_err(|e| Error::input(format!("window of {n} days: {e}")))
    };
    let (start, end, label) = match w {
        Some("mtd") => (
            today.first_of_month(),
            tomorrow,
            "month to date".to_string(),
        ),
        Some(w) => {
            let split = w
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| Error::input(format!("cannot read the time window '{w}'")))?;
            let n: i64 = w[..split]
                .parse()
                .map_err(|_| Error::input(format!("cannot read the time window '{w}'")))?;
            let days = match &w[split..] {
                "d" => n,
                "h" => (n + 23) / 24,
                "m" => 1,
                _ => return Err(Error::input(format!("cannot read the time window '{w}'"))),
            }
            .max(1);
            if days > MAX_DAYS {
                return Err(Error::input(format!(
                    "Cost Explorer answers for the last {MAX_DAYS} days at most; ask for a shorter window"
                )));
            }
            if days == 1 {
                (days_back(1)?, today, "yesterday".to_string())
            } else {
                (days_back(days)?, today, format!("the last {days} days"))
            }
        }
        None => match grain_asked {
            Some(Grain::Monthly) => {
                let start = today
                    .first_of_month()
                    .checked_sub(5.months())
                    .map_err(|e| Error::input(e.to_string()))?;
                (start, tomorrow, "the last 6 months".to_string())
            }
            Some(Grain::Hourly) => (days_back(1)?, today, "yesterday".to_string()),
            _ => (days_back(14)?, today, "the last 14 days".to_string()),
        },
    };
    let span = (end - start).get_days() as i64;
    let grain = grain_asked.unwrap_or(if span > 62 {
        Grain::Monthly
    } else {
        Grain::Daily
    });
    if grain == Grain::Hourly && span > MAX_HOURLY_DAYS {
        return Err(Error::input(format!(
            "Cost Explorer keeps hourly data for {MAX_HOURLY_DAYS} days; ask for daily spend over {label}, or hourly over a shorter window"
        )));
    }
    Ok(Window {
        start,
        end,
        grain,
        label,
    })
}

pub(super) fn label_of(start: &str, grain: Grain) -> String {
    match grain {
        Grain::Monthly => start.get(..7).unwrap_or(start).to_string(),
        Grain::Daily => start.get(5..10).unwrap_or(start).to_string(),
        Grain::Hourly => start
            .get(5..13)
            .map(|s| s.replace('T', " ") + ":00")
            .unwrap_or_else(|| start.to_string()),
    }
}

/// The forecast's window: the rest of this month unless the request says otherwise.
pub(super) fn forecast_window(
    text: &str,
    w: Option<&str>,
    today: Date,
) -> Result<(Date, Date, String)> {
    let lower = text.to_lowercase();
    let next_month = today
        .first_of_month()
        .checked_add(1.month())
        .map_err(|e| Error::input(e.to_string()))?;
    if lower.contains("next month") {
        let after = next_month
            .checked_add(1.month())
            .map_err(|e| Error::input(e.to_string()))?;
        return Ok((next_month, after, "next month".into()));
    }
    let days = match w {
        Some(w) if w.ends_with('d') => w.trim_end_matches('d').parse::<i64>().ok(),
        _ if lower.contains("quarter") => Some(90),
        _ => None,
    };
    if let Some(days) = days {
        // Cost Explorer forecasts at most a year ahead; a longer horizon is refused, not cut.
        if !(1..=365).contains(&days) {
            return Err(Error::input(format!(
                "forecast of {days} days is out of range: Cost Explorer forecasts 1 to 365 days ahead"
            )));
        }
        let end = today
            .checked_add(days.days())
            .map_err(|e| Error::input(e.to_string()))?;
        return Ok((today, end, format!("the next {days} days")));
    }
    Ok((today, next_month, "the rest of this month".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn windows_are_whole_days() {
        let today = d("2025-03-10");
        let w = window(Some("7d"), None, today).unwrap();
        assert_eq!(
            (w.start, w.end, w.grain),
            (d("2025-03-03"), today, Grain::Daily)
        );
        let w = window(Some("mtd"), Some(intent::Granularity::Daily), today).unwrap();
        assert_eq!((w.start, w.end), (d("2025-03-01"), d("2025-03-11")));
        let w = window(Some("24h"), Some(intent::Granularity::Hourly), today).unwrap();
        assert_eq!(
            (w.start, w.end, w.grain),
            (d("2025-03-09"), today, Grain::Hourly)
        );
        assert_eq!(w.interval().unwrap().start(), "2025-03-09T00:00:00Z");
        let w = window(None, Some(intent::Granularity::Monthly), today).unwrap();
        assert_eq!(w.start, d("2024-10-01"));
        let w = window(Some("90d"), None, today).unwrap();
        assert_eq!(w.grain, Grain::Monthly);
        assert!(window(Some("30d"), Some(intent::Granularity::Hourly), today).is_err());
        assert!(window(Some("400d"), None, today).is_err());
    }

    #[test]
    fn forecast_windows() {
        let today = d("2025-03-10");
        assert_eq!(
            forecast_window("forecast our spend", None, today)
                .unwrap()
                .1,
            d("2025-04-01")
        );
        let (s, e, _) = forecast_window("forecast for next month", None, today).unwrap();
        assert_eq!((s, e), (d("2025-04-01"), d("2025-05-01")));
        let (_, e, _) = forecast_window("projected spend this quarter", None, today).unwrap();
        assert_eq!(e, d("2025-06-08"));
        assert!(
            forecast_window("forecast the next 400 days", Some("400d"), today)
                .unwrap_err()
                .to_string()
                .contains("forecast of 400 days is out of range")
        );
    }

    #[test]
    fn labels_follow_the_granularity() {
        assert_eq!(label_of("2025-03-09", Grain::Daily), "03-09");
        assert_eq!(label_of("2025-03-01", Grain::Monthly), "2025-03");
    }
}
