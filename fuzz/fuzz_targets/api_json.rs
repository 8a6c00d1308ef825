//! API bodies: a camera (with its zones, lines and rules), a zone, a line, a rule, a token. Any bytes are
//! parsed or refused with a 400's error, never a panic; a camera that parses is checked as the API checks it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panoptes::control::validate_camera;
use panoptes::http::body::{parse, parse_object, parse_with_id};
use panoptes_actors::config::media_roots::MediaRoots;
use panoptes_actors::config::{CameraConfig, LineConfig, RuleConfig, ZoneConfig};

fuzz_target!(|bytes: &[u8]| {
    let labels = ["person".to_string(), "car".to_string()];
    let roots = MediaRoots::new(&["var/media".into()]);
    if let Ok(camera) = parse_object::<CameraConfig>(bytes, None, &["status"]) {
        let _ = validate_camera(&camera, &labels, &roots);
        // What the API answers with is JSON the API accepts back.
        let json = serde_json::to_vec(&camera).expect("a camera serialises");
        assert!(parse_object::<CameraConfig>(&json, None, &[]).is_ok(), "{}", String::from_utf8_lossy(&json));
    }
    let _ = parse_with_id::<ZoneConfig>(bytes, "z");
    let _ = parse_with_id::<LineConfig>(bytes, "l");
    let _ = parse_with_id::<RuleConfig>(bytes, "r");
    let _ = parse::<serde_json::Value>(bytes);
});
