//! Swarms against the real simulator: command workers gathered, kept, stopped; bad input;
//! sources that are commits; records found again by a fresh process; agents and the messages
//! sent to them; the local pi configuration copied to agent workers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agents;
mod bad_input;
mod commands;
mod common;
mod messages;
mod pi_config;
