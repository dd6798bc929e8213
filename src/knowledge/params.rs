//! Parameter likeness: the typed parameters of two readings compared key by key, each key
//! weighted by how much it says about *what* is acted on (a stack or a bucket name more than a
//! retention period), lists and tags by how many of their items they share.

use crate::intent::Params;

/// One parameter, ready to compare: its key (an index into [`Params::KEYS`]) and its value's
/// items, hashed and sorted (a scalar is one item; a list or the tags are several).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Feature {
    key: u16,
    /// [`weight`] of the key, in tenths (kept here: the lookup's inner loop reads it).
    tenths: u16,
    items: Vec<u64>,
}

/// A reading's parameters as features, sorted by key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ParamFeatures(Vec<Feature>);

/// A past request's typed parameters as their JSON text: a past request keeps only what it
/// set, not a slot for every parameter there is (a tenth of the typed form's size or less).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeptParams(Box<str>);

impl KeptParams {
    pub fn of(params: &Params) -> KeptParams {
        let map = params.to_json();
        if map.is_empty() {
            return KeptParams::default();
        }
        // A map of plain values: writing it as text cannot fail.
        KeptParams(serde_json::to_string(&map).unwrap_or_default().into())
    }

    /// The parameters as [`Params::to_json`] gave them.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        if self.0.is_empty() {
            return serde_json::Map::new();
        }
        serde_json::from_str(&self.0).unwrap_or_default()
    }
}

/// How two readings' parameters compare.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamMatch {
    /// 0.0 ..= 1.0: the weighted share of keys (either side sets) with the same value.
    pub score: f64,
    /// Keys both set to the same value.
    pub same: Vec<&'static str>,
    /// Keys set on one side only, or to another value.
    pub differ: Vec<&'static str>,
}

impl ParamFeatures {
    pub fn of(params: &Params) -> ParamFeatures {
        let mut out = Vec::new();
        for (k, v) in params.to_json() {
            let Some(key) = Params::KEYS.iter().position(|x| *x == k) else {
                continue;
            };
            let mut items: Vec<u64> = match &v {
                serde_json::Value::Array(a) => a.iter().map(|x| hash(&x.to_string())).collect(),
                serde_json::Value::Object(o) => {
                    o.iter().map(|(k, x)| hash(&format!("{k}={x}"))).collect()
                }
                other => vec![hash(&other.to_string())],
            };
            items.sort_unstable();
            items.dedup();
            out.push(Feature {
                key: key as u16,
                tenths: (weight(&k) * 10.0) as u16,
                items,
            });
        }
        out.sort_by_key(|f| f.key);
        ParamFeatures(out)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The weighted match score alone (the lookup's inner loop: no allocation).
    pub fn score(&self, other: &ParamFeatures) -> f64 {
        let (mut hit, mut total) = (0.0, 0.0);
        merge(&self.0, &other.0, |f, share| {
            let w = f64::from(f.tenths);
            total += w;
            hit += w * share;
        });
        if total == 0.0 { 1.0 } else { hit / total }
    }

    /// The score with which keys agree and which differ, for saying why a request matched.
    pub fn compare(&self, other: &ParamFeatures) -> ParamMatch {
        let (mut same, mut differ) = (Vec::new(), Vec::new());
        merge(&self.0, &other.0, |f, share| {
            let name = Params::KEYS[f.key as usize];
            if share >= 1.0 {
                same.push(name);
            } else {
                differ.push(name);
            }
        });
        ParamMatch {
            score: self.score(other),
            same,
            differ,
        }
    }
}

/// Calls `f(feature, share)` for every key either side sets: share is the Jaccard overlap of
/// the two values' items (0 when one side does not set it).
fn merge(a: &[Feature], b: &[Feature], mut f: impl FnMut(&Feature, f64)) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.key == y.key => {
                f(x, overlap(&x.items, &y.items));
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.key < y.key => {
                f(x, 0.0);
                i += 1;
            }
            (Some(_), Some(y)) => {
                f(y, 0.0);
                j += 1;
            }
            (Some(x), None) => {
                f(x, 0.0);
                i += 1;
            }
            (None, Some(y)) => {
                f(y, 0.0);
                j += 1;
            }
            (None, None) => break,
        }
    }
}

fn overlap(a: &[u64], b: &[u64]) -> f64 {
    if a == b {
        return 1.0;
    }
    let both = a.iter().filter(|x| b.binary_search(x).is_ok()).count();
    let union = a.len() + b.len() - both;
    if union == 0 {
        1.0
    } else {
        both as f64 / union as f64
    }
}

/// What a key says about the operation: what it acts on weighs most, where and how big next,
/// the finer settings least.
pub fn weight(key: &str) -> f64 {
    match key {
        "stack" | "name" | "bucket" | "function" | "endpoint" | "instance_ids" | "volume_ids"
        | "log_group" | "secret" | "load_balancer_name" | "vpc_id" | "subnet_id" | "tags"
        | "security_groups" | "packages" | "command" => 3.0,
        "region" | "instance_type" | "engine" | "environment" | "count" | "resource"
        | "service" | "action" | "model" | "load_balancer" | "ports" | "scope" | "metric" => 2.0,
        _ => 1.0,
    }
}

/// FNV-1a, 64 bits: stable, and plenty for telling parameter values apart.
fn hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: serde_json::Value) -> Params {
        Params::from_json(v.as_object().unwrap().clone()).unwrap()
    }

    #[test]
    fn the_same_parameters_match_fully_and_a_differing_target_costs_most() {
        let a = ParamFeatures::of(&params(
            serde_json::json!({"count": 3, "instance_type": "t3.medium", "region": "eu-west-1"}),
        ));
        assert_eq!(a.score(&a), 1.0);
        let other_size = ParamFeatures::of(&params(
            serde_json::json!({"count": 3, "instance_type": "t3.large", "region": "eu-west-1"}),
        ));
        let m = a.compare(&other_size);
        assert_eq!(m.same, vec!["count", "region"]);
        assert_eq!(m.differ, vec!["instance_type"]);
        assert!((m.score - 4.0 / 6.0).abs() < 1e-9, "{}", m.score);
        let other_bucket = ParamFeatures::of(&params(serde_json::json!({"bucket": "logs"})));
        let bucket = ParamFeatures::of(&params(serde_json::json!({"bucket": "assets"})));
        assert_eq!(bucket.score(&other_bucket), 0.0);
    }

    #[test]
    fn lists_and_tags_match_by_shared_items() {
        let a = ParamFeatures::of(&params(serde_json::json!({"packages": ["nginx", "git"]})));
        let b = ParamFeatures::of(&params(
            serde_json::json!({"packages": ["git", "nginx", "curl"]}),
        ));
        assert!((a.score(&b) - 2.0 / 3.0).abs() < 1e-9);
        let t1 = ParamFeatures::of(&params(serde_json::json!({"tags": {"Env": "staging"}})));
        let t2 = ParamFeatures::of(&params(serde_json::json!({"tags": {"Env": "prod"}})));
        assert_eq!(t1.score(&t2), 0.0);
        assert_eq!(t1.score(&t1), 1.0);
    }

    #[test]
    fn kept_parameters_read_back_as_they_were() {
        let p = params(
            serde_json::json!({"count": 3, "threshold": 80.0, "packages": ["git"],
            "tags": {"Env": "staging"}, "region": "eu-west-1"}),
        );
        assert_eq!(KeptParams::of(&p).to_json(), p.to_json());
        assert_eq!(
            KeptParams::of(&Params::default()).to_json(),
            Params::default().to_json()
        );
    }

    #[test]
    fn no_parameters_on_either_side_is_no_difference() {
        let none = ParamFeatures::of(&Params::default());
        assert_eq!(none.score(&none), 1.0);
    }
}
