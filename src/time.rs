//! Time, behind a trait so expiry rules are testable without sleeping.

use jiff::Timestamp;

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
    fn unix(&self) -> i64 {
        self.now().as_second()
    }
    /// ISO 8601 UTC with fixed millisecond precision, so strings sort in time order.
    fn iso(&self) -> String {
        iso(self.now())
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that reads a shared, settable instant (tests, benchmarks).
pub struct ManualClock(pub std::sync::Mutex<Timestamp>);

impl ManualClock {
    pub fn at(ts: Timestamp) -> ManualClock {
        ManualClock(std::sync::Mutex::new(ts))
    }
    pub fn advance_secs(&self, secs: i64) {
        if let Ok(mut t) = self.0.lock() {
            *t = t
                .checked_add(jiff::SignedDuration::from_secs(secs))
                .unwrap_or(*t);
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.0
            .lock()
            .map(|t| *t)
            .unwrap_or_else(|_| Timestamp::now())
    }
}

pub fn iso(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub fn parse_unix(iso: &str) -> Option<i64> {
    iso.parse::<Timestamp>().ok().map(|t| t.as_second())
}

/// Accepts `2026-11-24`, a full ISO 8601 instant, or a look-back such as `15m`, `24h`, `7d`,
/// and returns the ISO lower bound.
pub fn parse_since(s: &str, clock: &dyn Clock) -> Option<String> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(iso(ts));
    }
    if let Ok(date) = s.parse::<jiff::civil::Date>() {
        return date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| iso(z.timestamp()));
    }
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let n: i64 = s[..split].parse().ok()?;
    let secs = match &s[split..] {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        "w" => n * 7 * 86400,
        _ => return None,
    };
    clock
        .now()
        .checked_sub(jiff::SignedDuration::from_secs(secs))
        .ok()
        .map(iso)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_is_fixed_width_and_round_trips() {
        let ts: Timestamp = "2026-11-24T10:00:00Z".parse().unwrap();
        assert_eq!(iso(ts), "2026-11-24T10:00:00.000Z");
        assert_eq!(parse_unix(&iso(ts)), Some(ts.as_second()));
    }

    #[test]
    fn since_forms() {
        let c = ManualClock::at("2026-11-24T10:00:00Z".parse().unwrap());
        assert_eq!(parse_since("1h", &c).unwrap(), "2026-11-24T09:00:00.000Z");
        assert_eq!(
            parse_since("2026-11-01", &c).unwrap(),
            "2026-11-01T00:00:00.000Z"
        );
        assert!(parse_since("yesterday-ish", &c).is_none());
    }
}
