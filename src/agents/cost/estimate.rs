//! Estimates before anything exists: what instances (with an ALB or NLB) would cost, or what a
//! queued plan's estimate says, from the AWS Price List API (the bundled table when it cannot be
//! reached) with the prices' source and date.

use serde_json::json;

use super::{progress, usd};
use crate::agents::{AgentRequest, Report};
use crate::error::{Error, Result};
use crate::events::{Output, Sink, headings};
use crate::intent::LoadBalancer;
use crate::plan::CostEstimate;
use crate::plan::pricing::{CostInput, book_for, estimate};

/// Root volume the infra agent gives each instance (priced with it).
const ROOT_VOLUME_GB: u32 = 8;

pub fn report(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Report> {
    if let Some(id) = plan_id(req.text) {
        return plan_estimate(req, sink, &id);
    }
    let i = req.intent;
    let region = req.region()?;
    let instance_type = i.params.instance_type.as_deref();
    let lb = i.params.load_balancer.map(LoadBalancer::as_str);
    if instance_type.is_none() && lb.is_none() {
        return Err(Error::input(
            "say what to price, e.g. \"how much would 3 t3.medium in eu-west-1 cost\" or \"estimate plan p-abc234defg\"; estimates price EC2 instance types, EBS, ALB and NLB",
        ));
    }
    // One instance when the request names none; a stated count out of range is refused.
    let max = crate::intent::ranges::MAX_ESTIMATE_COUNT;
    let count = match i.params.count {
        None => 1,
        Some(n) => Some(n)
            .filter(|n| (1..=max).contains(n))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                Error::input(format!(
                    "count {n} is out of range: a cost estimate prices 1 to {max} instances"
                ))
            })?,
    };
    progress(
        sink,
        format!("pricing {region} from the AWS Price List API (the bundled table offline)"),
    );
    let book = book_for(req.store, &req.tenant.name, req.aws);
    let est = estimate(
        &book,
        &CostInput {
            region: &region,
            instances: instance_type.map(|t| (count, t)),
            root_volume_gb: ROOT_VOLUME_GB,
            load_balancer: lb,
            bucket: false,
            ..CostInput::default()
        },
    );
    // A type nobody has a price for: say which types the fallback knows instead of $0.
    if let Some(t) = instance_type
        && !est.lines.iter().any(|l| l.item == format!("EC2 {t}"))
    {
        let known = crate::plan::pricing::PRICES
            .as_ref()
            .map(|table| {
                table
                    .instance_hourly_usd
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        return Err(Error::Unavailable(format!(
            "no price for {t}: {}; the bundled price table prices these EC2 types: {known}",
            est.notes.join("; ")
        )));
    }
    let what = format!(
        "{}{} in {region}",
        instance_type
            .map(|t| format!("{count} × {t}"))
            .unwrap_or_default(),
        lb.map(|l| format!(
            "{}{}",
            if instance_type.is_some() {
                " with an "
            } else {
                "an "
            },
            l.to_uppercase()
        ))
        .unwrap_or_default()
    );
    Ok(cost_report(
        format!("{what}: about {}/month", usd(est.monthly_usd)),
        format!("estimate: {what}"),
        &est,
        Some(region),
    ))
}

/// `p-` and ten characters of the plan id alphabet.
fn plan_id(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || ",;?!".contains(c))
        .map(|w| w.trim_matches(|c: char| "\"'`().".contains(c)))
        .find(|w| {
            w.len() == 12
                && w.starts_with("p-")
                && w[2..]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || (b'2'..=b'9').contains(&b))
        })
        .map(str::to_string)
}

fn plan_estimate(req: &AgentRequest<'_>, sink: Sink<'_>, id: &str) -> Result<Report> {
    progress(sink, format!("reading the estimate of plan {id}"));
    let rec = req.store.get_plan(&req.tenant.name, id)?;
    let p = &rec.plan;
    Ok(cost_report(
        format!(
            "plan {id} ({}): about {}/month",
            p.summary,
            usd(p.cost.monthly_usd)
        ),
        format!("estimate of plan {id}"),
        &p.cost,
        p.region.clone(),
    ))
}

fn cost_report(
    summary: String,
    title: String,
    est: &CostEstimate,
    region: Option<String>,
) -> Report {
    let mut notes = est.notes.clone();
    if !est.source.is_empty() {
        notes.push(format!(
            "prices: {} as of {}; an estimate for review, not a quote",
            est.source, est.price_date
        ));
    }
    Report {
        summary,
        outputs: vec![Output::Table {
            title,
            columns: headings(&["ITEM", "QUANTITY", "UNIT", "USD/HOUR", "USD/MONTH"]),
            rows: est
                .lines
                .iter()
                .map(|l| {
                    vec![
                        l.item.clone(),
                        format!("{}", l.quantity),
                        l.unit.clone(),
                        format!("{:.4}", l.hourly_usd),
                        usd(l.monthly_usd),
                    ]
                })
                .chain(std::iter::once(vec![
                    "total".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    usd(est.monthly_usd),
                ]))
                .collect(),
        }],
        notes,
        region,
        data: json!({"estimate": est}),
        files: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::plan_id;

    #[test]
    fn plan_ids_in_text() {
        assert_eq!(
            plan_id("estimate plan p-abc234defg please").as_deref(),
            Some("p-abc234defg")
        );
        assert_eq!(plan_id("what would p-xyz cost"), None);
    }
}
