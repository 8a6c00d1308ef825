//! The Panoptes pipeline: actors and the pure cores they drive.
//!
//! # Layers
//! Lowest first; a module uses only modules of its own layer or of lower ones, and the module graph has no
//! cycle (`tests/layers.rs` reads every `crate::` reference and fails otherwise; `docs/design/layers.md`).
//! Where a lower layer must tell a higher one something, it takes a [`actix::Recipient`] of its own message
//! (the store's writer announces committed events to whatever the wiring gives it: the alert hub).
//!
//! | layer | modules |
//! |---|---|
//! | vocabulary | [`time`] (media and wall time, clocks), [`geometry`] (boxes, letterbox; zones and lines in [`geometry::plane`]), [`metric_names`], [`media`] (codecs, access units), [`messages`] (frames, detections, tracks, events) |
//! | settings and boards | [`config`] (one file per section where it has grown: [`config::tracker`]), [`status`] (live camera status) |
//! | storage and per-frame planning | [`store`] (SQLite events, snapshots, tokens, playback links), [`motion`], [`regions`] |
//! | detection | [`infer`] (ONNX Runtime, pre/post-processing, OCR), [`batcher`] (micro-batches per device) |
//! | tracking, analysis, recording | [`tracker`] (ByteTrack + observation-centric), [`rules`] (intrusion, loitering, occupancy, line crossing), [`fire`], [`plates`], [`record`] (fMP4 segments, clips, live feed) |
//! | delivery | [`hub`] (overlay fan-out), [`alerts`] (stored events to alert clients, gap-free resume; starts the store with its hub) |
//! | cameras, analytics wiring, placement | [`camera`] (supervised source → decode → motion → regions → batcher), [`analytics`] (extra models' wiring), [`allocator`] (devices of this node), [`cluster`] (nodes of a cluster: placement, node records) |
//! | wiring | [`pipeline`]: starts and wires the actors from a [`config::Config`] |
//!
//! This crate never depends on actix-web; the HTTP surface lives in the `panoptes` binary.

pub mod alerts;
pub mod allocator;
pub mod analytics;
pub mod batcher;
pub mod camera;
pub mod cluster;
pub mod config;
pub mod fire;
pub mod geometry;
pub mod health;
pub mod hub;
pub mod infer;
pub mod media;
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
