//! Everything `linkplane serve` runs, assembled in one place so tests start the real thing
//! in-process: the store and `/v1` API, localcloud (`/cloud/v1`, as root), the providers in
//! their registry (the `local` one on localcloud) and the controllers.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use linkplane_api::{AppState, Bootstrap};
use linkplane_controllers::{Context, Controllers, ControllersConfig};
use linkplane_localcloud::{Engine, EngineConfig, Prefix};
use linkplane_model::ProviderKind;
use linkplane_provider::{ProviderMap, ProviderRegistry};
use linkplane_provider_local::{IngressSetup, LocalProvider};
use linkplane_store::Store;

use crate::front_door::{FrontDoor, cluster_router};

/// How to start a plane.
#[derive(Debug, Clone)]
pub struct PlaneConfig {
    /// Holds the control plane's database, the admin token and `localcloud.db`.
    pub data_dir: PathBuf,
    pub api: linkplane_api::Config,
    /// Installation prefix of localcloud's kernel objects.
    pub prefix: Prefix,
    pub controllers: ControllersConfig,
    /// Do not run localcloud even as root (API only; LOCAL clusters fail with the reason).
    pub disable_localcloud: bool,
    /// Which provider serves each cloud's clusters (default: all on localcloud).
    pub providers: ProviderMap,
}

#[derive(Debug, thiserror::Error)]
pub enum PlaneError {
    #[error("cannot open the control plane in {path}: {source}")]
    Api {
        path: String,
        #[source]
        source: linkplane_api::SetupError,
    },
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make {path} private (0600): {reason}")]
    PrivateFile { path: String, reason: String },
    #[error("cannot load or create the installation CA in {path}: {source}")]
    Ca {
        path: String,
        #[source]
        source: linkplane_ingress::ca::CaError,
    },
    #[error("cannot open localcloud in {path}: {source}")]
    Localcloud {
        path: String,
        #[source]
        source: linkplane_localcloud::Error,
    },
    #[error(
        "the {0} provider is not part of this build of linkplane; serve its clouds with the local provider (--provider aws=local)"
    )]
    ProviderNotBuilt(ProviderKind),
}

/// A running control plane (without its listener: serve [`Plane::router`] on one).
pub struct Plane {
    state: AppState,
    bootstrap: Bootstrap,
    ca: Arc<linkplane_ingress::Ca>,
    local: Option<Arc<LocalProvider>>,
    providers: Arc<ProviderRegistry>,
    engine: Option<Arc<Engine>>,
    disabled: Option<String>,
    controllers: Option<Controllers>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Plane {
    /// Open the store (first start: bootstrap), open localcloud when this process may (root),
    /// and start the controllers. Without root the API still runs; localcloud and the
    /// provider are disabled and LOCAL clusters fail with the reason.
    pub async fn start(config: PlaneConfig) -> Result<Self, PlaneError> {
        let path = config.data_dir.display().to_string();
        private_dir(&config.data_dir).map_err(|source| PlaneError::DataDir {
            path: path.clone(),
            source,
        })?;
        let ca = linkplane_ingress::Ca::load_or_create(&config.data_dir).map_err(|source| {
            PlaneError::Ca {
                path: path.clone(),
                source,
            }
        })?;
        let mut api_config = config.api.clone();
        api_config.ca_pem = Some(ca.cert_pem().to_owned());
        let ca = Arc::new(ca);
        let (state, bootstrap) = linkplane_api::open(&config.data_dir, api_config)
            .await
            .map_err(|source| PlaneError::Api {
                path: path.clone(),
                source,
            })?;
        if let Some(k) = config
            .providers
            .kinds()
            .into_iter()
            .find(|k| *k != ProviderKind::Local)
        {
            return Err(PlaneError::ProviderNotBuilt(k));
        }
        let (engine, disabled) = open_localcloud(&config).await?;
        // The gateways' routers need the registry the gateways' provider is part of: the
        // registry is built once the provider exists, and the routers find it here (weakly,
        // or the provider would keep itself alive through its own gateways).
        let registry: Arc<std::sync::OnceLock<std::sync::Weak<ProviderRegistry>>> =
            Arc::new(std::sync::OnceLock::new());
        let local: Option<Arc<LocalProvider>> = engine.as_ref().map(|e| {
            let api = linkplane_api::router(state.clone());
            let store = Arc::clone(&state.store);
            let registry = Arc::clone(&registry);
            let setup = IngressSetup {
                ca: Arc::clone(&ca),
                base_domain: config.api.base_domain.to_string(),
                routes: Arc::new(move |site| {
                    let providers = registry.get().cloned().unwrap_or_default();
                    let door = FrontDoor {
                        store: Arc::clone(&store),
                        api: api.clone(),
                        providers,
                    };
                    cluster_router(door, site)
                }),
            };
            Arc::new(LocalProvider::with_ingress(Arc::clone(e), setup))
        });
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let mut providers = ProviderRegistry::new(config.providers.clone());
        match (&local, &disabled) {
            (Some(l), _) => {
                // Registered timed: every call through the registry is measured.
                providers.register(metrics.metered(Arc::clone(l) as _));
            }
            (None, reason) => {
                providers.disable(
                    ProviderKind::Local,
                    reason
                        .clone()
                        .unwrap_or_else(|| "localcloud is not running".into()),
                );
            }
        }
        let providers = Arc::new(providers);
        let _ = registry.set(Arc::downgrade(&providers));
        tracing::info!(providers = %config.providers.describe(), "providers");
        let ctx = Context {
            store: Arc::clone(&state.store),
            providers: Arc::clone(&providers),
            config: config.controllers.clone(),
        };
        let controllers = Some(Controllers::start(ctx));
        Ok(Self {
            state,
            bootstrap,
            ca,
            local,
            providers,
            engine,
            disabled,
            controllers,
            metrics,
        })
    }

    /// `/v1` (and `/healthz`, `/docs`) and `/cloud/v1` on one router, every request counted
    /// and timed by route template ([`crate::metrics::http`]).
    pub fn router(&self) -> Router {
        self.routes().layer(axum::middleware::from_fn_with_state(
            self.metrics.http(),
            crate::metrics::http::track,
        ))
    }

    /// `GET /metrics` for an operator's listener (`serve --metrics-listen`): never part of
    /// [`Plane::router`], which tenants reach. See [`crate::metrics`].
    pub fn metrics_router(&self) -> Router {
        crate::metrics::router(Arc::clone(&self.metrics))
    }

    /// The plane's metrics (what `GET /metrics` renders).
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    fn routes(&self) -> Router {
        let api = linkplane_api::router(self.state.clone());
        match (&self.engine, &self.disabled) {
            (Some(e), _) => linkplane_localcloud::api::router(Arc::clone(e)).merge(api),
            (None, reason) => {
                let detail = format!(
                    "localcloud is disabled: {}",
                    reason.as_deref().unwrap_or("not started")
                );
                let unavailable = move || {
                    let body = serde_json::json!({
                        "type": "about:blank",
                        "title": "localcloud unavailable",
                        "status": 503,
                        "detail": detail,
                    });
                    async move {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            [(header::CONTENT_TYPE, "application/problem+json")],
                            body.to_string(),
                        )
                            .into_response()
                    }
                };
                Router::new()
                    .route("/cloud/v1", axum::routing::any(unavailable.clone()))
                    .route("/cloud/v1/{*rest}", axum::routing::any(unavailable))
                    .merge(api)
            }
        }
    }

    pub fn bootstrap(&self) -> &Bootstrap {
        &self.bootstrap
    }

    /// The installation CA (`<data-dir>/ca.pem`, created on first start).
    pub fn ca(&self) -> &Arc<linkplane_ingress::Ca> {
        &self.ca
    }

    /// The `local` provider, when localcloud runs.
    pub fn local_provider(&self) -> Option<&Arc<LocalProvider>> {
        self.local.as_ref()
    }

    /// The providers and which cloud each serves.
    pub fn providers(&self) -> &Arc<ProviderRegistry> {
        &self.providers
    }

    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.state.store)
    }

    /// The localcloud engine, when it runs.
    pub fn engine(&self) -> Option<&Arc<Engine>> {
        self.engine.as_ref()
    }

    /// Why localcloud and the provider are disabled, if they are.
    pub fn localcloud_disabled(&self) -> Option<&str> {
        self.disabled.as_deref()
    }

    /// Stop the controllers and close the store. Kernel objects stay (the next start
    /// re-adopts them); `linkplane local gc` removes them.
    pub async fn shutdown(mut self) {
        if let Some(c) = self.controllers.take() {
            c.stop().await;
        }
        self.providers.stop().await;
        self.state.store.close().await;
    }
}

/// Create `dir` (and parents) and make it 0700: it holds the database, keys and tokens.
fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

async fn open_localcloud(
    config: &PlaneConfig,
) -> Result<(Option<Arc<Engine>>, Option<String>), PlaneError> {
    if config.disable_localcloud {
        let reason = "localcloud was turned off (--no-localcloud); LOCAL clusters will be \
                      CREATE_FAILED — start serve without --no-localcloud, as root, to use them"
            .to_owned();
        tracing::warn!("localcloud and the controllers' local provider are disabled: {reason}");
        return Ok((None, Some(reason)));
    }
    if !linkplane_localcloud::running_as_root() {
        let reason = "linkplane serve is not running as root, and localcloud needs root \
                      (network namespaces, veth, nftables); LOCAL clusters will be CREATE_FAILED \
                      — run serve as root to use them"
            .to_owned();
        tracing::warn!("localcloud and the controllers' local provider are disabled: {reason}");
        return Ok((None, Some(reason)));
    }
    // localcloud.db is created here 0600 (its -wal and -shm files follow its mode).
    let db = config.data_dir.join("localcloud.db");
    linkplane_store::private_db_files(&db).map_err(|e| PlaneError::PrivateFile {
        path: db.display().to_string(),
        reason: e.to_string(),
    })?;
    let engine_config = EngineConfig::new(&config.data_dir, config.prefix.clone());
    match Engine::open(engine_config).await {
        Ok(e) => {
            tracing::info!(prefix = %config.prefix, "localcloud running");
            Ok((Some(Arc::new(e)), None))
        }
        Err(linkplane_localcloud::Error::Unsupported(reason)) => {
            tracing::warn!("localcloud and the controllers' local provider are disabled: {reason}");
            Ok((None, Some(reason)))
        }
        Err(source) => Err(PlaneError::Localcloud {
            path: config.data_dir.display().to_string(),
            source,
        }),
    }
}
