//! Control-plane HTTP API.
