//! H.264 / H.265 bitstream framing: codec configuration records (`avcC`, `hvcC`) and
//! length-prefixed NAL units turned into the Annex B byte stream libavcodec decodes without
//! out-of-band extradata.
//!
//! Sources hand over access units as they come (MP4/MKV and retina's `FrameFormat::MP4`: 4-byte
//! lengths with an `avcC`/`hvcC` record; raw streams: Annex B). Normalising to Annex B here, with
//! the parameter sets prepended to key frames, lets the decoder be built from the codec id alone,
//! with no `unsafe` to set `AVCodecContext.extradata`.

use crate::media::VideoCodec;

/// The Annex B start code written before each NAL unit.
pub const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// How a source's access units are framed, learnt from its extradata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Framing {
    /// Bytes of the big-endian length before each NAL (1, 2 or 4); `None`: already Annex B.
    pub length_size: Option<u8>,
    /// The parameter sets (VPS/SPS/PPS) as an Annex B byte stream (empty if none out of band).
    pub param_sets: Vec<u8>,
}

/// A malformed configuration record or access unit.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NalError {
    #[error("{codec} configuration record is truncated at byte {at} of {len}")]
    ConfigTruncated { codec: VideoCodec, at: usize, len: usize },
    #[error("{codec} configuration record has an unsupported NAL length size {size} (expected 1, 2 or 4)")]
    BadLengthSize { codec: VideoCodec, size: u8 },
    #[error("access unit is truncated: a NAL at byte {at} claims {claimed} bytes but {left} remain")]
    UnitTruncated { at: usize, claimed: usize, left: usize },
}

fn is_annex_b(data: &[u8]) -> bool {
    data.starts_with(&[0, 0, 1]) || data.starts_with(&[0, 0, 0, 1])
}

struct Reader<'a> {
    codec: VideoCodec,
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], NalError> {
        let end = self.pos + n;
        let s = self.buf.get(self.pos..end).ok_or(NalError::ConfigTruncated {
            codec: self.codec,
            at: self.pos,
            len: self.buf.len(),
        })?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, NalError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<usize, NalError> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
    fn nal_into(&mut self, out: &mut Vec<u8>) -> Result<(), NalError> {
        let len = self.u16()?;
        let nal = self.take(len)?;
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(nal);
        Ok(())
    }
}

fn length_size(codec: VideoCodec, byte: u8) -> Result<u8, NalError> {
    match (byte & 0b11) + 1 {
        3 => Err(NalError::BadLengthSize { codec, size: 3 }),
        size => Ok(size),
    }
}

/// Learn the framing from a source's extradata: empty or Annex B → Annex B; otherwise an
/// `AVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §5.3.3) or `HEVCDecoderConfigurationRecord` (§8.3.3).
pub fn framing(codec: VideoCodec, extradata: &[u8]) -> Result<Framing, NalError> {
    if extradata.is_empty() || is_annex_b(extradata) {
        return Ok(Framing { length_size: None, param_sets: extradata.to_vec() });
    }
    let mut r = Reader { codec, buf: extradata, pos: 0 };
    let mut param_sets = Vec::new();
    let length_size = match codec {
        VideoCodec::H264 => {
            r.take(4)?; // version, profile, compatibility, level
            let size = length_size(codec, r.u8()?)?;
            let n_sps = r.u8()? & 0x1f;
            for _ in 0..n_sps {
                r.nal_into(&mut param_sets)?;
            }
            let n_pps = r.u8()?;
            for _ in 0..n_pps {
                r.nal_into(&mut param_sets)?;
            }
            size
        }
        VideoCodec::H265 => {
            r.take(21)?; // version, profile/tier/level, constraint flags, chroma, bit depths, frame rate
            let size = length_size(codec, r.u8()?)?;
            let n_arrays = r.u8()?;
            for _ in 0..n_arrays {
                r.u8()?; // completeness + NAL unit type
                let n_nals = r.u16()?;
                for _ in 0..n_nals {
                    r.nal_into(&mut param_sets)?;
                }
            }
            size
        }
    };
    Ok(Framing { length_size: Some(length_size), param_sets })
}

/// Append `data`, NALs each preceded by a `length_size`-byte big-endian length, to `out` as Annex B.
pub fn length_prefixed_to_annex_b(data: &[u8], length_size: u8, out: &mut Vec<u8>) -> Result<(), NalError> {
    let n = usize::from(length_size);
    let mut pos = 0;
    while pos < data.len() {
        let left = data.len() - pos;
        if left < n {
            return Err(NalError::UnitTruncated { at: pos, claimed: n, left });
        }
        let len = data[pos..pos + n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        pos += n;
        if len > data.len() - pos {
            return Err(NalError::UnitTruncated { at: pos - n, claimed: len, left: data.len() - pos });
        }
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(&data[pos..pos + len]);
        pos += len;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02];
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

    fn annex_b(nals: &[&[u8]]) -> Vec<u8> {
        nals.iter().flat_map(|n| START_CODE.iter().chain(n.iter()).copied()).collect()
    }

    #[test]
    fn avcc_gives_its_parameter_sets_and_length_size() {
        // ISO/IEC 14496-15 layout, written out field by field.
        let mut avcc = vec![1, 0x42, 0xc0, 0x1e, 0xfc | 3, 0xe0 | 1, 0, SPS.len() as u8];
        avcc.extend_from_slice(SPS);
        avcc.extend_from_slice(&[1, 0, PPS.len() as u8]);
        avcc.extend_from_slice(PPS);
        let f = framing(VideoCodec::H264, &avcc).unwrap();
        assert_eq!(f, Framing { length_size: Some(4), param_sets: annex_b(&[SPS, PPS]) });
    }

    #[test]
    fn hvcc_gives_all_arrays_in_order() {
        let (vps, sps, pps): (&[u8], &[u8], &[u8]) = (&[0x40, 0x01, 0x0c], &[0x42, 0x01, 0x01, 0x60], &[0x44, 0x01]);
        let mut hvcc = vec![1u8; 21];
        hvcc.push(0xf0 | 1); // length size 2
        hvcc.push(3);
        for (ty, nal) in [(32u8, vps), (33, sps), (34, pps)] {
            hvcc.extend_from_slice(&[0x80 | ty, 0, 1, 0, nal.len() as u8]);
            hvcc.extend_from_slice(nal);
        }
        let f = framing(VideoCodec::H265, &hvcc).unwrap();
        assert_eq!(f, Framing { length_size: Some(2), param_sets: annex_b(&[vps, sps, pps]) });
    }

    #[test]
    fn annex_b_and_empty_extradata_pass_through() {
        let ab = annex_b(&[SPS, PPS]);
        assert_eq!(framing(VideoCodec::H264, &ab).unwrap(), Framing { length_size: None, param_sets: ab.clone() });
        assert_eq!(framing(VideoCodec::H265, &[]).unwrap(), Framing { length_size: None, param_sets: vec![] });
    }

    #[test]
    fn truncated_records_are_errors_naming_the_codec() {
        let err = framing(VideoCodec::H264, &[1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 20, 0x67]).unwrap_err();
        assert!(matches!(err, NalError::ConfigTruncated { codec: VideoCodec::H264, .. }), "{err:?}");
        assert!(err.to_string().contains("H.264"), "{err}");
        let err = framing(VideoCodec::H264, &[1, 0x42, 0xc0, 0x1e, 0xfe, 0xe0, 0]).unwrap_err();
        assert_eq!(err, NalError::BadLengthSize { codec: VideoCodec::H264, size: 3 });
    }

    #[test]
    fn length_prefixed_units_become_annex_b() {
        let a: &[u8] = &[0x65, 1, 2, 3];
        let b: &[u8] = &[0x06, 9];
        let mut data = vec![0, 0, 0, 4];
        data.extend_from_slice(a);
        data.extend_from_slice(&[0, 0, 0, 2]);
        data.extend_from_slice(b);
        let mut out = vec![];
        length_prefixed_to_annex_b(&data, 4, &mut out).unwrap();
        assert_eq!(out, annex_b(&[a, b]));

        let mut out = vec![];
        length_prefixed_to_annex_b(&[2, 0xaa, 0xbb, 1, 0xcc], 1, &mut out).unwrap();
        assert_eq!(out, annex_b(&[&[0xaa, 0xbb], &[0xcc]]));
    }

    #[test]
    fn truncated_units_are_errors() {
        let mut out = vec![];
        let err = length_prefixed_to_annex_b(&[0, 0, 0, 9, 1, 2], 4, &mut out).unwrap_err();
        assert_eq!(err, NalError::UnitTruncated { at: 0, claimed: 9, left: 2 });
        let err = length_prefixed_to_annex_b(&[0, 0, 0, 1, 7, 0, 0], 4, &mut out).unwrap_err();
        assert_eq!(err, NalError::UnitTruncated { at: 5, claimed: 4, left: 2 });
    }
}
