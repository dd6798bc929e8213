//! Reading GetProducts answers: each PriceList entry is a JSON document (as a string) with the
//! product's attributes and its terms; the on-demand price is
//! `terms.OnDemand.<offer>.priceDimensions.<rate>.pricePerUnit.USD`, a decimal string. A price
//! that does not parse, is not positive, is above the key's ceiling, comes in another unit, or
//! is ambiguous (products with different prices) is refused with the reason, never used.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::key::PriceKey;

#[derive(Debug, Deserialize)]
struct PriceListItem {
    product: Product,
    #[serde(default)]
    terms: Terms,
}

#[derive(Debug, Deserialize)]
struct Product {
    #[serde(default)]
    sku: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct Terms {
    #[serde(rename = "OnDemand", default)]
    on_demand: BTreeMap<String, Term>,
}

#[derive(Debug, Deserialize)]
struct Term {
    #[serde(rename = "priceDimensions", default)]
    price_dimensions: BTreeMap<String, Dimension>,
}

#[derive(Debug, Deserialize)]
struct Dimension {
    unit: String,
    #[serde(rename = "beginRange", default)]
    begin_range: Option<String>,
    #[serde(rename = "pricePerUnit", default)]
    price_per_unit: BTreeMap<String, String>,
}

/// An accepted on-demand price.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiPrice {
    pub usd: f64,
    pub unit: String,
    pub sku: String,
}

/// The on-demand price of `key` among the documents GetProducts returned: `Ok(None)` when no
/// product matched, `Err(reason)` when the data is refused.
pub fn select(key: &PriceKey, documents: &[String]) -> Result<Option<ApiPrice>, String> {
    let mut found: Vec<ApiPrice> = Vec::new();
    for (n, doc) in documents.iter().enumerate() {
        let item: PriceListItem = serde_json::from_str(doc)
            .map_err(|e| format!("PriceList entry {} is not a price document: {e}", n + 1))?;
        if let Some(suffix) = key.usage_type_suffix()
            && !item
                .product
                .attributes
                .get("usagetype")
                .is_some_and(|u| u.ends_with(suffix))
        {
            continue;
        }
        if item.terms.on_demand.is_empty() {
            return Err(format!(
                "product {} has no on-demand terms",
                clip(&item.product.sku)
            ));
        }
        for term in item.terms.on_demand.values() {
            // Tiered prices (S3) list one dimension per tier: the first tier starts at 0.
            let dims: Vec<&Dimension> = term
                .price_dimensions
                .values()
                .filter(|d| d.begin_range.as_deref().is_none_or(|b| b == "0"))
                .collect();
            let [dim] = dims[..] else {
                return Err(format!(
                    "product {} has {} first-tier price dimensions, expected one",
                    clip(&item.product.sku),
                    dims.len()
                ));
            };
            found.push(accept(key, &item.product.sku, dim)?);
        }
    }
    let Some(first) = found.first().cloned() else {
        return Ok(None);
    };
    if let Some(other) = found.iter().find(|p| (p.usd - first.usd).abs() > 1e-9) {
        return Err(format!(
            "{} products match with different prices (${} for {}, ${} for {}): the filters do not name one product",
            found.len(),
            first.usd,
            clip(&first.sku),
            other.usd,
            clip(&other.sku)
        ));
    }
    Ok(Some(first))
}

/// Checks one price dimension: USD, a positive finite number within the unit's ceiling, in the
/// key's unit.
fn accept(key: &PriceKey, full_sku: &str, dim: &Dimension) -> Result<ApiPrice, String> {
    let (sku, unit) = (clip(full_sku), key.unit());
    if !unit.accepts(&dim.unit) {
        return Err(format!(
            "product {sku} is priced per {:?}, expected {unit:?}",
            clip(&dim.unit)
        ));
    }
    let Some(text) = dim.price_per_unit.get("USD") else {
        return Err(format!("product {sku} has no USD price"));
    };
    let usd: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("product {sku} has USD price {:?}, not a number", clip(text)))?;
    let text = clip(text);
    if !usd.is_finite() || usd <= 0.0 {
        return Err(format!(
            "product {sku} has USD price {text}: a price must be above zero"
        ));
    }
    if usd > unit.ceiling() {
        return Err(format!(
            "product {sku} has USD price {text} per {}, above the ${} this estimate accepts",
            clip(&dim.unit),
            unit.ceiling()
        ));
    }
    Ok(ApiPrice {
        usd,
        unit: dim.unit.clone(),
        sku: full_sku.to_string(),
    })
}

/// What an answer said, cut to a length a note can carry (an answer is not trusted to be short).
fn clip(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(sku: &str, usagetype: &str, unit: &str, usd: &str) -> String {
        json!({
            "product": {"productFamily": "Compute Instance", "sku": sku,
                "attributes": {"usagetype": usagetype, "instanceType": "t3.medium"}},
            "serviceCode": "AmazonEC2",
            "terms": {"OnDemand": {format!("{sku}.JRTCKXETXF"): {
                "offerTermCode": "JRTCKXETXF", "sku": sku,
                "effectiveDate": "2026-11-01T00:00:00Z", "termAttributes": {},
                "priceDimensions": {format!("{sku}.JRTCKXETXF.6YS6EN2CT7"): {
                    "unit": unit, "endRange": "Inf", "beginRange": "0", "appliesTo": [],
                    "description": "$0.0418 per On Demand Linux t3.medium Instance Hour",
                    "rateCode": format!("{sku}.JRTCKXETXF.6YS6EN2CT7"),
                    "pricePerUnit": {"USD": usd}}}}}},
            "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z"
        })
        .to_string()
    }

    fn ec2() -> PriceKey {
        PriceKey::Instance {
            instance_type: "t3.medium".into(),
        }
    }

    #[test]
    fn reads_the_on_demand_price() {
        let p = select(
            &ec2(),
            &[doc("ABC", "BoxUsage:t3.medium", "Hrs", "0.0418000000")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.usd, 0.0418);
        assert_eq!(p.sku, "ABC");
        assert_eq!(select(&ec2(), &[]).unwrap(), None);
    }

    #[test]
    fn refuses_nonsense_with_the_reason() {
        for (usd, why) in [
            ("0.0000000000", "above zero"),
            ("-1", "above zero"),
            ("abc", "not a number"),
            ("NaN", "above zero"),
            ("9999", "above the $500"),
        ] {
            let e = select(&ec2(), &[doc("ABC", "BoxUsage:t3.medium", "Hrs", usd)]).unwrap_err();
            assert!(e.contains(why), "{usd}: {e}");
        }
        let e = select(&ec2(), &[doc("ABC", "BoxUsage:t3.medium", "GB-Mo", "0.04")]).unwrap_err();
        assert!(e.contains("expected Hour"), "{e}");
        let e = select(&ec2(), &["{\"product\": 3}".to_string()]).unwrap_err();
        assert!(e.contains("not a price document"), "{e}");
        let e = select(
            &ec2(),
            &[
                doc("A", "BoxUsage:t3.medium", "Hrs", "0.0418"),
                doc("B", "BoxUsage:t3.medium", "Hrs", "0.0520"),
            ],
        )
        .unwrap_err();
        assert!(e.contains("different prices"), "{e}");
        // An answer is not trusted to be short: what a note quotes from it is cut.
        let long = "X".repeat(10_000);
        let e = select(&ec2(), &[doc(&long, "BoxUsage:t3.medium", "Hrs", &long)]).unwrap_err();
        assert!(e.len() < 300, "{}", e.len());
    }

    #[test]
    fn usage_type_picks_the_hourly_charge() {
        let nat = PriceKey::NatGateway;
        let docs = [
            doc("B", "EUC1-NatGateway-Bytes", "GB", "0.052"),
            doc("H", "EUC1-NatGateway-Hours", "Hrs", "0.052"),
        ];
        assert_eq!(select(&nat, &docs).unwrap().unwrap().sku, "H");
        assert_eq!(
            select(&PriceKey::NatGatewayData, &docs)
                .unwrap()
                .unwrap()
                .sku,
            "B"
        );
    }
}
