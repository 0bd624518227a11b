//! Fuzz harnesses for codeless; see `harness.rs` and `scripts/fuzz.sh`.
pub mod harness;
