//! Reports over a tenant's records (issue: reports, compliance evidence and drift): built by
//! the core as plain data, laid out by every front end as tables and series.

pub mod compare;
pub mod compliance;
pub mod cost;
pub mod evidence;
pub mod monitoring;
pub mod operations;
pub mod render;
pub mod security;

pub use compliance::{ComplianceReport, Framework};
pub use operations::{OperationsReport, Window};
pub mod doc;

pub use doc::{ReportDoc, ReportName, ReportOptions};
