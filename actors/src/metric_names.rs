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

/// Describe every metric (units and help) on the installed recorder.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(FRAMES_DECODED, Unit::Count, "Frames decoded per camera");
    describe_counter!(FRAMES_DROPPED, Unit::Count, "Frames not inferred, by camera and reason");
    describe_counter!(FRAMES_INFERRED, Unit::Count, "Frames inferred, by camera and device");
    describe_counter!(CAMERA_ERRORS, Unit::Count, "Failed connection attempts per camera");
    describe_gauge!(CAMERA_CONNECTED, "1 while the camera delivers frames");
    describe_histogram!(BATCH_SIZE, Unit::Count, "Frames per inference call");
    describe_histogram!(INFERENCE_SECONDS, Unit::Seconds, "Duration of one inference call");
    describe_gauge!(QUEUE_DEPTH, Unit::Count, "Frames waiting in the batch queue");
    describe_histogram!(END_TO_END_SECONDS, Unit::Seconds, "Frame decoded to overlay sent");
    describe_gauge!(ACTIVE_TRACKS, Unit::Count, "Confirmed tracks on the last processed frame");
    describe_counter!(OVERLAY_DROPPED, Unit::Count, "Overlay messages dropped for slow clients");
    describe_gauge!(OVERLAY_CLIENTS, Unit::Count, "Overlay WebSocket clients");
    describe_counter!(EVENTS_STORED, Unit::Count, "Events committed to the event store");
    describe_counter!(EVENTS_DROPPED, Unit::Count, "Events lost before they were stored, by reason");
    describe_counter!(SNAPSHOTS_SKIPPED, Unit::Count, "Events stored without their snapshot, by reason");
    describe_counter!(ALERTS_DROPPED, Unit::Count, "Alert messages dropped for slow clients (re-read from the store)");
    describe_gauge!(ALERT_CLIENTS, Unit::Count, "Alert WebSocket clients");
}
