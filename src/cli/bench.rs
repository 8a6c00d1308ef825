//! `panoptes bench`: pipeline throughput and latency next to raw ONNX Runtime on the same model,
//! input size and threads, measured in the same run. Prints a table; see BENCHMARKS.md.
//!
//! 1. Raw: the detector alone (`Detector::detect`: ONNX Runtime plus decoding and NMS of its output)
//!    on batches of 1 and of `max_batch`, before and after the pipeline run (averaged); the better of
//!    the two batch sizes is the baseline.
//! 2. Pipeline: `streams` file cameras (paced in real time, like live cameras) through decode,
//!    letterbox, batching, inference, tracking and the overlay hub; counted after a warm-up. Run twice in
//!    the same invocation: `[detection] mode = "full_frame"` (every admitted frame whole: the baseline) and
//!    `"regions"` (motion-aware regions). `--static-streams K` of the streams play a still scene with sensor
//!    noise (one frame of the media, looped, made with the ffmpeg CLI) instead of the media.
//!
//! 3. With `--nats URL` (a NATS server, e.g. `nats-server -a 127.0.0.1`): the full-frame run again with each
//!    camera split as a cluster splits it across two nodes, both halves in this process: an ingest-only
//!    camera publishes its access units on NATS, an inference-only camera subscribes and analyses them.
//!
//! 4. With `--integrations`: the full-frame run again with every stored event also POSTed to a webhook receiver
//!    in this process and, with `--mqtt URL`, published to that MQTT broker with its live state (counts,
//!    status, discovery): what the integrations cost the frame path.
//!
//! The ratio pipeline/raw (full-frame run) says what the rest of the pipeline costs next to inference; the
//! second table compares the two modes per kind of stream: inferred frames per second and CPU seconds; the
//! third (with `--nats`) what the NATS hop adds: latency from a frame's arrival to its overlay message, and CPU
//! seconds of this process per stream (the NATS server's own CPU is not in it).

use crate::app::onnx_detector;
use crate::cluster::units::{self, UnitLink};
use anyhow::Context;
use panoptes_actors::batcher::GetStats;
use panoptes_actors::config::{CameraConfig, Config, DetectionMode, Source};
use panoptes_actors::geometry::Letterbox;
use panoptes_actors::hub::Subscribe;
use panoptes_actors::infer::Detector;
use panoptes_actors::messages::{CameraId, ModelInput};
use panoptes_actors::pipeline::{CameraRole, Pipeline};
use panoptes_actors::store::actor::MaxId;
use panoptes_actors::time::now_unix_ms;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// Number of camera streams (each a looping copy of --media).
    #[arg(long, default_value_t = 4)]
    streams: usize,
    /// Measured seconds of the pipeline run (after a warm-up).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// ONNX model; default: the model of the embedded default config.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Input size for models with a dynamic input size.
    #[arg(long)]
    imgsz: Option<u32>,
    /// Video file every stream plays.
    #[arg(long, default_value = "var/media/vtest-h264.mp4")]
    media: PathBuf,
    /// Most frames per inference call.
    #[arg(long, default_value_t = 4)]
    max_batch: usize,
    /// ONNX Runtime intra-op threads (0: ONNX Runtime's default).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Per-stream detection rate cap, frames per second.
    #[arg(long, default_value_t = 30.0)]
    detect_fps: f32,
    /// How many of the streams play a still scene with sensor noise (made from one frame of --media).
    #[arg(long, default_value_t = 0)]
    static_streams: usize,
    /// Regions mode: most a region is enlarged (`[detection] max_zoom`); default: the embedded config's.
    #[arg(long)]
    max_zoom: Option<f32>,
    /// Also measure the cluster's NATS hop through the NATS server at this URL (e.g. nats://127.0.0.1:4222).
    #[arg(long)]
    nats: Option<String>,
    /// Also measure the full-frame run with the stored events sent to a webhook receiver in this process (and
    /// to the MQTT broker of --mqtt).
    #[arg(long)]
    integrations: bool,
    /// With --integrations: the MQTT broker to publish to (e.g. mqtt://127.0.0.1:1883; `mosquitto -p 1883`).
    #[arg(long, requires = "integrations")]
    mqtt: Option<String>,
}

/// What a pipeline run also feeds (`--integrations`).
struct Integrations {
    mqtt: Option<String>,
}

/// What the integrations did during the measured window.
struct IntegrationFigures {
    webhook_deliveries: i64,
    mqtt_events: Option<u64>,
    mqtt_state: Option<u64>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.streams > 0 && args.seconds > 0, "--streams and --seconds must be positive");
    anyhow::ensure!(args.media.is_file(), "media file {} does not exist; run `make setup`", args.media.display());
    anyhow::ensure!(
        args.static_streams <= args.streams,
        "--static-streams {} is more than --streams {}",
        args.static_streams,
        args.streams
    );
    let store_dir = super::TempDir::new("bench")?;
    let still = (args.static_streams > 0).then(|| still_clip(&args.media, &store_dir.0)).transpose()?;
    let mut config = bench_config(&args, still.as_deref(), &store_dir.0)?;
    if let Some(zoom) = args.max_zoom {
        config.detection.max_zoom = zoom;
        config.validate().context("--max-zoom")?;
    }
    let warmup = Duration::from_secs(3);

    // Raw throughput is measured before and after the pipeline run and averaged, so a load that drifts
    // during the run (these machines are shared) biases both sides alike.
    let raw_secs = Duration::from_secs(args.seconds.clamp(3, 10) / 2 + 1);
    let mut detector = onnx_detector(&config)(&config.devices[0]).context("loading the model")?;
    let (w, h) = detector.input_size();
    let raw1_before = raw_throughput(detector.as_mut(), 1, raw_secs)?;
    let raw_b_before = raw_throughput(detector.as_mut(), args.max_batch, raw_secs)?;
    drop(detector);

    let measure = Duration::from_secs(args.seconds);
    config.detection.mode = DetectionMode::FullFrame;
    let p = actix::System::new().block_on(pipeline_run(&config, warmup, measure, None, None))?;
    let hop = match &args.nats {
        Some(url) => Some(actix::System::new().block_on(pipeline_run(&config, warmup, measure, Some(url), None))?),
        None => None,
    };
    let hooked = match args.integrations {
        true => {
            let with = Integrations { mqtt: args.mqtt.clone() };
            Some(actix::System::new().block_on(pipeline_run(&config, warmup, measure, None, Some(&with)))?)
        }
        false => None,
    };
    config.detection.mode = DetectionMode::Regions;
    let r = actix::System::new().block_on(pipeline_run(&config, warmup, measure, None, None))?;

    let mut detector = onnx_detector(&config)(&config.devices[0])?;
    let raw1 = (raw1_before + raw_throughput(detector.as_mut(), 1, raw_secs)?) / 2.0;
    let raw_b = (raw_b_before + raw_throughput(detector.as_mut(), args.max_batch, raw_secs)?) / 2.0;
    drop(detector);
    let raw = raw1.max(raw_b);

    let pipeline_fps = p.inferred as f64 / p.secs;
    let ms_per_img = if p.inferred > 0 { 1000.0 * p.infer_secs / p.inferred as f64 } else { f64::NAN };
    let raw_b_label = format!("raw ORT images/s, batch {}", args.max_batch);
    let rows: Vec<(&str, String)> = vec![
        ("model", config.model.path.display().to_string()),
        ("input", format!("{w}x{h}")),
        ("intra-op threads", if args.threads == 0 { "ORT default".into() } else { args.threads.to_string() }),
        ("streams", args.streams.to_string()),
        ("measured seconds", format!("{:.1}", p.secs)),
        ("frames decoded", p.decoded.to_string()),
        ("frames inferred", p.inferred.to_string()),
        ("frames not inferred (rate cap + superseded)", p.decoded.saturating_sub(p.inferred).to_string()),
        ("mean batch size", format!("{:.2}", p.inferred as f64 / p.batches.max(1) as f64)),
        ("inference ms per image (in pipeline)", format!("{ms_per_img:.1}")),
        ("raw ORT images/s, batch 1", format!("{raw1:.1}")),
        (&raw_b_label, format!("{raw_b:.1}")),
        ("pipeline inferred frames/s", format!("{pipeline_fps:.1}")),
        ("ratio pipeline / raw ORT", format!("{:.3}", pipeline_fps / raw)),
        ("end-to-end latency p50 ms", format!("{:.0}", percentile(&p.latencies_ms, 0.50))),
        ("end-to-end latency p99 ms", format!("{:.0}", percentile(&p.latencies_ms, 0.99))),
        ("peak RSS MiB", peak_rss_mib().map_or("n/a".into(), |v| format!("{v:.0}"))),
    ];
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let vwidth = rows.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    println!("| {:width$} | {:>vwidth$} |", "measure", "value");
    println!("|-{}-|-{}:|", "-".repeat(width), "-".repeat(vwidth.saturating_sub(1)));
    for (k, v) in rows {
        println!("| {k:width$} | {v:>vwidth$} |");
    }
    println!();
    let moving: Vec<CameraId> = (args.static_streams..args.streams).map(camera_id).collect();
    let still: Vec<CameraId> = (0..args.static_streams).map(camera_id).collect();
    let fps = |f: &PipelineFigures, ids: &[CameraId]| -> String {
        if ids.is_empty() {
            return "—".into();
        }
        let total: u64 = ids.iter().map(|id| f.inferred_by_camera.get(id.as_str()).copied().unwrap_or(0)).sum();
        format!("{:.2}", total as f64 / ids.len() as f64 / f.secs)
    };
    let cpu = |f: &PipelineFigures| format!("{:.3}", f.cpu_secs / f.secs / args.streams as f64);
    let inputs = |f: &PipelineFigures| format!("{:.1}", f.inputs as f64 / f.secs);
    let compare = [
        ("moving-stream inferred fps (mean)", fps(&p, &moving), fps(&r, &moving)),
        ("static-stream inferred fps (mean)", fps(&p, &still), fps(&r, &still)),
        ("model inputs/s (frames and regions)", inputs(&p), inputs(&r)),
        ("CPU seconds per stream per second", cpu(&p), cpu(&r)),
    ];
    let width = compare.iter().map(|(k, _, _)| k.len()).max().unwrap_or(0);
    println!(
        "{} streams ({} moving, {} static), detect_fps {}: full_frame (baseline) vs regions (max_zoom {}), same run",
        args.streams,
        args.streams - args.static_streams,
        args.static_streams,
        args.detect_fps,
        config.detection.max_zoom
    );
    println!("| {:width$} | {:>10} | {:>10} |", "measure", "full_frame", "regions");
    println!("|-{}-|-{}:|-{}:|", "-".repeat(width), "-".repeat(9), "-".repeat(9));
    for (k, a, b) in compare {
        println!("| {k:width$} | {a:>10} | {b:>10} |");
    }
    if let Some(h) = hop {
        print_hop(&p, &h, args.streams);
    }
    if let Some(i) = hooked {
        print_integrations(&p, &i, raw, args.streams, args.mqtt.as_deref());
    }
    Ok(())
}

/// The pipeline with the integrations on next to it without them (both full frame, same run).
fn print_integrations(p: &PipelineFigures, i: &PipelineFigures, raw: f64, streams: usize, mqtt: Option<&str>) {
    let fps = |f: &PipelineFigures| f.inferred as f64 / f.secs;
    let lat = |f: &PipelineFigures, q| format!("{:.0}", percentile(&f.latencies_ms, q));
    let cpu = |f: &PipelineFigures| format!("{:.3}", f.cpu_secs / f.secs / streams as f64);
    let outputs = i.integrations.as_ref();
    let count = |v: Option<u64>| v.map_or("—".to_string(), |n| n.to_string());
    let rows = [
        ("pipeline inferred frames/s", format!("{:.1}", fps(p)), format!("{:.1}", fps(i))),
        ("ratio pipeline / raw ORT", format!("{:.3}", fps(p) / raw), format!("{:.3}", fps(i) / raw)),
        ("end-to-end latency p50 ms", lat(p, 0.5), lat(i, 0.5)),
        ("end-to-end latency p99 ms", lat(p, 0.99), lat(i, 0.99)),
        ("CPU seconds per stream per second", cpu(p), cpu(i)),
        ("events stored", p.events.to_string(), i.events.to_string()),
        ("webhook deliveries", "—".into(), count(outputs.map(|o| o.webhook_deliveries.max(0) as u64))),
        ("MQTT event messages acknowledged", "—".into(), count(outputs.and_then(|o| o.mqtt_events))),
        ("MQTT state messages acknowledged", "—".into(), count(outputs.and_then(|o| o.mqtt_state))),
    ];
    println!();
    println!(
        "{streams} streams, full_frame: without integrations (baseline) vs events to a webhook receiver in this \
         process{}, same run",
        mqtt.map_or(String::new(), |url| format!(" and to the MQTT broker {url}"))
    );
    println!("| {:33} | {:>10} | {:>10} |", "measure", "without", "with");
    println!("|-{}-|-{}:|-{}:|", "-".repeat(33), "-".repeat(9), "-".repeat(9));
    for (k, a, b) in rows {
        println!("| {k:33} | {a:>10} | {b:>10} |");
    }
}

/// The NATS hop next to the in-process pipeline (both full frame, same run).
fn print_hop(p: &PipelineFigures, h: &PipelineFigures, streams: usize) {
    let lat = |f: &PipelineFigures, q| percentile(&f.latencies_ms, q);
    let cpu = |f: &PipelineFigures| f.cpu_secs / f.secs / streams as f64;
    let rows = [
        ("inferred frames/s", p.inferred as f64 / p.secs, h.inferred as f64 / h.secs, 1),
        ("end-to-end latency p50 ms", lat(p, 0.5), lat(h, 0.5), 0),
        ("end-to-end latency p99 ms", lat(p, 0.99), lat(h, 0.99), 0),
        ("CPU seconds per stream per second", cpu(p), cpu(h), 3),
    ];
    println!();
    println!(
        "{streams} streams, full_frame: one process (baseline) vs each camera's halves joined over NATS, same run"
    );
    println!("| {:33} | {:>10} | {:>10} | {:>10} |", "measure", "in-process", "NATS hop", "added");
    println!("|-{}-|-{}:|-{}:|-{}:|", "-".repeat(33), "-".repeat(9), "-".repeat(9), "-".repeat(9));
    for (k, a, b, digits) in rows {
        println!("| {k:33} | {a:>10.digits$} | {b:>10.digits$} | {:>+10.digits$} |", b - a);
    }
}

fn camera_id(i: usize) -> CameraId {
    CameraId::parse(&format!("bench-{i}")).expect("a valid id")
}

/// A still scene with sensor noise: one frame of `media` (at 10 s), looped for 20 s at 10 fps with temporal
/// noise, H.264, made with the ffmpeg CLI into `dir`.
fn still_clip(media: &std::path::Path, dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    let frame = dir.join("still.png");
    let clip = dir.join("still.mp4");
    let run = |args: &[&std::ffi::OsStr]| -> anyhow::Result<()> {
        let out = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y"])
            .args(args)
            .output()
            .context("running ffmpeg (the still-scene clip needs the ffmpeg CLI; `make setup` installs it)")?;
        anyhow::ensure!(out.status.success(), "ffmpeg failed: {}", String::from_utf8_lossy(&out.stderr));
        Ok(())
    };
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    run(&[os("-ss"), os("10"), os("-i"), media.as_os_str(), os("-frames:v"), os("1"), frame.as_os_str()])?;
    run(&[
        os("-loop"),
        os("1"),
        os("-framerate"),
        os("10"),
        os("-i"),
        frame.as_os_str(),
        os("-t"),
        os("20"),
        os("-vf"),
        os("noise=alls=8:allf=t"),
        os("-c:v"),
        os("libx264"),
        os("-pix_fmt"),
        os("yuv420p"),
        clip.as_os_str(),
    ])?;
    Ok(clip)
}

fn bench_config(args: &Args, still: Option<&std::path::Path>, store_dir: &std::path::Path) -> anyhow::Result<Config> {
    let mut config = crate::settings::load(None)?;
    if let Some(m) = &args.model {
        config.model.path = m.clone();
    }
    if let Some(s) = args.imgsz {
        config.model.imgsz = s;
    }
    config.server.listen = "127.0.0.1:0".into();
    // The benchmark's cameras keep the default camera's zones and rules, so events are raised and stored as in
    // a deployment; keep its event store out of the operator's.
    config.store.path = store_dir.join("events.db");
    config.store.snapshot_dir = store_dir.join("snapshots");
    // Nor its recordings: the benchmark measures detection, and must not fill the operator's disk.
    config.recording.enabled = false;
    config.devices.truncate(1);
    let dev = &mut config.devices[0];
    dev.max_batch = args.max_batch;
    dev.intra_threads = args.threads;
    dev.capacity_fps = 1000.0;
    let template = config.cameras.first().cloned().context("the default config has cameras")?;
    config.cameras = (0..args.streams)
        .map(|i| CameraConfig {
            id: camera_id(i),
            source: Source::File {
                path: match still {
                    Some(clip) if i < args.static_streams => clip.to_owned(),
                    _ => args.media.clone(),
                },
                looped: true,
            },
            detect_fps: args.detect_fps,
            classes: vec![],
            ..template.clone()
        })
        .collect();
    config.validate()?;
    Ok(config)
}

/// Images per second of `detector` alone on batches of `batch` for about `duration`.
fn raw_throughput(detector: &mut dyn Detector, batch: usize, duration: Duration) -> anyhow::Result<f64> {
    let (w, h) = detector.input_size();
    let lb = Letterbox::new(w, h, w, h);
    // A deterministic textured picture, so NMS sees some candidates rather than none.
    let chw: Vec<f32> = (0..3 * w as usize * h as usize).map(|i| ((i * 7919) % 255) as f32 / 255.0).collect();
    let inputs: Vec<ModelInput> = (0..batch).map(|_| ModelInput { letterbox: lb, chw: chw.clone() }).collect();
    let refs: Vec<&ModelInput> = inputs.iter().collect();
    detector.detect(&refs)?; // warm-up
    let start = Instant::now();
    let mut images = 0usize;
    while start.elapsed() < duration {
        detector.detect(&refs)?;
        images += batch;
    }
    Ok(images as f64 / start.elapsed().as_secs_f64())
}

struct PipelineFigures {
    secs: f64,
    decoded: u64,
    inferred: u64,
    /// Frames inferred (whole or in regions) per camera id.
    inferred_by_camera: std::collections::HashMap<String, u64>,
    /// Model inputs (frames and regions) inferred.
    inputs: u64,
    /// CPU seconds of this process (user + system).
    cpu_secs: f64,
    batches: u64,
    infer_secs: f64,
    latencies_ms: Vec<f64>,
    /// Events stored during the measured window.
    events: i64,
    /// What the integrations did in it (`--integrations`).
    integrations: Option<IntegrationFigures>,
}

/// The running integrations of one run: a webhook to a receiver in this process, and MQTT.
struct Outputs {
    webhooks: crate::webhooks::WebhookBoard,
    mqtt: crate::mqtt::MqttBoard,
}

impl Outputs {
    /// Start a receiver answering 200 to every POST, a webhook to it, and MQTT (with a broker URL).
    fn start(with: &Integrations, config: &Config, pipeline: &Pipeline) -> anyhow::Result<Self> {
        use actix_web::{App, HttpResponse, HttpServer, web};
        let receiver = HttpServer::new(|| App::new().default_service(web::to(HttpResponse::Ok)))
            .workers(1)
            .disable_signals()
            .bind("127.0.0.1:0")
            .context("binding the benchmark's webhook receiver")?;
        let addr = receiver.addrs()[0];
        actix::spawn(receiver.run());
        let hook: panoptes_actors::config::WebhookConfig =
            serde_json::from_value(serde_json::json!({ "id": "bench", "url": format!("http://{addr}/hook") }))?;
        let webhooks = crate::webhooks::start(&[hook], config.store.path.clone(), &pipeline.store);
        let mqtt_config: Option<panoptes_actors::config::MqttConfig> = with
            .mqtt
            .as_ref()
            .map(|url| serde_json::from_value(serde_json::json!({ "url": url, "client_id": "panoptes-bench" })))
            .transpose()?;
        if let Some(cfg) = &mqtt_config {
            cfg.validate().context("--mqtt")?;
        }
        let mqtt = crate::mqtt::start(
            mqtt_config.as_ref(),
            config.store.path.clone(),
            &pipeline.store,
            pipeline.status.clone(),
            pipeline.rule_board.clone(),
        );
        Ok(Self { webhooks, mqtt })
    }

    /// Counters now: webhook deliveries, MQTT event and state messages acknowledged.
    fn counts(&self) -> (i64, Option<u64>, Option<u64>) {
        let delivered = self.webhooks.list().iter().map(|h| h.delivered).sum();
        let mqtt = self.mqtt.get();
        (delivered, mqtt.as_ref().map(|m| m.published_events), mqtt.as_ref().map(|m| m.published_state))
    }
}

/// One pipeline run over `config`'s cameras; with `nats`, each camera split in two over the NATS server there.
async fn pipeline_run(
    config: &Config,
    warmup: Duration,
    measure: Duration,
    nats: Option<&str>,
    integrations: Option<&Integrations>,
) -> anyhow::Result<PipelineFigures> {
    let mut pipeline = match nats {
        None => Pipeline::start(config, &onnx_detector(config)).await?,
        Some(url) => split_pipeline(config, url).await?,
    };
    let outputs = integrations.map(|with| Outputs::start(with, config, &pipeline)).transpose()?;
    let newest_event =
        async |pipeline: &Pipeline| pipeline.store.ask(MaxId).await.ok().and_then(Result::ok).unwrap_or(0);
    let (_, mut rx) = pipeline.hub.send(Subscribe { cameras: None }).await?;
    let per_camera = |pipeline: &Pipeline| -> std::collections::HashMap<String, u64> {
        pipeline.status.iter().map(|s| (s.key().to_string(), s.frames_inferred)).collect()
    };
    let snapshot = |pipeline: &Pipeline| {
        let decoded: u64 = pipeline.status.iter().map(|s| s.frames_decoded).sum();
        let batchers: Vec<_> = pipeline.batchers.iter().map(|(_, b)| b.clone()).collect();
        async move {
            let mut stats = (decoded, 0u64, 0u64, 0f64, 0u64);
            for b in batchers {
                let s = b.send(GetStats).await?;
                stats.1 += s.frames_inferred;
                stats.2 += s.batches;
                stats.3 += s.infer_secs;
                stats.4 += s.inputs_inferred;
            }
            anyhow::Ok(stats)
        }
    };
    let warm_end = Instant::now() + warmup;
    while let Ok(Some(_)) = tokio::time::timeout_at(warm_end.into(), rx.recv()).await {}
    let before = snapshot(&pipeline).await?;
    let (events_before, outputs_before) = (newest_event(&pipeline).await, outputs.as_ref().map(Outputs::counts));
    let (cameras_before, cpu_before) = (per_camera(&pipeline), cpu_seconds());
    let start = Instant::now();
    let end = start + measure;
    let mut latencies_ms = Vec::new();
    while let Ok(Some(msg)) = tokio::time::timeout_at(end.into(), rx.recv()).await {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&msg)
            && let Some(wall) = v["wall_ms"].as_i64()
        {
            latencies_ms.push((now_unix_ms() - wall) as f64);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let after = snapshot(&pipeline).await?;
    let (cameras_after, cpu_after) = (per_camera(&pipeline), cpu_seconds());
    let events = newest_event(&pipeline).await - events_before;
    let integrations = outputs.as_ref().zip(outputs_before).map(|(o, (d0, e0, s0))| {
        let (d1, e1, s1) = o.counts();
        let since = |a: Option<u64>, b: Option<u64>| a.zip(b).map(|(a, b)| a.saturating_sub(b));
        IntegrationFigures { webhook_deliveries: d1 - d0, mqtt_events: since(e1, e0), mqtt_state: since(s1, s0) }
    });
    pipeline.stop().await;
    let inferred_by_camera =
        cameras_after.iter().map(|(id, n)| (id.clone(), n - cameras_before.get(id).copied().unwrap_or(0))).collect();
    latencies_ms.sort_by(f64::total_cmp);
    Ok(PipelineFigures {
        secs,
        decoded: after.0 - before.0,
        inferred: after.1 - before.1,
        inferred_by_camera,
        inputs: after.4 - before.4,
        cpu_secs: cpu_after - cpu_before,
        batches: after.2 - before.2,
        infer_secs: after.3 - before.3,
        latencies_ms,
        events,
        integrations,
    })
}

/// The pipeline with each camera's halves as two cameras: `<id>-ingest` publishes the access units on NATS
/// under `<id>`'s subject, and `<id>` analyses what arrives there.
async fn split_pipeline(config: &Config, url: &str) -> anyhow::Result<Pipeline> {
    let client =
        async_nats::connect(url).await.with_context(|| format!("connecting to the NATS server at {url} (--nats)"))?;
    let cameras = config.cameras.clone();
    let empty = Config { cameras: vec![], ..config.clone() };
    let mut pipeline = Pipeline::start(&empty, &onnx_detector(config)).await?;
    let link = UnitLink::new(client);
    for cfg in cameras {
        let ingest = CameraConfig { id: CameraId::parse(&format!("{}-ingest", cfg.id))?, ..cfg.clone() };
        let forward = units::publisher(link.client(), &cfg.id)?;
        pipeline.add_camera_as(ingest, CameraRole::Ingest { forward }).await?;
        pipeline.add_camera_as(cfg, CameraRole::Infer { opener: link.opener() }).await?;
    }
    Ok(pipeline)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Peak resident set size of this process (Linux `VmHWM`).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU seconds (user + system) this process has used (Linux `/proc/self/stat`, clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    // Fields after the command name (which is in parentheses and may hold spaces): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    match (f.get(11).and_then(|v| v.parse::<f64>().ok()), f.get(12).and_then(|v| v.parse::<f64>().ok())) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}
