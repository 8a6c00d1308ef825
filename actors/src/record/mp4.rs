//! A small ISO-BMFF (ISO/IEC 14496-12) writer for fragmented MP4, and the reader the clip builder and the
//! tests use to walk what it wrote.
//!
//! - [`init_segment`]: `ftyp` + `moov` (one video track: `avc1`/`avcC` or `hvc1`/`hvcC` built from the
//!   stream's configuration record, empty sample tables, `mvex`/`trex`).
//! - [`media_segment`]: one fragment, `moof` (`mfhd`, `traf`: `tfhd` with default-base-is-moof, `tfdt`
//!   version 1, `trun` with per-sample duration, size, flags and composition offset) + `mdat`.
//! - [`codec_string`]: the RFC 6381 `codecs` parameter of a configuration record.
//! - [`boxes`], [`Fragment::parse`]: the reading side.
//!
//! Samples are stored as the sources deliver them (length-prefixed NAL units, the length size of the
//! configuration record): no re-encoding, no re-framing.

use crate::media::VideoCodec;

/// Sample flags of a sync sample: `sample_depends_on = 2` (an I picture).
pub const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// Sample flags of any other sample: `sample_depends_on = 1`, `sample_is_non_sync_sample = 1`.
pub const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;
/// The only track's id.
pub const TRACK_ID: u32 = 1;

/// What the init segment describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackInfo {
    pub codec: VideoCodec,
    /// The `AVCDecoderConfigurationRecord` / `HEVCDecoderConfigurationRecord`, verbatim.
    pub config_record: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// Ticks per second of every time in the track (the camera timeline's clock rate).
    pub timescale: u32,
}

/// One sample of a fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleInfo {
    pub duration: u32,
    pub size: u32,
    pub sync: bool,
    /// Presentation minus decode time, in ticks (0 without B-frames).
    pub composition_offset: u32,
}

/// Why a configuration record or a box cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Mp4Error {
    #[error(
        "{codec} configuration record is {len} bytes, too short for its header; the stream's parameter sets are missing"
    )]
    ShortRecord { codec: VideoCodec, len: usize },
    #[error("box `{kind}` at byte {at} claims {claimed} bytes but only {left} remain; the file is truncated")]
    Truncated { kind: String, at: usize, claimed: u64, left: usize },
    #[error("fragment: {0}")]
    BadFragment(String),
}

fn put_box(out: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(kind);
    body(out);
    let size = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

fn put_full_box(out: &mut Vec<u8>, kind: &[u8; 4], version: u8, flags: u32, body: impl FnOnce(&mut Vec<u8>)) {
    put_box(out, kind, |o| {
        o.extend_from_slice(&((u32::from(version) << 24) | (flags & 0x00ff_ffff)).to_be_bytes());
        body(o)
    })
}

fn u16be(o: &mut Vec<u8>, v: u16) {
    o.extend_from_slice(&v.to_be_bytes());
}
fn u32be(o: &mut Vec<u8>, v: u32) {
    o.extend_from_slice(&v.to_be_bytes());
}

const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// The RFC 6381 codec string of a configuration record: `avc1.PPCCLL` (ISO/IEC 14496-15 annex A) or
/// `hvc1.<space><profile>.<compat>.<tier><level>.<constraints>` (annex E).
pub fn codec_string(codec: VideoCodec, record: &[u8]) -> Result<String, Mp4Error> {
    match codec {
        VideoCodec::H264 => {
            let r = record.get(..4).ok_or(Mp4Error::ShortRecord { codec, len: record.len() })?;
            Ok(format!("avc1.{:02x}{:02x}{:02x}", r[1], r[2], r[3]))
        }
        VideoCodec::H265 => {
            let r = record.get(..13).ok_or(Mp4Error::ShortRecord { codec, len: record.len() })?;
            let space = match r[1] >> 6 {
                0 => "",
                1 => "A",
                2 => "B",
                _ => "C",
            };
            let tier = if r[1] & 0x20 != 0 { 'H' } else { 'L' };
            let profile = r[1] & 0x1f;
            let compat = u32::from_be_bytes([r[2], r[3], r[4], r[5]]).reverse_bits();
            let mut constraints: Vec<u8> = r[6..12].to_vec();
            while constraints.last() == Some(&0) {
                constraints.pop();
            }
            let mut s = format!("hvc1.{space}{profile}.{compat:X}.{tier}{}", r[12]);
            for b in constraints {
                s.push_str(&format!(".{b:X}"));
            }
            Ok(s)
        }
    }
}

/// `ftyp` + `moov` for one video track.
pub fn init_segment(t: &TrackInfo) -> Result<Vec<u8>, Mp4Error> {
    let min = match t.codec {
        VideoCodec::H264 => 7,
        VideoCodec::H265 => 23,
    };
    if t.config_record.len() < min {
        return Err(Mp4Error::ShortRecord { codec: t.codec, len: t.config_record.len() });
    }
    let mut o = Vec::with_capacity(1024 + t.config_record.len());
    put_box(&mut o, b"ftyp", |o| {
        o.extend_from_slice(b"isom");
        u32be(o, 0x200);
        for brand in [b"isom", b"iso5", b"iso6", b"mp41"] {
            o.extend_from_slice(brand);
        }
    });
    put_box(&mut o, b"moov", |o| {
        put_full_box(o, b"mvhd", 0, 0, |o| {
            u32be(o, 0); // creation
            u32be(o, 0); // modification
            u32be(o, t.timescale);
            u32be(o, 0); // duration: unknown (fragmented)
            u32be(o, 0x0001_0000); // rate 1.0
            u16be(o, 0x0100); // volume 1.0
            o.extend_from_slice(&[0; 10]);
            MATRIX.iter().for_each(|v| u32be(o, *v));
            o.extend_from_slice(&[0; 24]);
            u32be(o, TRACK_ID + 1); // next track id
        });
        put_box(o, b"trak", |o| {
            put_full_box(o, b"tkhd", 0, 3, |o| {
                u32be(o, 0);
                u32be(o, 0);
                u32be(o, TRACK_ID);
                u32be(o, 0); // reserved
                u32be(o, 0); // duration
                o.extend_from_slice(&[0; 8]);
                u16be(o, 0); // layer
                u16be(o, 0); // alternate group
                u16be(o, 0); // volume (video)
                u16be(o, 0);
                MATRIX.iter().for_each(|v| u32be(o, *v));
                u32be(o, t.width << 16);
                u32be(o, t.height << 16);
            });
            put_box(o, b"mdia", |o| {
                put_full_box(o, b"mdhd", 0, 0, |o| {
                    u32be(o, 0);
                    u32be(o, 0);
                    u32be(o, t.timescale);
                    u32be(o, 0);
                    u16be(o, 0x55c4); // "und"
                    u16be(o, 0);
                });
                put_full_box(o, b"hdlr", 0, 0, |o| {
                    u32be(o, 0);
                    o.extend_from_slice(b"vide");
                    o.extend_from_slice(&[0; 12]);
                    o.extend_from_slice(b"Panoptes video\0");
                });
                put_box(o, b"minf", |o| {
                    put_full_box(o, b"vmhd", 0, 1, |o| o.extend_from_slice(&[0; 8]));
                    put_box(o, b"dinf", |o| {
                        put_full_box(o, b"dref", 0, 0, |o| {
                            u32be(o, 1);
                            put_full_box(o, b"url ", 0, 1, |_| {});
                        });
                    });
                    put_box(o, b"stbl", |o| {
                        put_full_box(o, b"stsd", 0, 0, |o| {
                            u32be(o, 1);
                            sample_entry(o, t);
                        });
                        put_full_box(o, b"stts", 0, 0, |o| u32be(o, 0));
                        put_full_box(o, b"stsc", 0, 0, |o| u32be(o, 0));
                        put_full_box(o, b"stsz", 0, 0, |o| {
                            u32be(o, 0);
                            u32be(o, 0);
                        });
                        put_full_box(o, b"stco", 0, 0, |o| u32be(o, 0));
                    });
                });
            });
        });
        put_box(o, b"mvex", |o| {
            put_full_box(o, b"trex", 0, 0, |o| {
                u32be(o, TRACK_ID);
                u32be(o, 1); // sample description index
                u32be(o, 0);
                u32be(o, 0);
                u32be(o, 0);
            });
        });
    });
    Ok(o)
}

fn sample_entry(o: &mut Vec<u8>, t: &TrackInfo) {
    let (entry, config) = match t.codec {
        VideoCodec::H264 => (b"avc1", b"avcC"),
        VideoCodec::H265 => (b"hvc1", b"hvcC"),
    };
    put_box(o, entry, |o| {
        o.extend_from_slice(&[0; 6]);
        u16be(o, 1); // data reference index
        o.extend_from_slice(&[0; 16]); // pre_defined, reserved
        u16be(o, t.width.min(0xffff) as u16);
        u16be(o, t.height.min(0xffff) as u16);
        u32be(o, 0x0048_0000); // 72 dpi
        u32be(o, 0x0048_0000);
        u32be(o, 0);
        u16be(o, 1); // frame count
        o.extend_from_slice(&[0; 32]); // compressor name
        u16be(o, 0x0018); // depth
        u16be(o, 0xffff); // pre_defined = -1
        put_box(o, config, |o| o.extend_from_slice(&t.config_record));
    });
}

/// `moof` + `mdat` of one fragment: `samples` (decode order) whose data, concatenated, is `data`; the first
/// sample decodes at `base_decode_time` ticks.
pub fn media_segment(sequence: u32, base_decode_time: u64, samples: &[SampleInfo], data: &[u8]) -> Vec<u8> {
    let with_cts = samples.iter().any(|s| s.composition_offset != 0);
    let mut flags = 0x000001 | 0x000100 | 0x000200 | 0x000400; // data offset, duration, size, flags
    if with_cts {
        flags |= 0x000800;
    }
    let mut o = Vec::with_capacity(data.len() + 128 + samples.len() * 16);
    let mut data_offset_at = 0;
    put_box(&mut o, b"moof", |o| {
        put_full_box(o, b"mfhd", 0, 0, |o| u32be(o, sequence));
        put_box(o, b"traf", |o| {
            put_full_box(o, b"tfhd", 0, 0x020000, |o| u32be(o, TRACK_ID)); // default-base-is-moof
            put_full_box(o, b"tfdt", 1, 0, |o| o.extend_from_slice(&base_decode_time.to_be_bytes()));
            put_full_box(o, b"trun", 0, flags, |o| {
                u32be(o, samples.len() as u32);
                data_offset_at = o.len();
                u32be(o, 0); // data offset, patched below
                for s in samples {
                    u32be(o, s.duration);
                    u32be(o, s.size);
                    u32be(o, if s.sync { SYNC_SAMPLE_FLAGS } else { NON_SYNC_SAMPLE_FLAGS });
                    if with_cts {
                        u32be(o, s.composition_offset);
                    }
                }
            });
        });
    });
    let data_offset = (o.len() + 8) as u32;
    o[data_offset_at..data_offset_at + 4].copy_from_slice(&data_offset.to_be_bytes());
    put_box(&mut o, b"mdat", |o| o.extend_from_slice(data));
    o
}

/// A box found by [`boxes`]: its type, and where it and its body lie in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoxRef {
    pub kind: [u8; 4],
    pub start: usize,
    pub body: usize,
    pub end: usize,
}

impl BoxRef {
    pub fn kind_str(&self) -> String {
        String::from_utf8_lossy(&self.kind).into_owned()
    }
}

/// The boxes laid one after another in `buf[from..to]` (32-bit and 64-bit sizes; size 0 = to the end).
pub fn boxes(buf: &[u8], from: usize, to: usize) -> Result<Vec<BoxRef>, Mp4Error> {
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        let left = to - at;
        if left < 8 {
            return Err(Mp4Error::Truncated { kind: "?".into(), at, claimed: 8, left });
        }
        let size32 = u32::from_be_bytes(buf[at..at + 4].try_into().expect("4 bytes"));
        let kind: [u8; 4] = buf[at + 4..at + 8].try_into().expect("4 bytes");
        let (size, header) = match size32 {
            0 => (left as u64, 8),
            1 => {
                if left < 16 {
                    return Err(Mp4Error::Truncated { kind: "?".into(), at, claimed: 16, left });
                }
                (u64::from_be_bytes(buf[at + 8..at + 16].try_into().expect("8 bytes")), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header as u64 || size > left as u64 {
            return Err(Mp4Error::Truncated {
                kind: String::from_utf8_lossy(&kind).into_owned(),
                at,
                claimed: size,
                left,
            });
        }
        let end = at + size as usize;
        out.push(BoxRef { kind, start: at, body: at + header, end });
        at = end;
    }
    Ok(out)
}

/// The first child of `parent` of type `kind`.
pub fn child(buf: &[u8], parent: &BoxRef, kind: &[u8; 4]) -> Result<Option<BoxRef>, Mp4Error> {
    Ok(boxes(buf, parent.body, parent.end)?.into_iter().find(|b| &b.kind == kind))
}

/// A `moof` + `mdat` pair as read back: where it lies, its decode time and samples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragment {
    /// Byte range of `moof` through the end of its `mdat`.
    pub start: usize,
    pub end: usize,
    pub sequence: u32,
    pub base_decode_time: u64,
    /// Byte position of the 8-byte `tfdt` time (to re-base a copy of the fragment).
    pub tfdt_at: usize,
    pub samples: Vec<SampleInfo>,
}

fn be32(b: &[u8], at: usize) -> Result<u32, Mp4Error> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes(s.try_into().expect("4 bytes")))
        .ok_or_else(|| Mp4Error::BadFragment(format!("field at byte {at} is past the box end")))
}

impl Fragment {
    /// Decode time just after the last sample.
    pub fn end_decode_time(&self) -> u64 {
        self.base_decode_time + self.samples.iter().map(|s| u64::from(s.duration)).sum::<u64>()
    }

    /// Whether decoding can start here.
    pub fn starts_with_sync(&self) -> bool {
        self.samples.first().is_some_and(|s| s.sync)
    }

    /// Read the `moof` at `moof` and the `mdat` at `mdat` (written by [`media_segment`] or a similar writer:
    /// one `traf` with `tfdt` and one `trun`).
    pub fn parse(buf: &[u8], moof: &BoxRef, mdat: &BoxRef) -> Result<Self, Mp4Error> {
        let bad = |m: &str| Mp4Error::BadFragment(format!("moof at byte {}: {m}", moof.start));
        let mfhd = child(buf, moof, b"mfhd")?.ok_or_else(|| bad("no mfhd"))?;
        let sequence = be32(buf, mfhd.body + 4)?;
        let traf = child(buf, moof, b"traf")?.ok_or_else(|| bad("no traf"))?;
        let tfhd = child(buf, &traf, b"tfhd")?.ok_or_else(|| bad("no tfhd"))?;
        let tfhd_flags = be32(buf, tfhd.body)? & 0x00ff_ffff;
        // Defaults of tfhd (only those our writer or common writers use).
        let mut p = tfhd.body + 8;
        if tfhd_flags & 0x01 != 0 {
            p += 8;
        }
        if tfhd_flags & 0x02 != 0 {
            p += 4;
        }
        let default_duration = if tfhd_flags & 0x08 != 0 {
            let v = be32(buf, p)?;
            p += 4;
            v
        } else {
            0
        };
        let default_size = if tfhd_flags & 0x10 != 0 {
            let v = be32(buf, p)?;
            p += 4;
            v
        } else {
            0
        };
        let default_flags = if tfhd_flags & 0x20 != 0 { be32(buf, p)? } else { NON_SYNC_SAMPLE_FLAGS };
        let tfdt = child(buf, &traf, b"tfdt")?.ok_or_else(|| bad("no tfdt"))?;
        let version = buf[tfdt.body];
        let (base_decode_time, tfdt_at) = if version == 1 {
            let s = buf.get(tfdt.body + 4..tfdt.body + 12).ok_or_else(|| bad("short tfdt"))?;
            (u64::from_be_bytes(s.try_into().expect("8 bytes")), tfdt.body + 4)
        } else {
            (u64::from(be32(buf, tfdt.body + 4)?), tfdt.body + 4)
        };
        let trun = child(buf, &traf, b"trun")?.ok_or_else(|| bad("no trun"))?;
        let flags = be32(buf, trun.body)? & 0x00ff_ffff;
        let count = be32(buf, trun.body + 4)? as usize;
        let mut p = trun.body + 8;
        if flags & 0x01 != 0 {
            p += 4;
        }
        let first_flags = if flags & 0x04 != 0 {
            let v = be32(buf, p)?;
            p += 4;
            Some(v)
        } else {
            None
        };
        // The count comes from the file: it may claim no more samples than the box (or, without per-sample
        // fields, the mdat) can describe, lest a corrupt file ask for gigabytes.
        let per_sample = 4 * [0x100, 0x200, 0x400, 0x800].iter().filter(|f| flags & **f != 0).count();
        let room = trun.end.saturating_sub(p).checked_div(per_sample).unwrap_or(mdat.end - mdat.body + 1);
        if count > room {
            return Err(bad(&format!("trun claims {count} samples but has room for {room}")));
        }
        let mut samples = Vec::with_capacity(count);
        for i in 0..count {
            let mut field = |present: u32, default: u32| -> Result<u32, Mp4Error> {
                if flags & present != 0 {
                    let v = be32(buf, p)?;
                    p += 4;
                    Ok(v)
                } else {
                    Ok(default)
                }
            };
            let duration = field(0x100, default_duration)?;
            let size = field(0x200, default_size)?;
            let sflags = field(0x400, if i == 0 { first_flags.unwrap_or(default_flags) } else { default_flags })?;
            let composition_offset = field(0x800, 0)?;
            samples.push(SampleInfo { duration, size, sync: sflags & 0x0001_0000 == 0, composition_offset });
        }
        Ok(Self { start: moof.start, end: mdat.end, sequence, base_decode_time, tfdt_at, samples })
    }
}

/// A whole file as written by the recorder: the init segment's byte range and its fragments.
#[derive(Clone, Debug)]
pub struct ParsedFile {
    /// `ftyp` + `moov` (the bytes before the first `moof`).
    pub init: std::ops::Range<usize>,
    pub fragments: Vec<Fragment>,
}

/// Walk a fragmented MP4: its init segment and every complete `moof` + `mdat` pair. A truncated trailing
/// box is an error (segments on disk are complete; the recorder never indexes a partial file).
pub fn parse_file(buf: &[u8]) -> Result<ParsedFile, Mp4Error> {
    let top = boxes(buf, 0, buf.len())?;
    let first_moof = top.iter().position(|b| &b.kind == b"moof").unwrap_or(top.len());
    if !top[..first_moof].iter().any(|b| &b.kind == b"moov") {
        return Err(Mp4Error::BadFragment("no moov before the first moof".into()));
    }
    let init = 0..top.get(first_moof).map_or(buf.len(), |b| b.start);
    let mut fragments = Vec::new();
    let mut i = first_moof;
    while i < top.len() {
        if &top[i].kind == b"moof" {
            let mdat = top.get(i + 1).filter(|b| &b.kind == b"mdat").ok_or_else(|| {
                Mp4Error::BadFragment(format!("moof at byte {} is not followed by its mdat", top[i].start))
            })?;
            fragments.push(Fragment::parse(buf, &top[i], mdat)?);
            i += 2;
        } else {
            i += 1;
        }
    }
    Ok(ParsedFile { init, fragments })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// avcC of a High profile (0x64), level 4.0 (0x28) stream: one SPS, one PPS.
    fn avcc() -> Vec<u8> {
        let sps = [0x67, 0x64, 0x00, 0x28, 0xac, 0xd9];
        let pps = [0x68, 0xeb, 0xe3, 0xcb];
        let mut v = vec![1, 0x64, 0x00, 0x28, 0xff, 0xe1];
        v.extend_from_slice(&(sps.len() as u16).to_be_bytes());
        v.extend_from_slice(&sps);
        v.push(1);
        v.extend_from_slice(&(pps.len() as u16).to_be_bytes());
        v.extend_from_slice(&pps);
        v
    }

    #[test]
    fn codec_strings_follow_rfc_6381() {
        assert_eq!(codec_string(VideoCodec::H264, &avcc()).unwrap(), "avc1.640028");
        // HEVC Main (profile 1, compatibility flags 0x60000000), tier Main, level 93, constraint byte 0xB0:
        // the example string of ISO/IEC 14496-15 annex E is "hvc1.1.6.L93.B0".
        let mut hvcc = vec![1, 0x01, 0x60, 0, 0, 0, 0xb0, 0, 0, 0, 0, 0, 93];
        hvcc.extend_from_slice(&[0; 10]);
        assert_eq!(codec_string(VideoCodec::H265, &hvcc).unwrap(), "hvc1.1.6.L93.B0");
        assert!(matches!(codec_string(VideoCodec::H265, &[1, 2]), Err(Mp4Error::ShortRecord { .. })));
    }

    #[test]
    fn init_segment_has_the_track_and_the_record_verbatim() {
        let t =
            TrackInfo { codec: VideoCodec::H264, config_record: avcc(), width: 768, height: 576, timescale: 90_000 };
        let init = init_segment(&t).unwrap();
        let top = boxes(&init, 0, init.len()).unwrap();
        let kinds: Vec<String> = top.iter().map(BoxRef::kind_str).collect();
        assert_eq!(kinds, ["ftyp", "moov"]);
        let moov = top[1];
        let mvex = child(&init, &moov, b"mvex").unwrap().expect("mvex");
        assert!(child(&init, &mvex, b"trex").unwrap().is_some());
        let mdhd = ["trak", "mdia", "mdhd"]
            .iter()
            .try_fold(moov, |b, k| child(&init, &b, k.as_bytes().try_into().unwrap()).unwrap());
        let mdhd = mdhd.expect("trak/mdia/mdhd");
        assert_eq!(be32(&init, mdhd.body + 12).unwrap(), 90_000, "mdhd timescale");
        // The avcC record is found byte for byte after its box header.
        let pos = init.windows(4).position(|w| w == b"avcC").unwrap();
        assert_eq!(&init[pos + 4..pos + 4 + t.config_record.len()], &t.config_record[..]);
        let size = u32::from_be_bytes(init[pos - 4..pos].try_into().unwrap()) as usize;
        assert_eq!(size, 8 + t.config_record.len());
        assert!(init_segment(&TrackInfo { config_record: vec![1, 2], ..t }).is_err());
    }

    #[test]
    fn fragments_parse_back_to_what_was_written() {
        let samples = vec![
            SampleInfo { duration: 3000, size: 5, sync: true, composition_offset: 0 },
            SampleInfo { duration: 3000, size: 3, sync: false, composition_offset: 6000 },
            SampleInfo { duration: 3003, size: 2, sync: false, composition_offset: 0 },
        ];
        let data: Vec<u8> = (0u8..10).collect();
        let frag = media_segment(7, 1 << 40, &samples, &data);
        let top = boxes(&frag, 0, frag.len()).unwrap();
        assert_eq!(top.iter().map(BoxRef::kind_str).collect::<Vec<_>>(), ["moof", "mdat"]);
        let f = Fragment::parse(&frag, &top[0], &top[1]).unwrap();
        assert_eq!(f.sequence, 7);
        assert_eq!(f.base_decode_time, 1 << 40);
        assert_eq!(f.samples, samples);
        assert_eq!(f.end_decode_time(), (1 << 40) + 9003);
        assert!(f.starts_with_sync());
        // The trun data offset points at the first sample byte, counted from the moof (default-base-is-moof).
        let trun_pos = frag.windows(4).position(|w| w == b"trun").unwrap();
        let offset = u32::from_be_bytes(frag[trun_pos + 12..trun_pos + 16].try_into().unwrap()) as usize;
        assert_eq!(&frag[offset..], &data[..]);
        // Without composition offsets the trun carries none.
        let plain: Vec<SampleInfo> =
            samples.iter().map(|s| SampleInfo { composition_offset: 0, ..s.clone() }).collect();
        let frag2 = media_segment(1, 0, &plain, &data);
        assert_eq!(frag.len() - frag2.len(), 3 * 4);
    }

    #[test]
    fn truncated_files_are_reported_with_the_box() {
        let t = TrackInfo { codec: VideoCodec::H264, config_record: avcc(), width: 64, height: 48, timescale: 90_000 };
        let mut file = init_segment(&t).unwrap();
        let s = [SampleInfo { duration: 1, size: 4, sync: true, composition_offset: 0 }];
        file.extend(media_segment(1, 0, &s, &[1, 2, 3, 4]));
        let parsed = parse_file(&file).unwrap();
        assert_eq!(parsed.fragments.len(), 1);
        assert_eq!(parsed.init.end, file.len() - parsed.fragments[0].end + parsed.fragments[0].start);
        let err = parse_file(&file[..file.len() - 2]).unwrap_err();
        assert!(matches!(err, Mp4Error::Truncated { ref kind, .. } if kind == "mdat"), "{err}");
    }

    /// Found by the `mp4_reader` fuzz target: a trun claiming four billion samples made the reader ask for
    /// 64 GB. The count must fit the box.
    #[test]
    fn a_sample_count_the_box_cannot_hold_is_refused() {
        let s = [SampleInfo { duration: 1, size: 4, sync: true, composition_offset: 0 }];
        let mut frag = media_segment(1, 0, &s, &[1, 2, 3, 4]);
        let trun = frag.windows(4).position(|w| w == b"trun").unwrap();
        frag[trun + 8..trun + 12].copy_from_slice(&u32::MAX.to_be_bytes());
        let top = boxes(&frag, 0, frag.len()).unwrap();
        let err = Fragment::parse(&frag, &top[0], &top[1]).unwrap_err();
        assert!(err.to_string().contains("4294967295 samples"), "{err}");
    }
}
