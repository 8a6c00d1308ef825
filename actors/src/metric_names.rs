//! Every Prometheus metric the pipeline records, with its unit and labels, in one place.
//!
//! Labels are bounded: `camera`, `device`, `reason`. Never a track id.

/// Counter, labels `camera`: frames decoded.
pub const FRAMES_DECODED: &str = "panoptes_frames_decoded_total";
/// Counter, labels `camera`, `reason` (`rate` = above the camera's detect_fps, `superseded` = a newer
/// frame of the same camera replaced it in the batch queue, `unplaced` = no device yet, `mailbox` = the
/// batcher's mailbox was full, `closed` = the batcher had stopped, `tracker_full` = the tracker's mailbox
/// was full): frames not inferred.
pub const FRAMES_DROPPED: &str = "panoptes_frames_dropped_total";
/// Counter, labels `camera`, `device`: frames inferred.
pub const FRAMES_INFERRED: &str = "panoptes_frames_inferred_total";
/// Counter, labels `camera`: connection attempts that failed.
pub const CAMERA_ERRORS: &str = "panoptes_camera_errors_total";
/// Gauge, labels `camera`: 1 while the camera delivers frames, 0 otherwise.
pub const CAMERA_CONNECTED: &str = "panoptes_camera_connected";
/// Histogram, labels `device`: frames per inference call.
pub const BATCH_SIZE: &str = "panoptes_batch_size";
/// Histogram, labels `device`: model inputs per inference call (whole frames and regions; a frame inferred
/// in regions counts one per region).
pub const BATCH_INPUTS: &str = "panoptes_batch_inputs";
/// Counter, labels `camera`, `plan` (`whole` = the whole frame, `regions` = regions around motion and moving
/// tracks, `nothing` = a still scene, nothing inferred): what detection ran on the frames `detect_fps` admitted.
pub const DETECTION_PLANS: &str = "panoptes_detection_plans_total";
/// Gauge, labels `camera`: share of the picture in motion on the camera's last analysed frame (0–1).
pub const MOTION_AREA: &str = "panoptes_motion_area_ratio";
/// Counter, labels `camera`: analysed frames that changed as a whole (lighting changes, not motion).
pub const MOTION_LIGHTING_CHANGES: &str = "panoptes_motion_lighting_changes_total";
/// Histogram, seconds, labels `device`: duration of one inference call (the whole batch).
pub const INFERENCE_SECONDS: &str = "panoptes_inference_seconds";
/// Gauge, labels `device`: frames waiting in the batch queue.
pub const QUEUE_DEPTH: &str = "panoptes_batch_queue_depth";
/// Histogram, seconds, labels `camera`: frame decoded → overlay message sent to the hub.
pub const END_TO_END_SECONDS: &str = "panoptes_end_to_end_seconds";
/// Gauge, labels `camera`: confirmed tracks on the last processed frame.
pub const ACTIVE_TRACKS: &str = "panoptes_active_tracks";
/// Counter, labels `camera`: overlay messages dropped because a WebSocket client was too slow.
pub const OVERLAY_DROPPED: &str = "panoptes_overlay_dropped_total";
/// Gauge: WebSocket clients on the overlay channel.
pub const OVERLAY_CLIENTS: &str = "panoptes_overlay_clients";
/// Gauge, ppm, labels `camera`: how fast the camera's media clock runs against the wall clock (positive: fast).
pub const CLOCK_DRIFT_PPM: &str = "panoptes_camera_clock_drift_ppm";
/// Gauge, seconds, labels `camera`: the camera's RTCP sender-report clock minus this server's arrival
/// clock (less the network's minimum delay); only set for cameras sending sender reports.
pub const CLOCK_SKEW_SECONDS: &str = "panoptes_camera_clock_skew_seconds";
/// Gauge, labels `camera`: 1 while frame wall times come from RTCP sender reports, 0 from arrival times.
pub const CLOCK_RTCP: &str = "panoptes_camera_clock_rtcp";
/// Counter, labels `camera`, `reason` (`session` = a new RTSP session or file, `forward_jump` /
/// `backward_jump` = the camera's timestamps jumped): re-bases of the camera's timeline.
pub const TIMELINE_DISCONTINUITIES: &str = "panoptes_camera_timeline_discontinuities_total";
/// Counter, labels `camera`: holes in the camera's timeline (lost frames, outages between sessions).
pub const TIMELINE_GAPS: &str = "panoptes_camera_timeline_gaps_total";

/// Counter, labels `camera`, `kind`: events committed to the event store (then announced).
pub const EVENTS_STORED: &str = "panoptes_events_stored_total";
/// Counter, labels `camera`, `reason` (`backlog` = the store was too far behind, `error` = the write failed):
/// events lost before they were stored (never announced).
pub const EVENTS_DROPPED: &str = "panoptes_events_dropped_total";
/// Counter, labels `camera`, `reason` (`backlog` = too many pictures waiting, `error` = encoding or writing
/// failed): events stored without their snapshot.
pub const SNAPSHOTS_SKIPPED: &str = "panoptes_snapshots_skipped_total";
/// Counter, labels `camera`: alert messages dropped from a slow client's queue (the client then re-reads
/// them from the store, so it still sees every event).
pub const ALERTS_DROPPED: &str = "panoptes_alerts_dropped_total";
/// Gauge: WebSocket clients on the alert channel.
pub const ALERT_CLIENTS: &str = "panoptes_alert_clients";

/// Gauge, seconds, labels `peer`: the peer node's clock minus this node's (`[[peers]]`).
pub const PEER_CLOCK_OFFSET_SECONDS: &str = "panoptes_peer_clock_offset_seconds";
/// Gauge, seconds, labels `peer`: the true peer offset is within the estimate ± this.
pub const PEER_CLOCK_UNCERTAINTY_SECONDS: &str = "panoptes_peer_clock_uncertainty_seconds";
/// Counter, labels `peer`: time exchanges with the peer that failed (unreachable, refused, bad reply).
pub const PEER_EXCHANGE_FAILURES: &str = "panoptes_peer_time_exchange_failures_total";
/// Counter, labels `camera`: access units the recorder and live stream never saw because the camera's
/// recorder queue was full (the disk is behind); after a drop, units are skipped up to the next key frame.
pub const RECORDING_DROPPED: &str = "panoptes_recording_dropped_total";
/// Counter, labels `camera`: access units an ingest-only camera (cluster mode) did not forward to its
/// inference node because the queue to NATS was full; after a drop, units are skipped up to the next key frame.
pub const UNITS_FORWARD_DROPPED: &str = "panoptes_units_forward_dropped_total";
/// Counter, labels `camera`: finished segments written and indexed.
pub const RECORDING_SEGMENTS: &str = "panoptes_recording_segments_total";
/// Counter, bytes, labels `camera`: bytes of fMP4 written to segments.
pub const RECORDING_BYTES: &str = "panoptes_recording_bytes_total";
/// Counter, labels `camera`: recording failures (a write, fsync, rename or index insert; an unusable codec
/// configuration).
pub const RECORDING_ERRORS: &str = "panoptes_recording_errors_total";
/// Counter, labels `reason` (`age` = older than `retain_hours`, `disk` = over `max_disk_mb`, `crash` = left
/// half-written by a crash): segments deleted.
pub const RECORDING_DELETED: &str = "panoptes_recording_deleted_total";
/// Gauge: WebSocket clients of the live video channel.
pub const LIVE_CLIENTS: &str = "panoptes_live_clients";
/// Counter, labels `camera`: live fragments skipped for a slow client (it resumes at the next key frame).
pub const LIVE_SKIPPED: &str = "panoptes_live_skipped_total";
/// Counter, label `channel` (`overlay`, `live`, `alerts`): messages not sent to a WebSocket client whose unread
/// backlog was at its byte budget.
pub const WS_DROPPED: &str = "panoptes_ws_dropped_total";
/// Counter, labels `hook`, `result`: webhook requests by result (`delivered`, `failed`, `given_up`).
pub const WEBHOOK_DELIVERIES: &str = "panoptes_webhook_deliveries_total";
/// Gauge, label `hook`: stored events after a webhook's delivery position.
pub const WEBHOOK_BACKLOG: &str = "panoptes_webhook_backlog";
/// Counter, label `kind` (`event`, `state`, `discovery`): MQTT messages the broker took (acknowledged at QoS 1,
/// written at QoS 0).
pub const MQTT_PUBLISHED: &str = "panoptes_mqtt_published_total";
/// Counter, label `reason` (`queue_full`: the state queue was full; `disconnected`: queued state thrown away
/// when the connection dropped, resent from scratch once it is back): MQTT state messages not sent.
pub const MQTT_DROPPED: &str = "panoptes_mqtt_dropped_total";
/// Gauge: 1 while connected to the MQTT broker, else 0.
pub const MQTT_CONNECTED: &str = "panoptes_mqtt_connected";
/// Counter, labels `camera`, `stage` (`fire`, `plates`), `reason` (`rate` is not counted; `unplaced` = no
/// device yet, `mailbox` = the batcher's or actor's mailbox was full, `closed` = it had stopped,
/// `pending_full` = the camera already has the most crops in flight, `ocr_full` = the OCR queue was full,
/// `ocr_gone` = the OCR worker stopped, `lost` = a crop got no answer in time, `tracks_full` = too many
/// vehicle tracks remembered, `convert` = the frame could not be converted): analytics work dropped.
pub const ANALYTICS_DROPPED: &str = "panoptes_analytics_dropped_total";
/// Counter, labels `camera`, `outcome` (`voted` = the reading voted, `rejected` = it failed the format or
/// confidence, `no_plate` = no plate found on the vehicle crop, `failed` = OCR error): plate readings.
pub const PLATE_READS: &str = "panoptes_plate_reads_total";
/// Counter, labels `camera`, `class` (`fire`, `smoke`): fire/smoke inferences showing a box above the
/// camera's confidence and least area (the persistence window then decides on events).
pub const FIRE_POSITIVES: &str = "panoptes_fire_positive_inferences_total";
/// Histogram, seconds: duration of one plate OCR call.
pub const OCR_SECONDS: &str = "panoptes_ocr_seconds";

/// Describe every metric (units and help) on the installed recorder.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(FRAMES_DECODED, Unit::Count, "Frames decoded per camera");
    describe_counter!(FRAMES_DROPPED, Unit::Count, "Frames not inferred, by camera and reason");
    describe_counter!(FRAMES_INFERRED, Unit::Count, "Frames inferred, by camera and device");
    describe_counter!(CAMERA_ERRORS, Unit::Count, "Failed connection attempts per camera");
    describe_gauge!(CAMERA_CONNECTED, "1 while the camera delivers frames");
    describe_histogram!(BATCH_SIZE, Unit::Count, "Frames per inference call");
    describe_histogram!(BATCH_INPUTS, Unit::Count, "Model inputs (whole frames and regions) per inference call");
    describe_counter!(DETECTION_PLANS, Unit::Count, "Admitted frames by what detection ran on them");
    describe_gauge!(MOTION_AREA, "Share of the picture in motion on the last analysed frame");
    describe_counter!(MOTION_LIGHTING_CHANGES, Unit::Count, "Analysed frames taken as lighting changes");
    describe_histogram!(INFERENCE_SECONDS, Unit::Seconds, "Duration of one inference call");
    describe_gauge!(QUEUE_DEPTH, Unit::Count, "Frames waiting in the batch queue");
    describe_histogram!(END_TO_END_SECONDS, Unit::Seconds, "Frame decoded to overlay sent");
    describe_gauge!(ACTIVE_TRACKS, Unit::Count, "Confirmed tracks on the last processed frame");
    describe_counter!(OVERLAY_DROPPED, Unit::Count, "Overlay messages dropped for slow clients");
    describe_gauge!(OVERLAY_CLIENTS, Unit::Count, "Overlay WebSocket clients");
    describe_gauge!(CLOCK_DRIFT_PPM, "Camera media clock drift against the wall clock, ppm");
    describe_gauge!(CLOCK_SKEW_SECONDS, Unit::Seconds, "Camera RTCP clock minus server arrival clock");
    describe_gauge!(CLOCK_RTCP, "1 while wall times come from RTCP sender reports, 0 from arrivals");
    describe_counter!(TIMELINE_DISCONTINUITIES, Unit::Count, "Timeline re-bases per camera, by reason");
    describe_counter!(TIMELINE_GAPS, Unit::Count, "Holes in the camera timeline (loss, outages)");
    describe_counter!(EVENTS_STORED, Unit::Count, "Events committed to the event store");
    describe_counter!(EVENTS_DROPPED, Unit::Count, "Events lost before they were stored, by reason");
    describe_counter!(RECORDING_DROPPED, Unit::Count, "Access units not recorded: the recorder queue was full");
    describe_counter!(RECORDING_SEGMENTS, Unit::Count, "Recording segments written and indexed");
    describe_counter!(UNITS_FORWARD_DROPPED, Unit::Count, "Access units not forwarded to the camera's inference node");
    describe_counter!(RECORDING_BYTES, Unit::Bytes, "Bytes of fMP4 written to recording segments");
    describe_counter!(RECORDING_ERRORS, Unit::Count, "Recording failures per camera");
    describe_counter!(RECORDING_DELETED, Unit::Count, "Recording segments deleted, by reason");
    describe_gauge!(LIVE_CLIENTS, Unit::Count, "Live video WebSocket clients");
    describe_counter!(LIVE_SKIPPED, Unit::Count, "Live fragments skipped for slow clients");
    describe_counter!(WS_DROPPED, Unit::Count, "WebSocket messages not sent to a client whose unread backlog was full");
    describe_counter!(
        WEBHOOK_DELIVERIES,
        Unit::Count,
        "Webhook requests by hook and result (delivered, failed, given_up)"
    );
    describe_gauge!(WEBHOOK_BACKLOG, Unit::Count, "Stored events after a webhook's delivery position");
    describe_counter!(MQTT_PUBLISHED, Unit::Count, "MQTT messages the broker took, by kind (event, state, discovery)");
    describe_counter!(MQTT_DROPPED, Unit::Count, "MQTT state messages not sent, by reason (queue_full, disconnected)");
    describe_gauge!(MQTT_CONNECTED, Unit::Count, "1 while connected to the MQTT broker, else 0");
    describe_counter!(SNAPSHOTS_SKIPPED, Unit::Count, "Events stored without their snapshot, by reason");
    describe_counter!(ALERTS_DROPPED, Unit::Count, "Alert messages dropped for slow clients (re-read from the store)");
    describe_gauge!(ALERT_CLIENTS, Unit::Count, "Alert WebSocket clients");
    describe_gauge!(PEER_CLOCK_OFFSET_SECONDS, Unit::Seconds, "Peer node clock minus this node's clock");
    describe_gauge!(PEER_CLOCK_UNCERTAINTY_SECONDS, Unit::Seconds, "Uncertainty of the peer clock offset");
    describe_counter!(PEER_EXCHANGE_FAILURES, Unit::Count, "Failed time exchanges with a peer node");
    describe_counter!(ANALYTICS_DROPPED, Unit::Count, "Plate and fire work dropped, by camera, stage and reason");
    describe_counter!(PLATE_READS, Unit::Count, "Plate readings by camera and outcome");
    describe_counter!(FIRE_POSITIVES, Unit::Count, "Fire/smoke inferences with a box above the thresholds");
    describe_histogram!(OCR_SECONDS, Unit::Seconds, "Duration of one plate OCR call");
}
