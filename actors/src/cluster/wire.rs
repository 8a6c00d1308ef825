//! Access units between nodes: the ingest node of a camera publishes every stamped access unit (timeline
//! PTS and frame wall time already assigned by its camera clock) and the inference node reads them back.
//!
//! One message a unit, big-endian:
//!
//! ```text
//! u8 version (1) | u8 flags (1 key, 2 params, 4 H.265) | i64 pts ticks | u32 pts clock rate | i64 wall ns
//! [params: u32 width | u32 height | u32 extradata length | extradata]   (every key unit carries them)
//! NAL units, framed as the params' extradata says (the rest)
//! ```
//!
//! A reader keeps the last params it saw and attaches them to the units that follow; units before the first
//! key unit with params are skipped (a decoder cannot start there).

use crate::media::{AccessUnit, StreamParams, VideoCodec};
use crate::time::{Pts, WallTime};
use std::sync::Arc;

const VERSION: u8 = 1;
const KEY: u8 = 1;
const PARAMS: u8 = 2;
const H265: u8 = 4;
const HEADER: usize = 1 + 1 + 8 + 4 + 8;

/// Why a message is not an access unit.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("the message is {0} bytes, shorter than an access unit's header")]
    Short(usize),
    #[error(
        "access unit format version {0}; this node reads version {VERSION} (run one Panoptes version across the cluster)"
    )]
    Version(u8),
    #[error("the stream parameters claim {claimed} bytes of extradata, {left} are left")]
    Extradata { claimed: usize, left: usize },
    #[error("a clock rate of 0")]
    Rate,
}

/// The message of one access unit.
pub fn encode(au: &AccessUnit) -> Vec<u8> {
    let params = &au.params;
    let mut flags = 0;
    if au.key {
        flags |= KEY | PARAMS;
    }
    if params.codec == VideoCodec::H265 {
        flags |= H265;
    }
    let extra = if au.key { 12 + params.extradata.len() } else { 0 };
    let mut out = Vec::with_capacity(HEADER + extra + au.data.len());
    out.push(VERSION);
    out.push(flags);
    out.extend_from_slice(&au.pts.ticks().to_be_bytes());
    out.extend_from_slice(&au.pts.clock_rate().to_be_bytes());
    out.extend_from_slice(&au.wall_ms.unix_ns().to_be_bytes());
    if au.key {
        out.extend_from_slice(&params.width.to_be_bytes());
        out.extend_from_slice(&params.height.to_be_bytes());
        out.extend_from_slice(&(params.extradata.len() as u32).to_be_bytes());
        out.extend_from_slice(&params.extradata);
    }
    out.extend_from_slice(&au.data);
    out
}

/// Reads the messages of one camera, in order.
#[derive(Debug, Default)]
pub struct UnitReader {
    params: Option<Arc<StreamParams>>,
}

impl UnitReader {
    /// The access unit of `msg`; `Ok(None)` while no key unit has given the stream's parameters.
    pub fn read(&mut self, msg: &[u8]) -> Result<Option<AccessUnit>, WireError> {
        if msg.len() < HEADER {
            return Err(WireError::Short(msg.len()));
        }
        if msg[0] != VERSION {
            return Err(WireError::Version(msg[0]));
        }
        let flags = msg[1];
        let be64 = |at: usize| i64::from_be_bytes(msg[at..at + 8].try_into().expect("8 bytes"));
        let be32 = |m: &[u8], at: usize| u32::from_be_bytes(m[at..at + 4].try_into().expect("4 bytes"));
        let (ticks, rate, wall_ns) = (be64(2), be32(msg, 10), be64(14));
        if rate == 0 {
            return Err(WireError::Rate);
        }
        let mut rest = &msg[HEADER..];
        if flags & PARAMS != 0 {
            if rest.len() < 12 {
                return Err(WireError::Short(msg.len()));
            }
            let (width, height, len) = (be32(rest, 0), be32(rest, 4), be32(rest, 8) as usize);
            let left = rest.len() - 12;
            if len > left {
                return Err(WireError::Extradata { claimed: len, left });
            }
            let codec = if flags & H265 != 0 { VideoCodec::H265 } else { VideoCodec::H264 };
            let params = StreamParams { codec, extradata: rest[12..12 + len].to_vec(), width, height };
            if self.params.as_deref() != Some(&params) {
                self.params = Some(Arc::new(params));
            }
            rest = &rest[12 + len..];
        }
        let Some(params) = self.params.clone() else { return Ok(None) };
        Ok(Some(AccessUnit {
            params,
            key: flags & KEY != 0,
            pts: Pts::new(ticks, rate),
            wall_ms: WallTime::from_unix_ns(wall_ns),
            data: rest.to_vec(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unit(key: bool, codec: VideoCodec, extradata: Vec<u8>, data: Vec<u8>, ticks: i64) -> AccessUnit {
        AccessUnit {
            params: Arc::new(StreamParams { codec, extradata, width: 768, height: 576 }),
            key,
            pts: Pts::new(ticks, 90_000),
            wall_ms: WallTime::from_unix_ns(1_700_000_000_123_456_789),
            data,
        }
    }

    fn same(a: &AccessUnit, b: &AccessUnit) -> bool {
        a.params == b.params && a.key == b.key && a.pts == b.pts && a.wall_ms == b.wall_ms && a.data == b.data
    }

    #[test]
    fn units_before_the_first_key_unit_are_skipped_and_params_carry_over() {
        let mut r = UnitReader::default();
        let delta = unit(false, VideoCodec::H264, vec![1, 2, 3], vec![9; 40], 3_000);
        assert_eq!(r.read(&encode(&delta)).unwrap().map(|u| u.pts), None, "no parameters yet");
        let key = unit(true, VideoCodec::H264, vec![1, 2, 3], vec![7; 100], 6_000);
        assert!(same(&r.read(&encode(&key)).unwrap().unwrap(), &key));
        let next = unit(false, VideoCodec::H264, vec![1, 2, 3], vec![5; 10], 9_000);
        let got = r.read(&encode(&next)).unwrap().unwrap();
        assert!(same(&got, &next));
        assert_eq!(encode(&next).len(), HEADER + 10, "a delta unit carries no parameters");
    }

    #[test]
    fn bad_messages_are_errors() {
        let mut r = UnitReader::default();
        assert_eq!(r.read(&[1, 2, 3]).unwrap_err(), WireError::Short(3));
        let mut msg = encode(&unit(true, VideoCodec::H265, vec![4; 20], vec![1], 0));
        msg[0] = 9;
        assert_eq!(r.read(&msg).unwrap_err(), WireError::Version(9));
        msg[0] = VERSION;
        msg.truncate(HEADER + 12 + 5);
        assert_eq!(r.read(&msg).unwrap_err(), WireError::Extradata { claimed: 20, left: 5 });
    }

    proptest! {
        #[test]
        fn every_unit_comes_back_as_it_went(
            key in any::<bool>(),
            h265 in any::<bool>(),
            extradata in proptest::collection::vec(any::<u8>(), 0..64),
            data in proptest::collection::vec(any::<u8>(), 0..256),
            ticks in any::<i64>(),
        ) {
            let codec = if h265 { VideoCodec::H265 } else { VideoCodec::H264 };
            let mut r = UnitReader::default();
            let first = unit(true, codec, extradata.clone(), vec![0], 0);
            r.read(&encode(&first)).unwrap();
            let au = unit(key, codec, extradata, data, ticks);
            prop_assert!(same(&r.read(&encode(&au)).unwrap().unwrap(), &au));
        }

        #[test]
        fn any_bytes_read_without_panicking(msg in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = UnitReader::default().read(&msg);
        }
    }
}
