//! Turns a camera's `zones`, `lines` and `rules` configuration into checked, ready-to-run rule specifications.
//!
//! Every check that concerns one rule happens here, so that a bad rule is disabled on its own with a reason
//! (an unknown kind, a missing or invalid zone, a field that does not belong to the kind, a class the model does
//! not know), and the camera and its other rules keep running.

use crate::config::{CameraConfig, LineConfig, RuleConfig, ZoneConfig};
use crate::geometry::plane::{Point, Polygon, PolygonDefect};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// `intrusion` / `loitering` `exit_sec` default, seconds: longer than the tracker's default `lost_buffer_sec`
/// (1.5 s), so a track lost and re-found by the tracker keeps its event.
pub const DEFAULT_EXIT_SEC: f64 = 2.0;
/// `intrusion` `min_sec` default, seconds: someone cutting across a corner of the zone raises nothing.
pub const DEFAULT_MIN_SEC: f64 = 1.0;
/// `intrusion` / `loitering` / `line_crossing` `grace_sec` default, seconds: how long a lost object's event waits
/// for a successor track.
pub const DEFAULT_GRACE_SEC: f64 = 2.0;
/// `occupancy` `hold_sec` default, seconds.
pub const DEFAULT_HOLD_SEC: f64 = 2.0;
/// `line_crossing` `min_distance` default, normalised units.
pub const DEFAULT_MIN_DISTANCE: f64 = 0.02;

/// A camera's zones, lines and rules: what [`super::RuleEngine`] runs and [`super::UpdateRules`] replaces.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct RulesConfig {
    #[serde(default)]
    pub zones: Vec<ZoneConfig>,
    #[serde(default)]
    pub lines: Vec<LineConfig>,
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

impl RulesConfig {
    pub fn of_camera(camera: &CameraConfig) -> Self {
        Self { zones: camera.zones.clone(), lines: camera.lines.clone(), rules: camera.rules.clone() }
    }
}

/// A rule that does not run, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DisabledRule {
    pub rule: String,
    pub reason: String,
}

/// A zone or line whose geometry cannot be used, naming the camera, the shape and the point.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ShapeError {
    #[error(
        "camera `{camera}`, zone `{zone}`: the polygon has {count} points; give at least 3 [x, y] points in order along the outline"
    )]
    TooFewPoints { camera: String, zone: String, count: usize },
    #[error(
        "camera `{camera}`, {shape}: point {index} {point} is outside the picture; coordinates are fractions of the width and height, in [0, 1]"
    )]
    OutOfRange { camera: String, shape: String, index: usize, point: String },
    #[error("camera `{camera}`, zone `{zone}`: point {index} {point} repeats the next point; remove one of them")]
    RepeatedPoint { camera: String, zone: String, index: usize, point: String },
    #[error(
        "camera `{camera}`, zone `{zone}`: the polygon crosses itself: the edge {first} crosses the edge {second}; list the points in order along the outline"
    )]
    SelfIntersecting { camera: String, zone: String, first: String, second: String },
    #[error(
        "camera `{camera}`, zone `{zone}`: the outline runs back over itself at point {index} {point}; remove that point"
    )]
    FoldsBack { camera: String, zone: String, index: usize, point: String },
    #[error("camera `{camera}`, zone `{zone}`: all points lie on one line, so the zone has no area")]
    ZeroArea { camera: String, zone: String },
    #[error("camera `{camera}`, line `{line}`: give exactly 2 points [[ax, ay], [bx, by]], not {count}")]
    LinePointCount { camera: String, line: String, count: usize },
    #[error("camera `{camera}`, line `{line}`: its two points are the same; give a segment of some length")]
    LineZeroLength { camera: String, line: String },
}

/// Why a rule cannot run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error(
        "camera `{camera}`, rule `{rule}`: unknown kind `{kind}`; use intrusion, loitering, occupancy or line_crossing"
    )]
    UnknownKind { camera: String, rule: String, kind: String },
    #[error("camera `{camera}`, rule `{rule}`: kind `{kind}` needs `{field}`{hint}")]
    MissingField { camera: String, rule: String, kind: &'static str, field: &'static str, hint: &'static str },
    #[error("camera `{camera}`, rule `{rule}`: `{field}` does not apply to kind `{kind}`; remove it")]
    FieldNotForKind { camera: String, rule: String, kind: &'static str, field: &'static str },
    #[error("camera `{camera}`, rule `{rule}`: `{field}` = {value} {reason}")]
    BadValue { camera: String, rule: String, field: &'static str, value: String, reason: &'static str },
    #[error("camera `{camera}`, rule `{rule}`: {what} `{id}` is not defined; defined: {known}")]
    NoSuchShape { camera: String, rule: String, what: &'static str, id: String, known: String },
    #[error("camera `{camera}`, rule `{rule}`: {what} `{id}` is defined more than once; give each a unique id")]
    AmbiguousShape { camera: String, rule: String, what: &'static str, id: String },
    #[error("{source} (needed by rule `{rule}`)")]
    BadShape { rule: String, source: Box<ShapeError> },
    #[error("camera `{camera}`, rule `{rule}`: the model has no class `{class}`; known classes: {known}")]
    UnknownClass { camera: String, rule: String, class: String, known: String },
    #[error("camera `{camera}`, rule `{rule}`: another rule has the same id; give each rule a unique id")]
    DuplicateRule { camera: String, rule: String },
}

/// The point of a box tested against zones and lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// Middle of the bottom edge: where a person or vehicle touches the ground.
    BottomCenter,
    Center,
}

/// What a rule does, with its settings resolved (defaults applied).
#[derive(Clone, Debug, PartialEq)]
pub enum RuleKind {
    Intrusion { min_sec: f64, exit_sec: f64 },
    Loitering { dwell_sec: f64, exit_sec: f64 },
    Occupancy { min_count: u32, hold_sec: f64 },
    LineCrossing { min_distance: f64 },
}

/// Where a rule looks.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Zone { id: String, polygon: Polygon },
    Line { id: String, a: Point, b: Point },
}

/// A checked rule, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSpec {
    pub id: String,
    pub kind: RuleKind,
    pub target: Target,
    /// Watched class ids; `None`: every class.
    pub classes: Option<HashSet<u32>>,
    pub min_confidence: f32,
    pub anchor: Anchor,
    pub cooldown_sec: f64,
    /// How long a lost object waits for a successor track (intrusion, loitering, line crossing; 0 otherwise).
    pub grace_sec: f64,
}

/// Check one zone's polygon.
pub fn compile_zone(camera: &str, zone: &ZoneConfig) -> Result<Polygon, ShapeError> {
    let (camera, id) = (camera.to_string(), zone.id.clone());
    check_range(&camera, &format!("zone `{id}`"), &zone.polygon)?;
    let pts: Vec<Point> = zone.polygon.iter().copied().map(Point::from).collect();
    let show = |i: usize| fmt_point(zone.polygon[i % zone.polygon.len()]);
    let n = zone.polygon.len();
    Polygon::new(pts).map_err(|defect| match defect {
        PolygonDefect::TooFewPoints(count) => ShapeError::TooFewPoints { camera, zone: id, count },
        PolygonDefect::RepeatedPoint(index) => {
            ShapeError::RepeatedPoint { camera, zone: id, index, point: show(index) }
        }
        PolygonDefect::Crossing(a, b) => {
            let edge = |i: usize| format!("from point {i} {} to point {}", show(i), (i + 1) % n);
            ShapeError::SelfIntersecting { camera, zone: id, first: edge(a), second: edge(b) }
        }
        PolygonDefect::FoldsBack(index) => ShapeError::FoldsBack { camera, zone: id, index, point: show(index) },
        PolygonDefect::ZeroArea => ShapeError::ZeroArea { camera, zone: id },
    })
}

/// Check one line's segment; returns its ends `a`, `b`.
pub fn compile_line(camera: &str, line: &LineConfig) -> Result<(Point, Point), ShapeError> {
    let (camera, id) = (camera.to_string(), line.id.clone());
    if line.points.len() != 2 {
        return Err(ShapeError::LinePointCount { camera, line: id, count: line.points.len() });
    }
    check_range(&camera, &format!("line `{id}`"), &line.points)?;
    let (a, b) = (Point::from(line.points[0]), Point::from(line.points[1]));
    if (b.x - a.x).hypot(b.y - a.y) <= crate::geometry::plane::EPS {
        return Err(ShapeError::LineZeroLength { camera, line: id });
    }
    Ok((a, b))
}

fn check_range(camera: &str, shape: &str, pts: &[[f64; 2]]) -> Result<(), ShapeError> {
    for (index, p) in pts.iter().enumerate() {
        if !p.iter().all(|c| (0.0..=1.0).contains(c)) {
            return Err(ShapeError::OutOfRange {
                camera: camera.to_string(),
                shape: shape.to_string(),
                index,
                point: fmt_point(*p),
            });
        }
    }
    Ok(())
}

fn fmt_point([x, y]: [f64; 2]) -> String {
    format!("[{x}, {y}]")
}

/// Check every rule of a camera against its zones, lines and the model's labels.
///
/// Returns the rules that run, in config order, and those that do not with the reason (rules with
/// `enabled = false` included). Never fails as a whole.
pub fn compile(camera: &str, config: &RulesConfig, labels: &[String]) -> (Vec<RuleSpec>, Vec<DisabledRule>) {
    let zones = by_id(config.zones.iter().map(|z| (z.id.as_str(), z)));
    let lines = by_id(config.lines.iter().map(|l| (l.id.as_str(), l)));
    let mut rule_ids: HashMap<&str, usize> = HashMap::new();
    for r in &config.rules {
        *rule_ids.entry(r.id.as_str()).or_default() += 1;
    }
    let mut specs = Vec::new();
    let mut disabled = Vec::new();
    for rule in &config.rules {
        if !rule.enabled {
            disabled.push(DisabledRule {
                rule: rule.id.clone(),
                reason: "disabled in the config (enabled = false)".into(),
            });
            continue;
        }
        let result = if rule_ids[rule.id.as_str()] > 1 {
            Err(RuleError::DuplicateRule { camera: camera.into(), rule: rule.id.clone() })
        } else {
            compile_rule(camera, rule, &zones, &lines, labels)
        };
        match result {
            Ok(spec) => specs.push(spec),
            Err(e) => disabled.push(DisabledRule { rule: rule.id.clone(), reason: e.to_string() }),
        }
    }
    (specs, disabled)
}

fn by_id<'a, T>(items: impl Iterator<Item = (&'a str, &'a T)>) -> HashMap<&'a str, Vec<&'a T>> {
    let mut map: HashMap<&str, Vec<&T>> = HashMap::new();
    for (id, item) in items {
        map.entry(id).or_default().push(item);
    }
    map
}

/// The fields each kind accepts beyond the common ones (`zone`/`line`, `classes`, `min_confidence`, `anchor`,
/// `cooldown_sec`, `enabled`).
fn kind_fields(kind: &str) -> Option<(&'static str, &'static [&'static str])> {
    Some(match kind {
        "intrusion" => ("intrusion", &["min_sec", "exit_sec", "grace_sec"]),
        "loitering" => ("loitering", &["dwell_sec", "exit_sec", "grace_sec"]),
        "occupancy" => ("occupancy", &["min_count", "hold_sec"]),
        "line_crossing" => ("line_crossing", &["min_distance", "grace_sec"]),
        _ => return None,
    })
}

fn compile_rule(
    camera: &str,
    rule: &RuleConfig,
    zones: &HashMap<&str, Vec<&ZoneConfig>>,
    lines: &HashMap<&str, Vec<&LineConfig>>,
    labels: &[String],
) -> Result<RuleSpec, RuleError> {
    let (cam, id) = (camera.to_string(), rule.id.clone());
    let Some((kind, allowed)) = kind_fields(&rule.kind) else {
        return Err(RuleError::UnknownKind { camera: cam, rule: id, kind: rule.kind.clone() });
    };
    let optional = [
        ("min_sec", rule.min_sec.is_some()),
        ("grace_sec", rule.grace_sec.is_some()),
        ("exit_sec", rule.exit_sec.is_some()),
        ("dwell_sec", rule.dwell_sec.is_some()),
        ("min_count", rule.min_count.is_some()),
        ("hold_sec", rule.hold_sec.is_some()),
        ("min_distance", rule.min_distance.is_some()),
    ];
    for (field, given) in optional {
        if given && !allowed.contains(&field) {
            return Err(RuleError::FieldNotForKind { camera: cam, rule: id, kind, field });
        }
    }
    let missing = |field, hint| RuleError::MissingField { camera: cam.clone(), rule: id.clone(), kind, field, hint };
    let bad = |field, value: String, reason| RuleError::BadValue {
        camera: cam.clone(),
        rule: id.clone(),
        field,
        value,
        reason,
    };
    let seconds = |field: &'static str, v: Option<f64>, default: f64| -> Result<f64, RuleError> {
        let v = v.unwrap_or(default);
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(bad(field, v.to_string(), "must be a number of seconds ≥ 0"))
        }
    };

    let target = if kind == "line_crossing" {
        if rule.zone.is_some() {
            return Err(RuleError::FieldNotForKind { camera: cam, rule: id, kind, field: "zone" });
        }
        let Some(line_id) = &rule.line else { return Err(missing("line", " (the id of a [[cameras.lines]] entry)")) };
        let line = find(camera, &id, "line", line_id, lines)?;
        let (a, b) =
            compile_line(camera, line).map_err(|e| RuleError::BadShape { rule: id.clone(), source: Box::new(e) })?;
        Target::Line { id: line_id.clone(), a, b }
    } else {
        if rule.line.is_some() {
            return Err(RuleError::FieldNotForKind { camera: cam, rule: id, kind, field: "line" });
        }
        let Some(zone_id) = &rule.zone else { return Err(missing("zone", " (the id of a [[cameras.zones]] entry)")) };
        let zone = find(camera, &id, "zone", zone_id, zones)?;
        let polygon =
            compile_zone(camera, zone).map_err(|e| RuleError::BadShape { rule: id.clone(), source: Box::new(e) })?;
        Target::Zone { id: zone_id.clone(), polygon }
    };

    let rule_kind = match kind {
        "intrusion" => RuleKind::Intrusion {
            min_sec: seconds("min_sec", rule.min_sec, DEFAULT_MIN_SEC)?,
            exit_sec: seconds("exit_sec", rule.exit_sec, DEFAULT_EXIT_SEC)?,
        },
        "loitering" => {
            let Some(dwell) = rule.dwell_sec else {
                return Err(missing("dwell_sec", " (seconds inside before it starts)"));
            };
            if !(dwell.is_finite() && dwell > 0.0) {
                return Err(bad("dwell_sec", dwell.to_string(), "must be a number of seconds > 0"));
            }
            RuleKind::Loitering { dwell_sec: dwell, exit_sec: seconds("exit_sec", rule.exit_sec, DEFAULT_EXIT_SEC)? }
        }
        "occupancy" => {
            let Some(min_count) = rule.min_count else {
                return Err(missing("min_count", " (objects at which it starts)"));
            };
            if min_count == 0 {
                return Err(bad("min_count", "0".into(), "must be at least 1"));
            }
            RuleKind::Occupancy { min_count, hold_sec: seconds("hold_sec", rule.hold_sec, DEFAULT_HOLD_SEC)? }
        }
        _ => {
            let d = rule.min_distance.unwrap_or(DEFAULT_MIN_DISTANCE);
            if !(0.0..0.5).contains(&d) {
                return Err(bad("min_distance", d.to_string(), "must be in [0, 0.5) (a fraction of the picture)"));
            }
            RuleKind::LineCrossing { min_distance: d }
        }
    };

    let min_confidence = rule.min_confidence.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&min_confidence) {
        return Err(bad("min_confidence", min_confidence.to_string(), "must be between 0 and 1"));
    }
    let anchor = match rule.anchor.as_deref() {
        None | Some("bottom_center") => Anchor::BottomCenter,
        Some("center") => Anchor::Center,
        Some(other) => return Err(bad("anchor", format!("`{other}`"), "is unknown; use bottom_center or center")),
    };
    let cooldown_sec = seconds("cooldown_sec", rule.cooldown_sec, 0.0)?;
    let grace_sec =
        if allowed.contains(&"grace_sec") { seconds("grace_sec", rule.grace_sec, DEFAULT_GRACE_SEC)? } else { 0.0 };
    let classes = if rule.classes.is_empty() {
        None
    } else {
        let mut ids = HashSet::new();
        for class in &rule.classes {
            let Some(i) = labels.iter().position(|l| l == class) else {
                return Err(RuleError::UnknownClass {
                    camera: cam,
                    rule: id,
                    class: class.clone(),
                    known: labels.join(", "),
                });
            };
            ids.insert(i as u32);
        }
        Some(ids)
    };
    Ok(RuleSpec { id, kind: rule_kind, target, classes, min_confidence, anchor, cooldown_sec, grace_sec })
}

fn find<'a, T>(
    camera: &str,
    rule: &str,
    what: &'static str,
    id: &str,
    shapes: &HashMap<&str, Vec<&'a T>>,
) -> Result<&'a T, RuleError> {
    match shapes.get(id).map(Vec::as_slice) {
        Some([one]) => Ok(one),
        Some(_) => Err(RuleError::AmbiguousShape { camera: camera.into(), rule: rule.into(), what, id: id.into() }),
        None => {
            let mut known: Vec<&str> = shapes.keys().copied().collect();
            known.sort_unstable();
            let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
            Err(RuleError::NoSuchShape { camera: camera.into(), rule: rule.into(), what, id: id.into(), known })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        vec!["person".into(), "car".into()]
    }

    fn rule(json: serde_json::Value) -> RuleConfig {
        serde_json::from_value(json).unwrap()
    }

    fn config(rules: Vec<RuleConfig>) -> RulesConfig {
        RulesConfig {
            zones: vec![
                ZoneConfig { id: "walkway".into(), polygon: vec![[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]] },
                ZoneConfig { id: "bow".into(), polygon: vec![[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9]] },
            ],
            lines: vec![LineConfig { id: "door".into(), points: vec![[0.5, 0.0], [0.5, 1.0]] }],
            rules,
        }
    }

    fn reason_of(r: serde_json::Value) -> String {
        let (specs, disabled) = compile("gate", &config(vec![rule(r)]), &labels());
        assert!(specs.is_empty(), "expected the rule to be disabled: {specs:?}");
        assert_eq!(disabled.len(), 1);
        disabled[0].reason.clone()
    }

    #[test]
    fn a_good_rule_of_each_kind_compiles_with_defaults() {
        let (specs, disabled) = compile(
            "gate",
            &config(vec![
                rule(serde_json::json!({"id": "i", "kind": "intrusion", "zone": "walkway", "classes": ["car"]})),
                rule(serde_json::json!({"id": "l", "kind": "loitering", "zone": "walkway", "dwell_sec": 10.0})),
                rule(serde_json::json!({"id": "o", "kind": "occupancy", "zone": "walkway", "min_count": 2})),
                rule(serde_json::json!({"id": "x", "kind": "line_crossing", "line": "door", "anchor": "center"})),
            ]),
            &labels(),
        );
        assert!(disabled.is_empty(), "{disabled:?}");
        assert_eq!(specs[0].kind, RuleKind::Intrusion { min_sec: 1.0, exit_sec: 2.0 });
        assert_eq!(specs.iter().map(|s| s.grace_sec).collect::<Vec<_>>(), vec![2.0, 2.0, 0.0, 2.0]);
        assert_eq!(specs[0].classes, Some(HashSet::from([1])));
        assert_eq!(specs[0].anchor, Anchor::BottomCenter);
        assert_eq!(specs[1].kind, RuleKind::Loitering { dwell_sec: 10.0, exit_sec: 2.0 });
        assert_eq!(specs[2].kind, RuleKind::Occupancy { min_count: 2, hold_sec: 2.0 });
        assert_eq!(specs[3].kind, RuleKind::LineCrossing { min_distance: 0.02 });
        assert_eq!(specs[3].anchor, Anchor::Center);
        assert!(specs.iter().all(|s| s.classes.is_some() == (s.id == "i") && s.cooldown_sec == 0.0));
    }

    #[test]
    fn min_sec_is_also_read_under_its_former_name_and_zero_is_allowed() {
        let (specs, disabled) = compile(
            "gate",
            &config(vec![
                rule(serde_json::json!({"id": "a", "kind": "intrusion", "zone": "walkway", "enter_sec": 0.5})),
                rule(
                    serde_json::json!({"id": "b", "kind": "intrusion", "zone": "walkway", "min_sec": 0.0, "grace_sec": 0.0}),
                ),
            ]),
            &labels(),
        );
        assert!(disabled.is_empty(), "{disabled:?}");
        assert_eq!(specs[0].kind, RuleKind::Intrusion { min_sec: 0.5, exit_sec: 2.0 });
        assert_eq!(
            (specs[1].kind.clone(), specs[1].grace_sec),
            (RuleKind::Intrusion { min_sec: 0.0, exit_sec: 2.0 }, 0.0)
        );
    }

    #[test]
    fn a_bow_tie_zone_disables_its_rule_naming_camera_zone_and_points() {
        let reason = reason_of(serde_json::json!({"id": "r", "kind": "intrusion", "zone": "bow"}));
        assert_eq!(
            reason,
            "camera `gate`, zone `bow`: the polygon crosses itself: the edge from point 1 [0.9, 0.1] to point 2 \
             crosses the edge from point 3 [0.9, 0.9] to point 0; list the points in order along the outline \
             (needed by rule `r`)"
        );
    }

    #[test]
    fn zone_errors_name_the_point() {
        let z = |polygon: Vec<[f64; 2]>| compile_zone("cam", &ZoneConfig { id: "z".into(), polygon }).unwrap_err();
        assert_eq!(
            z(vec![[0.1, 0.1], [1.5, 0.1], [0.5, 0.5]]).to_string(),
            "camera `cam`, zone `z`: point 1 [1.5, 0.1] is outside the picture; coordinates are fractions of the \
             width and height, in [0, 1]"
        );
        assert!(matches!(z(vec![[0.1, 0.1], [0.2, 0.2]]), ShapeError::TooFewPoints { count: 2, .. }));
        assert!(matches!(z(vec![[0.1, 0.1], [f64::NAN, 0.2], [0.3, 0.1]]), ShapeError::OutOfRange { index: 1, .. }));
        assert!(matches!(
            z(vec![[0.1, 0.1], [0.5, 0.1], [0.5, 0.1], [0.5, 0.5]]),
            ShapeError::RepeatedPoint { index: 1, .. }
        ));
        let l = |points: Vec<[f64; 2]>| compile_line("cam", &LineConfig { id: "l".into(), points }).unwrap_err();
        assert!(matches!(l(vec![[0.1, 0.1]]), ShapeError::LinePointCount { count: 1, .. }));
        assert!(matches!(l(vec![[0.1, 0.1], [0.1, 0.1]]), ShapeError::LineZeroLength { .. }));
        assert!(l(vec![[0.1, 0.1], [0.1, -0.1]]).to_string().contains("line `l`: point 1 [0.1, -0.1] is outside"));
    }

    #[test]
    fn per_rule_mistakes_are_reasons() {
        let cases = [
            (serde_json::json!({"id": "r", "kind": "loiter", "zone": "walkway"}), "unknown kind `loiter`"),
            (
                serde_json::json!({"id": "r", "kind": "intrusion", "zone": "nope"}),
                "zone `nope` is not defined; defined: bow, walkway",
            ),
            (serde_json::json!({"id": "r", "kind": "intrusion"}), "kind `intrusion` needs `zone`"),
            (
                serde_json::json!({"id": "r", "kind": "line_crossing", "zone": "walkway"}),
                "`zone` does not apply to kind `line_crossing`",
            ),
            (
                serde_json::json!({"id": "r", "kind": "line_crossing", "line": "gone"}),
                "line `gone` is not defined; defined: door",
            ),
            (
                serde_json::json!({"id": "r", "kind": "intrusion", "zone": "walkway", "dwell_sec": 5.0}),
                "`dwell_sec` does not apply to kind `intrusion`",
            ),
            (
                serde_json::json!({"id": "r", "kind": "occupancy", "zone": "walkway", "exit_sec": 1.0}),
                "`exit_sec` does not apply to kind `occupancy`",
            ),
            (
                serde_json::json!({"id": "r", "kind": "loitering", "zone": "walkway"}),
                "kind `loitering` needs `dwell_sec`",
            ),
            (
                serde_json::json!({"id": "r", "kind": "loitering", "zone": "walkway", "dwell_sec": 0.0}),
                "`dwell_sec` = 0 must be",
            ),
            (
                serde_json::json!({"id": "r", "kind": "occupancy", "zone": "walkway"}),
                "kind `occupancy` needs `min_count`",
            ),
            (
                serde_json::json!({"id": "r", "kind": "occupancy", "zone": "walkway", "min_count": 0}),
                "`min_count` = 0 must be at least 1",
            ),
            (
                serde_json::json!({"id": "r", "kind": "intrusion", "zone": "walkway", "cooldown_sec": -1.0}),
                "`cooldown_sec` = -1",
            ),
            (
                serde_json::json!({"id": "r", "kind": "intrusion", "zone": "walkway", "min_sec": -0.5}),
                "`min_sec` = -0.5 must be a number of seconds ≥ 0",
            ),
            (
                serde_json::json!({"id": "r", "kind": "loitering", "zone": "walkway", "dwell_sec": 5.0, "grace_sec": -1.0}),
                "`grace_sec` = -1 must be a number of seconds ≥ 0",
            ),
            (
                serde_json::json!({"id": "r", "kind": "occupancy", "zone": "walkway", "min_count": 1, "grace_sec": 1.0}),
                "`grace_sec` does not apply to kind `occupancy`",
            ),
            (
                serde_json::json!({"id": "r", "kind": "loitering", "zone": "walkway", "dwell_sec": 5.0, "min_sec": 1.0}),
                "`min_sec` does not apply to kind `loitering`",
            ),
            (
                serde_json::json!({"id": "r", "kind": "intrusion", "zone": "walkway", "min_confidence": 1.5}),
                "`min_confidence` = 1.5",
            ),
            (
                serde_json::json!({"id": "r", "kind": "intrusion", "zone": "walkway", "anchor": "top"}),
                "`anchor` = `top` is unknown",
            ),
            (
                serde_json::json!({"id": "r", "kind": "line_crossing", "line": "door", "min_distance": 0.7}),
                "`min_distance` = 0.7",
            ),
            (
                serde_json::json!({"id": "r", "kind": "intrusion", "zone": "walkway", "classes": ["unicorn"]}),
                "the model has no class `unicorn`; known classes: person, car",
            ),
        ];
        for (json, expected) in cases {
            let reason = reason_of(json.clone());
            assert!(reason.starts_with("camera `gate`, rule `r`: "), "{json}: {reason}");
            assert!(reason.contains(expected), "{json}: {reason} should contain {expected}");
        }
    }

    #[test]
    fn one_bad_rule_leaves_the_others_running() {
        let mut cfg = config(vec![
            rule(serde_json::json!({"id": "good", "kind": "intrusion", "zone": "walkway"})),
            rule(serde_json::json!({"id": "bad", "kind": "intrusion", "zone": "bow"})),
            rule(serde_json::json!({"id": "off", "kind": "intrusion", "zone": "walkway", "enabled": false})),
            rule(serde_json::json!({"id": "twin", "kind": "intrusion", "zone": "walkway"})),
            rule(serde_json::json!({"id": "twin", "kind": "occupancy", "zone": "walkway", "min_count": 1})),
        ]);
        cfg.zones.push(cfg.zones[0].clone());
        cfg.zones[2].id = "bow".into();
        let (specs, disabled) = compile("gate", &cfg, &labels());
        assert_eq!(specs.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), vec!["good"]);
        let reasons: HashMap<&str, Vec<&str>> = disabled.iter().fold(HashMap::new(), |mut m, d| {
            m.entry(d.rule.as_str()).or_default().push(d.reason.as_str());
            m
        });
        assert!(reasons["bad"][0].contains("zone `bow` is defined more than once"), "{reasons:?}");
        assert_eq!(reasons["off"], vec!["disabled in the config (enabled = false)"]);
        assert_eq!(reasons["twin"].len(), 2);
        assert!(reasons["twin"][0].contains("another rule has the same id"));
    }
}
