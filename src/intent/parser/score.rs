//! Routing: each meaning adds weight to agents, and verb–noun pairs add more ("create" +
//! "instances" → infra, "terminate" + "instances" → ops). The highest score wins.

use super::features::Features;
use super::tokens::Token;
use crate::intent::lexicon::{Noun, Verb};

// Index of each agent in score arrays: the order of AgentKind::ALL.
pub(super) const INFRA: usize = 0;
pub(super) const CONFIG: usize = 1;
pub(super) const OPS: usize = 2;
pub(super) const COST: usize = 3;
pub(super) const SEC: usize = 4;
pub(super) const MON: usize = 5;
pub(super) const ML: usize = 6;

pub(super) fn verb_weights(v: Verb) -> [f64; 7] {
    let mut w = [0.0; 7];
    match v {
        Verb::Create => w[INFRA] = 2.5,
        Verb::Destroy => w[INFRA] = 2.5,
        Verb::Terminate => w[OPS] = 3.0,
        Verb::Scale => w[INFRA] = 3.0,
        Verb::Update => {
            w[INFRA] = 1.0;
            w[CONFIG] = 1.0;
        }
        Verb::Install | Verb::Uninstall | Verb::Harden => w[CONFIG] = 3.0,
        Verb::Upgrade => w[CONFIG] = 2.5,
        Verb::Patch => w[CONFIG] = 3.0,
        Verb::Configure => w[CONFIG] = 2.0,
        Verb::Restart | Verb::Start | Verb::Stop => w[OPS] = 3.0,
        Verb::Rotate | Verb::Snapshot => w[OPS] = 3.0,
        Verb::Run => w[OPS] = 2.0,
        Verb::List => {
            w[OPS] = 0.5;
            w[MON] = 0.4;
            w[SEC] = 0.2;
        }
        Verb::Query => w[COST] = 0.4,
        Verb::Forecast => w[COST] = 3.5,
        Verb::Estimate => w[COST] = 3.0,
        Verb::Optimize => w[COST] = 2.5,
        Verb::Scan => w[SEC] = 3.0,
        Verb::Check => {
            w[SEC] = 1.0;
            w[MON] = 0.5;
        }
        Verb::Remediate => w[SEC] = 2.5,
        Verb::Analyze => {
            w[ML] = 1.5;
            w[MON] = 0.5;
        }
        Verb::Detect => w[ML] = 2.0,
        Verb::Summarize => w[ML] = 3.0,
        Verb::Classify => w[ML] = 2.5,
        Verb::Invoke => w[ML] = 2.5,
        Verb::Alert => w[MON] = 2.5,
    }
    w
}

pub(super) fn noun_weights(n: Noun) -> [f64; 7] {
    let mut w = [0.0; 7];
    match n {
        Noun::Instance => {
            w[INFRA] = 0.8;
            w[OPS] = 1.2;
            w[CONFIG] = 0.4;
        }
        Noun::Bucket => {
            w[INFRA] = 0.8;
            w[SEC] = 0.8;
            w[ML] = 0.3;
        }
        Noun::LoadBalancer | Noun::Network => w[INFRA] = 2.5,
        Noun::SecurityGroup => {
            w[SEC] = 2.0;
            w[INFRA] = 0.8;
        }
        Noun::Database => w[INFRA] = 1.5,
        Noun::Function => {
            w[MON] = 1.0;
            w[INFRA] = 0.5;
        }
        Noun::Stack => w[INFRA] = 2.0,
        Noun::Volume => {
            w[OPS] = 1.5;
            w[COST] = 0.3;
        }
        Noun::Secret => w[OPS] = 2.0,
        Noun::Command => w[OPS] = 2.0,
        Noun::Logs => w[MON] = 3.0,
        Noun::Errors => w[MON] = 2.5,
        Noun::Metric => w[MON] = 2.5,
        Noun::Alarm => w[MON] = 3.0,
        Noun::Cost => w[COST] = 3.5,
        Noun::CostHint => w[COST] = 1.5,
        Noun::Budget => w[COST] = 3.0,
        Noun::Forecast => w[COST] = 1.0,
        Noun::Savings => w[COST] = 2.0,
        Noun::Findings | Noun::ThreatService => w[SEC] = 3.0,
        Noun::Iam | Noun::Mfa | Noun::AccessKeys | Noun::Root => w[SEC] = 2.5,
        Noun::Public => w[SEC] = 2.0,
        Noun::Encryption => {
            w[SEC] = 1.8;
            w[INFRA] = 0.4;
        }
        Noun::Sentiment | Noun::KeyPhrases | Noun::Pii | Noun::Entities => w[ML] = 3.5,
        Noun::Language => w[ML] = 2.5,
        Noun::Endpoint | Noun::Model => w[ML] = 3.0,
        Noun::Text => w[ML] = 1.5,
        Noun::Tls => w[CONFIG] = 1.5,
        Noun::Ssh => {
            w[CONFIG] = 1.0;
            w[SEC] = 0.5;
        }
        Noun::Patches => w[CONFIG] = 2.0,
        Noun::Users => {
            w[CONFIG] = 0.6;
            w[SEC] = 0.6;
        }
        Noun::MonitoringAgent => w[CONFIG] = 2.0,
        Noun::Software => w[CONFIG] = 1.5,
    }
    w
}

pub(super) fn score(f: &Features, tokens: &[Token<'_>]) -> [f64; 7] {
    let mut s = [0.0f64; 7];
    let add = |s: &mut [f64; 7], w: [f64; 7]| {
        for (a, b) in s.iter_mut().zip(w) {
            *a += b;
        }
    };
    // A verb repeated ("stop ... then start") counts once per kind.
    let mut seen_verbs: Vec<Verb> = Vec::new();
    for (_, v) in &f.verbs {
        if !seen_verbs.contains(v) {
            seen_verbs.push(*v);
            add(&mut s, verb_weights(*v));
        }
    }
    let mut seen_nouns: Vec<Noun> = Vec::new();
    for (_, n) in &f.nouns {
        if !seen_nouns.contains(n) {
            seen_nouns.push(*n);
            add(&mut s, noun_weights(*n));
        }
    }
    if f.has_package {
        s[CONFIG] += 2.0;
    }
    if f.instance_type {
        s[INFRA] += 1.0;
        s[COST] += 0.2;
    }
    if f.instance_ids || f.volume_ids {
        s[OPS] += 1.5;
    }
    // A quoted string is a command only when something asks to run it; otherwise it is text.
    if f.command && (f.verb(Verb::Run) || f.noun(Noun::Command)) {
        s[OPS] += 2.0;
    }
    if f.granularity {
        s[COST] += 1.5;
    }
    if f.window {
        s[MON] += 0.4;
        s[COST] += 0.4;
    }
    if f.tags {
        s[OPS] += 0.3;
    }
    let count_before_resource = tokens.iter().enumerate().any(|(i, t)| {
        t.number().is_some()
            && tokens[i + 1..]
                .iter()
                .take(3)
                .any(|n| n.noun(Noun::Instance) || n.noun(Noun::Bucket))
    });

    let v = |x: Verb| f.verb(x);
    let n = |x: Noun| f.noun(x);
    let word = |w: &str| tokens.iter().any(|t| t.lower == w);
    // "fire up the stopped boxes" revives machines rather than creating them.
    if v(Verb::Create) && word("stopped") && n(Noun::Instance) {
        s[OPS] += 5.0;
    }
    // "make bucket X private" fixes exposure.
    if word("make") && word("private") {
        s[SEC] += 5.0;
    }
    let infra_noun = n(Noun::LoadBalancer)
        || n(Noun::Network)
        || n(Noun::Stack)
        || n(Noun::Database)
        || n(Noun::SecurityGroup);
    let creates = v(Verb::Create);
    // Local users and sudo on hosts ("add user deploy with sudo on env=dev") are configuration,
    // not IAM and not a new instance.
    let host_users = n(Noun::Users)
        && !n(Noun::Iam)
        && (word("sudo") || word("sudoers") || n(Noun::Instance) || f.tags);
    if host_users {
        s[CONFIG] += 2.5;
    }
    // "create an IAM user deploy with AdministratorAccess" asks for an IAM change, which the
    // infra agent answers (it says what it cannot do), never a scan of IAM.
    if creates
        && n(Noun::Iam)
        && (n(Noun::Users) || word("role") || word("policy") || word("group"))
        && !host_users
        && !v(Verb::Scan)
        && !v(Verb::Check)
        && !v(Verb::List)
    {
        s[INFRA] += 4.0;
    }
    // "set up logrotate on the web servers": software set up on hosts that exist.
    let on_hosts = tokens.iter().enumerate().any(|(i, t)| {
        t.lower == "on"
            && tokens[i + 1..].iter().take(4).any(|x| {
                x.noun(Noun::Instance)
                    || matches!(x.kind, super::tokens::Kind::Tag(..))
                    || matches!(x.lower.as_str(), "group" | "fleet" | "hosts" | "servers")
            })
    });
    if creates && f.has_package && on_hosts && !count_before_resource {
        s[CONFIG] += 5.0;
    }
    // "update the terraform for the prod rds database": a change to infrastructure.
    if (v(Verb::Update) || v(Verb::Configure)) && infra_noun && !f.has_package {
        s[INFRA] += 2.0;
    }
    // "do we have any S3 buckets without versioning?": a question about buckets is a check.
    let question = tokens.first().is_some_and(|t| {
        matches!(
            t.lower.as_str(),
            "do" | "are" | "is" | "which" | "any" | "what" | "how" | "does"
        )
    });
    if question && n(Noun::Bucket) && !creates {
        s[SEC] += 1.0;
    }
    // "create snapshots of the volumes": a snapshot is taken, not built.
    if creates && v(Verb::Snapshot) {
        s[OPS] += 3.0;
    }
    // "patch ... and reboot": the reboot is part of patching.
    if v(Verb::Patch) && v(Verb::Restart) {
        s[CONFIG] += 2.0;
        s[OPS] -= 1.0;
    }

    // Verb–noun pairs: the combination says more than either word alone.
    if creates {
        if n(Noun::Alarm) {
            s[MON] += 3.0;
        } else if n(Noun::Budget) {
            s[COST] += 2.0;
        } else if host_users {
            s[CONFIG] += 2.5;
        } else if n(Noun::Instance)
            || n(Noun::Bucket)
            || infra_noun
            || n(Noun::Function)
            || f.instance_type
        {
            s[INFRA] += 2.5;
        }
    }
    if count_before_resource && !v(Verb::Terminate) && !v(Verb::Restart) {
        s[INFRA] += 1.0;
    }
    if v(Verb::Destroy) {
        if n(Noun::Instance) && !infra_noun && !n(Noun::Bucket) {
            s[OPS] += 3.0;
        } else if n(Noun::Software) || f.has_package {
            s[CONFIG] += 2.5;
        } else {
            s[INFRA] += 1.5;
        }
    }
    if (v(Verb::Restart) || v(Verb::Start) || v(Verb::Stop)) && f.has_package {
        // "restart nginx on the web servers" is a service, managed by Ansible.
        s[CONFIG] += 2.5;
        s[OPS] -= 1.0;
    }
    if v(Verb::Uninstall) && (n(Noun::Instance) && !f.has_package && !n(Noun::Software)) {
        s[OPS] += 2.0;
    }
    if v(Verb::Update) && (f.has_package || n(Noun::Patches)) {
        s[CONFIG] += 2.0;
    }
    if (v(Verb::List) || v(Verb::Query)) && (n(Noun::Instance) || f.tags || f.instance_ids) {
        s[OPS] += 1.0;
    }
    if v(Verb::Scan) || v(Verb::Check) || v(Verb::Remediate) {
        if n(Noun::Bucket)
            || n(Noun::SecurityGroup)
            || n(Noun::Public)
            || n(Noun::Encryption)
            || n(Noun::Iam)
            || n(Noun::Mfa)
            || n(Noun::AccessKeys)
            || n(Noun::Root)
        {
            s[SEC] += 2.0;
        }
        if v(Verb::Check) && (n(Noun::Metric) || n(Noun::Logs)) {
            s[MON] += 1.0;
        }
    }
    if v(Verb::Configure) && n(Noun::Encryption) && n(Noun::Bucket) {
        s[SEC] += 2.0;
    }
    if v(Verb::Analyze) && (n(Noun::Logs) || n(Noun::Errors)) && !n(Noun::Text) {
        s[MON] += 2.0;
    }
    if v(Verb::Estimate) || (n(Noun::CostHint) && (f.instance_type || creates)) {
        s[COST] += 1.5;
    }
    if n(Noun::Errors) && n(Noun::Function) {
        s[MON] += 1.0;
    }
    if n(Noun::Savings) && n(Noun::Volume) {
        s[COST] += 1.5;
    }
    // "show budgets and alerts": budget alerts are part of the budget.
    if n(Noun::Budget) && n(Noun::Alarm) && !creates {
        s[COST] += 1.5;
    }
    // "check disk usage on prod-web-1 via SSM": read on the machine by a command.
    let via_command = n(Noun::Command)
        && tokens
            .iter()
            .any(|t| matches!(t.lower.as_str(), "via" | "through" | "using"));
    if via_command {
        s[OPS] += 3.0;
    }
    // "CPU of i-0abc over the last 6 hours" asks about a metric, not for the instance.
    if n(Noun::Metric)
        && !via_command
        && !n(Noun::SecurityGroup)
        && f.first_verb(&[
            Verb::Create,
            Verb::Destroy,
            Verb::Restart,
            Verb::Start,
            Verb::Stop,
            Verb::Terminate,
            Verb::Run,
            Verb::Rotate,
            Verb::Snapshot,
            Verb::Scale,
        ])
        .is_none()
    {
        s[MON] += 2.0;
        if f.instance_ids || n(Noun::Instance) {
            s[OPS] -= 1.0;
        }
    }
    // "idle load balancers", "unused instances": waste to find, not things to build.
    if n(Noun::Savings) && (n(Noun::LoadBalancer) || n(Noun::Instance)) && !creates {
        s[COST] += 2.0;
    }
    s
}
