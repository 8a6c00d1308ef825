//! Build and run the server: load the detectors, start the pipeline, bind the HTTP surface, run until
//! SIGINT/SIGTERM, then stop the cameras.

use crate::http::{self, AppState};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use panoptes_actors::analytics::{AuxLoaders, AuxModel};
use panoptes_actors::config::{Config, DeviceConfig};
use panoptes_actors::infer::model::{ModelOptions, OnnxDetector};
use panoptes_actors::infer::ocr::{OcrError, OcrOptions, PlateReader};
use panoptes_actors::infer::{Detector, InferError};
use panoptes_actors::pipeline::{Pipeline, PipelineError};
use std::net::TcpListener;
use std::time::Instant;

/// The real detector of a device: the configured ONNX model on the device's execution providers.
pub fn onnx_detector(config: &Config) -> impl Fn(&DeviceConfig) -> Result<Box<dyn Detector>, InferError> + '_ {
    move |device| {
        let options = ModelOptions::from_config(&config.model, device, &config.runtime);
        Ok(Box::new(OnnxDetector::load(&options)?) as Box<dyn Detector>)
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

pub fn run(config: Config) -> anyhow::Result<()> {
    let metrics = crate::metrics::install()?;
    actix::System::new().block_on(async move {
        let listener = TcpListener::bind(&config.server.listen).with_context(|| {
            format!("cannot listen on {} (server.listen); is the port in use?", config.server.listen)
        })?;
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "listening beyond loopback: every client on the network can reach this server");
        }
        let mut pipeline = start_pipeline(&config).await.context("starting the pipeline")?;
        crate::peers::start(&config.peers, &pipeline.store.links.peers);
        let state = AppState {
            status: pipeline.status.clone(),
            hub: pipeline.hub.clone(),
            batchers: pipeline.batchers.clone(),
            metrics,
            labels: pipeline.labels().clone(),
            started: Instant::now(),
            store: pipeline.store.clone(),
            alerts: pipeline.alerts.clone(),
            rules: pipeline.rule_board.clone(),
        };
        let server =
            HttpServer::new(move || App::new().app_data(web::Data::new(state.clone())).configure(http::routes))
                .workers(2)
                .listen(listener)?
                .run();
        println!(
            "panoptes listening on http://{addr}/ (overlay ws://{addr}/ws/overlay, alerts ws://{addr}/ws/alerts, metrics http://{addr}/metrics)"
        );
        server.await.context("HTTP server")?;
        tracing::info!("shutting down: stopping cameras");
        pipeline.stop().await;
        Ok(())
    })
}
