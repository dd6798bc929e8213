//! Parameters only infrastructure templates use: flags (multi-AZ, NAT), subnet tiers, address
//! ranges, ports, sizes, durations, lifecycle days, engine versions and names after their
//! keyword ("key pair", "handler", "health check").

use super::features::Features;
use super::names::name_after;
use super::tokens::{Kind, Token};
use crate::intent::Params;
use crate::intent::lexicon::{Cue, Noun};
use crate::intent::params::{Lifecycle, Setting};
use crate::intent::words::Unit;

/// Parameters only infrastructure templates use: flags (multi-AZ, NAT), subnets, address ranges,
/// ports, sizes, durations, lifecycle days, engine versions, names after their keyword. Numbers
/// taken here are marked `used`, so they are never read as an instance count.
pub(super) fn params(tokens: &[Token<'_>], f: &Features, p: &mut Params, used: &mut [bool]) {
    let negated = |i: usize| {
        i > 0
            && matches!(
                tokens[i - 1].lower.as_str(),
                "no" | "without" | "not" | "disable"
            )
    };
    // Ports are security group rules only when no machines are being created ("behind an
    // ALB on port 8080" is the targets' port).
    let port_words = tokens
        .iter()
        .any(|t| matches!(t.lower.as_str(), "port" | "ports" | "ingress" | "inbound"));
    let sg_context = f.noun(Noun::SecurityGroup)
        || (port_words && p.load_balancer.is_none() && !f.noun(Noun::Instance) && !f.instance_type);
    for (i, t) in tokens.iter().enumerate() {
        match &t.kind {
            Kind::Cidr(c) => {
                p.cidr.get_or_insert_with(|| c.clone());
            }
            Kind::Id(k, v) => {
                p.id_mut(*k).get_or_insert_with(|| v.clone());
            }
            Kind::Runtime(r) => {
                p.runtime = Some(r.clone());
            }
            _ => {}
        }
        for c in t.cues() {
            match c {
                Cue::Flag(k) => {
                    *p.flag_mut(*k) = Some(!negated(i));
                }
                Cue::Resource(r) => {
                    p.resource.get_or_insert(*r);
                }
                Cue::Cidr(c) => {
                    p.cidr.get_or_insert_with(|| c.to_string());
                }
                Cue::Names(k) => {
                    if let Some(v) = name_after(tokens, i, *k) {
                        p.name_mut(*k).get_or_insert(v);
                    }
                }
                Cue::Engine(_) if f.noun(Noun::Database) => {
                    // "postgres 16", "mysql 8.0"
                    if let Some(next) = tokens.get(i + 1)
                        && next.lower.split_once('.').map_or(
                            next.number().is_some()
                                && next.lower.bytes().all(|b| b.is_ascii_digit()),
                            |(a, b)| {
                                !a.is_empty()
                                    && !b.is_empty()
                                    && a.bytes().chain(b.bytes()).all(|x| x.is_ascii_digit())
                            },
                        )
                    {
                        p.engine_version.get_or_insert_with(|| next.lower.clone());
                        used[i + 1] = true;
                    }
                }
                Cue::Noun(Noun::Tls) if p.load_balancer.is_some() => {
                    p.tls = Some(true);
                }
                _ => {}
            }
        }
    }
    subnet_tiers(tokens, p, used);
    settings(tokens, f, p, used);
    lifecycle(tokens, p, used);
    if sg_context {
        let mut ports: Vec<u64> = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            if let Some(port) = t.cues().iter().find_map(|c| match c {
                Cue::Port(n) => Some(u64::from(*n)),
                _ => None,
            }) {
                ports.push(port);
            }
            let Some(n) = t.number() else { continue };
            // "2 security groups" counts groups; "443" alone is a port.
            let counts_next = tokens.get(i + 1).is_some_and(|x| {
                matches!(x.kind, Kind::InstanceType(_))
                    || x.has(|c| {
                        matches!(
                            c,
                            Cue::Noun(_) | Cue::Unit(_) | Cue::SizeUnit(_) | Cue::Seconds
                        )
                    })
            });
            // A number named as a port is one even out of range ("port 70000"), so the range
            // check refuses it rather than it being dropped.
            let named_port = i > 0 && matches!(tokens[i - 1].lower.as_str(), "port" | "ports");
            if !used[i]
                && !counts_next
                && ((1..=65535).contains(&n) || named_port)
                && matches!(t.kind, Kind::Number(_))
            {
                ports.push(n);
                used[i] = true;
            }
        }
        ports.sort_unstable();
        ports.dedup();
        p.ports = ports;
    } else {
        // "behind an ALB on port 8080"
        for (i, t) in tokens.iter().enumerate() {
            if t.lower == "port"
                && let Some(n) = tokens.get(i + 1).and_then(Token::number)
                && !used[i + 1]
            {
                p.port.get_or_insert(n);
                used[i + 1] = true;
            }
        }
    }
}

/// "with 2 private subnets", "public and private subnets", "in a private subnet".
pub(super) fn subnet_tiers(tokens: &[Token<'_>], p: &mut Params, used: &mut [bool]) {
    for (i, t) in tokens.iter().enumerate() {
        if !matches!(t.lower.as_str(), "subnet" | "subnets") {
            continue;
        }
        let plural = t.lower.ends_with('s');
        let mut j = i;
        while j > 0 {
            let adj = &tokens[j - 1];
            match adj.lower.as_str() {
                tier @ ("private" | "public") => {
                    let private = tier == "private";
                    let number = j >= 2 && !used[j - 2] && tokens[j - 2].number().is_some();
                    let count = if number {
                        used[j - 2] = true;
                        tokens[j - 2].number().unwrap_or(1)
                    } else if plural {
                        2
                    } else {
                        1
                    };
                    let subnets = if private {
                        &mut p.private_subnets
                    } else {
                        &mut p.public_subnets
                    };
                    subnets.get_or_insert(count);
                    j -= if number { 2 } else { 1 };
                }
                "and" | "or" | "&" => j -= 1,
                _ => break,
            }
        }
    }
}

/// A duration starting at token `i`, in seconds: `30s`, `15m`, "30 seconds", "5 minutes",
/// "14 days". A bare number is returned with `None` as its unit, for the caller to read.
pub(super) fn duration_at(tokens: &[Token<'_>], i: usize) -> Option<(u64, Option<u64>, usize)> {
    let t = tokens.get(i)?;
    match &t.kind {
        Kind::Seconds(n) => return Some((*n, Some(1), i)),
        // An absurd duration saturates rather than wraps, and the range check refuses it.
        Kind::CompactWindow(n, unit) => {
            return Some((n.saturating_mul(unit.secs()), Some(unit.secs()), i));
        }
        _ => {}
    }
    let n = t.number()?;
    let next = tokens.get(i + 1);
    let mult = next.and_then(|x| {
        if x.has(|c| matches!(c, Cue::Seconds)) {
            return Some(1);
        }
        x.unit().map(Unit::secs)
    });
    match mult {
        Some(m) => Some((n.saturating_mul(m), Some(m), i + 1)),
        None => Some((n, None, i)),
    }
}

/// Values after (or just before) a setting word: "timeout 30 seconds", "512 MB memory",
/// "retention 14 days", "min 2 max 10", "100 GB storage".
pub(super) fn settings(tokens: &[Token<'_>], f: &Features, p: &mut Params, used: &mut [bool]) {
    let setting_of = |t: &Token<'_>| {
        t.cues().iter().find_map(|c| match c {
            Cue::Setting(k) => Some(*k),
            _ => None,
        })
    };
    // Sizes first: "512 MB", "100gb".
    for i in 0..tokens.len() {
        let (mb, end) = match &tokens[i].kind {
            Kind::Size(mb) => (*mb, i),
            _ => {
                let unit = tokens.get(i + 1).and_then(|x| {
                    x.cues().iter().find_map(|c| match c {
                        Cue::SizeUnit(u) => Some(u64::from(*u)),
                        _ => None,
                    })
                });
                match (tokens[i].number(), unit) {
                    // Saturating: an absurd size stays absurd and the range check refuses it.
                    (Some(n), Some(u)) if !used[i] => (n.saturating_mul(u), i + 1),
                    _ => continue,
                }
            }
        };
        let near = (i.saturating_sub(2)..(end + 3).min(tokens.len())).find_map(|j| {
            setting_of(&tokens[j]).filter(|k| matches!(k, Setting::MemoryMb | Setting::StorageGb))
        });
        let key = near.or(if f.noun(Noun::Function) {
            Some(Setting::MemoryMb)
        } else if f.noun(Noun::Database) {
            Some(Setting::StorageGb)
        } else {
            None
        });
        match key {
            Some(Setting::MemoryMb) => {
                p.memory_mb.get_or_insert(mb);
            }
            Some(_) => {
                p.storage_gb.get_or_insert(mb.div_ceil(1024));
            }
            None => continue,
        }
        used[i..=end].iter_mut().for_each(|u| *u = true);
    }
    for (k, t) in tokens.iter().enumerate() {
        let Some(key) = setting_of(t) else { continue };
        match key {
            Setting::TimeoutS | Setting::RetentionDays => {
                let unit_default = if key == Setting::TimeoutS { 1 } else { 86_400 };
                // After the word ("timeout of 30 seconds"), else before it ("30 second timeout").
                let after = (k + 1..(k + 4).min(tokens.len())).find(|j| {
                    tokens[*j].number().is_some()
                        || matches!(tokens[*j].kind, Kind::Seconds(_) | Kind::CompactWindow(..))
                });
                let before = (k.saturating_sub(3)..k).rev().find(|j| {
                    duration_at(tokens, *j)
                        .is_some_and(|(_, unit, end)| unit.is_some() && end + 1 == k)
                });
                let Some(start) = after.or(before) else {
                    continue;
                };
                let Some((n, unit, end)) = duration_at(tokens, start) else {
                    continue;
                };
                let secs = if unit.is_some() { n } else { n * unit_default };
                let value = if key == Setting::TimeoutS {
                    secs
                } else {
                    secs / 86_400
                };
                p.setting_mut(key).get_or_insert(value);
                used[start..=end].iter_mut().for_each(|u| *u = true);
            }
            Setting::MinSize | Setting::MaxSize => {
                if let Some((j, n)) = (k + 1..(k + 3).min(tokens.len()))
                    .find_map(|j| tokens[j].number().map(|n| (j, n)))
                {
                    p.setting_mut(key).get_or_insert(n);
                    used[j] = true;
                }
            }
            Setting::MemoryMb | Setting::StorageGb => {}
        }
    }
}

/// "expire after 90 days", "move to Glacier after 30 days", "infrequent access after 1 month".
pub(super) fn lifecycle(tokens: &[Token<'_>], p: &mut Params, used: &mut [bool]) {
    for i in 0..tokens.len() {
        let Some((secs, Some(unit), end)) = duration_at(tokens, i) else {
            continue;
        };
        if unit < 86_400 {
            continue;
        }
        // The nearest lifecycle word before the number names the step.
        let step: Option<Lifecycle> = (i.saturating_sub(6)..i).rev().find_map(|j| {
            tokens[j].cues().iter().find_map(|c| match c {
                Cue::Lifecycle(l) => Some(*l),
                _ => None,
            })
        });
        if let Some(step) = step {
            p.lifecycle_days_mut(step).get_or_insert(secs / 86_400);
            used[i..=end].iter_mut().for_each(|u| *u = true);
        }
    }
}

/// "3 medium instances": a size word right before the machines, with no type named, read as
/// that size of the t3 family (the templates' default) and said so, rather than dropped.
pub(super) fn size_as_type(tokens: &[Token<'_>], p: &mut Params, notes: &mut Vec<String>) {
    const SIZES: [&str; 7] = [
        "nano", "micro", "small", "medium", "large", "xlarge", "2xlarge",
    ];
    if p.instance_type.is_some() {
        return;
    }
    let machines = |t: &Token<'_>| t.has(|c| matches!(c, Cue::Noun(Noun::Instance)));
    if let Some(w) = tokens
        .windows(2)
        .find_map(|w| (SIZES.contains(&w[0].lower.as_str()) && machines(&w[1])).then_some(&w[0]))
    {
        let it = format!("t3.{}", w.lower);
        notes.push(format!(
            "read \"{}\" as instance type {it} (the t3 family; name another type, e.g. m6i.large, for a different one)",
            w.orig
        ));
        p.instance_type = Some(it);
    }
}

#[cfg(test)]
mod tests {
    use crate::intent::parser::p;
    use crate::intent::{AgentKind, Engine, Resource};

    #[test]
    fn infrastructure_settings() {
        let i = p("create an RDS postgres db.t3.medium multi-az in eu-west-1");
        assert_eq!((i.agent, i.action.as_str()), (AgentKind::Infra, "create"));
        assert_eq!(
            i.agents,
            vec![AgentKind::Infra],
            "postgres is the engine here"
        );
        assert_eq!(i.params.engine, Some(Engine::Postgres));
        assert_eq!(i.params.multi_az, Some(true));
        let i = p("create a mysql 8.0 database db.t3.small with 100 GB storage");
        assert_eq!(i.params.engine_version.as_deref(), Some("8.0"));
        assert_eq!(i.params.storage_gb, Some(100));
        assert!(i.params.count.is_none());

        let i = p("create a lambda function my-func with python3.12 and 512 MB");
        assert_eq!(i.params.function.as_deref(), Some("my-func"));
        assert_eq!(i.params.runtime.as_deref(), Some("python3.12"));
        assert_eq!(i.params.memory_mb, Some(512));
        let i = p(
            "create a lambda image-thumbs in python with 256 MB of memory and a 30 second timeout",
        );
        assert_eq!(
            i.agents,
            vec![AgentKind::Infra],
            "python is the runtime here"
        );
        assert_eq!(i.params.runtime.as_deref(), Some("python3.12"));
        assert_eq!(i.params.timeout_s, Some(30));
        assert!(i.params.metric.is_none());
        let i = p(
            "create lambda resize-api with nodejs22.x, 1gb memory, timeout 2 minutes, log retention 14 days",
        );
        assert_eq!(i.params.runtime.as_deref(), Some("nodejs22.x"));
        assert_eq!(i.params.memory_mb, Some(1024));
        // "node", as docs/templates.md promises, is Node.js for a function, not a host.
        for text in [
            "create a lambda function my-func with node",
            "create a lambda function my-func with nodejs",
        ] {
            let n = p(text);
            assert_eq!(n.params.runtime.as_deref(), Some("nodejs22.x"), "{text}");
            assert_eq!(n.params.service.as_deref(), Some("Lambda"), "{text}");
        }
        assert_eq!(i.params.timeout_s, Some(120));
        assert_eq!(i.params.retention_days, Some(14));

        let i = p("create a VPC with public and private subnets and NAT in ap-south-1");
        assert_eq!(i.params.resource, Some(Resource::Vpc));
        assert_eq!(i.params.public_subnets, Some(2));
        assert_eq!(i.params.private_subnets, Some(2));
        assert_eq!(i.params.nat, Some(true));
        let i = p(
            "create a vpc 10.20.0.0/16 with 3 private subnets and one nat gateway per az without public ips",
        );
        assert_eq!(i.params.cidr.as_deref(), Some("10.20.0.0/16"));
        assert_eq!(i.params.private_subnets, Some(3));
        assert_eq!(i.params.nat_per_az, Some(true));
        assert!(i.params.count.is_none());
        assert_eq!(p("create a vpc without NAT").params.nat, Some(false));

        let i = p("create an S3 bucket logs-archive with lifecycle expire after 90 days");
        assert_eq!(i.params.bucket.as_deref(), Some("logs-archive"));
        assert_eq!(i.params.expire_days, Some(90));
        let i = p(
            "create bucket media-store, move objects to Glacier after 30 days and expire them after 1 year",
        );
        assert_eq!(i.params.glacier_days, Some(30));
        assert_eq!(i.params.expire_days, Some(365));

        let i = p("create 2 t3.small instances with key pair ops-key in a private subnet");
        assert_eq!(i.params.count, Some(2));
        assert_eq!(i.params.key_name.as_deref(), Some("ops-key"));
        assert_eq!(i.params.private_subnets, Some(1));
        let i = p("launch a t3.micro in subnet-0123456789abcdef0");
        assert_eq!(
            i.params.subnet_id.as_deref(),
            Some("subnet-0123456789abcdef0")
        );

        let i = p("create a security group allowing 443 from anywhere");
        assert_eq!((i.agent, i.action.as_str()), (AgentKind::Infra, "create"));
        assert_eq!(i.params.resource, Some(Resource::SecurityGroup));
        assert_eq!(i.params.ports, [443]);
        assert_eq!(i.params.cidr.as_deref(), Some("0.0.0.0/0"));
        let i = p("create a security group allowing ssh and ports 80, 8080 from 10.0.0.0/8");
        assert_eq!(i.params.ports, [22, 80, 8080]);
        assert_eq!(i.params.cidr.as_deref(), Some("10.0.0.0/8"));
        assert!(
            p("create a security group allowing 443")
                .params
                .cidr
                .is_none()
        );

        let i =
            p("create 3 t3.medium instances behind an alb on port 8080 with health check /healthz");
        assert_eq!(i.params.count, Some(3));
        assert_eq!(i.params.port, Some(8080));
        assert_eq!(i.params.health_check_path.as_deref(), Some("/healthz"));
        assert!(i.params.ports.is_empty());
        let i = p(
            "create lambda orders with java21 code in s3://acme-builds/orders.zip handler example.Handler::handleRequest",
        );
        assert_eq!(
            i.params.handler.as_deref(),
            Some("example.Handler::handleRequest")
        );
        assert_eq!(i.params.prefix.as_deref(), Some("orders.zip"));
        let i = p("create an auto scaling group web of 4 t3.small behind an ALB min 2 max 10");
        assert_eq!(i.params.resource, Some(Resource::AutoscalingGroup));
        assert_eq!(i.params.stack.as_deref(), Some("web"));
        assert_eq!(i.params.count, Some(4));
        assert_eq!((i.params.min_size, i.params.max_size), (Some(2), Some(10)));
        let i = p("scale the web tier to 6");
        assert_eq!((i.action.as_str(), i.params.count), ("scale", Some(6)));
        assert_eq!(i.params.stack.as_deref(), Some("web"));
        let i = p("scale the web tier down to 2");
        assert_eq!(
            i.params.stack.as_deref(),
            Some("web"),
            "not a stack named down"
        );
    }
}
