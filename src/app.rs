//! Build and run the server: load the detectors, start the pipeline, bind the HTTP surface, run until
//! SIGINT/SIGTERM, then stop the cameras.

use crate::http::{self, AppState};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use panoptes_actors::config::{Config, DeviceConfig};
use panoptes_actors::infer::model::{ModelOptions, OnnxDetector};
use panoptes_actors::infer::{Detector, InferError};
use panoptes_actors::pipeline::Pipeline;
use std::net::TcpListener;
use std::time::Instant;

/// The real detector of a device: the configured ONNX model on the device's execution providers.
pub fn onnx_detector(config: &Config) -> impl Fn(&DeviceConfig) -> Result<Box<dyn Detector>, InferError> + '_ {
    move |device| {
        let options = ModelOptions::from_config(&config.model, device, &config.runtime);
        Ok(Box::new(OnnxDetector::load(&options)?) as Box<dyn Detector>)
    }
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
        let mut pipeline = Pipeline::start(&config, &onnx_detector(&config)).await.context("starting the pipeline")?;
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
            recording: pipeline.recording.clone(),
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
