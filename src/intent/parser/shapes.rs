//! Tokens recognised by their shape rather than by vocabulary: tags, instance and volume ids,
//! instance types, region codes, `s3://` URIs, numbers, compact windows, clock times, and the
//! shapes only infrastructure requests use (address ranges, resource ids, ARNs, runtimes, sizes).

use super::stated;
use super::tokens::{Kind, Token};
use crate::intent::lexicon::LEXICON;
use crate::intent::params::IdKey;
use crate::intent::regions;
use crate::intent::words::compact_duration;

/// Tokens recognised by shape rather than by vocabulary.
pub(super) fn pattern(t: &Token<'_>) -> Option<Kind> {
    let l = t.lower.as_str();
    if let Some(rest) = l.strip_prefix("s3://") {
        let (bucket, prefix) = match rest.split_once('/') {
            Some((b, p)) if !p.is_empty() => (b, Some(p.to_string())),
            Some((b, _)) => (b, None),
            None => (rest, None),
        };
        return Some(Kind::S3Uri {
            bucket: bucket.to_string(),
            prefix,
        });
    }
    if let Some((k, v)) = t.orig.split_once('=') {
        let k = k
            .strip_prefix("tag:")
            .or_else(|| k.strip_prefix("Tag:"))
            .unwrap_or(k);
        if !k.is_empty()
            && !v.is_empty()
            && k.chars()
                .all(|c| c.is_alphanumeric() || "_.:/+-@ ".contains(c))
        {
            return Some(Kind::Tag(k.to_string(), v.to_string()));
        }
    }
    if is_instance_id(l) {
        return Some(Kind::InstanceId(l.to_string()));
    }
    if let Some(kind) = infra_pattern(l) {
        return Some(kind);
    }
    if is_volume_id(l) {
        return Some(Kind::VolumeId(l.to_string()));
    }
    if let Some(code) = regions::code(l) {
        return Some(Kind::Region(code));
    }
    if is_instance_type(l) {
        return Some(Kind::InstanceType(l.to_string()));
    }
    // "3", "3x" as in "3x t3.medium", "-3"
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if let Some(n) = Some(l)
        .filter(|l| digits(l))
        .or_else(|| l.strip_suffix('x').filter(|n| digits(n)))
    {
        return Some(
            n.parse()
                .map_or_else(|_| Kind::TooLarge(n.to_string()), Kind::Number),
        );
    }
    if let Some(n) = l.strip_prefix('-').or_else(|| l.strip_prefix('\u{2212}'))
        && digits(n)
    {
        return Some(
            n.parse()
                .map_or_else(|_| Kind::TooLarge(l.to_string()), Kind::Negative),
        );
    }
    if let Some((n, unit)) = compact_duration(l) {
        return Some(Kind::CompactWindow(n, unit));
    }
    if stated::is_clock(l) {
        return Some(Kind::Clock(t.orig.to_string()));
    }
    None
}

/// Shapes only infrastructure requests use: ranges, resource ids, ARNs, runtimes, sizes.
pub(super) fn infra_pattern(l: &str) -> Option<Kind> {
    if let Some((ip, bits)) = l.split_once('/')
        && ip.parse::<std::net::Ipv4Addr>().is_ok()
        && bits.parse::<u8>().is_ok_and(|b| b <= 32)
    {
        // The whole world keeps its lexicon meaning (public exposure) as well.
        return (l != "0.0.0.0/0").then(|| Kind::Cidr(l.to_string()));
    }
    for (prefix, key) in [("subnet-", IdKey::SubnetId), ("vpc-", IdKey::VpcId)] {
        if let Some(h) = l.strip_prefix(prefix)
            && (h.len() == 8 || h.len() == 17)
            && h.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Some(Kind::Id(key, l.to_string()));
        }
    }
    if l.starts_with("arn:aws:acm:") {
        return Some(Kind::Id(IdKey::CertificateArn, l.to_string()));
    }
    if l.starts_with("arn:aws:iam::") && l.contains(":role/") {
        return Some(Kind::Id(IdKey::RoleArn, l.to_string()));
    }
    if let Some(r) = lambda_runtime(l) {
        return Some(Kind::Runtime(r));
    }
    if LEXICON.words.contains_key(l) {
        return None;
    }
    let split = l.find(|c: char| !c.is_ascii_digit()).filter(|i| *i > 0)?;
    let mult = match &l[split..] {
        "mb" | "mib" | "s" | "sec" | "secs" => 1,
        "gb" | "gib" => 1024,
        "tb" | "tib" => 1024 * 1024,
        _ => return None,
    };
    let Some(n) = l[..split]
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
    else {
        return Some(Kind::TooLarge(l.to_string()));
    };
    Some(if l[split..].starts_with('s') {
        Kind::Seconds(n)
    } else {
        Kind::Size(n)
    })
}

/// A Lambda runtime identifier in the forms operators type: `python3.12`, `nodejs22.x`,
/// `node22`, `java21`, `ruby3.3`, `dotnet8`, `provided.al2023`. Whether AWS still offers it
/// is the infra agent's call.
pub(super) fn lambda_runtime(l: &str) -> Option<String> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(v) = l.strip_prefix("python")
        && let Some((major, minor)) = v.split_once('.')
        && major == "3"
        && digits(minor)
    {
        return Some(format!("python3.{minor}"));
    }
    if let Some(v) = l.strip_prefix("nodejs").or_else(|| l.strip_prefix("node")) {
        let v = v.strip_suffix(".x").unwrap_or(v);
        return digits(v).then(|| format!("nodejs{v}.x"));
    }
    if let Some(v) = l.strip_prefix("java") {
        return digits(v).then(|| l.to_string());
    }
    if let Some(v) = l.strip_prefix("ruby")
        && let Some((major, minor)) = v.split_once('.')
        && digits(major)
        && digits(minor)
    {
        return Some(l.to_string());
    }
    if let Some(v) = l.strip_prefix("dotnet") {
        return digits(v).then(|| l.to_string());
    }
    matches!(l, "provided.al2023" | "provided.al2").then(|| l.to_string())
}

/// The runtime a language name stands for when a Lambda function is being created.
pub(super) fn runtime_for_language(word: &str) -> Option<&'static str> {
    Some(match word {
        "python" | "python3" => "python3.12",
        "nodejs" | "node.js" | "nodejs18" => "nodejs22.x",
        "java" | "openjdk" => "java21",
        "ruby" => "ruby3.3",
        "golang" => "provided.al2023",
        _ => return None,
    })
}

pub(super) fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-").is_some_and(|h| {
        (h.len() == 8 || h.len() == 17) && h.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

pub(super) fn is_volume_id(s: &str) -> bool {
    s.strip_prefix("vol-").is_some_and(|h| {
        (h.len() == 8 || h.len() == 17) && h.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// `t3.medium`, `m5.2xlarge`, `c6gn.metal`, `r7i.large`.
pub(super) fn is_instance_type(s: &str) -> bool {
    let s = s.strip_prefix("db.").unwrap_or(s);
    let Some((family, size)) = s.split_once('.') else {
        return false;
    };
    let fam_ok = family.len() >= 2
        && family.len() <= 6
        && family.as_bytes()[0].is_ascii_lowercase()
        && family.bytes().any(|b| b.is_ascii_digit())
        && family
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let size_ok = matches!(
        size,
        "nano" | "micro" | "small" | "medium" | "large" | "xlarge" | "metal"
    ) || size
        .strip_suffix("xlarge")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        || size.starts_with("metal-");
    fam_ok && size_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes() {
        for (typed, runtime) in [
            ("python3.12", "python3.12"),
            ("nodejs20.x", "nodejs20.x"),
            ("node22", "nodejs22.x"),
            ("java21", "java21"),
            ("ruby3.3", "ruby3.3"),
            ("provided.al2023", "provided.al2023"),
        ] {
            assert_eq!(lambda_runtime(typed).as_deref(), Some(runtime));
        }
        for not_one in ["python", "nodes", "node.js", "javascript", "t3.medium"] {
            assert_eq!(lambda_runtime(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn instance_types() {
        assert!(is_instance_type("t3.medium"));
        assert!(is_instance_type("m5.2xlarge"));
        assert!(is_instance_type("c6gn.metal"));
        assert!(!is_instance_type("node.js"));
        assert!(!is_instance_type("v1.2"));
    }
}
