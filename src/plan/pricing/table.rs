//! The bundled price table (`templates/pricing/prices.toml`): the offline fallback when the AWS
//! Price List API cannot be reached or its answer is refused, always shown with its date.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

const PRICES_TOML: &str = include_str!("../../../templates/pricing/prices.toml");

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

/// Hours in the month every estimate uses (the table's, 730).
pub fn hours_per_month() -> f64 {
    PRICES.as_ref().map_or(730.0, |t| t.hours_per_month)
}
