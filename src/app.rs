//! Build and run the server: open the store (seeding its cameras from the config file on the first start),
//! make sure an admin token exists, load the detectors, start the pipeline under the control loop, bind the
//! HTTP surface behind the auth middleware, and run until SIGINT/SIGTERM: then stop taking requests, drain
//! the pipeline and flush the store. A second signal exits at once.

use crate::cluster::planner::Share;
use crate::cluster::{ClusterView, JoinError, Local};
use crate::control::{ClusterLink, Control, ControlHandle, InCluster};
use crate::http::auth::AuthPolicy;
use crate::http::{self, AppState};
use actix_web::{App, HttpServer, middleware, web};
use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use panoptes_actors::analytics::{AuxLoaders, AuxModel};
use panoptes_actors::config::{AuthConfig, Config, DeviceConfig};
use panoptes_actors::infer::model::{ModelOptions, OnnxDetector};
use panoptes_actors::infer::ocr::{OcrError, OcrOptions, PlateReader};
use panoptes_actors::infer::{Detector, InferError};
use panoptes_actors::pipeline::{Pipeline, PipelineError};
use panoptes_actors::store::admin::AdminStore;
use panoptes_actors::store::tokens::TokenCache;
use panoptes_actors::store::tokens::{self, Access, Role};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// The real detector of a device: the configured ONNX model on the device's execution providers.
pub fn onnx_detector(config: &Config) -> impl Fn(&DeviceConfig) -> Result<Box<dyn Detector>, InferError> + '_ {
    move |device| {
        let options = ModelOptions::from_config(&config.model, device, &config.runtime);
        Ok(Box::new(OnnxDetector::load(&options)?) as Box<dyn Detector>)
    }
}

/// On a start with no admin token in the store: take it from `auth.admin_token_env`, or generate one and print
/// it once on stdout (`panoptes admin token: <token>`).
fn ensure_admin_token(store: &mut AdminStore, auth: &AuthConfig, given: Option<&str>) -> anyhow::Result<()> {
    let rows = store.token_rows()?;
    if rows.iter().any(|(t, _)| t.access.is_full_admin()) {
        return Ok(());
    }
    match given.filter(|t| !t.trim().is_empty()) {
        Some(secret) => {
            store.add_token("admin", &Access::all(Role::Admin), &tokens::hash(secret.trim()))?;
            tracing::info!(var = %auth.admin_token_env, "admin token taken from the environment and stored (hashed)");
        }
        None => {
            let secret = tokens::generate();
            store.add_token("admin", &Access::all(Role::Admin), &tokens::hash(&secret))?;
            println!("panoptes admin token: {secret}");
            tracing::warn!(
                "generated the admin token (printed once on stdout; only its hash is stored): keep it, or set {} \
                 before the first start",
                auth.admin_token_env
            );
        }
    }
    Ok(())
}

/// SIGINT and SIGTERM, caught from the moment this is made (so a signal right after start-up is never
/// the default, abrupt exit).
struct StopSignals(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

impl StopSignals {
    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(term), Ok(int)) => Self(Some((term, int))),
            _ => {
                tracing::error!("cannot install signal handlers; stop the server with SIGKILL");
                Self(None)
            }
        }
    }

    /// Resolves on the next SIGINT or SIGTERM.
    async fn next(&mut self) {
        let Some((term, int)) = &mut self.0 else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}

/// The plate or fire/smoke detector of a device, from `config.analytics`.
pub fn analytics_detector(
    config: &Config,
) -> impl Fn(AuxModel, &DeviceConfig) -> Result<Box<dyn Detector>, InferError> + '_ {
    move |model, device| {
        let a = &config.analytics;
        let (path, imgsz) = match model {
            AuxModel::PlateDetector => (&a.plate_detector, a.plate_imgsz),
            AuxModel::FireSmoke => (&a.fire_model, a.fire_imgsz),
        };
        // The cameras' sections apply their own thresholds; the model keeps every plausible box.
        let options = ModelOptions::from_config(&config.model, device, &config.runtime)
            .labels(None)
            .imgsz(imgsz)
            .confidence(0.05);
        let options = ModelOptions { path: path.clone(), ..options };
        Ok(Box::new(OnnxDetector::load(&options)?) as Box<dyn Detector>)
    }
}

/// The plate reader (`analytics.plate_ocr`), one ONNX Runtime thread.
pub fn plate_reader(config: &Config) -> impl Fn() -> Result<PlateReader, OcrError> + '_ {
    move || {
        PlateReader::load(
            &OcrOptions::new(&config.analytics.plate_ocr)
                .runtime_library(config.runtime.onnxruntime_library.clone())
                .intra_threads(1),
        )
    }
}

/// Start the pipeline with the real detectors: the primary model and, where cameras use them, the analytics'.
pub async fn start_pipeline(config: &Config) -> Result<Pipeline, PipelineError> {
    let (detector, ocr) = (analytics_detector(config), plate_reader(config));
    let loaders = AuxLoaders { detector: &detector, ocr: &ocr };
    Pipeline::start_with_analytics(config, &onnx_detector(config), Some(&loaders)).await
}

/// Hand each change of this node's share of the cluster's plan to the control loop.
fn follow_plan(control: ControlHandle, mut placed: tokio::sync::watch::Receiver<Share>) {
    actix::spawn(async move {
        while placed.changed().await.is_ok() {
            let cameras = placed.borrow_and_update().clone();
            if control.assign(cameras).await.is_err() {
                break;
            }
        }
    });
}

/// Join the cluster once its NATS server can be reached, retrying every 1 s, doubling up to 30 s; then run
/// this node's share of the plan.
async fn join_later(view: ClusterView, config: Config, local: Local, control: ControlHandle) {
    let mut delay = Duration::from_secs(1);
    loop {
        actix_web::rt::time::sleep(delay).await;
        match view.join(&config, local.clone()).await {
            Ok(joined) => {
                let in_cluster = InCluster { desired: joined.desired, tokens: joined.tokens, units: joined.units };
                if control.joined(in_cluster).await.is_ok() {
                    follow_plan(control, joined.placed_here);
                }
                return;
            }
            Err(e) => {
                delay = (delay * 2).min(Duration::from_secs(30));
                tracing::warn!(error = %e, retry_in_s = delay.as_secs(), "still not in the cluster");
                view.set_waiting(e.to_string());
            }
        }
    }
}

/// What the application takes from its process rather than its config: the metrics recorder's handle and the
/// admin token from the environment (`auth.admin_token_env`), so that tests can build several side by side.
pub struct Deps {
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Stored (hashed) as the admin token when the store has none; without it one is generated and printed.
    pub admin_token: Option<String>,
}

impl Deps {
    /// The process's: the installed recorder and the token in the environment variable `auth` names.
    pub fn from_process(auth: &AuthConfig) -> anyhow::Result<Self> {
        Ok(Self { metrics: crate::metrics::install()?, admin_token: std::env::var(&auth.admin_token_env).ok() })
    }
}

/// The server built and listening: the store opened (cameras seeded, an admin token ensured), the pipeline
/// running and the HTTP server bound. Requests are served once [`Application::run_until_stopped`] is awaited.
pub struct Application {
    addr: std::net::SocketAddr,
    server: actix_web::dev::Server,
    control: crate::control::ControlHandle,
    cluster: ClusterView,
}

/// A node's name when it runs alone: the host name (`/etc/hostname`), else `panoptes`.
fn standalone_id() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "panoptes".into())
}

impl Application {
    /// Build everything from `config` and `deps`, listening on `server.listen` (port 0: a free port, see
    /// [`Application::addr`]). Must be called inside a running actix `System`.
    pub async fn build(config: Config, deps: Deps) -> anyhow::Result<Self> {
        let Deps { metrics, admin_token } = deps;
        let listener = TcpListener::bind(&config.server.listen).with_context(|| {
            format!("cannot listen on {} (server.listen); is the port in use?", config.server.listen)
        })?;
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "listening beyond loopback: every client on the network can reach this server");
            if !config.auth.enabled {
                tracing::warn!(%addr, "auth.enabled = false beyond loopback: anyone on the network can change cameras and rules");
            }
        }
        let mut admin = AdminStore::open(&config.store.path).context("opening the store")?;
        let store_path = config.store.path.display().to_string();
        if config.cluster.is_some() {
            tracing::info!(store = %store_path,
                "cluster mode: cameras, zones and rules are the cluster's (the config file's [[cameras]] seed it); this node runs those placed on it");
        } else if admin.seed_cameras(&config.cameras)? {
            tracing::info!(store = %store_path, cameras = config.cameras.len(),
                "empty store: seeded the cameras from the config file; from now on the store holds them and the config file's [[cameras]] are ignored");
        } else {
            tracing::info!(store = %store_path,
                "cameras, zones, rules and tokens come from the store; the config file's [[cameras]] only seed an empty store and are ignored");
        }
        ensure_admin_token(&mut admin, &config.auth, admin_token.as_deref())?;
        // In cluster mode the pipeline starts empty: the cameras placed on this node arrive from the plan.
        let cameras = if config.cluster.is_some() { vec![] } else { admin.cameras()? };
        let token_rows = admin.token_rows()?;
        let token_cache = TokenCache::from_rows(token_rows.clone());
        let mut run_config = config.clone();
        run_config.cameras = cameras.clone();
        let pipeline = start_pipeline(&run_config).await.context("starting the pipeline")?;
        crate::peers::start(&config.peers, &pipeline.store.links.peers);
        let auth = AuthPolicy {
            enabled: config.auth.enabled,
            public_metrics: config.auth.public_metrics,
            tokens: token_cache.clone(),
        };
        let (status, hub, batchers, labels) =
            (pipeline.status.clone(), pipeline.hub.clone(), pipeline.batchers.clone(), pipeline.labels().clone());
        let (store, alerts, recording) = (pipeline.store.clone(), pipeline.alerts.clone(), pipeline.recording.clone());
        let rules = pipeline.rule_board.clone();
        let infer_fps: f32 = config.devices.iter().map(|d| d.capacity_fps).sum();
        let http_url = format!("http://{addr}");
        let local = Local {
            status: status.clone(),
            store: store.clone(),
            hub: hub.clone(),
            tokens: token_cache.clone(),
            token_rows: token_rows.clone(),
        };
        let (cluster, joined) = match &config.cluster {
            Some(c) => {
                let devices = batchers.iter().map(|(_, b)| b.clone()).collect();
                let view = ClusterView::member(&config, http_url, status.clone(), devices)?;
                let joined = match view.join(&config, local.clone()).await {
                    Ok(joined) => Some(joined),
                    Err(JoinError::Unreachable(e)) => {
                        tracing::error!(nats = %c.nats_url, error = %format!("{e:#}"),
                            "not in the cluster yet: retrying in the background; meanwhile this node serves its stored events and recordings, and runs no camera");
                        view.set_waiting(format!("{e:#}"));
                        None
                    }
                    Err(JoinError::Failed(e)) => return Err(e),
                };
                (view, joined)
            }
            None => (ClusterView::standalone(standalone_id(), infer_fps, http_url, status.clone()), None),
        };
        let link = match (&joined, cluster.clustered()) {
            (Some(j), _) => {
                let (desired, tokens, units) = (j.desired.clone(), j.tokens.clone(), j.units.clone());
                ClusterLink::Joined(Box::new(InCluster { desired, tokens, units }))
            }
            (None, true) => ClusterLink::Waiting,
            (None, false) => ClusterLink::Alone,
        };
        let waiting = matches!(link, ClusterLink::Waiting);
        let control = Control::spawn(pipeline, admin, cameras, token_cache, link);
        if let Some(joined) = joined {
            follow_plan(control.clone(), joined.placed_here);
        } else if waiting {
            actix::spawn(join_later(cluster.clone(), config.clone(), local, control.clone()));
        }
        let webhooks = crate::webhooks::start(&config.webhooks, config.store.path.clone(), &store);
        let mqtt =
            crate::mqtt::start(config.mqtt.as_ref(), config.store.path.clone(), &store, status.clone(), rules.clone());
        let key_path = config.store.path.with_file_name("panoptes-export.key");
        let export_key = std::sync::Arc::new(crate::evidence::ExportKey::load_or_create(&key_path)?);
        let state = AppState {
            status,
            hub,
            batchers,
            metrics,
            labels,
            started: Instant::now(),
            store,
            alerts,
            recording,
            rules,
            control: control.clone(),
            auth,
            cluster: cluster.clone(),
            ws_origins: config.server.ws_origins.clone().into(),
            media_roots: config.server.media_roots.clone().into(),
            webhooks,
            mqtt,
            export_key,
        };
        let server = HttpServer::new(move || {
            App::new()
                .wrap(middleware::from_fn(http::auth::require_token))
                .app_data(web::Data::new(state.clone()))
                .configure(http::routes)
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(5)
        .listen(listener)?
        .run();
        Ok(Self { addr, server, control, cluster })
    }

    /// Where the server listens.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Stops the server (gracefully with `stop(true)`), after which [`Application::run_until_stopped`] returns.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serve until stopped, then drain the pipeline and flush the store.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await.context("HTTP server")?;
        self.cluster.leave().await;
        tracing::info!("HTTP server stopped; draining the pipeline and flushing the store");
        if let Err(e) = self.control.shutdown().await {
            tracing::warn!(error = %e, "draining the pipeline");
        }
        tracing::info!("stopped cleanly");
        Ok(())
    }
}

/// `panoptes run`: the application until the first SIGINT or SIGTERM (a second one exits at once).
pub fn run(config: Config) -> anyhow::Result<()> {
    let deps = Deps::from_process(&config.auth)?;
    actix::System::new().block_on(async move {
        let app = Application::build(config, deps).await?;
        let (addr, handle) = (app.addr(), app.handle());
        let mut signals = StopSignals::install();
        actix::spawn(async move {
            signals.next().await;
            tracing::info!("signal received: stopping gracefully (send it again to exit at once)");
            actix::spawn(async move {
                signals.next().await;
                tracing::warn!("second signal: exiting now");
                std::process::exit(130);
            });
            handle.stop(true).await;
        });
        println!(
            "panoptes listening on http://{addr}/ (overlay ws://{addr}/ws/overlay, alerts ws://{addr}/ws/alerts, metrics http://{addr}/metrics)"
        );
        app.run_until_stopped().await
    })
}
