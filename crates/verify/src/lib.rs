//! `linkplane verify`: the documents' verification and troubleshooting steps, for real.
//!
//! [`probe`] runs `dig`-, TCP- and `curl`-equivalent probes from inside a customer
//! instance's network namespace; [`diagnose`] turns what they saw, plus what the providers
//! know (endpoint state, zone associations, records, security groups, AZs, agents), into
//! checks that pass or fail and name the troubleshooting case with its fix.

#![forbid(unsafe_code)]

pub mod diagnose;
pub mod probe;

pub use diagnose::{Check, Diagnosis, Facts, Observed, Report, evaluate};
pub use probe::{Probe, resolver_of};
