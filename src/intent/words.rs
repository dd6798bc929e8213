//! Numbers and time words.

/// Word numbers operators actually type ("five", "a dozen"). Multi-word forms live in the lexicon.
pub fn word_number(w: &str) -> Option<u32> {
    Some(match w {
        "zero" => 0,
        "one" | "single" => 1,
        "two" | "couple" | "pair" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" | "dozen" => 12,
        "fifteen" => 15,
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        "hundred" => 100,
        _ => return None,
    })
}

/// Time units, normalised to the suffix used in `window` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

impl Unit {
    pub fn parse(w: &str) -> Option<Unit> {
        Some(match w {
            "m" | "min" | "mins" | "minute" | "minutes" => Unit::Minute,
            "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Hour,
            "d" | "day" | "days" => Unit::Day,
            "w" | "wk" | "wks" | "week" | "weeks" => Unit::Week,
            "mo" | "month" | "months" => Unit::Month,
            _ => return None,
        })
    }

    /// `window` value for `n` of this unit: weeks become days, months 30 days.
    pub fn window(self, n: u32) -> String {
        match self {
            Unit::Minute => format!("{n}m"),
            Unit::Hour => format!("{n}h"),
            Unit::Day => format!("{n}d"),
            Unit::Week => format!("{}d", n * 7),
            Unit::Month => format!("{}d", n * 30),
        }
    }
}

/// A compact duration token such as `24h`, `15m`, `7d`, `2w`.
pub fn compact_window(w: &str) -> Option<String> {
    let split = w.find(|c: char| !c.is_ascii_digit())?;
    if split == 0 {
        return None;
    }
    let n: u32 = w[..split].parse().ok()?;
    let unit = Unit::parse(&w[split..])?;
    if n == 0 {
        return None;
    }
    Some(unit.window(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_windows() {
        assert_eq!(compact_window("24h").as_deref(), Some("24h"));
        assert_eq!(compact_window("2w").as_deref(), Some("14d"));
        assert_eq!(compact_window("15min").as_deref(), Some("15m"));
        assert_eq!(compact_window("t3"), None);
        assert_eq!(compact_window("0h"), None);
    }
}
