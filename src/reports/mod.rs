//! Reports over a tenant's records (issue: reports, compliance evidence and drift): built by
//! the core as plain data, laid out by every front end as tables and series.

pub mod operations;

pub use operations::{OperationsReport, Window};
