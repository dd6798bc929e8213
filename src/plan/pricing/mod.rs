//! Cost estimates: AWS Price List API prices (cached per tenant with their date), the bundled
//! table (`templates/pricing/prices.toml`) as the offline fallback, and the cost of a stack now
//! for plans that change one. Every estimate names its source and date; nothing falls back
//! silently.

pub mod book;
pub mod key;
pub mod price_list;
pub mod table;

pub use book::{API_SOURCE, MAX_AGE, PriceBook, ProductSource};
pub use key::{LoadBalancerKind, PriceKey};
pub use table::{PRICES, PriceTable};

use super::{CostEstimate, CostLine, CurrentCost};
use crate::aws::AwsAccess;
use crate::error::Result;
use crate::store::{StackStatus, Store};

/// The prices for one request of a tenant: the API through the tenant's AWS access, cached in
/// the tenant's price cache directory.
pub fn book_for<'a>(store: &dyn Store, tenant: &str, aws: &'a AwsAccess) -> PriceBook<'a> {
    PriceBook::new(aws, store.price_cache_dir(tenant).ok())
}

/// What an existing stack costs now: the estimate of the plan that last applied it. None for a
/// stack that does not exist (or is destroyed) or whose applied plan priced nothing.
pub fn current_cost(store: &dyn Store, tenant: &str, stack: &str) -> Result<Option<CurrentCost>> {
    let Some(s) = store.get_stack(tenant, stack)? else {
        return Ok(None);
    };
    if s.status != StackStatus::Active {
        return Ok(None);
    }
    let Ok(rec) = store.get_plan(tenant, &s.last_applied_plan) else {
        return Ok(None);
    };
    let c = &rec.plan.cost;
    if c.source.is_empty() && c.lines.is_empty() {
        return Ok(None);
    }
    Ok(Some(CurrentCost {
        monthly_usd: c.monthly_usd,
        plan_id: s.last_applied_plan.clone(),
        basis: c.basis().unwrap_or_default(),
    }))
}

/// What a stack asks for, in the terms the price table knows.
#[derive(Debug, Clone, Default)]
pub struct CostInput<'a> {
    pub region: &'a str,
    pub instances: Option<(u32, &'a str)>,
    pub root_volume_gb: u32,
    pub load_balancer: Option<&'a str>,
    pub bucket: bool,
    pub nat_gateways: u32,
    pub database: Option<DatabaseCost<'a>>,
    /// A Lambda function of this many MiB: priced by use, so only noted.
    pub function_memory_mb: Option<u32>,
    /// Instances with detailed (1-minute) monitoring: [`DETAILED_MONITORING_METRICS`] billed
    /// CloudWatch metrics each.
    pub monitored_instances: u32,
    /// VPC flow logs delivered to the stack's log bucket (priced by use: noted).
    pub flow_logs: bool,
    /// Load balancer or S3 access logs in the stack's log bucket (priced by use: noted).
    pub access_logs: bool,
}

/// The EC2 metrics detailed monitoring publishes per instance at 1-minute resolution, each
/// billed as a CloudWatch metric.
pub const DETAILED_MONITORING_METRICS: u32 = 7;

/// An RDS instance in the price table's terms.
#[derive(Debug, Clone, Copy)]
pub struct DatabaseCost<'a> {
    pub engine: &'a str,
    pub class: &'a str,
    pub multi_az: bool,
    pub storage_gb: u32,
}

/// Prices a stack. Items nobody has a price for are noted, never guessed.
pub fn estimate(book: &PriceBook<'_>, input: &CostInput<'_>) -> CostEstimate {
    let region = input.region;
    let mut lines = Vec::new();
    let mut notes = Vec::new();
    let mut line = |item: String, quantity: f64, unit: &str, key: PriceKey| {
        lines.extend(priced_line(book, region, item, quantity, unit, &key));
    };
    if let Some((count, itype)) = input.instances {
        line(
            format!("EC2 {itype}"),
            f64::from(count),
            "instance",
            PriceKey::Instance {
                instance_type: itype.to_string(),
            },
        );
        line(
            format!("EBS gp3 root volumes ({} GB each)", input.root_volume_gb),
            f64::from(count * input.root_volume_gb),
            "GB",
            PriceKey::EbsVolume {
                volume_type: "gp3".into(),
            },
        );
    }
    match input.load_balancer {
        Some("nlb") => {
            line(
                "Network Load Balancer".into(),
                1.0,
                "hour",
                PriceKey::LoadBalancer(LoadBalancerKind::Network),
            );
            line(
                "NLB capacity units (1 assumed)".into(),
                1.0,
                "NLCU",
                PriceKey::LoadBalancerCapacity(LoadBalancerKind::Network),
            );
        }
        Some(_) => {
            line(
                "Application Load Balancer".into(),
                1.0,
                "hour",
                PriceKey::LoadBalancer(LoadBalancerKind::Application),
            );
            line(
                "ALB capacity units (1 assumed)".into(),
                1.0,
                "LCU",
                PriceKey::LoadBalancerCapacity(LoadBalancerKind::Application),
            );
        }
        None => {}
    }
    if input.bucket
        && let Some(q) = book.price(region, &PriceKey::S3Standard)
    {
        notes.push(format!(
            "S3 storage is billed by use (${:.3}/GB-month standard): an empty bucket costs nothing",
            q.usd
        ));
    }
    if input.nat_gateways > 0 {
        let n = f64::from(input.nat_gateways);
        line("NAT gateways".into(), n, "gateway", PriceKey::NatGateway);
        line(
            "Public IPv4 addresses of the NAT gateways".into(),
            n,
            "address",
            PriceKey::PublicIpv4,
        );
        if let Some(q) = book.price(region, &PriceKey::NatGatewayData) {
            notes.push(format!(
                "NAT gateways also charge ${:.3} per GB they process: not included",
                q.usd
            ));
        }
    }
    if let Some(db) = input.database {
        // MariaDB has the same list prices as MySQL.
        let engine = if db.engine == "postgres" {
            "postgres"
        } else {
            "mysql"
        };
        let copies = if db.multi_az { 2.0 } else { 1.0 };
        let az = if db.multi_az {
            " (Multi-AZ: primary and standby)"
        } else {
            ""
        };
        line(
            format!("RDS {} {}{az}", db.engine, db.class),
            copies,
            "instance",
            PriceKey::RdsInstance {
                engine: engine.into(),
                class: db.class.into(),
            },
        );
        line(
            format!("RDS gp3 storage ({} GB{az})", db.storage_gb),
            f64::from(db.storage_gb) * copies,
            "GB",
            PriceKey::RdsGp3Storage,
        );
        notes.push(
            "RDS backup storage up to the size of the database is free; more is billed by use"
                .into(),
        );
    }
    if input.monitored_instances > 0 {
        line(
            format!(
                "CloudWatch metrics ({DETAILED_MONITORING_METRICS} per instance, detailed monitoring)"
            ),
            f64::from(input.monitored_instances * DETAILED_MONITORING_METRICS),
            "metric",
            PriceKey::CloudWatchMetric,
        );
    }
    if (input.flow_logs || input.access_logs)
        && let Ok(t) = &*PRICES
    {
        let usage = |k: &str| t.usage_usd.get(k).copied().unwrap_or(0.0);
        let storage = book
            .price(region, &PriceKey::S3Standard)
            .map(|q| q.usd)
            .unwrap_or_else(|| usage("s3_standard_gb_month"));
        let mut what = Vec::new();
        if input.flow_logs {
            what.push(format!(
                "VPC flow logs (${:.2} per GB delivered, as vended logs)",
                usage("vended_logs_delivered_gb")
            ));
        }
        if input.access_logs {
            what.push("access logs (no delivery charge)".to_string());
        }
        notes.push(format!(
            "{} go to the stack's log bucket at ${storage:.3}/GB-month, kept a year: billed by traffic, not in the monthly figure (tenant settings stack_defaults.vpc_flow_logs, stack_defaults.access_logs)",
            what.join(" and ")
        ));
    }
    if let Some(mb) = input.function_memory_mb {
        // Lambda and CloudWatch Logs are billed by use: their list prices come from the table
        // (with its origin note), never into the monthly figure.
        if let Ok(t) = &*PRICES {
            let usage = |k: &str| t.usage_usd.get(k).copied().unwrap_or(0.0);
            notes.push(format!(
                "Lambda is billed by use: ${:.2} per million requests and ${:.10} per GB-second ({} MB = {} GB-seconds per second of run time); a function nobody calls costs nothing",
                usage("lambda_requests_per_million"),
                usage("lambda_gb_second_x86"),
                mb,
                f64::from(mb) / 1024.0
            ));
            notes.push(format!(
                "its logs: ${:.2} per GB ingested, ${:.2} per GB-month stored",
                usage("cloudwatch_logs_ingested_gb"),
                usage("cloudwatch_logs_stored_gb_month")
            ));
            if let Some(p) = t.provenance.get("lambda") {
                notes.push(p.clone());
            }
        }
    }
    finish(book, lines, notes)
}

/// The estimate from its lines: total, the book's source, date and notes first, then the
/// estimate's own notes.
fn finish(book: &PriceBook<'_>, lines: Vec<CostLine>, own_notes: Vec<String>) -> CostEstimate {
    let (source, price_date, mut notes) = book.finish();
    notes.extend(own_notes);
    CostEstimate {
        // `+ 0.0` turns the -0.0 of an empty sum into 0.0.
        monthly_usd: round2(lines.iter().map(|l| l.monthly_usd).sum()) + 0.0,
        lines,
        source,
        price_date,
        notes,
        current: None,
    }
}

/// One item of an itemised estimate (ops plans, savings hints).
#[derive(Debug, Clone)]
pub enum Priced<'a> {
    /// `count` instances of a type, running all month.
    Instances { instance_type: &'a str, count: u32 },
    /// Storage billed per GB-month: an EBS volume type (`gp3`, `gp2`, ...) or `snapshot`.
    Storage { item: String, key: &'a str, gb: f64 },
    /// An hourly item (`alb`, `nlb`, `nat_gateway`, `public_ipv4`), running all month.
    Hourly {
        item: String,
        key: &'a str,
        quantity: f64,
    },
}

/// Prices a list of items in a region; anything without a price is noted, not guessed.
pub fn itemised(book: &PriceBook<'_>, region: &str, items: &[Priced<'_>]) -> CostEstimate {
    let mut lines = Vec::new();
    for it in items {
        let (item, quantity, unit, key) = match it {
            Priced::Instances {
                instance_type,
                count,
            } => (
                format!("EC2 {instance_type}"),
                f64::from(*count),
                "instance",
                PriceKey::Instance {
                    instance_type: instance_type.to_string(),
                },
            ),
            Priced::Storage { item, key, gb } => (
                item.clone(),
                *gb,
                "GB",
                if *key == "snapshot" {
                    PriceKey::EbsSnapshot
                } else {
                    PriceKey::EbsVolume {
                        volume_type: key.to_string(),
                    }
                },
            ),
            Priced::Hourly {
                item,
                key,
                quantity,
            } => {
                let k = match *key {
                    "alb" => PriceKey::LoadBalancer(LoadBalancerKind::Application),
                    "nlb" => PriceKey::LoadBalancer(LoadBalancerKind::Network),
                    "alb_lcu" => PriceKey::LoadBalancerCapacity(LoadBalancerKind::Application),
                    "nlb_nlcu" => PriceKey::LoadBalancerCapacity(LoadBalancerKind::Network),
                    "nat_gateway" => PriceKey::NatGateway,
                    "public_ipv4" => PriceKey::PublicIpv4,
                    other => {
                        book.note(format!("no price for {other}: {item} is not included"));
                        continue;
                    }
                };
                (item.clone(), *quantity, "hour", k)
            }
        };
        lines.extend(priced_line(book, region, item, quantity, unit, &key));
    }
    finish(book, lines, Vec::new())
}

/// One line of an estimate, or nothing when nobody has a price for `key` (the book notes why).
/// `hourly` is the price of one unit per hour: a key priced per month (GB-month, metric-month)
/// is divided by the month's hours first.
fn priced_line(
    book: &PriceBook<'_>,
    region: &str,
    item: String,
    quantity: f64,
    unit: &str,
    key: &PriceKey,
) -> Option<CostLine> {
    let q = book.price(region, key)?;
    let hours = table::hours_per_month();
    let hourly = match key.unit() {
        key::Unit::GbMonth | key::Unit::MetricMonth => q.usd / hours,
        _ => q.usd,
    };
    let hourly_total = hourly * quantity;
    Some(CostLine {
        item,
        quantity,
        unit: unit.to_string(),
        hourly_usd: round4(hourly_total),
        monthly_usd: round2(hourly_total * hours),
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline() -> PriceBook<'static> {
        PriceBook::offline("unit test")
    }

    #[test]
    fn bundled_table_parses_and_prices_the_spec_example() {
        assert!(PRICES.is_ok(), "{:?}", PRICES.as_ref().err());
        let est = estimate(
            &offline(),
            &CostInput {
                region: "us-east-1",
                instances: Some((3, "t3.medium")),
                root_volume_gb: 8,
                load_balancer: Some("alb"),
                ..CostInput::default()
            },
        );
        // 3 × 0.0416 × 730 = 91.10; 24 GB × 0.08 = 1.92; ALB (0.0225 + 0.008) × 730 = 22.27
        assert_eq!(est.monthly_usd, 115.29);
        assert_eq!(est.price_date, "2025-01-15");
        assert_eq!(
            est.basis().as_deref(),
            Some("bundled price table, offline, prices of 2025-01-15")
        );
        assert!(
            est.notes[0].starts_with("the AWS Price List API was not used (unit test): prices from the bundled table of 2025-01-15"),
            "{:?}",
            est.notes
        );
    }

    #[test]
    fn databases_nat_and_functions() {
        let est = estimate(
            &offline(),
            &CostInput {
                region: "us-east-1",
                nat_gateways: 1,
                database: Some(DatabaseCost {
                    engine: "postgres",
                    class: "db.t3.medium",
                    multi_az: true,
                    storage_gb: 20,
                }),
                function_memory_mb: Some(512),
                ..CostInput::default()
            },
        );
        // NAT (0.045 + 0.005) × 730 = 36.50; RDS 2 × 0.072 × 730 = 105.12;
        // storage 40 GB × 0.115 = 4.60
        assert_eq!(est.monthly_usd, 146.22);
        assert!(est.notes.iter().any(|n| n.starts_with("RDS prices:")));
        assert!(est.notes.iter().any(|n| n.contains("per million requests")));
        let unknown = estimate(
            &offline(),
            &CostInput {
                region: "us-east-1",
                database: Some(DatabaseCost {
                    engine: "mariadb",
                    class: "db.x2g.16xlarge",
                    multi_az: false,
                    storage_gb: 100,
                }),
                ..CostInput::default()
            },
        );
        assert!(
            unknown
                .notes
                .iter()
                .any(|n| n == "RDS mysql db.x2g.16xlarge is not in the bundled price table: its cost is not included"),
            "{:?}",
            unknown.notes
        );
    }

    #[test]
    fn itemised_prices_instances_and_storage() {
        let est = itemised(
            &offline(),
            "us-east-1",
            &[
                Priced::Instances {
                    instance_type: "t3.medium",
                    count: 2,
                },
                Priced::Storage {
                    item: "snapshot of vol-1 (100 GB)".into(),
                    key: "snapshot",
                    gb: 100.0,
                },
                Priced::Storage {
                    item: "unknown".into(),
                    key: "magnetic-tape",
                    gb: 1.0,
                },
            ],
        );
        // 2 × 0.0416 × 730 = 60.74; 100 GB × 0.05 = 5.00
        assert_eq!(est.lines[0].monthly_usd, 60.74);
        assert_eq!(est.lines[1].monthly_usd, 5.0);
        assert_eq!(est.monthly_usd, 65.74);
        assert!(
            est.notes
                .iter()
                .any(|n| n
                    .starts_with("EBS magnetic-tape storage is not in the bundled price table")),
            "{:?}",
            est.notes
        );
    }

    #[test]
    fn unknown_types_are_noted_not_guessed() {
        let est = estimate(
            &offline(),
            &CostInput {
                region: "xx-nowhere-1",
                instances: Some((1, "z9.mega")),
                root_volume_gb: 8,
                ..CostInput::default()
            },
        );
        for expected in [
            "EC2 z9.mega is not in the bundled price table: its cost is not included",
            "no regional factor for xx-nowhere-1 in the bundled price table: priced as us-east-1",
        ] {
            assert!(est.notes.iter().any(|n| n == expected), "{:?}", est.notes);
        }
        assert!(est.lines.iter().all(|l| l.monthly_usd > 0.0));
    }
}
