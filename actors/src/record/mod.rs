//! Recording and live video: every camera's compressed stream, as the source delivers it (no re-encoding),
//! in fragmented MP4 whose times are the camera timeline's PTS (the same PTS the overlay and the events
//! carry). See `docs/design/time.md` (Recording, Live video).
//!
//! ```text
//! camera session ──UnitTap (bounded, drops counted)──▶ recorder thread of the camera
//!                                                        ├─ LiveFeed: init + a fragment per picture ─▶ /ws/live
//!                                                        └─ Recorder: 1 s fragments → segment files → index
//! retention thread: age and disk budget; at start, reconcile files and index after a crash
//! ```
//!
//! # Modules
//! - [`mp4`]: the ISO-BMFF box writer and reader.
//! - [`fragmenter`]: access units → fragments (pure; decode times, durations, composition offsets).
//! - [`recorder`]: fragments → segment files → the index ([`crate::store::recordings`]).
//! - [`live`]: the per-camera live feed with bounded client queues.
//! - [`worker`]: the camera's recorder thread and the tap the camera feeds it through.
//! - [`clip`]: an event's clip from the recorded segments.
//! - [`retention`]: what to delete by age and disk budget.

pub mod clip;
pub mod fragmenter;
pub mod live;
pub mod mp4;
pub mod recorder;
pub mod retention;
pub mod worker;

use crate::config::RecordingConfig;
use crate::media::{AccessUnit, StreamParams};
use crate::messages::CameraId;
use crate::store::StoreError;
use crate::store::recordings::RecordingIndex;
use dashmap::DashMap;
use live::LiveFeed;
use std::path::PathBuf;
use std::sync::Arc;

/// Recording failures, each naming the camera and the file or stream at fault.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("camera {camera}: recording file {}: {source}", path.display())]
    Io { camera: CameraId, path: PathBuf, source: std::io::Error },
    #[error("camera {camera}: indexing a segment failed: {source}")]
    Index { camera: CameraId, source: StoreError },
    #[error("camera {camera}: cannot record the stream: {source}")]
    Mp4 { camera: CameraId, source: mp4::Mp4Error },
    #[error("camera {camera}: cannot record the stream: {reason}")]
    Unsupported { camera: CameraId, reason: String },
}

impl RecordError {
    /// What the operator should check.
    pub fn hint(&self) -> &'static str {
        match self {
            RecordError::Io { .. } => "check recording.dir exists, is writable and has free space",
            RecordError::Index { .. } => "check store.path is writable",
            RecordError::Mp4 { .. } | RecordError::Unsupported { .. } => {
                "use an RTSP or MP4/MKV source of H.264/H.265 with out-of-band parameter sets, or set record = false"
            }
        }
    }
}

/// A usable track: its description, init segment and codec string.
#[derive(Clone, Debug)]
pub struct Track {
    pub info: mp4::TrackInfo,
    pub init: Arc<Vec<u8>>,
    pub codec: String,
    /// Bytes of each NAL unit's length prefix (from the configuration record).
    pub length_size: usize,
}

impl Track {
    /// Whether an access unit is a random access point (see [`is_random_access`]).
    pub fn is_key(&self, au: &AccessUnit) -> bool {
        au.key || has_irap(self.info.codec, &au.data, self.length_size)
    }
}

/// Whether an access unit is a random access point: the source's flag, or (for H.265, where retina flags only
/// IDR pictures) any IRAP NAL unit: BLA, IDR or CRA (types 16–21); for H.264, IDR (type 5). Units framed
/// with lengths need the stream's configuration record; Annex B units count by the source's flag only.
pub fn is_random_access(au: &AccessUnit) -> bool {
    au.key || length_size(au.params.codec, &au.params.extradata).is_some_and(|n| has_irap(au.params.codec, &au.data, n))
}

fn length_size(codec: crate::media::VideoCodec, record: &[u8]) -> Option<usize> {
    if record.starts_with(&[0, 0, 1]) || record.starts_with(&[0, 0, 0, 1]) {
        return None;
    }
    let byte = match codec {
        crate::media::VideoCodec::H264 => record.get(4)?,
        crate::media::VideoCodec::H265 => record.get(21)?,
    };
    Some(usize::from(byte & 0b11) + 1)
}

fn has_irap(codec: crate::media::VideoCodec, data: &[u8], length_size: usize) -> bool {
    nal_types(data, length_size).any(|h| match codec {
        crate::media::VideoCodec::H264 => h & 0x1f == 5,
        crate::media::VideoCodec::H265 => (16..=21).contains(&((h >> 1) & 0x3f)),
    })
}

/// The first header byte of each length-prefixed NAL unit of `data` (stops at a malformed length).
fn nal_types(data: &[u8], length_size: usize) -> impl Iterator<Item = u8> + '_ {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let len_bytes = data.get(at..at + length_size)?;
        let len = len_bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b));
        let header = *data.get(at + length_size)?;
        at = at.checked_add(length_size + len)?;
        Some(header)
    })
}

/// Follows a stream's parameters and the track they make.
#[derive(Default)]
pub struct TrackState {
    params: Option<Arc<StreamParams>>,
    track: Option<Track>,
}

impl TrackState {
    /// Whether `au` comes with other parameters than the current track's.
    pub fn changed(&self, au: &AccessUnit) -> bool {
        match &self.params {
            Some(p) => !Arc::ptr_eq(p, &au.params) && **p != *au.params,
            None => true,
        }
    }

    /// Take `au`'s parameters: returns the timescale of the new track, or why it cannot be recorded.
    pub fn set(&mut self, camera: &CameraId, au: &AccessUnit) -> Result<u32, RecordError> {
        self.params = Some(au.params.clone());
        self.track = None;
        let info = recorder::track_info(camera, au)?;
        let init = mp4::init_segment(&info).map_err(|source| RecordError::Mp4 { camera: camera.clone(), source })?;
        let codec = mp4::codec_string(info.codec, &info.config_record)
            .map_err(|source| RecordError::Mp4 { camera: camera.clone(), source })?;
        let rate = info.timescale;
        let length_size = length_size(info.codec, &info.config_record).unwrap_or(4);
        self.track = Some(Track { info, init: Arc::new(init), codec, length_size });
        Ok(rate)
    }

    pub fn current(&self) -> Option<&Track> {
        self.track.as_ref()
    }
}

/// What the HTTP layer needs: the index, where segments live, clip settings, each camera's live feed.
#[derive(Clone)]
pub struct RecordingHandle {
    pub index: Arc<RecordingIndex>,
    pub config: Arc<RecordingConfig>,
    pub feeds: Arc<DashMap<CameraId, LiveFeed>>,
}

impl RecordingHandle {
    /// Open the index in the store's database; when recording is enabled, create the directory, reconcile it
    /// with the index (a crash may have left either half-done) and start the retention thread.
    pub fn start(store_path: &std::path::Path, config: &RecordingConfig) -> Result<Self, StoreError> {
        let index = Arc::new(RecordingIndex::open(store_path)?);
        if config.enabled {
            std::fs::create_dir_all(&config.dir)
                .map_err(|source| StoreError::CreateDir { path: config.dir.clone(), source })?;
            let r = index.reconcile(&config.dir)?;
            let crash = r.orphan_files + r.partial_files;
            if crash + r.missing_files > 0 {
                tracing::warn!(dir = %config.dir.display(), partial = r.partial_files, orphan = r.orphan_files,
                    missing = r.missing_files, "recording: removed what an earlier crash left half-written");
            }
            metrics::counter!(crate::metric_names::RECORDING_DELETED, "reason" => "crash").increment(crash as u64);
            retention::spawn(Arc::downgrade(&index), config.clone());
        }
        Ok(Self { index, config: Arc::new(config.clone()), feeds: Arc::default() })
    }

    /// The live feed of a camera (created on first use, so a client may connect before the camera streams).
    pub fn feed(&self, camera: &CameraId) -> LiveFeed {
        self.feeds.entry(camera.clone()).or_default().clone()
    }

    /// Whether `camera` is recorded under this configuration.
    pub fn records(&self, camera_record: bool) -> bool {
        self.config.enabled && camera_record
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::VideoCodec;
    use crate::time::Pts;

    fn unit(codec: VideoCodec, record: Vec<u8>, nals: &[&[u8]]) -> AccessUnit {
        let mut data = Vec::new();
        for n in nals {
            data.extend_from_slice(&(n.len() as u32).to_be_bytes());
            data.extend_from_slice(n);
        }
        let params = Arc::new(StreamParams { codec, extradata: record, width: 0, height: 0 });
        AccessUnit {
            params,
            key: false,
            pts: Pts::new(0, 90_000),
            wall_ms: crate::time::WallTime::from_unix_ms(0),
            data,
        }
    }

    #[test]
    fn irap_pictures_are_key_frames_whatever_the_source_says() {
        let avcc = vec![1, 0x64, 0, 0x28, 0xff, 0xe1, 0, 2, 0x67, 0x64, 1, 0, 1, 0x68];
        let mut hvcc = vec![1, 0x01, 0x60, 0, 0, 0, 0xb0, 0, 0, 0, 0, 0, 90];
        hvcc.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 3, 0]); // byte 21: lengthSizeMinusOne = 3
        let mut t = TrackState::default();
        let cra = unit(VideoCodec::H265, hvcc.clone(), &[&[0x4e, 1, 5], &[21 << 1, 1, 0xaf]]); // SEI, CRA
        t.set(&"c".parse().unwrap(), &cra).unwrap();
        let track = t.current().unwrap();
        assert_eq!(track.length_size, 4);
        assert!(track.is_key(&cra), "a CRA picture is a random access point");
        assert!(is_random_access(&cra), "also without a track (the recorder queue's skip)");
        assert!(!track.is_key(&unit(VideoCodec::H265, hvcc, &[&[1 << 1, 1, 0xd0]])), "TRAIL_R is not");
        let idr = unit(VideoCodec::H264, avcc.clone(), &[&[0x06, 5], &[0x65, 0x88]]);
        let mut t = TrackState::default();
        t.set(&"c".parse().unwrap(), &idr).unwrap();
        assert!(t.current().unwrap().is_key(&idr));
        assert!(!t.current().unwrap().is_key(&unit(VideoCodec::H264, avcc, &[&[0x41, 0x9a]])));
    }
}
