pub mod error;
pub mod intent;
