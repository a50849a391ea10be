//! A fuzz harness on stable Rust for the parsers that take bytes from outside.
//!
//! `cargo-fuzz` needs a nightly toolchain (libFuzzer's sanitizer flags), which CI's fresh
//! machines cannot fetch, so this is a libFuzzer-free loop: it runs every file of the
//! target's committed corpus (`crates/fuzz/corpus/<target>/`), then mutates corpus entries
//! (bit flips, byte sets to interesting values, inserts, deletes, duplicated and spliced
//! ranges, dictionary tokens) for a fixed time, each input under `catch_unwind`. A panic is
//! a finding: the input is written to `crates/fuzz/artifacts/<target>/` and the run fails.
//! No coverage feedback (unlike libFuzzer): the corpus holds the valid shapes, and the
//! mutations explore around them.
//!
//! Targets ([`TARGETS`]): `proxy_v2` (the ingress gateway's PROXY v2 header parser),
//! `dns_udp` (the DNS UDP loop's fast path, keying and answering from the memo), `bodies`
//! (JSON request bodies into the model's request types and their validation), `fields`
//! (CIDR, ARN, account, VPC, resource id, domain and the other field parsers).
//!
//! Run: `cargo run -p linkplane-fuzz --release -- <target|all> [seconds]`; CI runs each
//! target for 60 s through `tests/fuzz.rs`.

#![forbid(unsafe_code)]

pub mod harness;
pub mod targets;

pub use harness::{Report, run};
pub use targets::TARGETS;
