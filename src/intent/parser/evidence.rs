//! The evidence kept with an intent: each word of the request and what the parser took it to
//! mean, so an approver can see why a request was routed where it was.

use super::tokens::{Kind, Token};
use crate::intent::Evidence;
use crate::intent::lexicon::Cue;

pub(super) fn evidence(tokens: &[Token<'_>]) -> Vec<Evidence> {
    let mut out = Vec::new();
    for t in tokens {
        let meaning = match &t.kind {
            Kind::Known { cues, .. } => {
                let parts: Vec<String> = cues
                    .iter()
                    .filter_map(|c| match c {
                        Cue::Verb(v) => Some(format!("verb:{v:?}").to_lowercase()),
                        Cue::Noun(n) => Some(format!("noun:{n:?}").to_lowercase()),
                        Cue::Package => Some("package".into()),
                        Cue::Service(s) => Some(format!("service:{s}")),
                        Cue::Env(e) => Some(format!("environment:{e}")),
                        Cue::Region(r) => Some(format!("region:{r}")),
                        Cue::Number(n) => Some(format!("number:{n}")),
                        Cue::Window(w) => Some(format!("window:{w}")),
                        Cue::Granularity(g) => Some(format!("granularity:{g}")),
                        Cue::Lb(l) => Some(format!("load_balancer:{l}")),
                        Cue::Metric(m) => Some(format!("metric:{m}")),
                        Cue::Flag(k) => Some(format!("{k}:true")),
                        Cue::Resource(r) => Some(format!("resource:{r}")),
                        Cue::Names(k) => Some(format!("names:{k}")),
                        Cue::Cidr(c) => Some(format!("cidr:{c}")),
                        Cue::Port(p) => Some(format!("port:{p}")),
                        Cue::Lifecycle(l) => Some(format!("lifecycle:{l}")),
                        Cue::Setting(k) => Some(format!("setting:{k}")),
                        Cue::Unit(_)
                        | Cue::WindowMark
                        | Cue::Stop
                        | Cue::Seconds
                        | Cue::SizeUnit(_) => None,
                        Cue::Severity(s) => Some(format!("severity:{s}")),
                        Cue::Engine(e) => Some(format!("engine:{e}")),
                    })
                    .collect();
                if parts.is_empty() {
                    continue;
                }
                let mut m = parts.join(", ");
                if let Some(c) = t.corrected {
                    m = format!("{m} (typo for \"{c}\")");
                }
                m
            }
            Kind::Tag(k, v) => format!("tag:{k}={v}"),
            Kind::InstanceId(id) => format!("instance_id:{id}"),
            Kind::VolumeId(id) => format!("volume_id:{id}"),
            Kind::InstanceType(it) => format!("instance_type:{it}"),
            Kind::Region(r) => format!("region:{r}"),
            Kind::Number(n) => format!("number:{n}"),
            Kind::CompactWindow(n, unit) => match unit.window(*n) {
                Some(w) => format!("window:{w}"),
                None => format!("duration:{n} {unit:?}").to_lowercase(),
            },
            Kind::UnknownRegion(w) => format!("unknown region:{w}"),
            Kind::Negative(n) => format!("number:-{n}"),
            Kind::TooLarge(w) => format!("number:{w} (too large)"),
            Kind::Clock(t) => format!("time:{t}"),
            Kind::S3Uri { bucket, .. } => format!("bucket:{bucket}"),
            Kind::Cidr(c) => format!("cidr:{c}"),
            Kind::Id(k, v) => format!("{k}:{v}"),
            Kind::Runtime(r) => format!("runtime:{r}"),
            Kind::Size(mb) => format!("size:{mb}MiB"),
            Kind::Seconds(n) => format!("seconds:{n}"),
            Kind::Covered | Kind::Unknown => continue,
        };
        out.push(Evidence {
            word: t.orig.to_string(),
            meaning,
        });
    }
    out
}
