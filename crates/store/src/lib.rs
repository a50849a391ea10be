//! Control-plane persistence.
