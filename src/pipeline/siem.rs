//! The tenant's trail to a SIEM (`opsdeck audit siem`): every record after the destination's
//! own cursor, as OCSF events, in batches; `--follow` repeats it. See [`crate::siem`].

use super::Trail;
use crate::error::Result;
use crate::siem::{Destination, ExportReport, sinks};

impl Trail<'_> {
    /// Writes the records `dest` does not hold yet, oldest first, in batches of
    /// [`sinks::BATCH`]; `region` is the S3 bucket's or the log group's (default: the tenant's).
    /// A destination holding another tenant's events is refused. For the tenant's members.
    pub fn siem_export(&self, dest: &Destination, region: Option<&str>) -> Result<ExportReport> {
        self.require_reader("export the audit trail")?;
        let tenant = self.tenant.name.clone();
        let region = region.unwrap_or(&self.tenant.default_region).to_string();
        if !crate::intent::is_region_code(&region) {
            return Err(crate::error::Error::input(format!(
                "--region {region:?} is not an AWS region code (e.g. eu-west-1)"
            )));
        }
        let sink = sinks::Sink::open(dest, &tenant, &self.aws, &region);
        let resumed_after = sink.cursor(&tenant)?;
        let mut report = ExportReport {
            destination: dest.describe(&tenant),
            resumed_after,
            exported: 0,
            last_seq: resumed_after,
            batches: 0,
        };
        let mut batch: Vec<(u64, String)> = Vec::with_capacity(sinks::BATCH);
        let mut failed = None;
        let flush = |batch: &mut Vec<(u64, String)>, report: &mut ExportReport| -> Result<()> {
            report.batches += sink.write(batch)?;
            report.exported += batch.len() as u64;
            if let Some((seq, _)) = batch.last() {
                report.last_seq = *seq;
            }
            batch.clear();
            Ok(())
        };
        self.scan_trail_after(resumed_after, &mut |r| {
            let line = match crate::sanitize::to_json_line(&crate::siem::event(&tenant, &r)) {
                Ok(l) => l,
                Err(e) => {
                    failed = Some(crate::error::Error::input(format!(
                        "record {} cannot be written as JSON: {e}",
                        r.seq
                    )));
                    return false;
                }
            };
            batch.push((r.seq, line));
            if batch.len() == sinks::BATCH
                && let Err(e) = flush(&mut batch, &mut report)
            {
                failed = Some(e);
                return false;
            }
            true
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        flush(&mut batch, &mut report)?;
        Ok(report)
    }
}
