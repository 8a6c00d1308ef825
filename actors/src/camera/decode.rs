//! libavcodec decoding of a camera's access units into raw pictures.
//!
//! Owns one H.264/H.265 decoder per session: built on the first key frame, rebuilt when the
//! stream parameters change (retina signals new SPS/PPS; a looped file may differ), fed Annex B
//! (see [`super::nal`]) with the parameter sets before each key frame. Packets before the first
//! key frame are skipped. A corrupt packet is counted and logged (camera, PTS) and decoding goes
//! on; only [`MAX_CORRUPT_STREAK`] corrupt packets in a row end the session, so a decoder stuck
//! on garbage is rebuilt by a reconnect.
//!
//! Threads: two slice threads ([`DECODER_THREADS`]). Frame threading would add a frame of latency
//! per extra thread (100 ms at 10 fps), slice threading adds none. Measured on the 2-core dev
//! machine (vtest 768x576, 10 fps, noisy): H.264 (single slice) ~470 fps with 1 or 2 threads;
//! H.265 (x265 wavefronts) ~420 fps with 1 thread, 540–700 fps with 2.

use super::nal::{self, Framing, NalError};
use crate::media::{AccessUnit, StreamParams, VideoCodec};
use crate::messages::CameraId;
use crate::time::{Pts, WallTime};
use ffmpeg_next::{codec, decoder, frame};
use std::collections::VecDeque;
use std::sync::Arc;

/// Corrupt packets in a row that end the session.
pub const MAX_CORRUPT_STREAK: u32 = 50;
/// Decoder threads per camera.
pub const DECODER_THREADS: usize = 2;
/// Log the first few corrupt packets of a session, then one in this many.
const LOG_EVERY: u64 = 100;

/// A decoded picture with the times of the access unit it came from.
pub struct DecodedFrame {
    pub frame: frame::Video,
    pub pts: Pts,
    pub wall_ms: crate::time::WallTime,
}

/// Decoding failures that end a session.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("camera {camera}: no {codec} decoder in this FFmpeg build; install libavcodec with {codec} support")]
    NoDecoder { camera: CameraId, codec: VideoCodec },
    #[error("camera {camera}: could not open the {codec} decoder: {source}")]
    Open { camera: CameraId, codec: VideoCodec, source: ffmpeg_next::Error },
    #[error("camera {camera}: {codec} stream parameters are unusable: {source}")]
    Params { camera: CameraId, codec: VideoCodec, source: NalError },
    #[error(
        "camera {camera}: {count} corrupt packets in a row (last at PTS {pts_secs:.3}s: {last}); the stream is unusable"
    )]
    Persistent { camera: CameraId, count: u32, pts_secs: f64, last: String },
}

struct Active {
    params: Arc<StreamParams>,
    framing: Framing,
    decoder: decoder::Video,
}

/// The decoder of one camera session.
pub struct Decoder {
    camera: CameraId,
    threads: usize,
    active: Option<Active>,
    corrupt_streak: u32,
    corrupt_total: u64,
    skipped_before_key: u64,
    /// Annex B scratch buffer for the packet being sent.
    annex_b: Vec<u8>,
    /// `(pts ticks, wall ms)` of packets sent and not yet seen as frames, to give frames their wall time.
    in_flight: VecDeque<(i64, WallTime)>,
    clock_rate: u32,
}

impl Decoder {
    pub fn new(camera: CameraId) -> Self {
        Self::with_threads(camera, DECODER_THREADS)
    }

    /// `threads` > 1 turns on slice threading (no added latency).
    pub fn with_threads(camera: CameraId, threads: usize) -> Self {
        super::source::init_ffmpeg();
        Self {
            camera,
            threads: threads.max(1),
            active: None,
            corrupt_streak: 0,
            corrupt_total: 0,
            skipped_before_key: 0,
            annex_b: Vec::new(),
            in_flight: VecDeque::new(),
            clock_rate: Pts::VIDEO_CLOCK_RATE,
        }
    }

    /// Corrupt packets seen in this session.
    pub fn corrupt_packets(&self) -> u64 {
        self.corrupt_total
    }

    /// Packets skipped while waiting for a key frame.
    pub fn skipped_packets(&self) -> u64 {
        self.skipped_before_key
    }

    fn open(&self, params: &Arc<StreamParams>) -> Result<Active, DecodeError> {
        let codec = params.codec;
        let framing = nal::framing(codec, &params.extradata).map_err(|source| DecodeError::Params {
            camera: self.camera.clone(),
            codec,
            source,
        })?;
        let id = match codec {
            VideoCodec::H264 => codec::Id::H264,
            VideoCodec::H265 => codec::Id::HEVC,
        };
        let found = decoder::find(id).ok_or(DecodeError::NoDecoder { camera: self.camera.clone(), codec })?;
        let mut ctx = codec::Context::new_with_codec(found);
        if self.threads > 1 {
            ctx.set_threading(codec::threading::Config {
                kind: codec::threading::Type::Slice,
                count: self.threads,
                ..Default::default()
            });
        } else {
            ctx.set_threading(codec::threading::Config {
                kind: codec::threading::Type::None,
                count: 1,
                ..Default::default()
            });
        }
        let decoder = ctx.decoder().open_as(found).and_then(|o| o.video()).map_err(|source| DecodeError::Open {
            camera: self.camera.clone(),
            codec,
            source,
        })?;
        tracing::debug!(camera = %self.camera, %codec, threads = self.threads, "decoder opened");
        Ok(Active { params: params.clone(), framing, decoder })
    }

    /// Decode one access unit, appending any finished pictures to `out` (in presentation order).
    pub fn decode(&mut self, au: &AccessUnit, out: &mut Vec<DecodedFrame>) -> Result<(), DecodeError> {
        let changed = match &self.active {
            Some(a) => !Arc::ptr_eq(&a.params, &au.params) && *a.params != *au.params,
            None => true,
        };
        if changed {
            if let Some(mut old) = self.active.take() {
                tracing::info!(camera = %self.camera, codec = %au.params.codec, "stream parameters changed; new decoder");
                let _ = old.decoder.send_eof();
                self.drain(&mut old, au.pts, out)?;
            }
            if !au.key {
                self.skipped_before_key += 1;
                return Ok(());
            }
            self.active = Some(self.open(&au.params)?);
            self.clock_rate = au.pts.clock_rate();
        } else if let Some(a) = &mut self.active {
            // Same parameters, possibly a new `Arc`: keep the cheap pointer comparison next time.
            a.params = au.params.clone();
        }
        let mut active = self.active.take().expect("a decoder is open here");
        let result = self.send(&mut active, au, out);
        self.active = Some(active);
        result
    }

    fn send(&mut self, active: &mut Active, au: &AccessUnit, out: &mut Vec<DecodedFrame>) -> Result<(), DecodeError> {
        self.annex_b.clear();
        if au.key {
            self.annex_b.extend_from_slice(&active.framing.param_sets);
        }
        let framed = match active.framing.length_size {
            Some(n) => nal::length_prefixed_to_annex_b(&au.data, n, &mut self.annex_b).map_err(|e| e.to_string()),
            None => {
                self.annex_b.extend_from_slice(&au.data);
                Ok(())
            }
        };
        if let Err(e) = framed {
            return self.corrupt(au.pts, e);
        }
        let mut packet = ffmpeg_next::Packet::copy(&self.annex_b);
        packet.set_pts(Some(au.pts.ticks()));
        if au.key {
            packet.set_flags(codec::packet::Flags::KEY);
        }
        self.in_flight.push_back((au.pts.ticks(), au.wall_ms));
        while self.in_flight.len() > 64 {
            self.in_flight.pop_front();
        }
        loop {
            match active.decoder.send_packet(&packet) {
                Ok(()) => break,
                Err(ffmpeg_next::Error::Other { errno: ffmpeg_next::error::EAGAIN }) => {
                    // The decoder wants its output taken first; then the packet goes in.
                    if self.drain(active, au.pts, out)? == 0 {
                        return self.corrupt(au.pts, "decoder refused input and had no output".into());
                    }
                }
                Err(e) => return self.corrupt(au.pts, e.to_string()),
            }
        }
        self.drain(active, au.pts, out)?;
        Ok(())
    }

    /// Take every finished picture out of the decoder; returns how many.
    fn drain(&mut self, active: &mut Active, pts: Pts, out: &mut Vec<DecodedFrame>) -> Result<usize, DecodeError> {
        let mut n = 0;
        loop {
            let mut f = frame::Video::empty();
            match active.decoder.receive_frame(&mut f) {
                Ok(()) => {
                    let ticks = f.pts().or(f.timestamp()).unwrap_or(pts.ticks());
                    let wall_ms = match self.in_flight.iter().position(|&(t, _)| t == ticks) {
                        Some(i) => self.in_flight.remove(i).map_or(WallTime::default(), |(_, w)| w),
                        None => self.in_flight.back().map_or_else(WallTime::now, |&(_, w)| w),
                    };
                    self.corrupt_streak = 0;
                    out.push(DecodedFrame { frame: f, pts: Pts::new(ticks, self.clock_rate), wall_ms });
                    n += 1;
                }
                Err(ffmpeg_next::Error::Other { errno: ffmpeg_next::error::EAGAIN }) | Err(ffmpeg_next::Error::Eof) => {
                    return Ok(n);
                }
                Err(e) => {
                    self.corrupt(pts, e.to_string())?;
                    return Ok(n);
                }
            }
        }
    }

    fn corrupt(&mut self, pts: Pts, error: String) -> Result<(), DecodeError> {
        self.corrupt_streak += 1;
        self.corrupt_total += 1;
        if self.corrupt_total <= 5 || self.corrupt_total.is_multiple_of(LOG_EVERY) {
            tracing::warn!(
                camera = %self.camera,
                pts_secs = pts.as_secs_f64(),
                total = self.corrupt_total,
                %error,
                "corrupt video packet skipped"
            );
        }
        if self.corrupt_streak >= MAX_CORRUPT_STREAK {
            return Err(DecodeError::Persistent {
                camera: self.camera.clone(),
                count: self.corrupt_streak,
                pts_secs: pts.as_secs_f64(),
                last: error,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(extradata: Vec<u8>) -> Arc<StreamParams> {
        Arc::new(StreamParams { codec: VideoCodec::H264, extradata, width: 0, height: 0 })
    }

    fn unit(params: &Arc<StreamParams>, key: bool, ticks: i64, data: Vec<u8>) -> AccessUnit {
        AccessUnit {
            params: params.clone(),
            key,
            pts: Pts::new(ticks, 90_000),
            wall_ms: crate::time::WallTime::from_unix_ms(ticks),
            data,
        }
    }

    #[test]
    fn non_key_packets_before_the_first_key_frame_are_skipped() {
        let mut d = Decoder::new("cam".parse().unwrap());
        let p = params(vec![]);
        let mut out = vec![];
        for i in 0..3 {
            d.decode(&unit(&p, false, i, vec![0, 0, 0, 1, 0x41, 0x9a]), &mut out).unwrap();
        }
        assert_eq!(d.skipped_packets(), 3);
        assert!(out.is_empty() && d.active.is_none());
    }

    #[test]
    fn garbage_is_counted_and_only_a_long_streak_ends_the_session() {
        let mut d = Decoder::new("cam".parse().unwrap());
        // Length-prefixed framing whose units are truncated: every packet is corrupt.
        let p = params(vec![1, 0x42, 0xc0, 0x1e, 0xff, 0xe0, 0]);
        let mut out = vec![];
        for i in 0..u64::from(MAX_CORRUPT_STREAK - 1) {
            d.decode(&unit(&p, true, i as i64, vec![0, 0, 0, 99, 1]), &mut out).unwrap();
        }
        assert_eq!(d.corrupt_packets(), u64::from(MAX_CORRUPT_STREAK - 1));
        let err = d.decode(&unit(&p, true, 1_000, vec![0, 0, 0, 99, 1]), &mut out).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("camera cam") && msg.contains("corrupt packets in a row"), "{msg}");
    }
}
