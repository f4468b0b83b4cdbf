//! SSH server (being implemented).
