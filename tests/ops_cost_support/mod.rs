//! What the ops and cost tests (and `benches/ops_cost.rs`) share: seeding moto with realistic
//! accounts, and a stub for the few AWS calls moto does not implement.
#![allow(dead_code)]

pub mod seed;
pub mod stub;
