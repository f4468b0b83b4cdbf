//! Shared test bodies.

#[allow(dead_code)]
pub mod scenarios;
