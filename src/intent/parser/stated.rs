//! Values a request states in numbers and times, read as written and refused when no plan can
//! take them: windows ("last 0 days", "last 99999 years"), negative or endless numbers, clock
//! times ("at 25:00") and vague counts ("several instances"). Nothing here falls back to a
//! default: a default is only for a value the request does not state.

use std::ops::RangeInclusive;

use super::tokens::{Kind, Token};
use crate::intent::lexicon::{Cue, Noun, Verb};
use crate::intent::ranges::WINDOW;
use crate::intent::words::Unit;
use crate::intent::{AgentKind, IntentError};

/// A number as the request states it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Stated {
    Value(u64),
    Negative(u64),
    TooLarge,
}

impl Token<'_> {
    pub(super) fn stated(&self) -> Option<Stated> {
        match &self.kind {
            Kind::Negative(n) => Some(Stated::Negative(*n)),
            Kind::TooLarge(_) => Some(Stated::TooLarge),
            _ => self.number().map(Stated::Value),
        }
    }

    /// The stated number as a count: a whole number, or as written when no count can be it
    /// (negative, or beyond 64 bits), so a range check can name it.
    pub(super) fn stated_count(&self) -> Option<Result<u64, String>> {
        Some(match (self.stated()?, &self.kind) {
            (Stated::Value(n), _) => Ok(n),
            (Stated::Negative(n), _) => Err(format!("-{n}")),
            (Stated::TooLarge, Kind::TooLarge(words)) => Err(words.clone()),
            (Stated::TooLarge, _) => Err(self.orig.to_string()),
        })
    }
}

/// The look-back window a request states, and the tokens that state it: "last 7 days",
/// "past hour", "24h", "in 5 minutes". A window no agent can look back over is refused with
/// the words that state it.
pub(super) fn window(
    tokens: &[Token<'_>],
) -> Result<Option<(String, RangeInclusive<usize>)>, IntentError> {
    for (i, t) in tokens.iter().enumerate() {
        let lead = i > 0
            && matches!(
                tokens[i - 1].lower.as_str(),
                "for" | "in" | "within" | "over" | "during"
            );
        if let Kind::CompactWindow(n, unit) = &t.kind {
            let after_than = i > 0 && matches!(tokens[i - 1].lower.as_str(), "than" | "older");
            if !after_than {
                return window_of(Stated::Value(*n), *unit, tokens, i..=i).map(Some);
            }
            continue;
        }
        if let Some(w) = t.cues().iter().find_map(|c| match c {
            Cue::Window(w) => Some(*w),
            _ => None,
        }) {
            return Ok(Some((w.to_string(), i..=i)));
        }
        if t.has(|c| matches!(c, Cue::WindowMark)) {
            // "last 7 days"; "past hour" is one hour.
            let (n, unit_at) = match tokens.get(i + 1).and_then(Token::stated) {
                Some(n) => (n, after_number(tokens, i + 1)),
                None => (Stated::Value(1), i + 1),
            };
            if let Some(unit) = tokens.get(unit_at).and_then(Token::unit) {
                return window_of(n, unit, tokens, i..=unit_at).map(Some);
            }
            continue;
        }
        if lead && let Some(n) = t.stated() {
            let unit_at = after_number(tokens, i);
            if let Some(unit) = tokens.get(unit_at).and_then(Token::unit) {
                return window_of(n, unit, tokens, i..=unit_at).map(Some);
            }
        }
    }
    Ok(None)
}

/// The first token after the number at `i` and the words it spans ("a billion days").
fn after_number(tokens: &[Token<'_>], i: usize) -> usize {
    let mut j = i + 1;
    while tokens
        .get(j)
        .is_some_and(|t| matches!(t.kind, Kind::Covered))
    {
        j += 1;
    }
    j
}

fn window_of(
    n: Stated,
    unit: Unit,
    tokens: &[Token<'_>],
    at: RangeInclusive<usize>,
) -> Result<(String, RangeInclusive<usize>), IntentError> {
    let value = match n {
        Stated::Value(n) => unit.window(n),
        Stated::Negative(_) | Stated::TooLarge => None,
    };
    match value {
        Some(w) => Ok((w, at)),
        None => Err(IntentError::OutOfRange {
            param: "window".into(),
            value: format!("\"{}\"", words(&tokens[at])),
            allowed: WINDOW.into(),
        }),
    }
}

fn words(tokens: &[Token<'_>]) -> String {
    tokens.iter().map(|t| t.orig).collect::<Vec<_>>().join(" ")
}

/// Refuses a negative number or one beyond 64 bits that the request states outside a command
/// and outside an alarm threshold ("below -5"): no count, size, duration or port is either,
/// and ignoring it would put a default in its place. The count is left to the range check,
/// which names the range.
pub(super) fn refuse_stray_numbers(
    tokens: &[Token<'_>],
    agent: AgentKind,
    count_at: Option<usize>,
    command: Option<std::ops::Range<usize>>,
) -> Result<(), IntentError> {
    for (i, t) in tokens.iter().enumerate() {
        let allowed = match &t.kind {
            Kind::Negative(_) => "counts, sizes, durations and ports are never negative",
            Kind::TooLarge(_) => "no count, size, duration or port is that large",
            _ => continue,
        };
        let in_command = command.as_ref().is_some_and(|c| c.contains(&i));
        let threshold = agent == AgentKind::Monitor
            && i > 0
            && matches!(
                tokens[i - 1].lower.as_str(),
                "above" | "over" | "below" | "under" | "than" | ">" | ">=" | "<" | "<="
            );
        if Some(i) == count_at || in_command || threshold {
            continue;
        }
        return Err(IntentError::OutOfRange {
            param: "number".into(),
            value: match &t.kind {
                Kind::TooLarge(w) => w.clone(),
                _ => t.orig.to_string(),
            },
            allowed: allowed.into(),
        });
    }
    Ok(())
}

/// `03:00`, `3:30pm`, `3pm`, `25:00`: written as a time of day, possible or not.
pub(super) fn is_clock(l: &str) -> bool {
    let l = l.strip_suffix("utc").unwrap_or(l);
    let (body, ampm) = match l.strip_suffix("am").or_else(|| l.strip_suffix("pm")) {
        Some(b) => (b, true),
        None => (l, false),
    };
    let digits = |s: &str, n: RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    match body.split_once(':') {
        Some((h, m)) => digits(h, 1..=2) && digits(m, 2..=2),
        None => ampm && digits(body, 1..=2),
    }
}

/// Hour and minute of a clock token, when the time exists.
fn clock_time(l: &str) -> Option<(u32, u32)> {
    let l = l.strip_suffix("utc").unwrap_or(l);
    let (body, half) = match (l.strip_suffix("am"), l.strip_suffix("pm")) {
        (Some(b), _) => (b, Some(0)),
        (_, Some(b)) => (b, Some(12)),
        _ => (l, None),
    };
    let (h, m) = body.split_once(':').unwrap_or((body, "00"));
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    if m > 59 {
        return None;
    }
    match half {
        // 12am is midnight, 12pm noon.
        Some(add) if (1..=12).contains(&h) => Some((h % 12 + add, m)),
        Some(_) => None,
        None if h <= 23 => Some((h, m)),
        None => None,
    }
}

/// Refuses a time of day that does not exist ("at 25:00", "13pm").
pub(super) fn refuse_impossible_times(tokens: &[Token<'_>]) -> Result<(), IntentError> {
    for t in tokens {
        if let Kind::Clock(written) = &t.kind
            && clock_time(&t.lower).is_none()
        {
            return Err(IntentError::OutOfRange {
                param: "time".into(),
                value: written.clone(),
                allowed: "a time of day is 00:00 to 23:59, or 12am to 11:59pm".into(),
            });
        }
    }
    Ok(())
}

/// Notes for times of day a request states: opsdeck neither schedules nor reads clock times,
/// so the time is not used, and saying so beats acting at approval time as if it had been.
pub(super) fn unused_times(tokens: &[Token<'_>]) -> Vec<String> {
    tokens
        .iter()
        .filter_map(|t| match &t.kind {
            Kind::Clock(written) => Some(format!(
                "the time {written} was not used: opsdeck reads no times of day (a window is \"last N minutes, hours or days\") and does not schedule requests; a plan runs when it is approved and applied (production changes only within the tenant's maintenance windows)"
            )),
            _ => None,
        })
        .collect()
}

/// Quantities that are no number ("several instances", "hundreds of servers").
const VAGUE: &[&str] = &[
    "few",
    "several",
    "many",
    "multiple",
    "numerous",
    "lots",
    "dozens",
    "hundreds",
    "thousands",
    "millions",
    "billions",
    "some",
];

/// Whether a word is a vague quantity, which must not be read (or corrected) as a number.
pub(super) fn is_vague(w: &str) -> bool {
    VAGUE.contains(&w)
}

/// Refuses a vague quantity of what a plan creates: the count decides how much is built, so
/// it must be a number, never the default of one.
pub(super) fn refuse_vague_count(tokens: &[Token<'_>]) -> Result<(), IntentError> {
    let countable = |t: &Token<'_>| {
        [
            Noun::Instance,
            Noun::Bucket,
            Noun::Volume,
            Noun::Database,
            Noun::Function,
            Noun::LoadBalancer,
        ]
        .into_iter()
        .any(|n| t.noun(n))
    };
    for (i, t) in tokens.iter().enumerate() {
        if !is_vague(&t.lower) {
            continue;
        }
        let what = tokens[i + 1..]
            .iter()
            .take(4)
            .take_while(|x| {
                countable(x)
                    || matches!(
                        x.kind,
                        Kind::InstanceType(_) | Kind::Covered | Kind::Unknown
                    )
                    || x.is_stop()
                    || x.has(|c| {
                        matches!(c, Cue::Env(_) | Cue::Service(_) | Cue::Verb(Verb::Create))
                    })
            })
            .find(|x| countable(x) || matches!(x.kind, Kind::InstanceType(_)));
        if let Some(what) = what {
            let what = if countable(what) {
                what.orig.to_string()
            } else {
                format!("{} instances", what.orig)
            };
            return Err(IntentError::VagueCount {
                word: t.orig.to_string(),
                what,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::intent::{IntentError, Limits, check, parse, parse_with, refine};

    fn refused(text: &str) -> String {
        match parse(text) {
            Ok(i) => panic!("{text}: read as {:?} instead of refused", i.params),
            Err(e) => e.to_string(),
        }
    }

    fn tenant(max: u64) -> Limits {
        Limits {
            max_instances_per_plan: max,
            tenant: Some("default".into()),
        }
    }

    #[test]
    fn counts_out_of_range_are_refused_never_one() {
        for (text, value) in [
            ("create a billion instances", "1000000000"),
            ("create 99999999999 t3.micro instances", "99999999999"),
            ("create -3 instances", "-3"),
            ("create 0 instances", "0"),
            (
                "create 99999999999999999999999 instances",
                "99999999999999999999999",
            ),
            ("launch 5 thousand t3.small servers", "5000"),
        ] {
            let e = refused(text);
            assert!(
                e.starts_with(&format!(
                    "count {value} is out of range: a plan may create 1 to 1000 instances in any tenant"
                )),
                "{text}: {e}"
            );
        }
        let e = parse_with("create 99999999999 instances", &tenant(50)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "count 99999999999 is out of range: a plan may create 1 to 50 instances in tenant default (tenant setting max_instances_per_plan)"
        );
        let e = parse_with("create 51 t3.micro instances", &tenant(50)).unwrap_err();
        assert!(matches!(e, IntentError::OutOfRange { ref value, .. } if value == "51"));
        let i = parse_with("create 50 t3.micro instances", &tenant(50)).unwrap();
        assert_eq!(i.params.count, Some(50));
    }

    #[test]
    fn number_words_are_their_value() {
        for (text, n) in [
            ("launch three hundred t3.micro instances", 300),
            ("provision a dozen t3.micro vms", 12),
            ("create twenty-five t3.small instances", 25),
            ("create two hundred and fifty instances", 250),
            ("spin up a hundred servers", 100),
            ("create half a dozen instances", 6),
        ] {
            let i = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(i.params.count, Some(n), "{text}");
        }
        // Vague quantities are not numbers: asked for, not read as one instance.
        for (text, word) in [
            ("create several t3.micro instances", "several"),
            ("spin up hundreds of servers", "hundreds"),
            ("launch a few instances in Ireland", "few"),
        ] {
            let e = refused(text);
            assert!(e.starts_with(&format!("\"{word}\" is not a number")), "{e}");
        }
    }

    #[test]
    fn unknown_regions_are_refused_with_close_ones() {
        assert_eq!(
            refused("create 2 t3.micro instances in us-east-99"),
            "us-east-99 is not an AWS region opsdeck knows (did you mean us-east-1 or us-east-2?): name a region by its code (e.g. eu-west-1) or its place (e.g. \"Ireland\"), or leave it out to use the tenant's default region"
        );
        assert!(
            refused("create a bucket logs-archive in eu-west-9")
                .contains("(did you mean eu-west-1, eu-west-2 or eu-west-3?)")
        );
        assert!(refused("create 3 instances in mars-north-1").starts_with(
            "mars-north-1 is not an AWS region opsdeck knows (did you mean eu-north-1?)"
        ));
        // A second region, unknown, is not dropped in favour of the first.
        assert!(
            refused("create 3 instances in eu-west-1 and us-east-99").starts_with("us-east-99")
        );
        // Names that end like a region stay names; no region stated keeps the default.
        let i = parse("create an S3 bucket named logs-west-1 in Ireland").unwrap();
        assert_eq!(i.params.bucket.as_deref(), Some("logs-west-1"));
        assert_eq!(i.params.region.as_deref(), Some("eu-west-1"));
        let i = parse("create 2 t3.micro instances").unwrap();
        assert_eq!(i.params.region.as_deref(), None);
    }

    #[test]
    fn impossible_windows_and_times_are_refused() {
        for (text, words) in [
            ("show error logs from the last 0 days", "last 0 days"),
            (
                "what did EC2 cost in the last 99999 years",
                "last 99999 years",
            ),
            ("show errors from lambda my-func in the last 0h", "0h"),
            (
                "cpu of the web servers over the last 2 years",
                "last 2 years",
            ),
            (
                "error logs for my-func for the last -3 days",
                "last -3 days",
            ),
            (
                "show logs from lambda my-func in the last a billion days",
                "last a billion days",
            ),
        ] {
            let e = refused(text);
            assert!(
                e.starts_with(&format!(
                    "window \"{words}\" is out of range: a time window is 1 minute to 455 days"
                )),
                "{text}: {e}"
            );
        }
        assert_eq!(
            parse("what did we spend last year")
                .unwrap()
                .params
                .window
                .as_deref(),
            Some("365d")
        );
        assert_eq!(
            parse("show errors from lambda my-func in the past hour")
                .unwrap()
                .params
                .window
                .as_deref(),
            Some("1h")
        );
        assert_eq!(
            refused("restart the web servers in prod at 25:00"),
            "time 25:00 is out of range: a time of day is 00:00 to 23:59, or 12am to 11:59pm"
        );
        assert!(refused("restart the web servers in prod at 13pm").starts_with("time 13pm"));
        let i = parse("restart the web servers in prod at 03:00").unwrap();
        assert!(
            i.notes
                .iter()
                .any(|n| n.starts_with("the time 03:00 was not used")),
            "{:?}",
            i.notes
        );
    }

    #[test]
    fn negative_and_endless_numbers_are_never_ignored() {
        assert_eq!(
            refused("create lambda resize-api with nodejs22.x and a timeout of -5 seconds"),
            "number -5 is out of range: counts, sizes, durations and ports are never negative"
        );
        assert!(
            refused("create an rds postgres database with 99999999999999999999 GB storage")
                .starts_with("number 99999999999999999999 is out of range")
        );
        assert_eq!(
            refused("open port 70000 from anywhere on security group web-sg"),
            "ports 70000 is out of range: ports takes 1 to 65535"
        );
        assert!(refused("create lambda f1 with timeout 0 seconds").starts_with("timeout_s 0"));
        // A command is data, negative numbers and all; an alarm may fall below zero.
        let i = parse("run tail -100 /var/log/syslog on web servers").unwrap();
        assert_eq!(
            i.params.command.as_deref(),
            Some("tail -100 /var/log/syslog")
        );
        assert!(parse("alarm when the temperature metric is below -5").is_ok());
    }

    #[test]
    fn follow_ups_are_held_to_the_same_ranges() {
        let first = parse("create 3 t3.micro instances in eu-west-1").unwrap();
        let e = refine(&first, "now do the same in us-east-99", &tenant(50))
            .unwrap()
            .unwrap_err();
        assert!(e.to_string().starts_with("us-east-99 is not an AWS region"));
        let more = refine(&first, "now a billion instances", &tenant(50))
            .unwrap()
            .unwrap();
        assert_eq!(more.params.count, Some(1_000_000_000));
        assert!(check(&more, &tenant(50)).is_err());
        // A count no count can be is refused with the range the tenant allows.
        let e = refine(&first, "now -3 instances", &tenant(50))
            .unwrap()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "count -3 is out of range: a plan may create 1 to 50 instances in tenant default (tenant setting max_instances_per_plan)"
        );
    }
}
