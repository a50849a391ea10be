//! The typed client of linkplane's two HTTP APIs: the control plane's `/v1` (see
//! `openapi.json` at the repository root) and localcloud's `/cloud/v1`.
//!
//! One [`Client`] per server: base URL, bearer token, optionally the localcloud principal
//! (`--as`), a CA bundle to trust for https, a timeout. Idempotent requests (GET, PUT,
//! DELETE, and creates sent with an `Idempotency-Key`) are retried when the connection
//! broke after they were sent or on 502/503/504; an error answer becomes [`Error::Status`]
//! with the RFC 9457 problem document parsed ([`Problem`]: status, title, detail, field
//! errors).
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let api = linkplane_client::Client::builder("http://127.0.0.1:8080")
//!     .token("lp_…")
//!     .build()?;
//! for org in api.organizations().await?.items {
//!     println!("{} {}", org.id, org.name);
//! }
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod client;
pub mod cloud;
pub mod error;
pub mod v1;

pub use client::{ATTEMPTS, Call, Client, ClientBuilder, PRINCIPAL_HEADER, Reply};
pub use error::{Advice, BuildError, Error, FieldError, Problem, Result, Transport};
pub use reqwest::{Method, StatusCode};
pub use v1::Optional;
