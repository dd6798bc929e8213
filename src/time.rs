//! Time, behind a trait so expiry rules are testable without sleeping, and [`Stamp`], the one
//! type every stored instant has (plans, approvals, runs, audit events, locks, users, tenants).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use jiff::tz::TimeZone;
use jiff::{RoundMode, Timestamp, TimestampRound, Unit};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
    fn unix(&self) -> i64 {
        self.now().as_second()
    }
    /// ISO 8601 UTC with fixed millisecond precision, so strings sort in time order.
    fn iso(&self) -> String {
        iso(self.now())
    }
    /// Now, as it is stored.
    fn stamp(&self) -> Stamp {
        Stamp::from(self.now())
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

/// The stored form of an instant: `2026-11-24T10:00:00.000Z` (UTC, milliseconds, fixed width).
pub const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

pub fn iso(ts: Timestamp) -> String {
    Stamp::from(ts).to_string()
}

/// An instant as records store it. Written as [`FORMAT`]; read from that or from any other
/// RFC 3339 instant (`2026-11-24T10:00:00Z`, other precisions, an offset), whose text is then
/// kept and written back unchanged: audit hashes and signatures cover a record's serialized
/// bytes, so a record must re-serialize exactly as it was written. Compare instants with
/// [`Stamp::timestamp`]; `Ord` also orders equal instants by how they were written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    at: Timestamp,
    /// The text this was read from when it is not in [`FORMAT`] (None: it is, or it was made
    /// here, at millisecond precision).
    written: Option<Box<str>>,
}

impl Stamp {
    /// The system clock's now (for bookkeeping outside a deck, such as the shared backend's).
    pub fn now() -> Stamp {
        Stamp::from(Timestamp::now())
    }

    pub fn timestamp(&self) -> Timestamp {
        self.at
    }

    /// Unix seconds (the whole seconds before the instant).
    pub fn as_second(&self) -> i64 {
        self.at.as_second()
    }
}

impl From<Timestamp> for Stamp {
    /// Truncated to the millisecond, as [`FORMAT`] writes it, so a stamp equals itself read back.
    fn from(ts: Timestamp) -> Stamp {
        // Floor, like the formatted fraction (which truncates the civil time). Rounding fails
        // only at the very edge of the representable range; the stamp then keeps the instant.
        let at = ts
            .round(
                TimestampRound::new()
                    .smallest(Unit::Millisecond)
                    .mode(RoundMode::Floor),
            )
            .unwrap_or(ts);
        Stamp { at, written: None }
    }
}

/// Text that is not an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidStamp {
    text: String,
}

impl fmt::Display for InvalidStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug quoting escapes control characters; a stored value is not trusted text.
        const SHOWN: usize = 40;
        let mut shown: String = self.text.chars().take(SHOWN).collect();
        if self.text.chars().count() > SHOWN {
            shown.push('…');
        }
        write!(
            f,
            "timestamp {shown:?} is not an instant: expected an ISO 8601 UTC time such as 2026-11-24T10:00:00.000Z"
        )
    }
}

impl std::error::Error for InvalidStamp {}

impl FromStr for Stamp {
    type Err = InvalidStamp;

    fn from_str(text: &str) -> Result<Stamp, InvalidStamp> {
        if let Some(at) = parse_fixed(text) {
            return Ok(Stamp { at, written: None });
        }
        match text.parse::<Timestamp>() {
            Ok(at) => Ok(Stamp {
                at,
                written: Some(text.into()),
            }),
            Err(_) => Err(InvalidStamp {
                text: text.to_string(),
            }),
        }
    }
}

/// Reads exactly [`FORMAT`]; None for anything else (including impossible dates), which the
/// general parser then judges. Hand-written because every audit record read goes through it.
fn parse_fixed(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    if b.len() != 24 {
        return None;
    }
    for (i, want) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ] {
        if b[i] != want {
            return None;
        }
    }
    let num = |from: usize, to: usize| -> Option<i32> {
        b[from..to].iter().try_fold(0i32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + i32::from(c - b'0'))
        })
    };
    let dt = jiff::civil::DateTime::new(
        i16::try_from(num(0, 4)?).ok()?,
        i8::try_from(num(5, 7)?).ok()?,
        i8::try_from(num(8, 10)?).ok()?,
        i8::try_from(num(11, 13)?).ok()?,
        i8::try_from(num(14, 16)?).ok()?,
        i8::try_from(num(17, 19)?).ok()?,
        num(20, 23)? * 1_000_000,
    )
    .ok()?;
    TimeZone::UTC.to_timestamp(dt).ok()
}

impl fmt::Display for Stamp {
    /// Honours width and precision (`{:<19.19}` shows the date and time without the fraction).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = &self.written {
            return f.pad(text);
        }
        let dt = TimeZone::UTC.to_datetime(self.at);
        if dt.year() < 0 {
            return f.pad(&self.at.strftime(FORMAT).to_string());
        }
        // Formatted on the stack: every audit event written or listed goes through here.
        let mut buf = StackText::default();
        fmt::write(
            &mut buf,
            format_args!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                dt.year(),
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second(),
                dt.millisecond()
            ),
        )?;
        f.pad(buf.as_str())
    }
}

/// Room for one formatted stamp.
#[derive(Default)]
struct StackText {
    bytes: [u8; 24],
    len: usize,
}

impl StackText {
    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl Serialize for Stamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Stamp, D::Error> {
        let text = Cow::<'de, str>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// For `Option<Stamp>` fields whose records write "not set" as an empty string (tenant and
/// configuration records: `#[serde(with = "crate::time::empty_as_none")]`).
pub mod empty_as_none {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<Stamp>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(stamp) => stamp.serialize(s),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Stamp>, D::Error> {
        let text = Cow::<'de, str>::deserialize(d)?;
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(serde::de::Error::custom)
    }
}

/// Accepts `2026-11-24`, a full ISO 8601 instant, or a look-back such as `15m`, `24h`, `7d`,
/// and returns the lower bound (at millisecond precision, like stored stamps).
pub fn parse_since(s: &str, clock: &dyn Clock) -> Option<Timestamp> {
    let s = s.trim();
    let bound = |ts: Timestamp| Stamp::from(ts).timestamp();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(bound(ts));
    }
    if let Ok(date) = s.parse::<jiff::civil::Date>() {
        return date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| bound(z.timestamp()));
    }
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let n: i64 = s[..split].parse().ok()?;
    let unit = match &s[split..] {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        "w" => 7 * 86400,
        _ => return None,
    };
    // A look-back too long to compute is not a time (a bound before year -9999 means nothing).
    let secs = n.checked_mul(unit)?;
    clock
        .now()
        .checked_sub(jiff::SignedDuration::from_secs(secs))
        .ok()
        .map(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn iso_is_fixed_width_and_round_trips() {
        let t = ts("2026-11-24T10:00:00Z");
        assert_eq!(iso(t), "2026-11-24T10:00:00.000Z");
        assert_eq!(iso(t).parse::<Stamp>().unwrap().timestamp(), t);
    }

    #[test]
    fn a_stamp_writes_what_strftime_wrote_and_reads_it_back_equal() {
        for t in [
            "2026-11-24T10:00:00.999999999Z",
            "2026-11-24T23:59:59.0005Z",
            "1969-12-31T23:59:59.9996Z",
            "0001-01-01T00:00:00.001Z",
            "9999-12-30T21:59:59.999999Z",
        ] {
            let t = ts(t);
            let stamp = Stamp::from(t);
            let text = stamp.to_string();
            assert_eq!(text, t.strftime(FORMAT).to_string());
            let back: Stamp = text.parse().unwrap();
            assert_eq!(back, stamp);
            assert!(back.written.is_none());
            assert_eq!(
                serde_json::to_string(&stamp).unwrap(),
                format!("\"{text}\"")
            );
        }
    }

    #[test]
    fn other_forms_are_read_and_written_back_as_they_were() {
        for text in [
            "2026-11-24T10:00:00Z",
            "2026-11-24T10:00:00.5Z",
            "2026-11-24T10:00:00.123456789Z",
            "2026-11-24T12:00:00.000+02:00",
            "2026-11-24t10:00:00.000z",
        ] {
            let json = format!("\"{text}\"");
            let stamp: Stamp = serde_json::from_str(&json).unwrap();
            assert!(stamp.written.is_some(), "{text}");
            assert_eq!(serde_json::to_string(&stamp).unwrap(), json);
            assert_eq!(stamp.to_string(), text);
        }
        let offset: Stamp = "2026-11-24T12:00:00.000+02:00".parse().unwrap();
        assert_eq!(offset.timestamp(), ts("2026-11-24T10:00:00Z"));
    }

    #[test]
    fn what_is_not_an_instant_is_refused_with_the_text() {
        for text in [
            "",
            "now",
            "2026-11-24",
            "2026-11-24T10:00:00.000",
            "2026-02-30T10:00:00.000Z",
            "2026-11-24T25:00:00.000Z",
            "2026-11-24T10:00:00.00aZ",
        ] {
            let e = text.parse::<Stamp>().unwrap_err().to_string();
            assert!(e.contains(&format!("{text:?}")), "{e}");
            assert!(e.contains("2026-11-24T10:00:00.000Z"), "{e}");
        }
        let e = serde_json::from_str::<Stamp>("\"2026-13-01T00:00:00.000Z\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"2026-13-01T00:00:00.000Z\" is not an instant"),
            "{e}"
        );
        // Control characters are escaped and a long value is cut.
        let e = format!("\u{1b}[2J{}", "9".repeat(100))
            .parse::<Stamp>()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\\u{1b}[2J") && e.contains('…') && e.len() < 200,
            "{e}"
        );
    }

    #[test]
    fn empty_means_not_set_where_records_wrote_it_so() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct R {
            #[serde(default, with = "empty_as_none")]
            at: Option<Stamp>,
        }
        let none: R = serde_json::from_str(r#"{"at":""}"#).unwrap();
        assert_eq!(none, R { at: None });
        assert_eq!(serde_json::to_string(&none).unwrap(), r#"{"at":""}"#);
        assert_eq!(serde_json::from_str::<R>("{}").unwrap(), R { at: None });
        let some: R = serde_json::from_str(r#"{"at":"2026-11-24T10:00:00.000Z"}"#).unwrap();
        assert_eq!(some.at.unwrap().timestamp(), ts("2026-11-24T10:00:00Z"));
        assert!(serde_json::from_str::<R>(r#"{"at":"soon"}"#).is_err());
    }

    #[test]
    fn stamps_order_by_instant() {
        let a: Stamp = "2026-11-24T10:00:00.000Z".parse().unwrap();
        let b: Stamp = "2026-11-24T10:00:00.001Z".parse().unwrap();
        assert!(a < b);
        let clock = ManualClock::at(ts("2026-11-24T10:00:00.0019Z"));
        assert_eq!(clock.stamp(), "2026-11-24T10:00:00.001Z".parse().unwrap());
        assert_eq!(clock.stamp(), b);
    }

    #[test]
    fn since_forms() {
        let c = ManualClock::at(ts("2026-11-24T10:00:00.0009Z"));
        assert_eq!(parse_since("1h", &c).unwrap(), ts("2026-11-24T09:00:00Z"));
        assert_eq!(
            parse_since("2026-11-01", &c).unwrap(),
            ts("2026-11-01T00:00:00Z")
        );
        assert_eq!(
            parse_since("2026-11-01T10:00:00.0007Z", &c).unwrap(),
            ts("2026-11-01T10:00:00Z")
        );
        assert!(parse_since("yesterday-ish", &c).is_none());
        assert!(parse_since(&format!("{}w", i64::MAX / 2), &c).is_none());
        assert!(parse_since("99999999999d", &c).is_none());
    }
}
