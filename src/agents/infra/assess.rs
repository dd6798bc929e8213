//! What a reviewer reads about a spec before approving it: the cost estimate, the risk and its
//! reasons, and the one-line description of what the stack holds.

use super::render::{is_admin_port, log_bucket, port_label};
use super::spec::*;
use crate::intent::Environment;
use crate::plan::pricing::{CostInput, DatabaseCost, PriceBook, estimate};
use crate::plan::{CostEstimate, Risk};

/// Root volume of every instance the templates create (the AMI's default size).
const ROOT_VOLUME_GB: u32 = 8;

pub(super) fn cost_of(book: &PriceBook<'_>, spec: &StackSpec) -> CostEstimate {
    let machines = spec
        .instances
        .as_ref()
        .map(|i| (i.count, i.machines.instance_type.as_str()))
        .or_else(|| {
            spec.asg
                .as_ref()
                .map(|a| (a.desired, a.machines.instance_type.as_str()))
        });
    let mut cost = estimate(
        book,
        &CostInput {
            region: &spec.region,
            instances: machines,
            root_volume_gb: ROOT_VOLUME_GB,
            load_balancer: spec.load_balancer.as_ref().map(|l| l.kind.as_str()),
            bucket: spec.bucket.is_some(),
            nat_gateways: spec.network.as_ref().map_or(0, |n| n.nat),
            database: spec.database.as_ref().map(|d| DatabaseCost {
                engine: &d.engine,
                class: &d.instance_class,
                multi_az: d.multi_az,
                storage_gb: d.storage_gb,
            }),
            function_memory_mb: spec.function.as_ref().map(|f| f.memory_mb),
            monitored_instances: if spec.stack_defaults.detailed_monitoring {
                machines.map_or(0, |(count, _)| count)
            } else {
                0
            },
            flow_logs: log_bucket(spec).is_some_and(|l| l["flow_logs"] == true),
            access_logs: log_bucket(spec).is_some_and(|l| l["lb"] == true || l["s3"] == true),
        },
    );
    if spec.exposure.is_some() {
        cost.notes
            .push("access settings and security group rules cost nothing".into());
    }
    if spec.security_group.is_some() {
        cost.notes.push("security groups cost nothing".into());
    }
    if spec
        .network
        .as_ref()
        .is_some_and(|n| n.standalone && n.nat == 0)
    {
        cost.notes.push(
            "a VPC, its subnets, route tables and internet gateway cost nothing by themselves"
                .into(),
        );
    }
    cost
}

pub(super) fn assess(
    spec: &StackSpec,
    env: Option<Environment>,
    cost: &CostEstimate,
    extra: Vec<String>,
) -> (Risk, Vec<String>) {
    let free = cost.monthly_usd == 0.0
        && spec.bucket.is_none()
        && spec.function.is_none()
        && spec.instances.is_none()
        && spec.asg.is_none();
    let (mut risk, mut reasons) = if free {
        (
            Risk::Low,
            vec!["creates resources that cost nothing by themselves".to_string()],
        )
    } else {
        (Risk::Medium, vec!["creates billable resources".to_string()])
    };
    let count = spec
        .instances
        .as_ref()
        .map(|i| i.count)
        .or(spec.asg.as_ref().map(|a| a.desired))
        .unwrap_or(0);
    if count > 10 {
        risk = risk.raise();
        reasons.push(format!("{count} instances at once"));
    }
    if cost.monthly_usd > 1000.0 {
        risk = risk.raise();
        reasons.push(format!("estimated ${:.2}/month", cost.monthly_usd));
    }
    if env == Some(Environment::Prod) {
        risk = risk.raise();
        reasons.push("production".into());
    }
    if let Some(sg) = &spec.security_group {
        let world = sg
            .rules
            .iter()
            .filter(|r| r.cidr.as_deref() == Some("0.0.0.0/0"));
        if world.clone().any(|r| is_admin_port(r.port)) {
            // SSH or RDP to the world: two steps up, whatever else the plan does.
            risk = risk.raise().raise();
        } else if world.count() > 0 {
            risk = risk.raise();
        }
    }
    // Anyone on the internet reading a bucket, or reaching SSH/RDP: two steps up.
    let world_admin = |rules: &[Rule]| {
        rules
            .iter()
            .any(|r| r.cidr.as_deref() == Some("0.0.0.0/0") && is_admin_port(r.port))
    };
    if spec.bucket.as_ref().is_some_and(|b| b.public_read)
        || spec
            .exposure
            .as_ref()
            .is_some_and(|e| e.bucket.is_some() || world_admin(&e.rules))
    {
        risk = risk.raise().raise();
    } else if spec.exposure.is_some() {
        risk = risk.raise();
    }
    if spec.function.as_ref().is_some_and(|f| f.role_arn.is_none()) {
        risk = risk.max(Risk::Medium);
    }
    reasons.extend(extra);
    (risk, reasons)
}

/// What the stack holds, for the plan summary.
pub(super) fn describe(spec: &StackSpec) -> Vec<String> {
    let mut what = Vec::new();
    let placed = |m: &Machines, lb: bool| -> String {
        let mut s = String::new();
        match m.placement {
            Placement::Private => s.push_str(" in private subnets"),
            Placement::Public if !lb => s.push_str(" in public subnets"),
            Placement::Subnet => {
                s.push_str(&format!(" in {}", m.subnet_id.as_deref().unwrap_or("?")))
            }
            _ => {}
        }
        if let Some(k) = &m.key_name {
            s.push_str(&format!(" with key pair {k}"));
        }
        s
    };
    let lb = spec.load_balancer.is_some();
    if let Some(i) = &spec.instances {
        what.push(format!(
            "{} × {}{}",
            i.count,
            i.machines.instance_type,
            placed(&i.machines, lb)
        ));
    }
    if let Some(a) = &spec.asg {
        what.push(format!(
            "auto scaling group of {} × {} (min {}, max {}){}",
            a.desired,
            a.machines.instance_type,
            a.min,
            a.max,
            placed(&a.machines, lb)
        ));
    }
    if let Some(l) = &spec.load_balancer {
        what.push(format!(
            "behind an {}{}",
            l.kind.to_uppercase(),
            if l.tls { " with HTTPS" } else { "" }
        ));
    }
    if let Some(b) = &spec.bucket {
        let mut s = format!(
            "bucket {}{}",
            b.name,
            if b.public_read {
                " readable by anyone"
            } else {
                ""
            }
        );
        if let Some(lc) = &b.lifecycle {
            let mut steps = Vec::new();
            for (d, class) in [
                (lc.ia_days, "Standard-IA"),
                (lc.glacier_days, "Glacier"),
                (lc.deep_archive_days, "Deep Archive"),
            ] {
                if let Some(d) = d {
                    steps.push(format!("{class} after {d} days"));
                }
            }
            if let Some(d) = lc.expire_days {
                steps.push(format!("expire after {d} days"));
            }
            s.push_str(&format!(" ({})", steps.join(", ")));
        }
        what.push(s);
    }
    if let Some(d) = &spec.database {
        what.push(format!(
            "RDS {} {} {}{}, {} GB encrypted",
            d.engine,
            d.engine_version,
            d.instance_class,
            if d.multi_az { " Multi-AZ" } else { "" },
            d.storage_gb
        ));
    }
    if let Some(f) = &spec.function {
        what.push(format!(
            "Lambda function {} ({}, {} MB, {} s)",
            f.name, f.runtime, f.memory_mb, f.timeout_s
        ));
    }
    if let Some(sg) = &spec.security_group {
        let rules: Vec<String> = sg
            .rules
            .iter()
            .map(|r| {
                let from = match r.cidr.as_deref() {
                    Some("0.0.0.0/0") => "anywhere",
                    Some(c) => c,
                    None => "the VPC",
                };
                format!("{} from {from}", port_label(r.port))
            })
            .collect();
        what.push(format!("security group allowing {}", rules.join(", ")));
    }
    if let Some(e) = &spec.exposure {
        if let Some(b) = &e.bucket {
            what.push(format!("existing bucket {b} made readable by anyone"));
        }
        if let Some(g) = &e.security_group {
            let rules: Vec<String> = e
                .rules
                .iter()
                .map(|r| {
                    format!(
                        "{} from {}",
                        port_label(r.port),
                        match r.cidr.as_deref() {
                            Some("0.0.0.0/0") => "anywhere",
                            Some(c) => c,
                            None => "the VPC",
                        }
                    )
                })
                .collect();
            what.push(format!(
                "existing security group {g} opened to {}",
                rules.join(", ")
            ));
        }
    }
    if let Some(n) = spec.network.as_ref().filter(|n| n.standalone) {
        let mut s = format!(
            "VPC {} with {} public and {} private subnets",
            n.cidr, n.public, n.private
        );
        if n.nat > 0 {
            s.push_str(&format!(
                ", {} NAT gateway{}",
                n.nat,
                if n.nat > 1 { "s" } else { "" }
            ));
        }
        what.push(s);
    }
    what
}
