//! MOTChallenge text files: reading detections (`det.txt`) and tracks, writing tracks.
//!
//! A line is `frame,id,x,y,w,h,score,...` with 1-based frames and a top-left box in pixels; detections
//! have id −1. Columns after the score (world coordinates or class/visibility in ground truth) are
//! ignored, so every detection gets class 0. Blank lines and lines starting with `#` are skipped.
//! Written tracks are `frame,id,x,y,w,h,score,-1,-1,-1` with 2 decimals (3 for the score).

use crate::geometry::BBox;
use crate::messages::{Detection, Track};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// One parsed line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MotRow {
    pub frame: u64,
    /// −1 for a detection.
    pub id: i64,
    pub bbox: BBox,
    pub score: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum MotError {
    #[error("cannot read MOT file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write MOT file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message} (expected `frame,id,x,y,w,h,score,...` with frame ≥ 1)")]
    Parse { path: PathBuf, line: usize, message: String },
}

/// Read every row of a MOT file.
pub fn read_rows(path: &Path) -> Result<Vec<MotRow>, MotError> {
    let file = std::fs::File::open(path).map_err(|source| MotError::Read { path: path.to_owned(), source })?;
    parse_rows(std::io::BufReader::new(file), path)
}

/// Parse MOT rows from a reader; `path` names the source in errors.
pub fn parse_rows(reader: impl BufRead, path: &Path) -> Result<Vec<MotRow>, MotError> {
    let mut rows = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| MotError::Read { path: path.to_owned(), source })?;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let parse_error = |message: String| MotError::Parse { path: path.to_owned(), line: index + 1, message };
        rows.push(parse_line(text).map_err(parse_error)?);
    }
    Ok(rows)
}

fn parse_line(text: &str) -> Result<MotRow, String> {
    let fields: Vec<&str> = text.split(',').map(str::trim).collect();
    if fields.len() < 7 {
        return Err(format!("{} fields, need at least 7", fields.len()));
    }
    let number = |i: usize, name: &str| -> Result<f64, String> {
        fields[i]
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{name} `{}` is not a number", fields[i]))
    };
    let frame = number(0, "frame")?;
    if frame < 1.0 || frame.fract() != 0.0 {
        return Err(format!("frame `{}` is not a positive integer", fields[0]));
    }
    let id = number(1, "id")?;
    if id.fract() != 0.0 {
        return Err(format!("id `{}` is not an integer", fields[1]));
    }
    let (x, y, w, h) = (number(2, "x")?, number(3, "y")?, number(4, "width")?, number(5, "height")?);
    if w < 0.0 || h < 0.0 {
        return Err(format!("negative box size {w} x {h}"));
    }
    let score = number(6, "score")?;
    let bbox = BBox { x1: x as f32, y1: y as f32, x2: (x + w) as f32, y2: (y + h) as f32 };
    Ok(MotRow { frame: frame as u64, id: id as i64, bbox, score: score as f32 })
}

/// Group rows into per-frame detections (class 0), ignoring their ids.
pub fn detections_by_frame(rows: &[MotRow]) -> BTreeMap<u64, Vec<Detection>> {
    let mut frames: BTreeMap<u64, Vec<Detection>> = BTreeMap::new();
    for row in rows {
        frames.entry(row.frame).or_default().push(Detection { class_id: 0, score: row.score, bbox: row.bbox });
    }
    frames
}

/// Write one frame's tracks as MOT lines.
pub fn write_tracks(out: &mut impl Write, frame: u64, tracks: &[Track]) -> std::io::Result<()> {
    for t in tracks {
        let b = t.bbox;
        writeln!(
            out,
            "{frame},{},{:.2},{:.2},{:.2},{:.2},{:.3},-1,-1,-1",
            t.id,
            b.x1,
            b.y1,
            b.x2 - b.x1,
            b.y2 - b.y1,
            t.score
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<MotRow>, MotError> {
        parse_rows(text.as_bytes(), Path::new("det.txt"))
    }

    #[test]
    fn reads_detections_and_skips_blank_lines() {
        let rows = parse("1,-1,10.5,20,30,40,0.9,-1,-1,-1\n\n# comment\n2,-1,0,0,5,5,0.25\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].frame, 1);
        assert_eq!(rows[0].id, -1);
        assert_eq!(rows[0].bbox, BBox { x1: 10.5, y1: 20.0, x2: 40.5, y2: 60.0 });
        assert!((rows[1].score - 0.25).abs() < 1e-6);
        let frames = detections_by_frame(&rows);
        assert_eq!(frames.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let err = parse("1,-1,0,0,5,5,0.5\n2,-1,0,zero,5,5,0.5\n").unwrap_err().to_string();
        assert!(err.starts_with("det.txt:2: y `zero` is not a number"), "{err}");
        let err = parse("0,-1,0,0,5,5,0.5\n").unwrap_err().to_string();
        assert!(err.contains("det.txt:1: frame `0`"), "{err}");
        let err = parse("1,-1,0,0,5\n").unwrap_err().to_string();
        assert!(err.contains("5 fields, need at least 7"), "{err}");
        let err = read_rows(Path::new("/nonexistent/det.txt")).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/det.txt"), "{err}");
    }

    #[test]
    fn written_tracks_read_back() {
        let track = Track {
            id: 7,
            class_id: 0,
            score: 0.8126,
            bbox: BBox { x1: 1.0, y1: 2.0, x2: 11.5, y2: 22.25 },
            stationary: false,
        };
        let mut out = Vec::new();
        write_tracks(&mut out, 3, &[track]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "3,7,1.00,2.00,10.50,20.25,0.813,-1,-1,-1\n");
        let rows = parse(&text).unwrap();
        assert_eq!((rows[0].frame, rows[0].id), (3, 7));
        assert_eq!(rows[0].bbox, track.bbox);
    }
}
