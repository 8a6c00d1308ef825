//! The Prometheus recorder: installed once per process, rendered by `GET /metrics`.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use panoptes_actors::metric_names as m;

const LATENCY_BUCKETS_SEC: &[f64] = &[0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 2.0, 5.0];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 32.0];

fn builder() -> anyhow::Result<PrometheusBuilder> {
    Ok(PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(m::INFERENCE_SECONDS.into()), LATENCY_BUCKETS_SEC)?
        .set_buckets_for_metric(Matcher::Full(m::END_TO_END_SECONDS.into()), LATENCY_BUCKETS_SEC)?
        .set_buckets_for_metric(Matcher::Full(m::BATCH_SIZE.into()), BATCH_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(m::BATCH_INPUTS.into()), BATCH_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(m::OCR_SECONDS.into()), LATENCY_BUCKETS_SEC)?)
}

/// Install the process's recorder (once per process) and describe every metric.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = builder()?.install_recorder()?;
    m::describe();
    Ok(handle)
}

/// A handle to a recorder that is not installed, for an application built in-process beside others (tests):
/// its `/metrics` renders nothing this process records.
pub fn detached() -> anyhow::Result<PrometheusHandle> {
    Ok(builder()?.build_recorder().handle())
}
