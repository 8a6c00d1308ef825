//! The Panoptes pipeline: actors and the pure cores they drive.
//!
//! # Layout
//! - [`camera`]: one supervised actor per camera — RTSP (retina) or file source, libavcodec decoding,
//!   conversion to the model input, reconnect with backoff.
//! - [`batcher`]: one actor per device — gathers frames from many cameras into micro-batches
//!   ([`batcher::BatchQueue`] is the pure core) and hands them to the inference worker.
//! - [`infer`]: ONNX Runtime loading, the model session on its own thread, pre- and post-processing
//!   (letterbox, Ultralytics output decoding, NMS).
//! - [`tracker`]: one actor per camera running ByteTrack (Kalman filter, assignment).
//! - [`rules`]: one actor per camera running the analytics rules (intrusion, loitering, occupancy, line
//!   crossing) over tracked frames, on stream time ([`rules::RuleEngine`] is the pure core).
//! - [`allocator`]: places cameras on devices ([`allocator::plan`] is the pure core).
//! - [`hub`]: bounded fan-out of overlay messages to WebSocket clients.
//! - [`record`]: recording to fragmented MP4 segments, event clips, the live fMP4 feed.
//! - [`store`]: the durable event store (SQLite, snapshots) and its writer/reader actors.
//! - [`alerts`]: fan-out of stored events to alert clients, with gap-free resume from the store.
//! - [`pipeline`]: starts and wires the actors from a [`config::Config`]; [`status`]: live camera status.
//! - [`messages`], [`time`], [`geometry`], [`config`], [`metric_names`]: the shared vocabulary.
//!
//! This crate never depends on actix-web; the HTTP surface lives in the `panoptes` binary.

pub mod alerts;
pub mod allocator;
pub mod analytics;
pub mod batcher;
pub mod camera;
pub mod config;
pub mod fire;
pub mod geometry;
pub mod hub;
pub mod infer;
pub mod messages;
pub mod metric_names;
pub mod motion;
pub mod pipeline;
pub mod plates;
pub mod record;
pub mod regions;
pub mod rules;
pub mod status;
pub mod store;
pub mod time;
pub mod tracker;
