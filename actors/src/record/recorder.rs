//! One camera's recorder: access units → fragments (≤ 1 s, each starting at a key frame or continuing the
//! previous one) → segment files that roll at a key frame once `segment_sec` has passed → the index.
//!
//! A segment is written as `<dir>/<camera>/<start ticks>.mp4.part`, then fsynced, renamed to `.mp4`, the
//! directory fsynced, and only then indexed; see [`crate::store::recordings`] for the crash story.

use super::fragmenter::{Built, Fragmenter};
use super::mp4::{self, TrackInfo};
use super::{RecordError, TrackState};
use crate::media::AccessUnit;
use crate::messages::CameraId;
use crate::metric_names as m;
use crate::store::recordings::{NewSegment, RecordingIndex};
use crate::time::{Pts, WallTime};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Longest fragment on disk, in seconds (a clip starts on a fragment boundary).
pub const FRAGMENT_SEC: f64 = 1.0;

/// A segment being written.
struct OpenSegment {
    file: File,
    part: PathBuf,
    rel: String,
    codec: String,
    clock_rate: u32,
    start_pts: i64,
    end_pts: i64,
    start_wall_ms: WallTime,
    end_wall_ms: WallTime,
    frames: i64,
    bytes: i64,
}

/// See the module documentation.
pub struct Recorder {
    camera: CameraId,
    dir: PathBuf,
    segment_sec: f64,
    index: Arc<RecordingIndex>,
    track: TrackState,
    frag: Option<Fragmenter>,
    open: Option<OpenSegment>,
    segments: metrics::Counter,
    bytes: metrics::Counter,
    errors: metrics::Counter,
}

fn io(camera: &CameraId, path: &Path) -> impl Fn(std::io::Error) -> RecordError {
    let (camera, path) = (camera.clone(), path.to_owned());
    move |source| RecordError::Io { camera: camera.clone(), path: path.clone(), source }
}

/// fsync a directory so a rename in it is durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Recorder {
    /// A recorder writing under `dir/<camera>/`.
    pub fn new(camera: CameraId, dir: &Path, segment_sec: f64, index: Arc<RecordingIndex>) -> Self {
        let c = camera.to_string();
        Self {
            segments: metrics::counter!(m::RECORDING_SEGMENTS, "camera" => c.clone()),
            bytes: metrics::counter!(m::RECORDING_BYTES, "camera" => c.clone()),
            errors: metrics::counter!(m::RECORDING_ERRORS, "camera" => c),
            camera,
            dir: dir.to_owned(),
            segment_sec,
            index,
            track: TrackState::default(),
            frag: None,
            open: None,
        }
    }

    /// Record one access unit (timeline PTS and wall time already stamped).
    pub fn push(&mut self, au: &AccessUnit) {
        if let Err(e) = self.try_push(au) {
            self.errors.increment(1);
            tracing::error!(camera = %self.camera, error = %e, "recording failed; {}", e.hint());
        }
    }

    fn try_push(&mut self, au: &AccessUnit) -> Result<(), RecordError> {
        if self.track.changed(au) {
            // New parameters: the current segment ends here; the next starts with the new init segment.
            self.finish()?;
            self.frag = None;
            let rate = self.track.set(&self.camera, au)?;
            self.frag = Some(Fragmenter::new(rate, (FRAGMENT_SEC * f64::from(rate)) as i64));
        }
        let (Some(frag), Some(track)) = (&mut self.frag, self.track.current()) else { return Ok(()) };
        let ticks = au.pts.ticks_at(frag.clock_rate());
        if let Some(b) = frag.push(ticks, au.wall_ms, track.is_key(au), &au.data) {
            self.write(b)?;
        }
        Ok(())
    }

    /// Close the pending fragment and the open segment (the camera stopped, or its parameters changed).
    pub fn finish(&mut self) -> Result<(), RecordError> {
        if let Some(b) = self.frag.as_mut().and_then(Fragmenter::finish) {
            self.write(b)?;
        }
        self.close()
    }

    fn write(&mut self, b: Built) -> Result<(), RecordError> {
        let Some(track) = self.track.current() else { return Ok(()) };
        let (rate, init, codec) = (track.info.timescale, track.init.clone(), track.codec.clone());
        // Roll at a key frame once the segment is long enough, or after a hole in the timeline (an outage), so a
        // segment's PTS range holds no long stretch without pictures.
        if let Some(open) = &self.open
            && b.starts_with_key
            && ((b.first_pts - open.start_pts) as f64 >= self.segment_sec * f64::from(rate)
                || b.first_pts > open.end_pts)
        {
            self.close()?;
        }
        if self.open.is_none() {
            if !b.starts_with_key {
                return Ok(());
            }
            let cam_dir = self.dir.join(self.camera.as_ref());
            std::fs::create_dir_all(&cam_dir).map_err(io(&self.camera, &cam_dir))?;
            let name = format!("{}.mp4", b.first_pts);
            let part = cam_dir.join(format!("{name}.part"));
            let mut file = File::create(&part).map_err(io(&self.camera, &part))?;
            file.write_all(&init).map_err(io(&self.camera, &part))?;
            self.open = Some(OpenSegment {
                file,
                rel: format!("{}/{name}", self.camera),
                part,
                codec,
                clock_rate: rate,
                start_pts: b.first_pts,
                end_pts: b.end_pts,
                start_wall_ms: b.first_wall_ms,
                end_wall_ms: b.end_wall_ms,
                frames: 0,
                bytes: init.len() as i64,
            });
        }
        let open = self.open.as_mut().expect("opened above");
        open.file.write_all(&b.bytes).map_err(io(&self.camera, &open.part))?;
        open.end_pts = open.end_pts.max(b.end_pts);
        open.end_wall_ms = open.end_wall_ms.max(b.end_wall_ms);
        open.frames += b.samples as i64;
        open.bytes += b.bytes.len() as i64;
        self.bytes.increment(b.bytes.len() as u64);
        Ok(())
    }

    /// fsync → rename → fsync the directory → index.
    fn close(&mut self) -> Result<(), RecordError> {
        let Some(open) = self.open.take() else { return Ok(()) };
        let err = io(&self.camera, &open.part);
        open.file.sync_all().map_err(&err)?;
        drop(open.file);
        let done = self.dir.join(&open.rel);
        std::fs::rename(&open.part, &done).map_err(&err)?;
        if let Some(parent) = done.parent() {
            sync_dir(parent).map_err(io(&self.camera, parent))?;
        }
        let row = NewSegment {
            camera: self.camera.to_string(),
            path: open.rel.clone(),
            codec: open.codec,
            start_pts: Pts::new(open.start_pts, open.clock_rate),
            end_pts: Pts::new(open.end_pts, open.clock_rate),
            start_wall_ms: open.start_wall_ms,
            end_wall_ms: open.end_wall_ms,
            frames: open.frames,
            bytes: open.bytes,
        };
        if let Err(source) = self.index.insert(&row) {
            let _ = std::fs::remove_file(&done);
            return Err(RecordError::Index { camera: self.camera.clone(), source });
        }
        self.segments.increment(1);
        tracing::debug!(camera = %self.camera, path = %open.rel, frames = open.frames, "segment recorded");
        Ok(())
    }
}

/// The track of an access unit's parameters.
pub fn track_info(camera: &CameraId, au: &AccessUnit) -> Result<TrackInfo, RecordError> {
    let p = &au.params;
    let annex_b = p.extradata.starts_with(&[0, 0, 1]) || p.extradata.starts_with(&[0, 0, 0, 1]);
    if p.extradata.is_empty() || annex_b {
        return Err(RecordError::Unsupported {
            camera: camera.clone(),
            reason: format!("the {} stream has no avcC/hvcC configuration record (Annex B framing)", p.codec),
        });
    }
    let info = TrackInfo {
        codec: p.codec,
        config_record: p.extradata.clone(),
        width: p.width,
        height: p.height,
        timescale: au.pts.clock_rate(),
    };
    mp4::codec_string(info.codec, &info.config_record)
        .map_err(|source| RecordError::Mp4 { camera: camera.clone(), source })?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{StreamParams, VideoCodec};

    fn avcc() -> Vec<u8> {
        vec![1, 0x64, 0x00, 0x28, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x28, 1, 0, 2, 0x68, 0xeb]
    }

    fn unit(params: &Arc<StreamParams>, pts: i64, key: bool) -> AccessUnit {
        AccessUnit {
            params: params.clone(),
            key,
            pts: Pts::new(pts, 90_000),
            wall_ms: crate::time::WallTime::from_unix_ms(1_700_000_000_000 + pts / 90),
            data: vec![0, 0, 0, 1, if key { 0x65 } else { 0x41 }],
        }
    }

    #[test]
    fn segments_roll_at_key_frames_and_are_indexed_only_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let index = Arc::new(RecordingIndex::open(&dir.path().join("events.db")).unwrap());
        let rec_dir = dir.path().join("rec");
        let mut r = Recorder::new("gate".parse().unwrap(), &rec_dir, 2.0, index.clone());
        let params = Arc::new(StreamParams { codec: VideoCodec::H264, extradata: avcc(), width: 64, height: 48 });
        // 10 fps, a key frame every second, 4.5 s.
        for i in 0..45i64 {
            r.push(&unit(&params, 90_000 + i * 9_000, i % 10 == 0));
        }
        // The first segment [1 s, 3 s) is closed at the key frame of 3 s; the second is still open.
        let segs = index.all_oldest_first().unwrap();
        assert_eq!(segs.len(), 1);
        assert_eq!((segs[0].start_pts.ticks(), segs[0].end_pts.ticks()), (90_000, 270_000));
        assert_eq!(segs[0].frames, 20);
        assert_eq!(segs[0].path, "gate/90000.mp4");
        assert!(rec_dir.join("gate/270000.mp4.part").is_file(), "the open segment is not indexed");
        let file = std::fs::read(rec_dir.join(&segs[0].path)).unwrap();
        assert_eq!(file.len() as i64, segs[0].bytes);
        let parsed = mp4::parse_file(&file).unwrap();
        assert_eq!(parsed.fragments.first().unwrap().base_decode_time, 90_000);
        assert_eq!(parsed.fragments.last().unwrap().end_decode_time(), 270_000);
        assert!(parsed.fragments.iter().all(|f| f.starts_with_sync()), "1 s fragments start at the key frames");
        r.finish().unwrap();
        // The last fragment starts with the key frame at 5 s, 2 s into the second segment: a third one.
        let segs = index.all_oldest_first().unwrap();
        let ranges: Vec<(i64, i64)> = segs.iter().map(|s| (s.start_pts.ticks(), s.end_pts.ticks())).collect();
        assert_eq!(ranges, [(90_000, 270_000), (270_000, 450_000), (450_000, 495_000)]);
        assert_eq!(index.timeline_end("gate").unwrap(), Some(Pts::new(495_000, 90_000)));
    }

    #[test]
    fn annex_b_streams_are_refused_with_the_camera() {
        let params =
            Arc::new(StreamParams { codec: VideoCodec::H265, extradata: vec![0, 0, 0, 1, 0x40], width: 0, height: 0 });
        let err = track_info(&"door".parse().unwrap(), &unit(&params, 0, true)).unwrap_err().to_string();
        assert!(err.contains("door") && err.contains("Annex B"), "{err}");
    }
}
