//! Cost estimates from the bundled price table (`templates/pricing/prices.toml`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

use super::{CostEstimate, CostLine};

const PRICES_TOML: &str = include_str!("../../templates/pricing/prices.toml");

#[derive(Debug, Deserialize)]
pub struct PriceTable {
    pub source: String,
    pub price_date: String,
    pub hours_per_month: f64,
    pub instance_hourly_usd: BTreeMap<String, f64>,
    pub other_hourly_usd: BTreeMap<String, f64>,
    /// EBS storage per GB-month by volume type, and `snapshot`.
    #[serde(default)]
    pub ebs_gb_month_usd: BTreeMap<String, f64>,
    pub region_factor: BTreeMap<String, f64>,
    /// Engine (`postgres`, `mysql`) → DB instance class → Single-AZ hourly price.
    #[serde(default)]
    pub rds_hourly_usd: BTreeMap<String, BTreeMap<String, f64>>,
    /// Prices per unit of use, for notes: never part of the monthly figure.
    #[serde(default)]
    pub usage_usd: BTreeMap<String, f64>,
    /// Where each later section of the table came from (`rds`, `vpc`, `lambda`).
    #[serde(default)]
    pub provenance: BTreeMap<String, String>,
}

/// Parsed once; the table is compiled in and covered by a test, so it always parses.
pub static PRICES: LazyLock<Result<PriceTable, String>> =
    LazyLock::new(|| toml::from_str(PRICES_TOML).map_err(|e| format!("price table: {e}")));

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
}

/// An RDS instance in the price table's terms.
#[derive(Debug, Clone, Copy)]
pub struct DatabaseCost<'a> {
    pub engine: &'a str,
    pub class: &'a str,
    pub multi_az: bool,
    pub storage_gb: u32,
}

pub fn estimate(input: &CostInput<'_>) -> CostEstimate {
    let table = match &*PRICES {
        Ok(t) => t,
        Err(e) => {
            return CostEstimate {
                notes: vec![format!("no estimate: {e}")],
                ..CostEstimate::default()
            };
        }
    };
    let mut notes = Vec::new();
    let factor = match table.region_factor.get(input.region) {
        Some(f) => *f,
        None => {
            notes.push(format!(
                "no regional factor for {}: priced as us-east-1",
                input.region
            ));
            1.0
        }
    };
    let hours = table.hours_per_month;
    let mut lines = Vec::new();
    let mut line = |item: String, quantity: f64, unit: &str, hourly: f64| {
        let hourly_total = hourly * quantity * factor;
        lines.push(CostLine {
            item,
            quantity,
            unit: unit.to_string(),
            hourly_usd: round4(hourly_total),
            monthly_usd: round2(hourly_total * hours),
        });
    };
    let other = |k: &str| table.other_hourly_usd.get(k).copied().unwrap_or(0.0);
    if let Some((count, itype)) = input.instances {
        match table.instance_hourly_usd.get(itype) {
            Some(price) => line(format!("EC2 {itype}"), f64::from(count), "instance", *price),
            None => notes.push(format!(
                "{itype} is not in the bundled price table: its compute cost is not included"
            )),
        }
        let gb = f64::from(count * input.root_volume_gb);
        line(
            format!("EBS gp3 root volumes ({} GB each)", input.root_volume_gb),
            gb,
            "GB",
            other("gp3_gb_month") / hours,
        );
    }
    match input.load_balancer {
        Some("nlb") => {
            line("Network Load Balancer".into(), 1.0, "hour", other("nlb"));
            line(
                "NLB capacity units (1 assumed)".into(),
                1.0,
                "NLCU",
                other("nlb_nlcu"),
            );
        }
        Some(_) => {
            line(
                "Application Load Balancer".into(),
                1.0,
                "hour",
                other("alb"),
            );
            line(
                "ALB capacity units (1 assumed)".into(),
                1.0,
                "LCU",
                other("alb_lcu"),
            );
        }
        None => {}
    }
    if input.bucket {
        notes.push(format!(
            "S3 storage is billed by use (${:.3}/GB-month standard): an empty bucket costs nothing",
            other("s3_standard_gb_month")
        ));
    }
    let usage = |k: &str| table.usage_usd.get(k).copied().unwrap_or(0.0);
    let provenance = |key: &str, notes: &mut Vec<String>| {
        if let Some(p) = table.provenance.get(key)
            && !notes.contains(p)
        {
            notes.push(p.clone());
        }
    };
    if input.nat_gateways > 0 {
        let n = f64::from(input.nat_gateways);
        line("NAT gateways".into(), n, "gateway", other("nat_gateway"));
        line(
            "Public IPv4 addresses of the NAT gateways".into(),
            n,
            "address",
            other("public_ipv4"),
        );
        notes.push(format!(
            "NAT gateways also charge ${:.3} per GB they process: not included",
            usage("nat_gb_processed")
        ));
        provenance("vpc", &mut notes);
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
        match table
            .rds_hourly_usd
            .get(engine)
            .and_then(|m| m.get(db.class))
        {
            Some(price) => line(
                format!("RDS {} {}{az}", db.engine, db.class),
                copies,
                "instance",
                *price,
            ),
            None => notes.push(format!(
                "{} is not in the bundled RDS price table: its instance cost is not included",
                db.class
            )),
        }
        line(
            format!("RDS gp3 storage ({} GB{az})", db.storage_gb),
            f64::from(db.storage_gb) * copies,
            "GB",
            other("rds_gp3_gb_month") / hours,
        );
        notes.push(
            "RDS backup storage up to the size of the database is free; more is billed by use"
                .into(),
        );
        provenance("rds", &mut notes);
    }
    if let Some(mb) = input.function_memory_mb {
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
        provenance("lambda", &mut notes);
    }
    // `+ 0.0` turns the -0.0 of an empty sum into 0.0.
    let monthly = round2(lines.iter().map(|l| l.monthly_usd).sum()) + 0.0;
    CostEstimate {
        monthly_usd: monthly,
        lines,
        source: table.source.clone(),
        price_date: table.price_date.clone(),
        notes,
    }
}

/// One item of an itemised estimate (ops plans, savings hints).
#[derive(Debug, Clone)]
pub enum Priced<'a> {
    /// `count` instances of a type, running all month.
    Instances { instance_type: &'a str, count: u32 },
    /// Storage billed per GB-month, by its key in `ebs_gb_month_usd` (`gp3`, `snapshot`, ...).
    Storage { item: String, key: &'a str, gb: f64 },
    /// An hourly item from `other_hourly_usd` (`alb`, `nlb`, ...), running all month.
    Hourly {
        item: String,
        key: &'a str,
        quantity: f64,
    },
}

/// Prices a list of items in a region; anything the table does not know is noted, not guessed.
pub fn itemised(region: &str, items: &[Priced<'_>]) -> CostEstimate {
    let table = match &*PRICES {
        Ok(t) => t,
        Err(e) => {
            return CostEstimate {
                notes: vec![format!("no estimate: {e}")],
                ..CostEstimate::default()
            };
        }
    };
    let mut notes = Vec::new();
    let factor = match table.region_factor.get(region) {
        Some(f) => *f,
        None => {
            notes.push(format!(
                "no regional factor for {region}: priced as us-east-1"
            ));
            1.0
        }
    };
    let hours = table.hours_per_month;
    let mut lines = Vec::new();
    for it in items {
        let (item, quantity, unit, hourly) = match it {
            Priced::Instances {
                instance_type,
                count,
            } => match table.instance_hourly_usd.get(*instance_type) {
                Some(p) => (
                    format!("EC2 {instance_type}"),
                    f64::from(*count),
                    "instance",
                    *p,
                ),
                None => {
                    notes.push(format!(
                        "{instance_type} is not in the bundled price table: its compute cost is not included"
                    ));
                    continue;
                }
            },
            Priced::Storage { item, key, gb } => match table.ebs_gb_month_usd.get(*key) {
                Some(p) => (item.clone(), *gb, "GB", p / hours),
                None => {
                    notes.push(format!(
                        "no storage price for {key} in the bundled table: {item} is not included"
                    ));
                    continue;
                }
            },
            Priced::Hourly {
                item,
                key,
                quantity,
            } => match table.other_hourly_usd.get(*key) {
                Some(p) => (item.clone(), *quantity, "hour", *p),
                None => {
                    notes.push(format!(
                        "no price for {key} in the bundled table: {item} is not included"
                    ));
                    continue;
                }
            },
        };
        let hourly_total = hourly * quantity * factor;
        lines.push(CostLine {
            item,
            quantity,
            unit: unit.to_string(),
            hourly_usd: round4(hourly_total),
            monthly_usd: round2(hourly_total * hours),
        });
    }
    CostEstimate {
        // `+ 0.0` turns the -0.0 an empty float sum gives into 0.0.
        monthly_usd: round2(lines.iter().map(|l| l.monthly_usd).sum()) + 0.0,
        lines,
        source: table.source.clone(),
        price_date: table.price_date.clone(),
        notes,
    }
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

    #[test]
    fn bundled_table_parses_and_prices_the_spec_example() {
        assert!(PRICES.is_ok(), "{:?}", PRICES.as_ref().err());
        let est = estimate(&CostInput {
            region: "us-east-1",
            instances: Some((3, "t3.medium")),
            root_volume_gb: 8,
            load_balancer: Some("alb"),
            ..CostInput::default()
        });
        // 3 × 0.0416 × 730 = 91.10; 24 GB × 0.08 = 1.92; ALB (0.0225 + 0.008) × 730 = 22.27
        assert_eq!(est.monthly_usd, 115.29);
        assert_eq!(est.price_date, "2025-01-15");
    }

    #[test]
    fn databases_nat_and_functions() {
        let est = estimate(&CostInput {
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
        });
        // NAT (0.045 + 0.005) × 730 = 36.50; RDS 2 × 0.072 × 730 = 105.12;
        // storage 40 GB × 0.115 = 4.60
        assert_eq!(est.monthly_usd, 146.22);
        assert!(est.notes.iter().any(|n| n.starts_with("RDS prices:")));
        assert!(est.notes.iter().any(|n| n.contains("per million requests")));
        let unknown = estimate(&CostInput {
            region: "us-east-1",
            database: Some(DatabaseCost {
                engine: "mariadb",
                class: "db.x2g.16xlarge",
                multi_az: false,
                storage_gb: 100,
            }),
            ..CostInput::default()
        });
        assert!(unknown.notes[0].contains("not in the bundled RDS price table"));
    }

    #[test]
    fn itemised_prices_instances_and_storage() {
        let est = itemised(
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
        assert_eq!(est.notes.len(), 1);
    }

    #[test]
    fn unknown_types_are_noted_not_guessed() {
        let est = estimate(&CostInput {
            region: "xx-nowhere-1",
            instances: Some((1, "z9.mega")),
            root_volume_gb: 8,
            ..CostInput::default()
        });
        assert_eq!(est.notes.len(), 2);
    }
}
