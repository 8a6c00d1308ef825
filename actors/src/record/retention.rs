//! Retention: segments older than `retain_hours` go, then the oldest until all cameras' segments fit in
//! `max_disk_mb`. [`plan`] decides (pure); the thread started by [`spawn`] applies it every
//! [`RETENTION_EVERY`], removing the row first and then the file (a crash in between leaves a file without a
//! row, which the next start deletes).

use crate::config::RecordingConfig;
use crate::metric_names as m;
use crate::store::recordings::{RecordingIndex, Segment};
use crate::time::WallTime;
use std::sync::Weak;
use std::time::Duration;

/// How often retention runs.
pub const RETENTION_EVERY: Duration = Duration::from_secs(30);

/// Segments to delete (id, reason), given every segment oldest first.
pub fn plan(
    segments: &[Segment],
    now: WallTime,
    retain_ms: Option<i64>,
    budget_bytes: Option<i64>,
) -> Vec<(i64, &'static str)> {
    let mut out = Vec::new();
    let mut kept = Vec::new();
    for s in segments {
        match retain_ms {
            Some(r) if s.end_wall_ms < now.plus_ms(-r) => out.push((s.id, "age")),
            _ => kept.push(s),
        }
    }
    if let Some(budget) = budget_bytes {
        let mut total: i64 = kept.iter().map(|s| s.bytes).sum();
        for s in kept {
            if total <= budget {
                break;
            }
            total -= s.bytes;
            out.push((s.id, "disk"));
        }
    }
    out
}

fn apply(index: &RecordingIndex, config: &RecordingConfig) {
    let segments = match index.all_oldest_first() {
        Ok(s) => s,
        Err(e) => return tracing::warn!(error = %e, "recording retention: cannot list segments"),
    };
    let retain_ms = (config.retain_hours > 0.0).then_some((config.retain_hours * 3_600_000.0) as i64);
    let budget = (config.max_disk_mb > 0).then(|| (config.max_disk_mb * 1024 * 1024) as i64);
    for (id, reason) in plan(&segments, WallTime::now(), retain_ms, budget) {
        let Some(s) = segments.iter().find(|s| s.id == id) else { continue };
        if let Err(e) = index.delete(id) {
            return tracing::warn!(error = %e, "recording retention: cannot delete a row");
        }
        let path = config.dir.join(&s.path);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "recording retention: cannot delete a segment");
        }
        metrics::counter!(m::RECORDING_DELETED, "reason" => reason).increment(1);
    }
}

/// Apply retention now and then every [`RETENTION_EVERY`] while the index lives.
pub fn spawn(index: Weak<RecordingIndex>, config: RecordingConfig) {
    let started = std::thread::Builder::new().name("record-retention".into()).spawn(move || {
        loop {
            let Some(index) = index.upgrade() else { return };
            apply(&index, &config);
            drop(index);
            std::thread::sleep(RETENTION_EVERY);
        }
    });
    if let Err(e) = started {
        tracing::error!(error = %e, "recording retention thread did not start; old segments are kept");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Pts;

    fn seg(id: i64, end_wall_ms: i64, bytes: i64) -> Segment {
        Segment {
            id,
            camera: "gate".into(),
            path: format!("gate/{id}.mp4"),
            codec: "avc1.640028".into(),
            start_pts: Pts::new(0, 90_000),
            end_pts: Pts::new(1, 90_000),
            start_wall_ms: crate::time::WallTime::from_unix_ms(end_wall_ms - 1000),
            end_wall_ms: crate::time::WallTime::from_unix_ms(end_wall_ms),
            frames: 1,
            bytes,
        }
    }

    #[test]
    fn old_segments_go_first_then_the_oldest_over_the_budget() {
        let segs = [seg(1, 1_000, 100), seg(2, 5_000, 100), seg(3, 9_000, 100), seg(4, 10_000, 100)];
        assert_eq!(plan(&segs, crate::time::WallTime::from_unix_ms(10_000), Some(6_000), None), [(1, "age")]);
        assert_eq!(
            plan(&segs, crate::time::WallTime::from_unix_ms(10_000), Some(6_000), Some(150)),
            [(1, "age"), (2, "disk"), (3, "disk")]
        );
        assert_eq!(plan(&segs, crate::time::WallTime::from_unix_ms(10_000), None, Some(400)), []);
        assert_eq!(plan(&segs, crate::time::WallTime::from_unix_ms(10_000), None, Some(0)).len(), 4);
    }
}
