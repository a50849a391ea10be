//! localcloud engine.
