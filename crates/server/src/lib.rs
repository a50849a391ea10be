//! The composition root: the one place that knows every part and puts them together.
//!
//! - [`plane::Plane`]: everything `linkplane serve` runs — the store and `/v1` API,
//!   localcloud (`/cloud/v1`, as root), the providers in a
//!   [`ProviderRegistry`](linkplane_provider::ProviderRegistry) mapped per cloud
//!   ([`PlaneConfig::providers`]), and the controllers — behind one router, so tests start
//!   the real server in-process.
//! - [`front_door`]: the orchestration plane's policy at each cluster's ingress gateway
//!   (`404 page not found`, agent routes, `/<deploymentId>/…`, `privateOnly`, allowed
//!   ranges); it reads endpoint connections through the cluster's provider.
//! - [`listener`]: the plane's TCP listener, whose connections answer hyper's own errors
//!   (414, 431, 400 before any router runs) as problems.
//! - [`metrics`]: `GET /metrics` (Prometheus text) for the operator's own listener: API
//!   requests by route template and status, reconciles, provider call latency, forwarders,
//!   DNS, the process's descriptors and memory.
//!
//! Only this crate (and the `local` provider itself) depends on localcloud.

#![forbid(unsafe_code)]

pub mod front_door;
pub mod listener;
pub mod metrics;
pub mod plane;

pub use linkplane_controllers::ControllersConfig;
pub use linkplane_provider::ProviderMap;
pub use linkplane_provider_local::{LocalProvider, PLATFORM_ACCOUNT, PLATFORM_PRINCIPAL};
pub use listener::ProblemListener;
pub use plane::{Plane, PlaneConfig, PlaneError};
