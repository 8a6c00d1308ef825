//! Scenario tests of the rule engine on synthetic track sequences, and of the actor.

use super::*;
use crate::config::{LineConfig, RuleConfig, ZoneConfig};
use crate::geometry::BBox;
use crate::messages::{Event, EventKind, EventState, FrameMeta, ModelInput, Track};
use crate::time::Pts;
use serde_json::json;
use std::time::Instant;

const W: u32 = 1000;
const H: u32 = 500;
const PERSON: u32 = 0;
const CAR: u32 = 1;

fn labels() -> Arc<[String]> {
    Arc::from(vec!["person".to_string(), "car".to_string()])
}

/// Zones: `walkway` is the lower half of the picture, x 0.1–0.9; `door` a vertical line down the middle;
/// `short` a vertical segment at x 0.5 covering only y 0.4–0.6.
fn shapes(rules: Vec<serde_json::Value>) -> RulesConfig {
    RulesConfig {
        zones: vec![ZoneConfig { id: "walkway".into(), polygon: vec![[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]] }],
        lines: vec![
            LineConfig { id: "door".into(), points: vec![[0.5, 0.0], [0.5, 1.0]] },
            LineConfig { id: "short".into(), points: vec![[0.5, 0.4], [0.5, 0.6]] },
        ],
        rules: rules.into_iter().map(|r| serde_json::from_value::<RuleConfig>(r).unwrap()).collect(),
    }
}

fn engine(rules: Vec<serde_json::Value>) -> RuleEngine {
    let (engine, disabled) = RuleEngine::new("gate", &shapes(rules), labels());
    assert!(disabled.is_empty(), "{disabled:?}");
    engine
}

/// A person (or `class`) whose box's bottom centre is at normalised `(x, y)`: 40 x 80 pixels.
#[derive(Clone, Copy)]
struct Obj {
    id: u64,
    class: u32,
    score: f32,
    x: f64,
    y: f64,
}

fn person(id: u64, x: f64, y: f64) -> Obj {
    Obj { id, class: PERSON, score: 0.9, x, y }
}

fn bbox(o: &Obj) -> BBox {
    let (cx, bottom) = ((o.x * f64::from(W)) as f32, (o.y * f64::from(H)) as f32);
    BBox { x1: cx - 20.0, y1: bottom - 80.0, x2: cx + 20.0, y2: bottom }
}

/// Stream time in milliseconds → 90 kHz PTS; wall time is 1.7e12 ms + stream time.
fn pts(t_ms: i64) -> Pts {
    Pts::new(t_ms * 90, Pts::VIDEO_CLOCK_RATE)
}

fn step(engine: &mut RuleEngine, t_ms: i64, objs: &[Obj]) -> Vec<Event> {
    let tracks: Vec<Track> = objs
        .iter()
        .map(|o| Track { id: o.id, class_id: o.class, score: o.score, bbox: bbox(o), stationary: false })
        .collect();
    let labels = labels();
    engine.update(&FrameInput {
        pts: pts(t_ms),
        wall_ms: crate::time::WallTime::from_unix_ms(1_700_000_000_000 + t_ms),
        width: W,
        height: H,
        tracks: &tracks,
        labels: &labels,
    })
}

/// Run frames every `period_ms` from `from_ms` (inclusive) to `to_ms` (exclusive), with `objs(t_ms)` on each;
/// returns `(t_ms, event)` pairs.
fn run(
    engine: &mut RuleEngine,
    from_ms: i64,
    to_ms: i64,
    period_ms: i64,
    objs: impl Fn(i64) -> Vec<Obj>,
) -> Vec<(i64, Event)> {
    let mut out = Vec::new();
    let mut t = from_ms;
    while t < to_ms {
        out.extend(step(engine, t, &objs(t)).into_iter().map(|e| (t, e)));
        t += period_ms;
    }
    out
}

fn states(events: &[(i64, Event)]) -> Vec<(i64, EventState)> {
    events.iter().map(|(t, e)| (*t, e.state)).collect()
}

#[test]
fn intrusion_starts_on_entry_and_ends_after_exit_sec_with_every_field() {
    let mut e = engine(vec![json!({
        "id": "r", "kind": "intrusion", "zone": "walkway", "classes": ["person"], "min_sec": 0.0
    })]);
    // Walks down at 5 fps: y = 0.2 + 0.05 per frame; inside from y ≥ 0.5, i.e. from t = 1200 ms (frame 6).
    // Leaves by the bottom? No: at t = 3000 ms it jumps back up to y = 0.3 and stays outside.
    let path = |t: i64| {
        let y = if t < 3000 { (0.2 + 0.05 * (t / 200) as f64).min(0.9) } else { 0.3 };
        vec![person(7, 0.5, y)]
    };
    let events = run(&mut e, 0, 6000, 200, path);
    // Outside from 3000 ms; exit_sec defaults to 2 s, so the end comes on the frame at 5000 ms.
    assert_eq!(states(&events), vec![(1200, EventState::Start), (5000, EventState::End)]);
    let start = &events[0].1;
    assert_eq!(start.camera, "gate");
    assert_eq!(start.rule, "r");
    assert_eq!(start.kind, EventKind::Intrusion);
    assert_eq!(start.track_id, Some(7));
    assert_eq!(start.class.as_deref(), Some("person"));
    assert_eq!(start.confidence, Some(0.9));
    assert_eq!(start.pts, pts(1200));
    assert_eq!(start.wall_ms.unix_ms(), 1_700_000_000_000 + 1200);
    assert_eq!(start.end_pts, None);
    assert_eq!(start.bbox, Some(bbox(&person(7, 0.5, 0.2 + 0.05 * 6.0))));
    assert_eq!(start.details, json!({"zone": "walkway", "track_ids": [7]}));
    let end = &events[1].1;
    assert_eq!((end.pts, end.end_pts, end.wall_ms.unix_ms()), (pts(5000), Some(pts(3000)), 1_700_000_000_000 + 5000));
    assert_eq!(end.track_id, Some(7));
    assert_eq!(end.bbox, Some(bbox(&person(7, 0.5, 0.3))), "the latest box, where it was last seen");
    assert!((end.details["duration_sec"].as_f64().unwrap() - 1.8).abs() < 1e-9, "{}", end.details);
}

#[test]
fn jitter_at_the_zone_edge_does_not_flap() {
    // The feet hop across the top edge (y = 0.5) every frame at 10 fps for 10 s: inside, outside, inside, ...
    let jitter = |t: i64| vec![person(1, 0.5, if (t / 100) % 2 == 0 { 0.51 } else { 0.49 })];
    let rule = |exit: f64| json!({"id": "r", "kind": "intrusion", "zone": "walkway", "exit_sec": exit, "min_sec": 0.0});
    let mut e = engine(vec![rule(1.0)]);
    let events = run(&mut e, 0, 10_000, 100, jitter);
    assert_eq!(states(&events), vec![(0, EventState::Start)], "one start, no end while it hovers");
    // Then it walks away: the end comes exit_sec after the last frame inside (9800 ms; 9900 is outside).
    let events = run(&mut e, 10_000, 12_000, 100, |_| vec![person(1, 0.5, 0.2)]);
    assert_eq!(states(&events), vec![(10_900, EventState::End)]);
    assert_eq!(events[0].1.end_pts, Some(pts(9900)));
    // Without hysteresis the same jitter flaps: the test above could fail.
    let mut e = engine(vec![rule(0.0)]);
    let events = run(&mut e, 0, 10_000, 100, jitter);
    assert_eq!(events.len(), 100, "a start and an end every 200 ms");
}

#[test]
fn min_sec_and_cooldown_delay_starts() {
    let mut e = engine(vec![json!({
        "id": "r", "kind": "intrusion", "zone": "walkway", "min_sec": 1.0, "exit_sec": 0.0, "cooldown_sec": 5.0
    })]);
    // Inside 0–3000, out 3000–4000, back in from 4000 on.
    let path = |t: i64| vec![person(3, 0.5, if (3000..4000).contains(&t) { 0.3 } else { 0.7 })];
    let events = run(&mut e, 0, 12_000, 500, path);
    // Starts 1 s after entry; ends on the first frame out (exit_sec 0); the re-entry at 4000 would start at
    // 5000 (min_sec) but the cooldown runs until 3000 + 5000 = 8000.
    assert_eq!(states(&events), vec![(1000, EventState::Start), (3000, EventState::End), (8000, EventState::Start)]);
}

#[test]
fn a_track_lost_and_refound_continues_its_stay() {
    let mut e = engine(vec![json!({"id": "r", "kind": "loitering", "zone": "walkway", "dwell_sec": 4.0})]);
    // Inside from 0, unseen 1000–2200 (1.2 s < exit_sec 2 s), inside again until 6000, then gone for good.
    let path = |t: i64| if (1000..2200).contains(&t) || t >= 6000 { vec![] } else { vec![person(9, 0.4, 0.8)] };
    let events = run(&mut e, 0, 9000, 200, path);
    // The dwell counts from 0 through the gap: start at 4000; the end comes 2 s after it vanished at 6000, and
    // is stamped with the last frame it was seen (5800).
    assert_eq!(states(&events), vec![(4000, EventState::Start), (8000, EventState::End)]);
    assert_eq!(events[0].1.details["dwell_sec"], 4.0);
    assert_eq!(events[1].1.end_pts, Some(pts(5800)));
    assert!((events[1].1.details["dwell_sec"].as_f64().unwrap() - 5.8).abs() < 1e-9);
    // A longer loss ends the stay: re-found after that, the dwell starts over.
    let mut e = engine(vec![json!({"id": "r", "kind": "loitering", "zone": "walkway", "dwell_sec": 4.0})]);
    let path = |t: i64| if (2000..4600).contains(&t) { vec![] } else { vec![person(9, 0.4, 0.8)] };
    let events = run(&mut e, 0, 9000, 200, path);
    assert_eq!(states(&events), vec![(8600, EventState::Start)], "4 s after being re-found at 4600");
}

#[test]
fn loitering_threshold_is_inclusive_at_low_frame_rates() {
    // 2 fps, entering at 100 ms: ages are 0, 0.5, ... so exactly 10.0 s at 10 100 ms.
    let mut e =
        engine(vec![json!({"id": "r", "kind": "loitering", "zone": "walkway", "dwell_sec": 10.0, "classes": []})]);
    let path = |t: i64| if t < 25_000 { vec![person(4, 0.5, 0.9)] } else { vec![person(4, 0.5, 0.1)] };
    let events = run(&mut e, 100, 30_000, 500, path);
    // start at 10.0 s of dwell, update every further 10 s (20 100), end 2 s after leaving at 25 100.
    assert_eq!(
        states(&events),
        vec![(10_100, EventState::Start), (20_100, EventState::Update), (27_100, EventState::End)]
    );
    assert_eq!(events[0].1.kind, EventKind::Loitering);
    assert_eq!(events[0].1.details["dwell_sec"], 10.0);
    assert_eq!(events[1].1.details["dwell_sec"], 20.0);
    assert_eq!(events[2].1.end_pts, Some(pts(25_100)));
    assert_eq!(events[2].1.details["dwell_sec"], 25.0);
    // One frame short of the threshold: nothing.
    let mut e = engine(vec![json!({"id": "r", "kind": "loitering", "zone": "walkway", "dwell_sec": 10.0})]);
    let events = run(&mut e, 100, 10_100, 500, |_| vec![person(4, 0.5, 0.9)]);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn odd_clock_rates_and_pts_give_exact_thresholds() {
    // A 1 kHz clock starting at an odd offset: dwell from 333 ms to 10 333 ms is exactly 10 s.
    let mut e = engine(vec![json!({"id": "r", "kind": "loitering", "zone": "walkway", "dwell_sec": 10.0})]);
    let labels = labels();
    let o = person(1, 0.5, 0.9);
    let tracks = [Track { id: 1, class_id: PERSON, score: 0.9, bbox: bbox(&o), stationary: false }];
    let mut starts = Vec::new();
    for t in (333..=10_333).step_by(1000) {
        let frame = FrameInput {
            pts: Pts::new(t, 1000),
            wall_ms: crate::time::WallTime::from_unix_ms(t),
            width: W,
            height: H,
            tracks: &tracks,
            labels: &labels,
        };
        starts.extend(e.update(&frame).into_iter().map(|ev| ev.pts.ticks()));
    }
    assert_eq!(starts, vec![10_333]);
}

#[test]
fn occupancy_holds_before_start_and_before_clearing() {
    let mut e =
        engine(vec![json!({"id": "o", "kind": "occupancy", "zone": "walkway", "min_count": 2, "hold_sec": 2.0})]);
    // People inside over time (frames every 500 ms):
    //   0–1000: 1; 1000–1500: 2 (a blip, too short); 1500–2000: 1; 2000–6000: 2; 6000–7000: 3;
    //   7000–8000: 1 (a dip, too short); 8000–9000: 2; 9000 on: 0.
    let count = |t: i64| match t {
        0..1000 => 1,
        1000..1500 => 2,
        1500..2000 => 1,
        2000..6000 => 2,
        6000..7000 => 3,
        7000..8000 => 1,
        8000..9000 => 2,
        _ => 0,
    };
    let path = |t: i64| (0..count(t)).map(|i| person(i, 0.2 + 0.2 * i as f64, 0.8)).collect::<Vec<_>>();
    let events = run(&mut e, 0, 13_000, 500, path);
    // ≥ 2 from 2000: start at 4000; a new max (3) at 6000; the dip at 7000 lasts 1 s < hold; below from 9000,
    // cleared at 11 000.
    assert_eq!(states(&events), vec![(4000, EventState::Start), (6000, EventState::Update), (11_000, EventState::End)]);
    let (start, update, end) = (&events[0].1, &events[1].1, &events[2].1);
    assert_eq!((start.kind, start.track_id, start.bbox), (EventKind::Occupancy, None, None));
    assert_eq!((start.details["count"].as_u64(), start.details["max_count"].as_u64()), (Some(2), Some(2)));
    assert_eq!(update.details["max_count"], 3);
    assert_eq!(end.end_pts, Some(pts(9000)));
    assert_eq!((end.details["count"].as_u64(), end.details["max_count"].as_u64()), (Some(0), Some(3)));
    assert_eq!(end.details["duration_sec"], 7.0, "from 2000 (≥ 2 begins) to 9000 (below begins)");
}

#[test]
fn filters_on_class_confidence_and_anchor() {
    let mut e = engine(vec![
        json!({"id": "people", "kind": "intrusion", "zone": "walkway", "classes": ["person"], "min_confidence": 0.5,
               "min_sec": 0.0}),
        json!({"id": "centre", "kind": "intrusion", "zone": "walkway", "anchor": "center", "min_sec": 0.0}),
    ]);
    let car = Obj { id: 1, class: CAR, score: 0.9, x: 0.5, y: 0.9 };
    let faint = Obj { id: 2, class: PERSON, score: 0.4, x: 0.5, y: 0.9 };
    // Feet at y 0.55 are inside; the box centre, 40 px (0.08) higher, is at 0.47: outside.
    let tall = person(3, 0.3, 0.55);
    let events = step(&mut e, 0, &[car, faint, tall]);
    let got: Vec<(&str, Option<u64>)> = events.iter().map(|e| (e.rule.as_str(), e.track_id)).collect();
    assert_eq!(got, vec![("people", Some(3)), ("centre", Some(1)), ("centre", Some(2))]);
    assert_eq!(events[1].class.as_deref(), Some("car"));
}

#[test]
fn line_crossing_counts_both_ways_once_despite_bouncing() {
    let mut e = engine(vec![json!({"id": "x", "kind": "line_crossing", "line": "door"})]);
    // The door runs top to bottom, so `in` is right → left. Walk from x 0.8 to the line, bounce on it
    // (±0.005, inside the 0.02 band) for a while, finish to x 0.2, then come back to 0.8 the same way.
    let xs = [0.8, 0.6, 0.52, 0.495, 0.505, 0.495, 0.505, 0.49, 0.4, 0.2, 0.4, 0.505, 0.495, 0.505, 0.6, 0.8];
    let mut events = Vec::new();
    for (i, x) in xs.iter().enumerate() {
        events.extend(step(&mut e, i as i64 * 200, &[person(5, *x, 0.7)]));
    }
    let got: Vec<(i64, &str, u64, u64)> = events
        .iter()
        .map(|e| {
            let d = &e.details;
            (
                e.pts.ticks() / 90,
                d["direction"].as_str().unwrap(),
                d["in_count"].as_u64().unwrap(),
                d["out_count"].as_u64().unwrap(),
            )
        })
        .collect();
    // Committed right at 0.8; the first point ≥ 0.02 left of the line is 0.4 (frame 8); back right at 0.6.
    assert_eq!(got, vec![(1600, "in", 1, 0), (2800, "out", 1, 1)]);
    let first = &events[0];
    assert_eq!((first.kind, first.state, first.end_pts), (EventKind::LineCrossing, EventState::Start, Some(first.pts)));
    assert_eq!((first.track_id, first.details["line"].as_str()), (Some(5), Some("door")));
    // Wobbling across without ever getting 0.02 away on the far side counts nothing.
    let mut e = engine(vec![json!({"id": "x", "kind": "line_crossing", "line": "door"})]);
    let events = run(&mut e, 0, 5000, 100, |t| vec![person(6, if (t / 100) % 2 == 0 { 0.51 } else { 0.49 }, 0.5)]);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn line_crossing_at_low_rate_through_a_gap_and_around_the_end() {
    let mut e = engine(vec![json!({"id": "s", "kind": "line_crossing", "line": "short", "min_distance": 0.05})]);
    // Track 1 at 1 fps jumps across in one step; track 2 is lost on the right and re-found on the left;
    // track 3 passes below the segment's end (y 0.9 > 0.6), so it crosses only the line's extension.
    let mut got = Vec::new();
    let frames: [(i64, Vec<Obj>); 4] = [
        (0, vec![person(1, 0.9, 0.5), person(2, 0.7, 0.45), person(3, 0.9, 0.9)]),
        (1000, vec![person(1, 0.1, 0.5), person(3, 0.1, 0.9)]),
        (2000, vec![person(3, 0.1, 0.9)]),
        (3000, vec![person(2, 0.3, 0.55)]),
    ];
    for (t, objs) in frames {
        got.extend(
            step(&mut e, t, &objs).into_iter().map(|ev| (t, ev.track_id.unwrap(), ev.details["direction"].clone())),
        );
    }
    assert_eq!(got, vec![(1000, 1, json!("in")), (3000, 2, json!("in"))]);
}

#[test]
fn line_crossing_cooldown_suppresses_events_not_counts() {
    let mut e = engine(vec![json!({"id": "x", "kind": "line_crossing", "line": "door", "cooldown_sec": 3.0})]);
    // Back and forth every second: right, left, right, left, right (4 crossings in 4 s).
    let events = run(&mut e, 0, 5000, 1000, |t| vec![person(8, if (t / 1000) % 2 == 0 { 0.7 } else { 0.3 }, 0.5)]);
    let got: Vec<(i64, u64, u64)> = events
        .iter()
        .map(|(t, e)| (*t, e.details["in_count"].as_u64().unwrap(), e.details["out_count"].as_u64().unwrap()))
        .collect();
    // Events at 1000 (in) and 4000 (out, 3 s later); the crossings at 2000 and 3000 are counted silently.
    assert_eq!(got, vec![(1000, 1, 0), (4000, 2, 2)]);
}

#[test]
fn stream_time_going_back_ends_open_events_on_the_last_frame() {
    let mut e = engine(vec![
        json!({"id": "i", "kind": "intrusion", "zone": "walkway", "min_sec": 0.0}),
        json!({"id": "o", "kind": "occupancy", "zone": "walkway", "min_count": 1, "hold_sec": 0.0}),
    ]);
    let events = run(&mut e, 0, 1000, 200, |_| vec![person(1, 0.5, 0.8)]);
    assert_eq!(events.len(), 2, "both start at 0: {events:?}");
    // The file loops: PTS back to 0; the tracker gives the object a new id.
    let events = step(&mut e, 0, &[person(2, 0.5, 0.8)]);
    let got: Vec<(&str, EventState, Pts, Option<Pts>)> =
        events.iter().map(|e| (e.rule.as_str(), e.state, e.pts, e.end_pts)).collect();
    assert_eq!(
        got,
        vec![
            ("i", EventState::End, pts(800), Some(pts(800))),
            ("o", EventState::End, pts(800), Some(pts(800))),
            ("i", EventState::Start, pts(0), None),
            ("o", EventState::Start, pts(0), None),
        ]
    );
    assert_eq!(events[0].details["reason"], "stream_restarted");
    // Stopping ends what is open on the last frame seen; a second finish has nothing left to end.
    let events = step(&mut e, 600, &[person(2, 0.5, 0.8)]);
    assert!(events.is_empty());
    let ended = e.finish("camera_stopped");
    let got: Vec<(&str, Pts)> = ended.iter().map(|e| (e.rule.as_str(), e.pts)).collect();
    assert_eq!(got, vec![("i", pts(600)), ("o", pts(600))]);
    assert!(ended.iter().all(|e| e.state == EventState::End && e.details["reason"] == "camera_stopped"));
    assert!(e.finish("camera_stopped").is_empty());
}

#[test]
fn replacing_the_config_keeps_unchanged_rules_and_ends_changed_ones() {
    let intrusion = json!({"id": "i", "kind": "intrusion", "zone": "walkway", "min_sec": 0.0});
    let loiter = json!({"id": "l", "kind": "loitering", "zone": "walkway", "dwell_sec": 1.0});
    let mut e = engine(vec![intrusion.clone(), loiter]);
    let events = run(&mut e, 0, 1200, 200, |_| vec![person(1, 0.5, 0.8)]);
    assert_eq!(events.iter().map(|(t, e)| (*t, e.rule.as_str())).collect::<Vec<_>>(), vec![(0, "i"), (1000, "l")]);
    // New config: `i` unchanged, `l` with another dwell, and a broken rule.
    let new = shapes(vec![
        intrusion,
        json!({"id": "l", "kind": "loitering", "zone": "walkway", "dwell_sec": 5.0}),
        json!({"id": "bad", "kind": "teleport", "zone": "walkway"}),
    ]);
    let (disabled, ended) = e.replace_config(&new);
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].rule, "bad");
    assert!(disabled[0].reason.contains("unknown kind `teleport`"));
    assert_eq!(ended.len(), 1);
    assert_eq!((ended[0].rule.as_str(), ended[0].state, ended[0].pts), ("l", EventState::End, pts(1000)));
    assert_eq!(ended[0].details["reason"], "rule_changed");
    // `i` stays started (no new start); the new `l` counts its dwell from now.
    let events = run(&mut e, 1200, 6400, 200, |_| vec![person(1, 0.5, 0.8)]);
    assert_eq!(events.iter().map(|(t, e)| (*t, e.rule.as_str())).collect::<Vec<_>>(), vec![(6200, "l")]);
    let status = e.status();
    assert_eq!(status.active, vec!["i", "l"]);
    assert_eq!(status.disabled, disabled);
}

#[test]
fn a_bad_rule_leaves_the_rest_of_the_camera_running() {
    let mut config = shapes(vec![
        json!({"id": "bad", "kind": "intrusion", "zone": "bow"}),
        json!({"id": "good", "kind": "intrusion", "zone": "walkway", "min_sec": 0.0}),
    ]);
    config.zones.push(ZoneConfig { id: "bow".into(), polygon: vec![[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9]] });
    let (mut e, disabled) = RuleEngine::new("gate", &config, labels());
    assert_eq!(disabled.len(), 1);
    assert!(disabled[0].reason.starts_with("camera `gate`, zone `bow`: the polygon crosses itself"), "{disabled:?}");
    let events = step(&mut e, 0, &[person(1, 0.5, 0.8)]);
    assert_eq!(events.iter().map(|e| e.rule.as_str()).collect::<Vec<_>>(), vec!["good"]);
}

/// A person walking right along the walkway at 5 fps (x 0.2 → 0.2 + 0.01 per frame, 50 px/s with an 80 px box)
/// under track 1 until 3000 ms, unseen 3000–3600, then under track 2 where the walk led, until `until_ms`.
fn fragmenting_walk(until_ms: i64) -> impl Fn(i64) -> Vec<Obj> {
    move |t| {
        let x = 0.2 + 0.01 * (t / 200) as f64;
        match t {
            0..3000 => vec![person(1, x, 0.8)],
            3000..3600 => vec![],
            t if t < until_ms => vec![person(2, x, 0.8)],
            _ => vec![],
        }
    }
}

#[test]
fn a_fragmenting_person_gives_one_start_and_one_end_spanning_both_ids() {
    let mut e = engine(vec![json!({"id": "r", "kind": "intrusion", "zone": "walkway"})]);
    let events = run(&mut e, 0, 12_000, 200, fragmenting_walk(8000));
    // min_sec 1 s: start at 1000; track 2 continues the event; last seen 7800, so the end waits for
    // exit_sec (from 8000) and grace_sec (from 7800): 10 000, stamped 7800.
    assert_eq!(states(&events), vec![(1000, EventState::Start), (10_000, EventState::End)]);
    let (start, end) = (&events[0].1, &events[1].1);
    assert_eq!((start.track_id, start.details["track_ids"].clone()), (Some(1), json!([1])));
    assert_eq!((end.track_id, end.details["track_ids"].clone()), (Some(1), json!([1, 2])));
    assert_eq!(end.end_pts, Some(pts(7800)));
    assert_eq!(end.bbox, Some(bbox(&person(2, 0.2 + 0.01 * 39.0, 0.8))), "the successor's last box");
    assert!((end.details["duration_sec"].as_f64().unwrap() - 7.8).abs() < 1e-9, "{}", end.details);
    assert_eq!(end.details["reason"], "left");
    // Without continuity (grace_sec 0) the same walk is two intrusions.
    let mut e = engine(vec![json!({"id": "r", "kind": "intrusion", "zone": "walkway", "grace_sec": 0.0})]);
    let events = run(&mut e, 0, 12_000, 200, fragmenting_walk(8000));
    let starts: Vec<Option<u64>> =
        events.iter().filter(|(_, e)| e.state == EventState::Start).map(|(_, e)| e.track_id).collect();
    assert_eq!(starts, vec![Some(1), Some(2)]);
}

#[test]
fn a_successor_found_before_the_start_carries_its_first_track() {
    // The fragment comes before min_sec is reached: the start names track 1 and lists both.
    let mut e = engine(vec![json!({"id": "r", "kind": "intrusion", "zone": "walkway", "min_sec": 3.2})]);
    let events = run(&mut e, 0, 4000, 200, fragmenting_walk(8000));
    assert_eq!(states(&events), vec![(3600, EventState::Start)], "3.6 s after entry, on track 2's first frame");
    assert_eq!((events[0].1.track_id, events[0].1.details["track_ids"].clone()), (Some(1), json!([1, 2])));
    assert!((events[0].1.details.as_object().unwrap().len()) == 2, "{}", events[0].1.details);
}

#[test]
fn two_people_far_apart_give_two_events() {
    let mut e = engine(vec![json!({"id": "r", "kind": "intrusion", "zone": "walkway"})]);
    // Person 1 stands at x 0.2 until 2000 ms and vanishes; person 2 appears at x 0.8 from 2400 ms on.
    let events = run(&mut e, 0, 6000, 200, |t| match t {
        0..2000 => vec![person(1, 0.2, 0.8)],
        2000..2400 => vec![],
        _ => vec![person(2, 0.8, 0.8)],
    });
    let got: Vec<(i64, EventState, Option<u64>)> = events.iter().map(|(t, e)| (*t, e.state, e.track_id)).collect();
    assert_eq!(
        got,
        vec![(1000, EventState::Start, Some(1)), (3400, EventState::Start, Some(2)), (4000, EventState::End, Some(1))]
    );
    assert_eq!(events[2].1.end_pts, Some(pts(1800)));
    assert_eq!(events[2].1.details["track_ids"], json!([1]));
}

#[test]
fn min_sec_suppresses_a_short_pass_through() {
    // Inside for 0.5 s (0–400 ms at 10 fps... 5 frames), then out of the zone and walking away.
    let pass = |t: i64| vec![person(4, 0.5, if t < 500 { 0.55 } else { 0.45 })];
    let mut e = engine(vec![json!({"id": "r", "kind": "intrusion", "zone": "walkway"})]);
    let events = run(&mut e, 0, 5000, 100, pass);
    assert!(events.is_empty(), "{events:?}");
    // With min_sec 0 the same pass is an intrusion (so the check above can fail).
    let mut e = engine(vec![json!({"id": "r", "kind": "intrusion", "zone": "walkway", "min_sec": 0.0})]);
    let events = run(&mut e, 0, 5000, 100, pass);
    assert_eq!(states(&events), vec![(0, EventState::Start), (2500, EventState::End)]);
    assert_eq!(events[1].1.end_pts, Some(pts(500)), "seen leaving: the first frame outside");
}

#[test]
fn loitering_fires_across_a_fragment_counting_from_the_first_entry() {
    let mut e = engine(vec![json!({"id": "l", "kind": "loitering", "zone": "walkway", "dwell_sec": 5.0})]);
    let events = run(&mut e, 0, 12_000, 200, fragmenting_walk(8000));
    assert_eq!(states(&events), vec![(5000, EventState::Start), (10_000, EventState::End)]);
    let (start, end) = (&events[0].1, &events[1].1);
    assert_eq!((start.track_id, start.details["dwell_sec"].as_f64()), (Some(1), Some(5.0)));
    assert_eq!(start.details["track_ids"], json!([1, 2]));
    assert!((end.details["dwell_sec"].as_f64().unwrap() - 7.8).abs() < 1e-9, "{}", end.details);
    // Without continuity neither fragment stays 5 s.
    let mut e =
        engine(vec![json!({"id": "l", "kind": "loitering", "zone": "walkway", "dwell_sec": 5.0, "grace_sec": 0.0})]);
    assert!(run(&mut e, 0, 12_000, 200, fragmenting_walk(8000)).is_empty());
}

#[test]
fn a_lost_object_ends_after_the_grace_period_stamped_where_it_was_last_seen() {
    let mut e = engine(vec![json!({
        "id": "r", "kind": "intrusion", "zone": "walkway", "min_sec": 0.0, "exit_sec": 0.0, "grace_sec": 3.0
    })]);
    let events = run(&mut e, 0, 8000, 200, |t| if t < 2000 { vec![person(3, 0.5, 0.8)] } else { vec![] });
    // Last seen at 1800; no successor; the end waits 3 s: 4800.
    assert_eq!(states(&events), vec![(0, EventState::Start), (4800, EventState::End)]);
    assert_eq!((events[1].1.pts, events[1].1.end_pts), (pts(4800), Some(pts(1800))));
    assert!((events[1].1.details["duration_sec"].as_f64().unwrap() - 1.8).abs() < 1e-9);
    // A successor after the grace period is a new object.
    let mut e = engine(vec![json!({"id": "r", "kind": "intrusion", "zone": "walkway", "min_sec": 0.0})]);
    let events = run(&mut e, 0, 5000, 200, |t| match t {
        0..2000 => vec![person(3, 0.5, 0.8)],
        2000..4000 => vec![],
        _ => vec![person(4, 0.5, 0.8)],
    });
    let got: Vec<(i64, EventState, Option<u64>)> = events.iter().map(|(t, e)| (*t, e.state, e.track_id)).collect();
    assert_eq!(
        got,
        vec![(0, EventState::Start, Some(3)), (4000, EventState::End, Some(3)), (4000, EventState::Start, Some(4))]
    );
}

#[test]
fn a_stationary_object_stays_present() {
    // A person standing still: detected on the first frame, then held by the tracker as stationary (detection
    // did not run where they stand): one loitering event, updated, never ended; the dwell counts on.
    let mut e = engine(vec![json!({"id": "l", "kind": "loitering", "zone": "walkway", "dwell_sec": 10.0})]);
    let labels = labels();
    let o = person(5, 0.3, 0.7);
    let mut got = Vec::new();
    for t in (0..35_000).step_by(1000) {
        let tracks = [Track { id: 5, class_id: PERSON, score: 0.9, bbox: bbox(&o), stationary: t > 0 }];
        let frame = FrameInput {
            pts: pts(t),
            wall_ms: crate::time::WallTime::from_unix_ms(t),
            width: W,
            height: H,
            tracks: &tracks,
            labels: &labels,
        };
        got.extend(e.update(&frame).into_iter().map(|ev| (t, ev.state)));
    }
    assert_eq!(got, vec![(10_000, EventState::Start), (20_000, EventState::Update), (30_000, EventState::Update)]);
}

#[test]
fn line_crossing_follows_a_fragment_across_the_line_once() {
    let rule = |grace: f64| json!({"id": "x", "kind": "line_crossing", "line": "door", "grace_sec": grace});
    // Walks left along y 0.7 at 5 fps, 0.02 per frame, from x 0.7; track 1 is lost at x 0.54 (t 1600), and
    // track 2 appears at x 0.44 (t 2600) on the far side and walks on to 0.2. Then track 2 fragments again
    // (lost after x 0.3) and track 3 goes on: no second crossing.
    let walk = |t: i64| {
        let x = 0.7 - 0.02 * (t / 200) as f64;
        match t {
            0..1800 => vec![person(1, x, 0.7)],
            1800..2600 => vec![],
            2600..4200 => vec![person(2, x, 0.7)],
            4200..4600 => vec![],
            _ => vec![person(3, x, 0.7)],
        }
    };
    let mut e = engine(vec![rule(2.0)]);
    let events = run(&mut e, 0, 5400, 200, walk);
    assert_eq!(events.len(), 1, "{events:?}");
    let ev = &events[0].1;
    assert_eq!((events[0].0, ev.details["direction"].as_str(), ev.track_id), (2600, Some("in"), Some(1)));
    assert_eq!(ev.details["track_ids"], json!([1, 2]));
    // Without continuity, track 2 starts a fresh path on the far side: the crossing is lost.
    let mut e = engine(vec![rule(0.0)]);
    assert!(run(&mut e, 0, 5400, 200, walk).is_empty());
}

#[test]
fn a_negative_min_sec_disables_the_rule_naming_the_field() {
    let (_, disabled) = RuleEngine::new(
        "gate",
        &shapes(vec![json!({"id": "r", "kind": "intrusion", "zone": "walkway", "min_sec": -1.0})]),
        labels(),
    );
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].reason, "camera `gate`, rule `r`: `min_sec` = -1 must be a number of seconds ≥ 0");
}

/// Stands in for the event store: keeps what it is sent.
#[derive(Default)]
struct Store(Vec<NewEvent>);
impl Actor for Store {
    type Context = Context<Self>;
}
impl Handler<NewEvent> for Store {
    type Result = ();
    fn handle(&mut self, msg: NewEvent, _ctx: &mut Context<Self>) {
        self.0.push(msg);
    }
}
#[derive(Message)]
#[rtype(result = "Vec<NewEvent>")]
struct Take;
impl Handler<Take> for Store {
    type Result = actix::MessageResult<Take>;
    fn handle(&mut self, _msg: Take, _ctx: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(std::mem::take(&mut self.0))
    }
}

fn tracked(t_ms: i64, objs: &[Obj], input: Option<Arc<ModelInput>>) -> TrackedFrame {
    let meta = FrameMeta {
        camera: "gate".parse().unwrap(),
        seq: t_ms as u64,
        pts: pts(t_ms),
        wall_ms: crate::time::WallTime::from_unix_ms(t_ms),
        width: W,
        height: H,
        decoded_at: Instant::now(),
    };
    let tracks = objs
        .iter()
        .map(|o| Track { id: o.id, class_id: o.class, score: o.score, bbox: bbox(o), stationary: false })
        .collect();
    TrackedFrame { meta, tracks, coverage: Default::default(), labels: labels(), input, full: None }
}

#[test]
fn actor_sends_events_with_the_picture_and_takes_updates() {
    actix::System::new().block_on(async {
        let store = Store::default().start();
        let config =
            shapes(vec![json!({"id": "i", "kind": "intrusion", "zone": "walkway", "exit_sec": 0.0, "min_sec": 0.0})]);
        let rules = RuleActor::new("gate".parse().unwrap(), &config, labels(), store.clone().recipient()).start();
        let picture = Arc::new(ModelInput {
            letterbox: crate::geometry::Letterbox::new(W, H, 64, 64),
            chw: vec![0.5; 3 * 64 * 64],
        });
        rules.send(tracked(0, &[person(1, 0.5, 0.2)], Some(picture.clone()))).await.unwrap();
        rules.send(tracked(200, &[person(1, 0.5, 0.8)], Some(picture.clone()))).await.unwrap();
        let status = rules.send(GetRuleStatus).await.unwrap();
        assert_eq!((status.camera.as_str(), status.active.clone()), ("gate", vec!["i".to_string()]));
        // Replace: `i` goes (its open event ends), a rule on a missing zone is reported.
        let disabled = rules
            .send(UpdateRules(shapes(vec![json!({"id": "z", "kind": "intrusion", "zone": "nowhere"})])))
            .await
            .unwrap();
        assert_eq!(disabled.len(), 1);
        assert!(disabled[0].reason.contains("zone `nowhere` is not defined"), "{disabled:?}");
        let status = rules.send(GetRuleStatus).await.unwrap();
        assert!(status.active.is_empty() && status.disabled == disabled);
        let sent = store.send(Take).await.unwrap();
        assert_eq!(sent.len(), 2);
        assert_eq!((sent[0].event.state, sent[0].event.pts), (EventState::Start, pts(200)));
        assert!(sent[0].picture.as_ref().is_some_and(|p| Arc::ptr_eq(p, &picture)));
        assert_eq!((sent[1].event.state, sent[1].event.rule.as_str()), (EventState::End, "i"));
        assert!(sent[1].picture.is_none());
        // When the camera goes (the last address dropped), the actor ends what is still open.
        let z = shapes(vec![json!({"id": "z", "kind": "intrusion", "zone": "walkway", "min_sec": 0.0})]);
        rules.send(UpdateRules(z)).await.unwrap();
        rules.send(tracked(400, &[person(1, 0.5, 0.8)], None)).await.unwrap();
        drop(rules);
        let mut sent = Vec::new();
        for _ in 0..1000 {
            sent.extend(store.send(Take).await.unwrap());
            if sent.len() >= 2 {
                break;
            }
            tokio::task::yield_now().await;
        }
        let got: Vec<(EventState, &str)> = sent.iter().map(|n| (n.event.state, n.event.rule.as_str())).collect();
        assert_eq!(got, vec![(EventState::Start, "z"), (EventState::End, "z")]);
        assert_eq!(sent[1].event.details["reason"], "camera_stopped");
    });
}

#[test]
fn live_state_reports_each_zone_rules_count_and_whether_it_is_active() {
    let mut e = engine(vec![
        json!({"id": "o", "kind": "occupancy", "zone": "walkway", "min_count": 2, "hold_sec": 0.0, "classes": ["person"]}),
        json!({"id": "i", "kind": "intrusion", "zone": "walkway", "min_sec": 0.0}),
        json!({"id": "x", "kind": "line_crossing", "line": "door"}),
    ]);
    assert_eq!(
        e.live(),
        LiveState {
            objects: 0,
            zones: vec![
                ZoneState {
                    rule: "o".into(),
                    zone: "walkway".into(),
                    kind: "occupancy".into(),
                    classes: vec!["person".into()],
                    count: 0,
                    active: false
                },
                ZoneState {
                    rule: "i".into(),
                    zone: "walkway".into(),
                    kind: "intrusion".into(),
                    classes: vec![],
                    count: 0,
                    active: false
                },
            ],
        },
        "line rules have no zone state"
    );
    // One person inside, one outside (above the walkway): count 1, not occupied (min_count 2).
    step(&mut e, 0, &[person(1, 0.5, 0.8), person(2, 0.5, 0.2)]);
    let live = e.live();
    assert_eq!(live.objects, 2);
    assert_eq!((live.zones[0].count, live.zones[0].active), (1, false));
    assert_eq!((live.zones[1].count, live.zones[1].active), (1, true), "intrusion with min_sec 0 starts at once");
    // Both inside: occupied.
    step(&mut e, 100, &[person(1, 0.5, 0.8), person(2, 0.6, 0.8)]);
    let live = e.live();
    assert_eq!((live.zones[0].count, live.zones[0].active), (2, true));
    assert_eq!(live.zones[1].count, 2);
}
