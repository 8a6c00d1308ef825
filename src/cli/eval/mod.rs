//! `panoptes eval --config C --camera ID --input VIDEO --labels FILE [--json OUT]`: replay a video through
//! the whole pipeline exactly as `panoptes replay` does and score what an operator would have been shown
//! against labelled ground truth:
//! - per class (person, vehicle), recall and precision at IoU 0.5 of the boxes on screen at each labelled
//!   frame: the tracks of the latest processed frame at or before it (the `/ws/overlay` message), so a frame
//!   the camera skipped for its `detect_fps` is judged on the boxes still shown;
//! - distinct person track ids in the whole clip against the labelled number of people;
//! - for each rule on a labelled zone, event starts against the labelled people who enter that zone.
//!
//! Prints a table; `--json` also writes the figures as JSON (the test reads them).

mod score;

use super::replay::{Source, prepare, replay};
use anyhow::{Context, bail};
use score::{Counts, Labels, Shown, label_class, ratio, score_frame, total};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: Source,
    /// The labels (JSON; format in tests/data/labels/README.md).
    #[arg(long)]
    labels: PathBuf,
    /// Also write the figures to this file as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write every processed frame's overlay message (the boxes shown, the regions inferred) to this
    /// file, one JSON line a frame, to look at what was scored.
    #[arg(long)]
    frames_out: Option<PathBuf>,
}

/// The parts of an overlay message eval reads.
#[derive(Deserialize)]
struct OverlayFrame {
    seq: u64,
    tracks: Vec<OverlayTrack>,
}

#[derive(Deserialize)]
struct OverlayTrack {
    id: u64,
    label: String,
    /// Normalised left, top, width, height.
    #[serde(rename = "box")]
    bbox: [f32; 4],
}

/// The parts of an event eval reads.
#[derive(Deserialize)]
struct EventLine {
    rule: String,
    state: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.labels).with_context(|| format!("--labels {}", args.labels.display()))?;
    let labels = Labels::parse(&text)
        .map_err(|e| anyhow::anyhow!("--labels {}: {e}; see tests/data/labels/README.md", args.labels.display()))?;
    let (config, camera, _temp) = prepare(&args.source, None)?;
    let rules: Vec<(String, String, Option<String>)> =
        camera.rules.iter().map(|r| (r.id.clone(), r.kind.clone(), r.zone.clone())).collect();

    // seq → boxes shown (in label pixels); every person track id; event starts per rule.
    let (lw, lh) = (labels.width as f32, labels.height as f32);
    let mut shown: BTreeMap<u64, Vec<Shown>> = BTreeMap::new();
    let mut person_ids = BTreeSet::new();
    let mut starts: BTreeMap<String, u32> = BTreeMap::new();
    let mut frames_out = match &args.frames_out {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("--frames-out {}", path.display()))?,
        )),
        None => None,
    };
    let mut on_overlay = |json: &str| -> anyhow::Result<()> {
        if let Some(out) = frames_out.as_mut() {
            writeln!(out, "{json}").context("writing --frames-out")?;
        }
        let f: OverlayFrame = serde_json::from_str(json).context("reading an overlay message")?;
        let mut boxes = Vec::new();
        for t in f.tracks {
            if t.label == "person" {
                person_ids.insert(t.id);
            }
            if let Some(class) = label_class(&t.label) {
                let [x, y, w, h] = t.bbox;
                boxes.push(Shown { class, bbox: [x * lw, y * lh, (x + w) * lw, (y + h) * lh] });
            }
        }
        shown.insert(f.seq, boxes);
        Ok(())
    };
    let mut on_alert = |json: &str| -> anyhow::Result<()> {
        let e: EventLine = serde_json::from_str(json).context("reading an event")?;
        if e.state == "start" {
            *starts.entry(e.rule).or_default() += 1;
        }
        Ok(())
    };
    let summary = actix::System::new().block_on(replay(config, camera, &mut on_alert, Some(&mut on_overlay)))?;
    if let Err(e) = &summary.outcome {
        bail!("replaying {} failed: {e}", args.source.input.display());
    }
    if shown.is_empty() {
        bail!("no frame was processed: is the camera's detect_fps 0, or the video empty?");
    }

    // Each labelled frame against the boxes on screen then.
    let mut per_frame = Vec::new();
    let mut lags = Vec::new();
    for f in &labels.frames {
        let on_screen = shown.range(..=f.frame).next_back();
        let boxes = on_screen.map(|(_, b)| b.as_slice()).unwrap_or(&[]);
        if let Some((seq, _)) = on_screen {
            lags.push(f.frame - seq);
        }
        per_frame.push(score_frame(&f.objects, boxes, labels.min_height));
    }
    let totals = total(&per_frame);
    let mut sources: BTreeMap<String, u32> = BTreeMap::new();
    for o in labels.frames.iter().flat_map(|f| &f.objects) {
        *sources.entry(o.source.clone().unwrap_or_else(|| "unstated".into())).or_default() += 1;
    }
    let report = Report {
        labels_video: labels.video.clone(),
        provenance: labels.provenance.clone(),
        sources,
        labelled_frames: labels.frames.len(),
        mean_lag: lags.iter().sum::<u64>() as f64 / lags.len().max(1) as f64,
        decoded: summary.decoded,
        inferred: summary.inferred,
        inputs: summary.inputs,
        classes: totals,
        distinct_person_ids: person_ids.len(),
        people: labels.people.as_ref().map(|p| p.distinct),
        visits: labels.people.as_ref().and_then(|p| p.visits),
        rules: rules
            .into_iter()
            .map(|(id, kind, zone)| {
                let entrants = zone.as_ref().and_then(|z| labels.people.as_ref()?.zones.get(z).copied());
                RuleReport { starts: starts.get(&id).copied().unwrap_or(0), id, kind, zone, entrants }
            })
            .collect(),
    };
    print!("{}", report.table(&args.source.camera, &args.source.input.display().to_string()));
    if let Some(path) = &args.json {
        std::fs::write(path, report.json().to_string()).with_context(|| format!("--json {}", path.display()))?;
    }
    Ok(())
}

struct RuleReport {
    id: String,
    kind: String,
    zone: Option<String>,
    starts: u32,
    /// Labelled people who enter the rule's zone.
    entrants: Option<u32>,
}

struct Report {
    /// The labels' own record of their video and how they were made, and their boxes by source.
    labels_video: String,
    provenance: String,
    sources: BTreeMap<String, u32>,
    labelled_frames: usize,
    /// Mean frames between a labelled frame and the processed frame whose boxes were on screen then.
    mean_lag: f64,
    decoded: u64,
    inferred: u64,
    inputs: u64,
    classes: BTreeMap<&'static str, Counts>,
    distinct_person_ids: usize,
    people: Option<u32>,
    visits: Option<u32>,
    rules: Vec<RuleReport>,
}

fn fixed(v: f64, digits: usize) -> String {
    if v.is_nan() { "-".into() } else { format!("{v:.digits$}") }
}

impl Report {
    fn table(&self, camera: &str, input: &str) -> String {
        let mut s = format!(
            "eval: camera {camera} on {input}: {} frames decoded, {} processed, {} model inputs ({:.1} a frame); {} \
             labelled frames (boxes on screen at each: mean lag {:.2} frames)\n",
            self.decoded,
            self.inferred,
            self.inputs,
            self.inputs as f64 / self.inferred.max(1) as f64,
            self.labelled_frames,
            self.mean_lag
        );
        let sources: Vec<String> = self.sources.iter().map(|(k, n)| format!("{n} {k}")).collect();
        s += &format!("labels: made for {}; boxes by source: {}\n", self.labels_video, sources.join(", "));
        s += &format!(
            "{:<8} {:>9} {:>6} {:>6} {:>10} {:>7} {:>9} {:>13}\n",
            "class", "labelled", "found", "false", "on object", "recall", "precision", "small recall"
        );
        for (class, c) in &self.classes {
            s += &format!(
                "{:<8} {:>9} {:>6} {:>6} {:>10} {:>7} {:>9} {:>13}\n",
                class,
                c.true_pos + c.false_neg,
                c.true_pos,
                c.false_pos,
                c.false_on_object,
                fixed(c.recall(), 3),
                fixed(c.precision(), 3),
                format!("{} ({}/{})", fixed(ratio(c.small_found, c.small), 2), c.small_found, c.small),
            );
        }
        let per = |n: u32, of: Option<u32>, what: &str| match of {
            Some(p) => format!("{p} labelled {what} ({} per one)", fixed(ratio(n, p), 2)),
            None => format!("no labelled {what}"),
        };
        let ids = self.distinct_person_ids as u32;
        s += &format!(
            "people: {ids} distinct person track ids; {}; {}\n",
            per(ids, self.people, "people"),
            per(ids, self.visits, "visits")
        );
        for r in &self.rules {
            let zone = r.zone.as_deref().map(|z| format!(", zone {z}")).unwrap_or_default();
            s += &format!(
                "rule {} ({}{zone}): {} event starts {}\n",
                r.id,
                r.kind,
                r.starts,
                match r.entrants {
                    Some(_) => format!("for {}", per(r.starts, r.entrants, "visits into the zone")),
                    None => String::new(),
                }
            );
        }
        s
    }

    fn json(&self) -> serde_json::Value {
        let num = |v: f64| if v.is_nan() { serde_json::Value::Null } else { serde_json::json!(v) };
        serde_json::json!({
            "labels_video": self.labels_video,
            "provenance": self.provenance,
            "label_sources": self.sources,
            "labelled_frames": self.labelled_frames,
            "mean_lag_frames": self.mean_lag,
            "frames_decoded": self.decoded,
            "frames_processed": self.inferred,
            "model_inputs": self.inputs,
            "classes": self.classes.iter().map(|(class, c)| (class.to_string(), serde_json::json!({
                "labelled": c.true_pos + c.false_neg,
                "true_pos": c.true_pos,
                "false_pos": c.false_pos,
                "false_on_object": c.false_on_object,
                "false_neg": c.false_neg,
                "recall": num(c.recall()),
                "precision": num(c.precision()),
                "small": c.small,
                "small_found": c.small_found,
            }))).collect::<serde_json::Map<_, _>>(),
            "distinct_person_ids": self.distinct_person_ids,
            "labelled_people": self.people,
            "labelled_visits": self.visits,
            "rules": self.rules.iter().map(|r| serde_json::json!({
                "id": r.id, "kind": r.kind, "zone": r.zone, "starts": r.starts, "labelled_entrants": r.entrants,
            })).collect::<Vec<_>>(),
        })
    }
}
