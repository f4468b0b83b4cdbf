//! `tether sim`: a local, Vers-compatible simulator.
//!
//! (Docs to be completed by the registry/API work.)

pub mod access;
pub mod ca;
pub mod gateway;
mod ssh;
