//! TLS gateway (being implemented).
