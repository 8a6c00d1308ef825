//! Compressed video as sources deliver it and the recorder stores it: codecs, stream parameters, access
//! units. Vocabulary shared by the camera (ingest, decode) and the recorder.

use crate::time::Pts;
use std::fmt;
use std::sync::Arc;

/// A video codec the decoder supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    H264,
    H265,
}

impl VideoCodec {
    /// The short name shown in the status (`h264`, `hevc`, as FFmpeg names them).
    pub fn short_name(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::H265 => "hevc",
        }
    }
}

impl fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VideoCodec::H264 => "H.264",
            VideoCodec::H265 => "H.265",
        })
    }
}

/// What the decoder needs to know about a stream; a change means a new decoder.
#[derive(Clone, PartialEq, Eq)]
pub struct StreamParams {
    pub codec: VideoCodec,
    /// `avcC` / `hvcC` record (access units then carry 1/2/4-byte NAL lengths) or Annex B
    /// parameter sets / nothing (access units are Annex B).
    pub extradata: Vec<u8>,
    /// Picture size if the source knows it before decoding (0 if not).
    pub width: u32,
    pub height: u32,
}

impl fmt::Debug for StreamParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamParams")
            .field("codec", &self.codec)
            .field("extradata_len", &self.extradata.len())
            .field("size", &(self.width, self.height))
            .finish()
    }
}

/// One compressed picture.
#[derive(Clone)]
pub struct AccessUnit {
    /// Shared while unchanged: compare with `Arc::ptr_eq` first, then by value.
    pub params: Arc<StreamParams>,
    /// A random access point: decoding can start here.
    pub key: bool,
    /// Presentation time, continuous within a session (its origin is the session's; the camera's
    /// `StreamClock` replaces it with the timeline PTS before decoding).
    pub pts: Pts,
    /// Wall-clock time in Unix ms. From a source: the arrival time. After the camera's `StreamClock`:
    /// the frame's wall time (RTCP sender reports when trusted, else smoothed arrivals).
    pub wall_ms: crate::time::WallTime,
    /// The picture's NAL units, framed as `params.extradata` says.
    pub data: Vec<u8>,
}

impl fmt::Debug for AccessUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessUnit")
            .field("codec", &self.params.codec)
            .field("key", &self.key)
            .field("pts", &self.pts)
            .field("wall_ms", &self.wall_ms)
            .field("len", &self.data.len())
            .finish()
    }
}
