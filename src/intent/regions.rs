//! AWS commercial regions: codes, the names operators call them by, and the one rule for the
//! region a request acts in ([`resolve`]) with its one refusal ([`unknown`]).

use super::IntentError;
use super::typo::osa_within;

/// (code, names that mean it). Names are lower case; multi-word names are matched as phrases.
const REGIONS: &[(&str, &[&str])] = &[
    (
        "us-east-1",
        &[
            "n. virginia",
            "n virginia",
            "north virginia",
            "northern virginia",
            "virginia",
            "us east",
            "us-east",
        ],
    ),
    ("us-east-2", &["ohio"]),
    (
        "us-west-1",
        &[
            "n. california",
            "n california",
            "north california",
            "northern california",
            "california",
        ],
    ),
    ("us-west-2", &["oregon", "us west", "us-west"]),
    ("af-south-1", &["cape town", "capetown", "south africa"]),
    ("ap-east-1", &["hong kong", "hongkong"]),
    ("ap-south-1", &["mumbai", "bombay", "india"]),
    ("ap-south-2", &["hyderabad"]),
    ("ap-southeast-1", &["singapore"]),
    ("ap-southeast-2", &["sydney", "australia"]),
    ("ap-southeast-3", &["jakarta", "indonesia"]),
    ("ap-southeast-4", &["melbourne"]),
    ("ap-southeast-5", &["malaysia", "kuala lumpur"]),
    ("ap-northeast-1", &["tokyo", "japan"]),
    ("ap-northeast-2", &["seoul", "korea"]),
    ("ap-northeast-3", &["osaka"]),
    ("ca-central-1", &["canada", "montreal", "central canada"]),
    ("ca-west-1", &["calgary"]),
    ("eu-central-1", &["frankfurt", "germany"]),
    ("eu-central-2", &["zurich", "switzerland"]),
    ("eu-west-1", &["ireland", "dublin"]),
    ("eu-west-2", &["london", "uk"]),
    ("eu-west-3", &["paris", "france"]),
    ("eu-north-1", &["stockholm", "sweden"]),
    ("eu-south-1", &["milan", "italy"]),
    ("eu-south-2", &["spain"]),
    ("il-central-1", &["tel aviv", "israel"]),
    ("me-south-1", &["bahrain"]),
    ("me-central-1", &["uae"]),
    ("mx-central-1", &["mexico"]),
    ("sa-east-1", &["sao paulo", "são paulo", "brazil"]),
];

pub fn region_codes() -> impl Iterator<Item = &'static str> {
    REGIONS.iter().map(|(c, _)| *c)
}

pub fn is_region_code(s: &str) -> bool {
    code(s).is_some()
}

/// The region a request acts in: the one it names, else the tenant's default. Either way a
/// region AWS has, or the refusal that names the close ones: a request never lands in a region
/// nobody meant, and every agent says so in the same words.
pub fn resolve(named: Option<&str>, tenant_default: &str) -> Result<String, IntentError> {
    let region = named.filter(|r| !r.is_empty()).unwrap_or(tenant_default);
    if is_region_code(region) {
        Ok(region.to_string())
    } else {
        Err(unknown(region))
    }
}

/// The refusal of a word that reads as a region but is none AWS has, with the close ones.
pub(super) fn unknown(word: &str) -> IntentError {
    IntentError::UnknownRegion {
        word: word.to_string(),
        suggestions: near(word).into_iter().map(str::to_string).collect(),
    }
}

/// The known code `s` is, as a static string.
pub(super) fn code(s: &str) -> Option<&'static str> {
    REGIONS.iter().map(|(c, _)| *c).find(|c| *c == s)
}

/// Compass words of region codes (`us-east-1`, `ap-southeast-2`, `us-gov-west-1`).
const DIRECTIONS: &[&str] = &[
    "east",
    "west",
    "north",
    "south",
    "central",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
    "gov",
];

/// Whether a word is written like a region code without being a known one (`us-east-99`,
/// `eu-west-9`, `mars-north-1`, `us-eats-1`): area, compass words, a number. Such a word is
/// refused rather than ignored, so a request never lands in the default region by accident.
/// An area other than two letters counts only after words that introduce a place (`in`,
/// `region`, `to`), so a name like `logs-west-1` after "bucket" stays a name.
pub(super) fn looks_like_region(word: &str, previous: Option<&str>) -> bool {
    if is_region_code(word) {
        return false;
    }
    let parts: Vec<&str> = word.split('-').collect();
    let [area, middle @ .., number] = parts.as_slice() else {
        return false;
    };
    if middle.is_empty()
        || number.is_empty()
        || number.len() > 3
        || !number.bytes().all(|b| b.is_ascii_digit())
        || !(2..=6).contains(&area.len())
        || !parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
    {
        return false;
    }
    let compass = middle.iter().all(|m| DIRECTIONS.contains(m));
    let typo = region_codes().any(|c| osa_within(word.as_bytes(), c.as_bytes(), 2).is_some());
    if !(compass || typo) {
        return false;
    }
    area.len() == 2
        || previous.is_some_and(|p| matches!(p, "in" | "into" | "to" | "region" | "at" | "from"))
}

/// Known region codes close to `word`, best first (at most five): same area and compass
/// (`us-east-99` → us-east-1, us-east-2), else a few edits away, else the same compass or area.
pub fn near(word: &str) -> Vec<&'static str> {
    let prefix = word.rsplit_once('-').map_or(word, |(p, _)| p);
    let mut out: Vec<&'static str> = region_codes()
        .filter(|c| c.rsplit_once('-').is_some_and(|(p, _)| p == prefix))
        .collect();
    if out.is_empty() {
        let mut close: Vec<(usize, &'static str)> = region_codes()
            .filter_map(|c| osa_within(word.as_bytes(), c.as_bytes(), 3).map(|d| (d, c)))
            .collect();
        close.sort();
        out = close.into_iter().map(|(_, c)| c).collect();
    }
    if out.is_empty() {
        let parts: Vec<&str> = prefix.split('-').collect();
        let (area, compass) = (parts[0], &parts[1..]);
        out = region_codes()
            .filter(|c| {
                let cp: Vec<&str> = c
                    .rsplit_once('-')
                    .map_or(*c, |(p, _)| p)
                    .split('-')
                    .collect();
                cp[1..] == *compass
            })
            .collect();
        if out.is_empty() {
            out = region_codes()
                .filter(|c| c.split('-').next() == Some(area))
                .collect();
        }
    }
    out.truncate(5);
    out
}

/// Every (name, code) pair, for the lexicon.
pub(super) fn region_names() -> impl Iterator<Item = (&'static str, &'static str)> {
    REGIONS
        .iter()
        .flat_map(|(code, names)| names.iter().map(move |n| (*n, *code)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_shaped_words() {
        for w in [
            "us-east-99",
            "eu-west-9",
            "ap-southeast-12",
            "us-eats-1",
            "us-gov-west-1",
        ] {
            assert!(looks_like_region(w, None), "{w}");
        }
        assert!(looks_like_region("mars-north-1", Some("in")));
        // Names that merely end like a region stay names.
        assert!(!looks_like_region("logs-west-1", Some("bucket")));
        assert!(!looks_like_region("web-tier-1", Some("in")));
        assert!(!looks_like_region("us-east-1", Some("in")));
        assert!(!looks_like_region("us-east-1a", Some("in")));
        assert!(!looks_like_region("my-func", Some("in")));
    }

    #[test]
    fn the_named_region_else_the_default_and_nothing_unknown() {
        assert_eq!(
            resolve(Some("eu-west-1"), "us-east-1").unwrap(),
            "eu-west-1"
        );
        assert_eq!(resolve(None, "us-east-1").unwrap(), "us-east-1");
        assert_eq!(resolve(Some(""), "us-east-1").unwrap(), "us-east-1");
        assert_eq!(
            resolve(Some("us-east-99"), "us-east-1").unwrap_err(),
            unknown("us-east-99")
        );
        assert_eq!(
            resolve(None, "mars-1").unwrap_err().to_string(),
            format!("{}", unknown("mars-1"))
        );
        assert!(unknown("us-east-99").to_string().starts_with(
            "us-east-99 is not an AWS region opsdeck knows (did you mean us-east-1 or us-east-2?)"
        ));
    }

    #[test]
    fn close_regions() {
        assert_eq!(near("us-east-99"), ["us-east-1", "us-east-2"]);
        assert_eq!(near("eu-west-9"), ["eu-west-1", "eu-west-2", "eu-west-3"]);
        assert_eq!(near("mars-north-1"), ["eu-north-1"]);
        assert_eq!(near("us-eats-1")[0], "us-east-1");
    }
}
