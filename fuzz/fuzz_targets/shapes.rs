//! Zone polygons and lines from JSON: compiled or refused naming the defect, never a panic; a compiled zone
//! answers point queries (and its own vertices are on it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use panoptes_actors::config::{LineConfig, ZoneConfig};
use panoptes_actors::geometry::plane::Point;
use panoptes_actors::rules::spec::{compile_line, compile_zone};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(zone) = serde_json::from_slice::<ZoneConfig>(bytes)
        && let Ok(polygon) = compile_zone("cam", &zone)
    {
        for p in polygon.points().to_vec() {
            let _ = polygon.contains(p);
            let _ = polygon.contains(Point { x: p.x * 0.5, y: 1.0 - p.y });
        }
    }
    if let Ok(line) = serde_json::from_slice::<LineConfig>(bytes) {
        let _ = compile_line("cam", &line);
    }
});
