//! localcloud dataplane.
