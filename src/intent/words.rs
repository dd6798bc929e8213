//! Numbers and time words.

/// One number word ("five", "twenty", "dozen", "billion") and the loose ones operators type
/// ("single", "couple", "pair"). Compounds ("three hundred", "a billion", "twenty-five") are
/// read by [`spelled_number`].
pub fn word_number(w: &str) -> Option<u64> {
    small_number(w).or_else(|| multiplier(w)).or(match w {
        "single" => Some(1),
        "couple" | "pair" => Some(2),
        _ => None,
    })
}

/// Every word [`word_number`] knows, for the lexicon.
pub const NUMBER_WORDS: &[&str] = &[
    "zero",
    "one",
    "single",
    "two",
    "couple",
    "pair",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "dozen",
    "hundred",
    "thousand",
    "million",
    "billion",
    "trillion",
];

/// 0 to 19 and the tens.
fn small_number(w: &str) -> Option<u64> {
    Some(match w {
        "zero" => 0,
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "seventy" => 70,
        "eighty" => 80,
        "ninety" => 90,
        _ => return None,
    })
}

/// Words that multiply what is before them ("two dozen", "three hundred", "a billion").
fn multiplier(w: &str) -> Option<u64> {
    Some(match w {
        "dozen" => 12,
        "hundred" => 100,
        "thousand" => 1_000,
        "million" => 1_000_000,
        "billion" => 1_000_000_000,
        "trillion" => 1_000_000_000_000,
        _ => return None,
    })
}

/// A number spelled over one or more words, as the words say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelled {
    Value(u64),
    /// More than any count, size or duration can be (it does not fit 64 bits).
    TooLarge,
}

/// The number the words at the start of `words` spell ("a billion", "three hundred", "two
/// hundred and fifty", "twenty five", "twenty-five", "2 million", "two dozen"), and how many
/// words it takes. Only readings of two or more words, or of a hyphenated compound, are
/// returned: a single word is the lexicon's.
pub fn spelled_number(words: &[&str]) -> Option<(Spelled, usize)> {
    #[derive(PartialEq, Clone, Copy)]
    enum Last {
        Start,
        Article,
        Digits,
        Small(u64),
        Hundred,
        Scale(u64),
    }
    let mut total: u64 = 0;
    let mut current: u64 = 0;
    let mut last = Last::Start;
    // How many words were read when the phrase last stood complete.
    let mut complete = 0;
    let mut overflow = false;
    let mut hyphenated = false;
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let parts: Vec<&str> = if w.contains('-') {
            w.split('-').collect()
        } else {
            vec![w]
        };
        if parts.len() > 1 && !parts.iter().all(|p| small_number(p).is_some()) {
            break;
        }
        let next_multiplies = words.get(i + 1).is_some_and(|n| multiplier(n).is_some());
        let mut ok = true;
        for part in &parts {
            match (*part, last) {
                ("a" | "an", Last::Start) if next_multiplies => {
                    current = 1;
                    last = Last::Article;
                }
                ("and", Last::Hundred | Last::Scale(_))
                    if words
                        .get(i + 1)
                        .is_some_and(|n| n.split('-').next().and_then(small_number).is_some()) => {}
                (d, Last::Start) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => {
                    if !next_multiplies {
                        ok = false;
                        break;
                    }
                    match d.parse::<u64>() {
                        Ok(n) => current = n,
                        Err(_) => overflow = true,
                    }
                    last = Last::Digits;
                }
                (p, _) if small_number(p).is_some() => {
                    let v = small_number(p).unwrap_or(0);
                    let fits = match last {
                        Last::Start | Last::Hundred | Last::Scale(_) => true,
                        // "twenty five": a unit after a ten.
                        Last::Small(prev) => prev >= 20 && prev % 10 == 0 && v < 10 && v > 0,
                        Last::Article | Last::Digits => false,
                    };
                    if !fits {
                        ok = false;
                        break;
                    }
                    current += v;
                    last = Last::Small(v);
                }
                ("dozen" | "hundred", l) if l != Last::Hundred => {
                    let m = multiplier(part).unwrap_or(1);
                    match current.max(1).checked_mul(m) {
                        Some(v) => current = v,
                        None => overflow = true,
                    }
                    last = Last::Hundred;
                }
                (p, l) if multiplier(p).is_some() => {
                    let m = multiplier(p).unwrap_or(1);
                    // Scales come largest first: "two million three thousand".
                    if matches!(l, Last::Scale(prev) if prev <= m) {
                        ok = false;
                        break;
                    }
                    match current
                        .max(1)
                        .checked_mul(m)
                        .and_then(|v| total.checked_add(v))
                    {
                        Some(v) => total = v,
                        None => overflow = true,
                    }
                    current = 0;
                    last = Last::Scale(m);
                }
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            break;
        }
        i += 1;
        if parts.len() > 1 {
            hyphenated = true;
        }
        if !matches!(last, Last::Article | Last::Digits) && w != "and" {
            complete = i;
        }
    }
    if complete == 0 || (complete == 1 && !hyphenated) {
        return None;
    }
    let value = if overflow {
        Spelled::TooLarge
    } else {
        match total.checked_add(current) {
            Some(v) => Spelled::Value(v),
            None => Spelled::TooLarge,
        }
    };
    Some((value, complete))
}

/// Time units, normalised to the suffix used in `window` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    pub fn parse(w: &str) -> Option<Unit> {
        Some(match w {
            "m" | "min" | "mins" | "minute" | "minutes" => Unit::Minute,
            "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Hour,
            "d" | "day" | "days" => Unit::Day,
            "w" | "wk" | "wks" | "week" | "weeks" => Unit::Week,
            "mo" | "month" | "months" => Unit::Month,
            "y" | "yr" | "yrs" | "year" | "years" => Unit::Year,
            _ => return None,
        })
    }

    /// Seconds in one of this unit (months are 30 days, years 365).
    pub fn secs(self) -> u64 {
        match self {
            Unit::Minute => 60,
            Unit::Hour => 3600,
            Unit::Day => 86_400,
            Unit::Week => 7 * 86_400,
            Unit::Month => 30 * 86_400,
            Unit::Year => 365 * 86_400,
        }
    }

    /// `window` value for `n` of this unit: weeks, months and years become days. None when
    /// the window is not one an agent can look back over (see [`super::ranges::WINDOW`]).
    pub fn window(self, n: u64) -> Option<String> {
        let secs = n.checked_mul(self.secs())?;
        if !super::ranges::window_secs_in_range(secs) {
            return None;
        }
        Some(match self {
            Unit::Minute => format!("{n}m"),
            Unit::Hour => format!("{n}h"),
            Unit::Day | Unit::Week | Unit::Month | Unit::Year => format!("{}d", secs / 86_400),
        })
    }
}

/// A compact duration token such as `24h`, `15m`, `7d`, `2w`, `0h`: the number and its unit
/// (whether the window is possible is for the caller to judge).
pub fn compact_duration(w: &str) -> Option<(u64, Unit)> {
    let split = w.find(|c: char| !c.is_ascii_digit())?;
    if split == 0 {
        return None;
    }
    let unit = Unit::parse(&w[split..])?;
    // Digits too many for 64 bits are still a duration; the window check refuses them.
    let n = w[..split].parse().unwrap_or(u64::MAX);
    Some((n, unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelled(s: &str) -> Option<(Spelled, usize)> {
        let words: Vec<&str> = s.split(' ').collect();
        spelled_number(&words)
    }

    #[test]
    fn compact_durations_and_their_windows() {
        let w = |s: &str| compact_duration(s).and_then(|(n, u)| u.window(n));
        assert_eq!(w("24h").as_deref(), Some("24h"));
        assert_eq!(w("2w").as_deref(), Some("14d"));
        assert_eq!(w("15min").as_deref(), Some("15m"));
        assert_eq!(w("1y").as_deref(), Some("365d"));
        assert_eq!(compact_duration("t3"), None);
        // Read, but not a window any agent can look back over.
        assert_eq!(compact_duration("0h"), Some((0, Unit::Hour)));
        assert_eq!(w("0h"), None);
        assert_eq!(w("99999d"), None);
        assert_eq!(w("99999999999999999999999d"), None);
    }

    #[test]
    fn spelled_numbers_are_their_value() {
        assert_eq!(
            spelled("a billion"),
            Some((Spelled::Value(1_000_000_000), 2))
        );
        assert_eq!(spelled("a dozen"), Some((Spelled::Value(12), 2)));
        assert_eq!(spelled("two dozen"), Some((Spelled::Value(24), 2)));
        assert_eq!(spelled("three hundred"), Some((Spelled::Value(300), 2)));
        assert_eq!(
            spelled("two hundred and fifty instances"),
            Some((Spelled::Value(250), 4))
        );
        assert_eq!(spelled("twenty five"), Some((Spelled::Value(25), 2)));
        assert_eq!(spelled("twenty-five"), Some((Spelled::Value(25), 1)));
        assert_eq!(
            spelled("one thousand two hundred"),
            Some((Spelled::Value(1200), 4))
        );
        assert_eq!(spelled("2 million"), Some((Spelled::Value(2_000_000), 2)));
        assert_eq!(
            spelled("a million billion trillion"),
            Some((Spelled::Value(1_000_000), 2))
        );
        assert_eq!(
            spelled("99999999999 trillion"),
            Some((Spelled::TooLarge, 2))
        );
        // Scales come largest first; a smaller one after a larger ends the number.
        assert_eq!(
            spelled("a thousand trillion"),
            Some((Spelled::Value(1_000), 2))
        );
        // Single words are the lexicon's; articles alone and "and" alone are no number.
        assert_eq!(spelled("five"), None);
        assert_eq!(spelled("a t3.micro"), None);
        assert_eq!(spelled("five and"), None);
        assert_eq!(spelled("2 instances"), None);
        assert_eq!(spelled("five five"), None);
        assert_eq!(spelled("twenty-five-ish"), None);
    }

    #[test]
    fn single_words() {
        assert_eq!(word_number("billion"), Some(1_000_000_000));
        assert_eq!(word_number("dozen"), Some(12));
        assert_eq!(word_number("ninety"), Some(90));
        assert_eq!(word_number("pair"), Some(2));
        for w in NUMBER_WORDS {
            assert!(word_number(w).is_some(), "{w}");
        }
    }
}
