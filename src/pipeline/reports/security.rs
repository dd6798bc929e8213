//! The security report (owned by the reports helper of this wave; replaced by the real builder).

use super::super::Reports;
use crate::error::{Error, Result};
use crate::reports::{ReportDoc, ReportOptions};

impl Reports<'_> {
    pub(super) fn security(&self, _opts: &ReportOptions) -> Result<ReportDoc> {
        Err(Error::input("the security report is not built yet"))
    }
}
