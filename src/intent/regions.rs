//! AWS commercial regions: codes, and the names operators call them by.

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
    REGIONS.iter().any(|(c, _)| *c == s)
}

/// Every (name, code) pair, for the lexicon.
pub(super) fn region_names() -> impl Iterator<Item = (&'static str, &'static str)> {
    REGIONS
        .iter()
        .flat_map(|(code, names)| names.iter().map(move |n| (*n, *code)))
}
