//! Validation of what a request names before it reaches a template: stack, bucket, key pair,
//! function and resource names, ids and ARNs, RDS classes, S3 lifecycle days and IPv4 ranges.

use std::net::Ipv4Addr;

use super::spec::Lifecycle;
use crate::error::{Error, Result};

pub fn validate_stack_name(s: &str) -> Result<()> {
    let ok = (1..=24).contains(&s.len())
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "invalid stack name '{s}': 1-24 lower-case letters, digits and '-', starting with a letter (it becomes part of AWS resource names)"
        )))
    }
}

/// S3 bucket naming rules (the subset that matters for new general-purpose buckets).
pub fn validate_bucket_name(s: &str) -> Result<()> {
    let ok = (3..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
        && !s.contains("..")
        && !s.starts_with("xn--")
        && s.parse::<std::net::Ipv4Addr>().is_err();
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "invalid bucket name '{s}': 3-63 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
        )))
    }
}

/// An existing EC2 key pair's name (opsdeck never creates key pairs or handles private keys).
pub fn validate_key_name(s: &str) -> Result<()> {
    let ok = (1..=255).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@+=".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "invalid key pair name '{s}': up to 255 letters, digits and . _ - @ + ="
        )))
    }
}

/// Lambda function names: 1-64 letters, digits, hyphens and underscores.
pub fn validate_function_name(s: &str) -> Result<()> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "invalid function name '{s}': 1-64 letters, digits, '-' and '_'"
        )))
    }
}

pub(super) fn validate_resource_id(s: &str, prefix: &str) -> Result<()> {
    let ok = s.strip_prefix(prefix).is_some_and(|h| {
        (h.len() == 8 || h.len() == 17) && h.bytes().all(|b| b.is_ascii_hexdigit())
    });
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "'{s}' is not a {prefix}… id (8 or 17 hexadecimal digits)"
        )))
    }
}

pub(super) fn validate_arn(s: &str, prefix: &str, infix: &str) -> Result<()> {
    let ok = s.starts_with(prefix)
        && s.contains(infix)
        && s.len() <= 2048
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":/-_.+=,@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "'{s}' is not an ARN of the kind expected here ({prefix}…{infix}…)"
        )))
    }
}

pub(super) fn validate_db_class(s: &str) -> Result<()> {
    let ok = s.strip_prefix("db.").is_some_and(|rest| {
        rest.split('.').count() == 2
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.')
    });
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "'{s}' is not an RDS instance class such as db.t3.medium"
        )))
    }
}

/// S3's own rules for lifecycle days, checked before AWS rejects them at apply time.
pub(super) fn validate_lifecycle(lc: &Lifecycle) -> Result<()> {
    let steps = [
        (lc.ia_days, "Standard-IA"),
        (lc.glacier_days, "Glacier"),
        (lc.deep_archive_days, "Deep Archive"),
        (lc.expire_days, "expiry"),
    ];
    for (d, what) in steps {
        if let Some(d) = d
            && !(1..=36_500).contains(&d)
        {
            return Err(Error::input(format!(
                "{what} after {d} days: lifecycle days must be 1 to 36500"
            )));
        }
    }
    if let Some(d) = lc.ia_days
        && d < 30
    {
        return Err(Error::input(format!(
            "objects can move to Standard-IA after 30 days at the earliest, not {d}"
        )));
    }
    if let (Some(ia), Some(g)) = (lc.ia_days, lc.glacier_days)
        && g < ia + 30
    {
        return Err(Error::input(format!(
            "Glacier after {g} days comes too soon after Standard-IA at {ia}: objects stay in Standard-IA at least 30 days"
        )));
    }
    let transitions: Vec<u32> = steps[..3].iter().filter_map(|(d, _)| *d).collect();
    if transitions.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::input(
            "lifecycle steps must come in order: Standard-IA, then Glacier, then Deep Archive",
        ));
    }
    if let (Some(e), Some(last)) = (lc.expire_days, transitions.last())
        && e <= *last
    {
        return Err(Error::input(format!(
            "objects must expire after their last move ({last} days), not at {e}"
        )));
    }
    Ok(())
}

pub(super) fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8)> {
    let bad = || Error::input(format!("'{s}' is not an IPv4 range such as 10.0.0.0/16"));
    let (ip, bits) = s.split_once('/').ok_or_else(bad)?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
    let bits: u8 = bits.parse().map_err(|_| bad())?;
    if bits > 32 {
        return Err(bad());
    }
    Ok((ip, bits))
}

pub(super) fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

pub(super) fn is_private_range(a: Ipv4Addr) -> bool {
    a.is_private() || (a.octets()[0] == 100 && (64..128).contains(&a.octets()[1]))
}

/// A security group named in a request: an `sg-…` id, or a name of at most 255 characters
/// of the set AWS allows (letters, digits, spaces and `._-:/()#,@[]+=&;{}!$*`; here without
/// spaces and quotes so it stays one word of HCL string).
pub(super) fn validate_group_ref(s: &str) -> Result<()> {
    if s.starts_with("sg-") {
        return validate_resource_id(s, "sg-");
    }
    let ok = (1..=255).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:/()#,@[]+=&;{}!$*".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "'{s}' is not a security group name or sg-… id"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_rules_follow_s3() {
        let ok = Lifecycle {
            ia_days: Some(30),
            glacier_days: Some(90),
            expire_days: Some(365),
            ..Lifecycle::default()
        };
        assert!(validate_lifecycle(&ok).is_ok());
        for bad in [
            Lifecycle {
                ia_days: Some(10),
                ..Lifecycle::default()
            },
            Lifecycle {
                ia_days: Some(30),
                glacier_days: Some(45),
                ..Lifecycle::default()
            },
            Lifecycle {
                glacier_days: Some(90),
                expire_days: Some(30),
                ..Lifecycle::default()
            },
        ] {
            assert!(validate_lifecycle(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_and_ids() {
        assert!(validate_key_name("ops-key").is_ok());
        assert!(validate_key_name("a\"b").is_err());
        assert!(validate_function_name("my-func").is_ok());
        assert!(validate_function_name("my func").is_err());
        assert!(validate_resource_id("subnet-0123456789abcdef0", "subnet-").is_ok());
        assert!(validate_resource_id("subnet-xyz", "subnet-").is_err());
        assert!(validate_db_class("db.t3.medium").is_ok());
        assert!(validate_db_class("t3.medium").is_err());
        assert!(
            validate_arn(
                "arn:aws:iam::123456789012:role/app",
                "arn:aws:iam::",
                ":role/"
            )
            .is_ok()
        );
        assert!(
            validate_arn(
                "arn:aws:iam::123456789012:user/x",
                "arn:aws:iam::",
                ":role/"
            )
            .is_err()
        );
    }
}
