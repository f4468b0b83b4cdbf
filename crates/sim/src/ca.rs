//! Certificate authority (being implemented).
